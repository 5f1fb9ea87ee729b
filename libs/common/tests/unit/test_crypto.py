"""Jobs' values sealed under a data key per job, the data keys wrapped by key-encryption keys
that rotate without a value being sealed again, and keys that are missing or wrong refused
with a reason."""

import base64
from uuid import UUID

import pytest
from pydantic import ValidationError

from bpo_common.crypto import (
    MISSING_KEK,
    DataKeys,
    KeyUnavailable,
    LocalKeyRing,
    SealBroken,
    check_ring,
    is_sealed,
    new_data_key,
    new_kek,
    open_data_key,
    rewrap,
    wrapped_by,
)
from bpo_common.settings import KeyedSettings

JOB = UUID("01890a5d-ac96-774b-bcce-b302099a8057")
OTHER_JOB = UUID("01890a5d-ac96-774b-bcce-b302099a8058")
OLD, NEW = new_kek("old"), new_kek("new")


class Settings(KeyedSettings):
    port: int = 1


@pytest.mark.parametrize(
    "value",
    [
        "Jane Doe",
        {"name": "Jane Doe", "total": "10.50", "paid": True, "lines": [{"qty": 2}]},
        [1, None, "x"],
        None,
        "",
    ],
)
def test_a_sealed_value_opens_to_itself_and_shows_nothing_of_it(value: object) -> None:
    key, _ = new_data_key(LocalKeyRing.parse(NEW), JOB)
    sealed = key.seal(value)
    assert sealed.startswith(f"pii:v1:{key.id}:")
    assert is_sealed(sealed)
    assert "Jane" not in sealed
    assert key.open(sealed) == value
    assert key.seal(value) != sealed, "a random nonce each time"


def test_a_value_not_sealed_is_given_back_as_it_is() -> None:
    key, _ = new_data_key(LocalKeyRing.parse(NEW), JOB)
    assert key.open({"name": "Jane"}) == {"name": "Jane"}
    assert key.open("Jane") == "Jane"


def test_a_tampered_cut_or_moved_value_does_not_open() -> None:
    ring = LocalKeyRing.parse(NEW)
    key, wrapped = new_data_key(ring, JOB)
    sealed = key.seal({"name": "Jane Doe"})
    head, body = sealed.rsplit(":", 1)
    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 1
    with pytest.raises(SealBroken):
        key.open(f"{head}:{base64.b64encode(bytes(raw)).decode()}")
    with pytest.raises(SealBroken):
        key.open(sealed[:-8])
    with pytest.raises(SealBroken):
        key.open(f"{head}:not base64!")
    # The job id is the associated data: the same key under another job's id refuses it.
    moved = open_data_key(ring, JOB, wrapped)
    assert moved.open(sealed) == {"name": "Jane Doe"}
    with pytest.raises(SealBroken):
        type(moved)(moved.id, OTHER_JOB, moved._aead).open(sealed)
    other, _ = new_data_key(ring, JOB)
    with pytest.raises(SealBroken, match="another data key"):
        other.open(sealed)


def test_a_wrapped_data_key_names_its_kek_and_opens_for_its_job_only() -> None:
    ring = LocalKeyRing.parse(NEW)
    key, wrapped = new_data_key(ring, JOB)
    assert wrapped.startswith(f"dek:v1:new:{key.id}:")
    assert wrapped_by(wrapped) == "new"
    assert open_data_key(ring, JOB, wrapped).open(key.seal("Jane")) == "Jane"
    with pytest.raises(SealBroken):
        open_data_key(ring, OTHER_JOB, wrapped)
    with pytest.raises(SealBroken):
        open_data_key(LocalKeyRing.parse(new_kek("new")), JOB, wrapped)
    cut = f"dek:v1:new:{key.id}:{base64.b64encode(b'abc').decode()}"  # shorter than a nonce
    with pytest.raises(SealBroken):
        open_data_key(ring, JOB, cut)


