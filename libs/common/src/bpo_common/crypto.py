"""Envelope encryption of jobs' values: AES-GCM under a data key per job, wrapped by a
key-encryption key.

Each job has a data key (DEK): 32 random bytes that seal its values wherever they are kept
or sent. The DEK itself is stored and sent only wrapped by a key-encryption key (KEK) of a
`KeyRing`; the wrapped form names the KEK it was wrapped with, so that KEKs rotate by
wrapping the DEKs again (`rewrap`), never by rewriting sealed values. Deleting a job's DEK
leaves every copy of its values unreadable.

- a sealed value: `pii:v1:<data key id>:<base64(nonce | ciphertext and tag)>`, the value's
  JSON sealed with a random 96-bit nonce and the job id as associated data (a value moved to
  another job does not open);
- a wrapped data key: `dek:v1:<KEK id>:<data key id>:<base64(blob)>`, the blob as the key
  ring made it, with the job id and the data key id as its context.

The KEKs here come from settings (`LocalKeyRing`); a KMS can sit behind the same protocol.
Pure: no I/O. A seal or an open costs microseconds; unwrapping is done once per job and
process (`DataKeys` keeps what it unwrapped).
"""

import base64
import binascii
import json
import os
import re
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic_core import to_json

from bpo_common.events import Waiting

SEALED_PREFIX = "pii:v1:"
WRAPPED_PREFIX = "dek:v1:"
KEY_BYTES = 32
NONCE_BYTES = 12
# A key id: letters, digits, `-` and `_` (`:` and `,` separate the parts of the formats).
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


MISSING_KEK = (
    "BPO_KEK is not set: jobs' values are encrypted with data keys that a key-encryption key "
    "wraps; give one as ID:BASE64 of 32 random bytes (`bpo kek` prints a new one)"
)


class KeyUnavailable(Waiting):
    """A key that is needed is not at hand: a KEK the ring does not hold, a job's DEK not
    found (an event that needs it waits for it: a KEK given, a key intake answers)."""


class SealBroken(Exception):
    """A sealed value or a wrapped key that does not open: tampered with, cut short, or
    sealed with another key or for another job."""


class KeyRing(Protocol):
    """Wraps data keys with a key-encryption key and unwraps them again; the KEKs of settings
    here (`LocalKeyRing`), a KMS behind the same three members elsewhere."""

    @property
    def current_key_id(self) -> str:
        """The KEK new data keys are wrapped with."""
        ...

    def wrap(self, data_key: bytes, context: bytes) -> tuple[str, bytes]:
        """The data key wrapped by the current KEK: (that KEK's id, the wrapped bytes)."""
        ...

    def unwrap(self, key_id: str, wrapped: bytes, context: bytes) -> bytes:
        """The data key `wrap` wrapped with KEK `key_id` in this `context`; KeyUnavailable
        when the ring does not hold that KEK, SealBroken when the bytes do not open."""
        ...


class LocalKeyRing:
    """KEKs given in settings: `BPO_KEK` = `id:base64(32 bytes)[,id:base64...]`, the current
    one named by `BPO_KEK_ID` (needed only when there are several). The older ones stay to
    unwrap what they wrapped until every data key is wrapped again by the current one."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError(f"the current KEK {current} is not among the KEKs given")
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = current

    @classmethod
    def parse(cls, spec: str, current: str | None = None) -> "LocalKeyRing":
        """The ring `BPO_KEK` and `BPO_KEK_ID` describe; ValueError saying what is wrong."""
        if not spec.strip():
            raise ValueError(MISSING_KEK)
        keys: dict[str, bytes] = {}
        for part in spec.split(","):
            key_id, separator, encoded = part.strip().partition(":")
            if not separator or not KEY_ID.match(key_id):
                raise ValueError(
                    "BPO_KEK must be ID:BASE64[,ID:BASE64...], each ID of letters, digits, - and _"
                )
            try:
                key = base64.b64decode(encoded, validate=True)
            except binascii.Error as exc:
                raise ValueError(f"BPO_KEK: the key {key_id} is not base64") from exc
            if len(key) != KEY_BYTES:
                raise ValueError(
                    f"BPO_KEK: the key {key_id} has {len(key)} bytes; a KEK has {KEY_BYTES}"
                )
            if key_id in keys:
                raise ValueError(f"BPO_KEK: the key id {key_id} is given twice")
            keys[key_id] = key
        if current is None:
            if len(keys) > 1:
                raise ValueError("BPO_KEK holds several keys: BPO_KEK_ID must name the current one")
            current = next(iter(keys))
        if current not in keys:
            raise ValueError(f"BPO_KEK_ID names {current}, which BPO_KEK does not hold")
        return cls(keys, current)

    @property
    def current_key_id(self) -> str:
        return self._current

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def wrap(self, data_key: bytes, context: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        return self._current, nonce + self._keys[self._current].encrypt(nonce, data_key, context)

    def unwrap(self, key_id: str, wrapped: bytes, context: bytes) -> bytes:
        kek = self._keys.get(key_id)
        if kek is None:
            raise KeyUnavailable(
                f"a data key is wrapped by the KEK {key_id}, which BPO_KEK does not hold"
            )
        try:
            return kek.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], context)
        except (InvalidTag, ValueError) as exc:  # ValueError: cut shorter than a nonce
            raise SealBroken(f"a data key does not unwrap with the KEK {key_id}") from exc


def new_kek(key_id: str) -> str:
    """A new KEK as `BPO_KEK` takes it: `id:base64(32 random bytes)`."""
    if not KEY_ID.match(key_id):
        raise ValueError("a KEK id has letters, digits, - and _ only")
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


@dataclass(frozen=True)
class DataKey:
    """A job's data key, unwrapped: it seals the job's values and opens them again."""

    id: str
    job_id: UUID
    _aead: AESGCM = field(repr=False, compare=False)

    def seal(self, value: Any) -> str:
        """`value` (anything JSON can hold) sealed: `pii:v1:<key id>:<base64>`."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, to_json(value), self.job_id.bytes)
        return f"{SEALED_PREFIX}{self.id}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, value: Any) -> Any:
        """The value `seal` sealed. Anything else is given back as it is: an event or a row
        written before values were sealed holds the value itself."""
        if not is_sealed(value):
            return value
        key_id, _, encoded = value.removeprefix(SEALED_PREFIX).partition(":")
        if key_id != self.id:
            raise SealBroken(f"a value of job {self.job_id} is sealed with another data key")
        try:
            raw = base64.b64decode(encoded, validate=True)
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], self.job_id.bytes)
        except (binascii.Error, InvalidTag, ValueError) as exc:
            raise SealBroken(f"a sealed value of job {self.job_id} does not open") from exc
        return json.loads(plain)


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def _context(job_id: UUID, key_id: str) -> bytes:
    return job_id.bytes + key_id.encode()


