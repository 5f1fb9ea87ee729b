"""Values an event carries sealed with its job's data key (bpo_common.crypto).

Every value a person keyed or a client gave travels sealed, personal or not: the stream then
holds nothing of a job that its data key does not open, and deleting the key leaves every
copy on the stream unreadable. The services that hold the job's key open what they need.
"""

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import WithJsonSchema
from pydantic_core import to_json

from bpo_common.crypto import is_sealed
from bpo_common.errors import FieldError

# A JSON value sealed with the job's data key: the string `pii:v1:<data key id>:<base64>`
# (`DataKey.seal`), which `DataKey.open` opens. An event published before values were sealed
# carries the value itself, which `open` gives back as it is.
Sealed = Annotated[
    Any,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^pii:v1:",
            "description": "a JSON value sealed with the job's data key",
        }
    ),
]


def holds_sealed(value: Any) -> bool:
    """Whether a sealed value is anywhere in `value` (an event's data, as JSON)."""
    if isinstance(value, dict):
        return any(holds_sealed(member) for member in value.values())
    if isinstance(value, list):
        return any(holds_sealed(member) for member in value)
    return is_sealed(value)


def emptied(value: Any) -> Any:
    """`value` with every sealed value in it replaced by null: what an erased item's events
    keep on the stream (ids, counts, kinds and times; a null reads as no value)."""
    if isinstance(value, dict):
        return {name: emptied(member) for name, member in value.items()}
    if isinstance(value, list):
        return [emptied(member) for member in value]
    return None if is_sealed(value) else value


# What one record of values may take as compact JSON, as the events that carry it write it
# (the job's rules' canonical form, an empty optional cell as null): a keying, a golden
# answer, a verify job's client values, a corrected invoice. The events hold each sealed
# (base64: 4/3 of it), up to four together (a submit: the keying, the golden answer, the
# client values and the pre-fill; a review: the keyings it shows), and NATS takes no message
# past its max_payload (16 MB: deploy/nats/nats.conf, deploy/k8s/base/nats.yaml): an event
# past it would never be sent, and its item never decided. A table at the most rows and
# columns a job may have, left empty, takes some 1.8 MB.
MAX_RECORD_BYTES = 2 * 1024 * 1024


def too_large(values: Mapping[str, Any]) -> FieldError | None:
    """What is wrong with a record of values past `MAX_RECORD_BYTES` as JSON, at its largest
    field (relative to the record); None within it."""
    size = len(to_json(values))
    if size <= MAX_RECORD_BYTES:
        return None
    sizes = {name: len(to_json(value)) for name, value in values.items()}
    largest = max(sizes, key=sizes.__getitem__)
    return FieldError(
        largest,
        f"the values take {size:,} bytes as JSON, {sizes[largest]:,} of them this field's: "
        f"past the {MAX_RECORD_BYTES:,} a record of values may take, as the events that "
        "carry it write it",
    )
