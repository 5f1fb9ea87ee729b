"""Values an event carries sealed with its job's data key (bpo_common.crypto).

Every value a person keyed or a client gave travels sealed, personal or not: the stream then
holds nothing of a job that its data key does not open, and deleting the key leaves every
copy on the stream unreadable. The services that hold the job's key open what they need.
"""

from typing import Annotated, Any

from pydantic import WithJsonSchema

from bpo_common.crypto import is_sealed

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
