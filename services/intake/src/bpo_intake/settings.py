import os
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import Depends
from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from bpo_common.auth import signing_algorithm_of
from bpo_common.service import settings_dependency
from bpo_common.settings import DEFAULT_PORTS, KeyedSettings, Port, SettingRefused
from bpo_intake.repository.objects import open_store


class Settings(KeyedSettings):
    """Settings of the intake service: BPO_INTAKE_* and the shared BPO_* ones."""

    model_config = SettingsConfigDict(env_prefix="BPO_INTAKE_")

    port: Port = DEFAULT_PORTS["intake"]
    # The bounds of this and the settings below stop the service at start, naming the setting,
    # on a value nothing could work with (a lease run out as it is given, a time past the
    # calendar's end), which would otherwise fail every request or loop that uses it.
    # At least 30 s: the workbench renews a lease every third of it, and no more often than
    # every 10 s; a shorter lease leaves a beat that did not get through no time to be tried
    # again (at 10 s, every beat came as the lease ran out).
    lease_seconds: int = Field(300, ge=30, le=86_400)
    # A task whose lease expired this many times flags its item for a manager.
    max_attempts: int = Field(3, ge=1)
    sweep_interval_s: float = Field(5.0, ge=0.5, le=3600)
    # A task queued this long that no active contractor may claim flags its item for a
    # manager (checked every minute).
    unclaimable_after_s: float = Field(600.0, ge=0, le=365 * 86_400)
    # Webhook URLs resolving to loopback, private or link-local addresses are refused
    # unless this is set (for a receiver on the same machine or network).
    webhook_allow_private: bool = False
    webhook_retry_hours: float = Field(24.0, ge=0, le=8760)
    webhook_timeout_s: float = Field(10.0, gt=0, le=600)

    # Where documents' bytes and page images go: file:///path (the default: documents/ in
    # the run directory), s3://bucket/prefix, gs://bucket/prefix or az://container/prefix
    # (Azure's host is the container: the account is the option account_name, or
    # AZURE_STORAGE_ACCOUNT_NAME). Credentials and endpoint come from document_store_options
    # or the provider's own environment variables (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, ...).
    document_store_url: str = Field(default_factory=lambda: _run_dir("documents").as_uri())
    # Options of that store, as object_store names them, for example {"endpoint":
    # "http://minio:9000", "region": "eu-west-1", "allow_http": "true"}.
    document_store_options: dict[str, str] = Field(default_factory=dict)
    document_max_bytes: int = 50 * 1024 * 1024
    document_max_pages: int = 500
    # Pixels of one page of an image: past it, an image is refused as a decompression bomb
    # (and past 178,956,970, Pillow's own bound, whatever this says).
    document_max_pixels: int = 100_000_000
    document_zip_max_members: int = 10_000
    # PDFium and Pillow read uploaded bytes in a process apart, one file at a time: how long
    # reading a file (rendering one of its pages) may take, and how much memory the process
    # may take, before the file is refused (at upload) or left without page images. Drawing
    # an image page takes some 5 bytes a pixel, 9 with transparency, 12 for a 16-bit scan:
    # some 1.4 GiB for the largest (document_max_pixels).
    document_decode_timeout_s: float = Field(30.0, gt=0)
    document_decode_memory_mb: int = Field(2048, ge=512)
    # A job's data (values, documents, its data key) is erased this many days after it
    # completed or was cancelled, for a client without a retention of its own (0: never).
    # At most BPO_STREAM_MAX_AGE_DAYS (unless that is 0), so the stream never outlives it.
    retention_days: int = Field(365, ge=0, le=36500)
    # Documents are deleted this many days after their job completed or was cancelled. 0 is
    # not "never", as it is for retention_days, but "at the next hourly pass after the job
    # ended": for clients who want documents gone once the work is done.
    document_retention_days: int = Field(90, ge=0, le=36500)
    # Signs page image links. Every replica of the API must have the same one; when not set,
    # a random one is made at start (links then work only on the replica that made them). At
    # least 32 characters: a short one (a template's placeholder) could be guessed, and with
    # it a link to any page forged.
    document_url_secret: SecretStr = Field(
        default_factory=lambda: SecretStr(secrets.token_urlsafe(32))
    )
    # How long a page image link works at least (at most half as long again: a link stays the
    # same for half this, so that the browser answers a page shown again from its cache).
    document_url_ttl_s: int = 900
    # OCR of pages without a text layer: Tesseract's languages ("+"-separated, each installed
    # as Debian's tesseract-ocr-<lang>), and how long one page may take before it is given up
    # (at least a second: under it every read runs out, and each page is taken as wordless).
    ocr_languages: str = "eng+deu"
    ocr_timeout_s: float = Field(120.0, ge=1, le=3_600, allow_inf_nan=False)

    # The private key intake signs its API keys' tokens with (PEM: RSA, EC or Ed25519); every
    # service verifies them with its public half, BPO_API_KEY_PUBLIC_KEY_FILE. Unset, API keys
    # get no tokens.
    api_key_private_key_file: Path | None = None
    # How long such a token works: short, so that a revoked key is soon locked out for good.
    api_key_token_ttl_s: int = Field(900, ge=60, le=900)
    # Requests to the token endpoint, each a scrypt check of 16 MiB and some 50 ms: this many
    # a window of api_key_token_window_s seconds from one address, per process, those that get
    # a token given back (a burst of them, then one every window / attempts seconds; 0: none).
    api_key_token_attempts: int = Field(20, ge=0)
    api_key_token_window_s: int = Field(600, ge=1)
    # scrypt runs (token requests, new keys) at a time in a process; the others wait their turn.
    api_key_checks_at_once: int = Field(4, ge=1)
    _api_key_signing_key: str | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _stream_outlives_no_retention(self) -> "Settings":
        if self.stream_max_age_days and not 0 < self.retention_days <= self.stream_max_age_days:
            raise ValueError(
                f"retention_days ({self.retention_days}) must be between 1 and "
                f"BPO_STREAM_MAX_AGE_DAYS ({self.stream_max_age_days}) when the stream is bounded"
            )
        return self

    @field_validator("document_url_secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr) -> SecretStr:
        if len(secret.get_secret_value()) < 32:
            raise ValueError("at least 32 characters (openssl rand -base64 32 makes one)")
        return secret

    @model_validator(mode="after")
    def _store_opens(self) -> "Settings":
        """A store URL or option that object_store cannot use stops the service at start."""
        if not self.document_store_url.startswith("file://"):  # a directory is made on use
            open_store(self.document_store_url, self.document_store_options)
        return self

    @model_validator(mode="after")
    def _signing_key_reads(self) -> "Settings":
        """The API keys' signing key is read once, and one that cannot sign (a public key, an
        encrypted one) stops the API at start, naming the setting (a worker, which issues no
        tokens, does not need it)."""
        if self.api_key_private_key_file is not None and self.component.serves_api:
            try:
                pem = self.api_key_private_key_file.read_text()
                signing_algorithm_of(pem)
            except (OSError, ValueError) as exc:
                raise SettingRefused("api_key_private_key_file", str(exc)) from exc
            self._api_key_signing_key = pem
        return self

    def api_key_signing_key(self) -> str | None:
        return self._api_key_signing_key


def _run_dir(name: str) -> Path:
    return Path(os.environ.get("BPO_RUN_DIR", ".run")).resolve() / name


SettingsDep = Annotated[Settings, Depends(settings_dependency(Settings))]