def test_a_new_kek_unwraps_nothing_until_keys_are_rewrapped_and_old_values_still_open() -> None:
    before = LocalKeyRing.parse(OLD)
    key, wrapped = new_data_key(before, JOB)
    sealed = key.seal({"name": "Jane Doe"})

    rotating = LocalKeyRing.parse(f"{NEW},{OLD}", "new")
    assert rotating.current_key_id == "new"
    assert open_data_key(rotating, JOB, wrapped).open(sealed) == {"name": "Jane Doe"}
    again = rewrap(rotating, JOB, wrapped)
    assert again is not None
    assert wrapped_by(again) == "new"
    assert rewrap(rotating, JOB, again) is None, "already wrapped by the current KEK"

    after = LocalKeyRing.parse(NEW)
    assert open_data_key(after, JOB, again).open(sealed) == {"name": "Jane Doe"}
    with pytest.raises(KeyUnavailable, match="KEK old, which BPO_KEK does not hold"):
        open_data_key(after, JOB, wrapped)


def test_a_ring_that_cannot_unwrap_the_stored_keys_is_refused_saying_which_kek() -> None:
    _, by_old = new_data_key(LocalKeyRing.parse(OLD), JOB)
    _, by_new = new_data_key(LocalKeyRing.parse(NEW), OTHER_JOB)
    check_ring(LocalKeyRing.parse(f"{NEW},{OLD}", "new"), {JOB: by_old, OTHER_JOB: by_new})
    with pytest.raises(KeyUnavailable, match="KEK old, which BPO_KEK does not hold"):
        check_ring(LocalKeyRing.parse(NEW), {JOB: by_old, OTHER_JOB: by_new})
    with pytest.raises(KeyUnavailable, match="KEK new that is not the one"):
        check_ring(LocalKeyRing.parse(new_kek("new")), {OTHER_JOB: by_new})


# Named by their reasons, not their keys (new at each run): a test's id stays the same from run
# to run.
WRONG_KEKS = [
    ("", None, "BPO_KEK is not set"),
    ("k1", None, "ID:BASE64"),
    ("k 1:AAAA", None, "ID:BASE64"),
    ("k1:not base64!", None, "the key k1 is not base64"),
    ("k1:" + base64.b64encode(b"short").decode(), None, "has 5 bytes; a KEK has 32"),
    (f"{NEW},{OLD}", None, "BPO_KEK_ID must name the current one"),
    (NEW, "old", "BPO_KEK_ID names old, which BPO_KEK does not hold"),
    (f"{NEW},{NEW}", "new", "given twice"),
]


@pytest.mark.parametrize(
    ("kek", "kek_id", "reason"), WRONG_KEKS, ids=[reason for *_, reason in WRONG_KEKS]
)
def test_keks_given_wrongly_are_refused_saying_what_is_wrong(
    kek: str, kek_id: str | None, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        LocalKeyRing.parse(kek, kek_id)


def test_a_service_reads_its_keks_with_its_settings_and_has_none_without_them() -> None:
    with pytest.raises(ValidationError, match="has 5 bytes"):
        Settings(database_url="postgresql://db/x", kek="k1:" + base64.b64encode(b"short").decode())
    without = Settings(database_url="postgresql://db/x", kek="")
    with pytest.raises(KeyUnavailable) as refused:
        without.data_keys()
    assert str(refused.value) == MISSING_KEK
    settings = Settings(database_url="postgresql://db/x", kek=f"{NEW},{OLD}", kek_id="new")
    assert settings.key_ring().current_key_id == "new"
    assert settings.kek.get_secret_value() not in repr(settings)


def test_a_process_unwraps_a_jobs_key_once_and_forgets_the_least_used_first() -> None:
    keys = DataKeys(LocalKeyRing.parse(NEW), capacity=2)
    first, wrapped = keys.new(JOB)
    assert keys.of(JOB, wrapped) is first
    _, other = new_data_key(keys.ring, OTHER_JOB)
    keys.of(OTHER_JOB, other)
    third = UUID(int=3)
    keys.new(third)
    assert keys.cached(JOB) is None, "the least recently used is forgotten"
    assert keys.of(JOB, wrapped).open(first.seal("Jane")) == "Jane"
    keys.forget(JOB)
    assert keys.cached(JOB) is None
