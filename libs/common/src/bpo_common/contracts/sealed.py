"""Values an event carries sealed with its job's data key (bpo_common.crypto).

Every value a person keyed or a client gave travels sealed, personal or not: the stream then
holds nothing of a job that its data key does not open, and deleting the key leaves every
copy on the stream unreadable. The services that hold the job's key open what they need.
"""

from typing import Annotated, Any

from pydantic import WithJsonSchema

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
