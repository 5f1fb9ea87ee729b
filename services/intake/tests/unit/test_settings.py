"""Intake's settings: a document store that cannot be used, a retention the stream would
outlive, a signing key that cannot sign, or a lease, loop or retention nothing could work with
stops the service at start."""

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from bpo_common.auth import ensure_key_pair
from bpo_common.messaging import stream_config
from bpo_common.settings import explain
from bpo_intake.settings import Settings

DATABASE = "postgresql+asyncpg://intake@db/intake"


def test_a_document_store_that_cannot_be_opened_stops_the_service_at_start() -> None:
    with pytest.raises(ValidationError, match=r"the document store cannot be opened: .*bogus"):
        Settings(
            database_url=DATABASE,
            document_store_url="s3://bucket/documents",
            document_store_options={"bogus": "1"},
        )


def test_an_s3_store_with_an_endpoint_and_http_allowed_is_accepted() -> None:
    options = {"endpoint": "http://127.0.0.1:9000", "allow_http": "true", "region": "eu-west-1"}
    settings = Settings(
        database_url=DATABASE, document_store_url="s3://bucket/docs", document_store_options=options
    )
    assert settings.document_store_options == options


def test_a_retention_longer_than_the_stream_keeps_events_stops_the_service_at_start() -> None:
    with pytest.raises(ValidationError, match=r"retention_days \(500\) must be between 1 and"):
        Settings(database_url=DATABASE, retention_days=500, stream_max_age_days=400)
    unbounded = Settings(database_url=DATABASE, retention_days=0, stream_max_age_days=0)
    assert stream_config(max_age_days=unbounded.stream_max_age_days).max_age == 0
    bounded = Settings(database_url=DATABASE, retention_days=30, stream_max_age_days=31)
    assert stream_config(max_age_days=bounded.stream_max_age_days).max_age == 31 * 86400


def test_a_short_document_link_secret_stops_the_service_at_start() -> None:
    with pytest.raises(ValidationError, match="document_url_secret"):
        Settings(database_url=DATABASE, document_url_secret="CHANGE_ME")
    assert Settings(database_url=DATABASE, document_url_secret="x" * 32)


def test_a_signing_key_that_cannot_sign_stops_the_api_at_start_naming_the_setting(
    tmp_path: Path,
) -> None:
    """A public key (the half of a pair easily put in the other's place) signed nothing: every
    token request was a 500. An encrypted key ended the start in a traceback."""
    private_pem, public_pem = ensure_key_pair(tmp_path)
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        serialization.load_pem_private_key(private_pem.read_bytes(), None).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    variable = "BPO_INTAKE_API_KEY_PRIVATE_KEY_FILE"
    for key, said in [
        (public_pem, "the key is a public key: tokens are signed with the private key of its pair"),
        (
            encrypted,
            "the private key is encrypted: decrypt it (openssl pkey -in KEY -out KEY.plain)",
        ),
    ]:
        with pytest.raises(ValidationError) as refused:
            Settings(database_url=DATABASE, api_key_private_key_file=key)
        assert explain(refused.value, Settings) == [f"{variable}: {said}"]
    signing = Settings(database_url=DATABASE, api_key_private_key_file=private_pem)
    assert signing.api_key_signing_key() == private_pem.read_text()
    worker = Settings(
        database_url=DATABASE, api_key_private_key_file=public_pem, component="worker"
    )
    assert worker.api_key_signing_key() is None, "a worker issues no tokens"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("lease_seconds", 0),
        ("lease_seconds", -300),
        # Renewed by the workbench every 10 s: each beat came as the lease ran out.
        ("lease_seconds", 10),
        ("lease_seconds", 29),
        # timedelta(seconds=...) past the calendar's end: every claim was a 500.
        ("lease_seconds", 10**12),
        ("max_attempts", 0),
        ("sweep_interval_s", 0),
        ("unclaimable_after_s", float("inf")),
        ("webhook_retry_hours", 10**9),
        ("webhook_timeout_s", 0),
        ("document_retention_days", -1),
        # Every read ran out at once (each scanned page taken as wordless), or none could be
        # claimed (a claim lasts four times it: infinite, every claim failed).
        ("ocr_timeout_s", 0),
        ("ocr_timeout_s", float("inf")),
        ("ocr_timeout_s", float("nan")),
    ],
)
def test_a_lease_loop_or_retention_nothing_could_work_with_stops_the_service_naming_it(
    name: str, value: float
) -> None:
    setting: dict[str, Any] = {name: value}
    with pytest.raises(ValidationError, match=name):
        Settings(database_url=DATABASE, **setting)


def test_a_lease_of_zero_seconds_from_the_environment_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BPO_INTAKE_LEASE_SECONDS", "0")
    with pytest.raises(ValidationError) as refused:
        Settings(database_url=DATABASE)
    (error,) = refused.value.errors()
    assert (error["loc"], error["msg"]) == (
        ("lease_seconds",),
        "Input should be greater than or equal to 30",
    )
    monkeypatch.setenv("BPO_INTAKE_LEASE_SECONDS", "30")
    assert Settings(database_url=DATABASE).lease_seconds == 30
    monkeypatch.setenv("BPO_INTAKE_LEASE_SECONDS", "86400")
    assert Settings(database_url=DATABASE).lease_seconds == 86_400


def test_a_document_retention_of_zero_days_from_the_environment_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Documents deleted at the next hourly pass once their job has ended, as before it was
    # bounded: a deployment that chose it still starts.
    monkeypatch.setenv("BPO_INTAKE_DOCUMENT_RETENTION_DAYS", "0")
    assert Settings(database_url=DATABASE).document_retention_days == 0