def new_data_key(ring: KeyRing, job_id: UUID) -> tuple[DataKey, str]:
    """A new data key for the job, and its wrapped form (what is stored and sent)."""
    key_id = secrets.token_hex(8)
    secret = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    kek_id, wrapped = ring.wrap(secret, _context(job_id, key_id))
    encoded = base64.b64encode(wrapped).decode()
    return DataKey(key_id, job_id, AESGCM(secret)), f"{WRAPPED_PREFIX}{kek_id}:{key_id}:{encoded}"


def _parts(wrapped: str) -> tuple[str, str, bytes]:
    """(KEK id, data key id, wrapped bytes) of a wrapped data key."""
    kek_id, _, rest = wrapped.removeprefix(WRAPPED_PREFIX).partition(":")
    key_id, _, encoded = rest.partition(":")
    if not wrapped.startswith(WRAPPED_PREFIX) or not kek_id or not key_id:
        raise SealBroken("not a wrapped data key")
    try:
        return kek_id, key_id, base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise SealBroken("a wrapped data key is not base64") from exc


def wrapped_by(wrapped: str) -> str:
    """The id of the KEK a wrapped data key is wrapped with."""
    return _parts(wrapped)[0]


def open_data_key(ring: KeyRing, job_id: UUID, wrapped: str) -> DataKey:
    """The job's data key from its wrapped form."""
    kek_id, key_id, blob = _parts(wrapped)
    secret = ring.unwrap(kek_id, blob, _context(job_id, key_id))
    return DataKey(key_id, job_id, AESGCM(secret))


def rewrap(ring: KeyRing, job_id: UUID, wrapped: str) -> str | None:
    """The job's data key wrapped again by the ring's current KEK; None when it already is.
    Values sealed with the data key stay as they are: only the KEK changes."""
    kek_id, key_id, blob = _parts(wrapped)
    if kek_id == ring.current_key_id:
        return None
    context = _context(job_id, key_id)
    new_kek_id, again = ring.wrap(ring.unwrap(kek_id, blob, context), context)
    return f"{WRAPPED_PREFIX}{new_kek_id}:{key_id}:{base64.b64encode(again).decode()}"


class DataKeys:
    """The data keys a process has unwrapped, by job (up to `capacity`, the least recently
    used forgotten first): each is unwrapped once, then used for as long as it is kept."""

    def __init__(self, ring: KeyRing, capacity: int = 10_000) -> None:
        self.ring = ring
        self._capacity = capacity
        self._keys: OrderedDict[UUID, DataKey] = OrderedDict()

    def new(self, job_id: UUID) -> tuple[DataKey, str]:
        """A new job's data key, kept, and its wrapped form to store."""
        key, wrapped = new_data_key(self.ring, job_id)
        self._keep(key)
        return key, wrapped

    def cached(self, job_id: UUID) -> DataKey | None:
        key = self._keys.get(job_id)
        if key is not None:
            self._keys.move_to_end(job_id)
        return key

    def of(self, job_id: UUID, wrapped: str) -> DataKey:
        """The job's data key: the one kept, else `wrapped` unwrapped (and kept)."""
        return self.cached(job_id) or self._keep(open_data_key(self.ring, job_id, wrapped))

    def forget(self, job_id: UUID) -> None:
        """Drop a job's data key (erased, say): it is unwrapped again if it is still stored."""
        self._keys.pop(job_id, None)

    def _keep(self, key: DataKey) -> DataKey:
        self._keys[key.job_id] = key
        if len(self._keys) > self._capacity:
            self._keys.popitem(last=False)
        return key


def check_ring(ring: KeyRing, samples: Mapping[UUID, str]) -> None:
    """Refuse a ring that cannot unwrap the data keys stored (`samples`: a job's wrapped key
    for each KEK in use), saying which KEK is missing or wrong: a service with such a ring
    would be unable to read what it keeps, and should not start."""
    for job_id, wrapped in samples.items():
        try:
            open_data_key(ring, job_id, wrapped)
        except KeyUnavailable as exc:
            raise KeyUnavailable(
                f"{exc}; give every KEK still in use in BPO_KEK (until the data keys are "
                "wrapped again by the current one)"
            ) from exc
        except SealBroken as exc:
            raise KeyUnavailable(
                f"BPO_KEK holds a KEK {wrapped_by(wrapped)} that is not the one the stored "
                "data keys were wrapped with"
            ) from exc
