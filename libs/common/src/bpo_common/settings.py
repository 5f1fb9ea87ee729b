"""The one settings loader: every service's Settings subclasses ServiceSettings."""

import logging
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    Field,
    IPvAnyNetwork,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bpo_common.crypto import MISSING_KEK, DataKeys, KeyRing, KeyUnavailable, LocalKeyRing
from bpo_common.db import database_tls
from bpo_common.errors import said

# Where each service listens unless BPO_<SERVICE>_PORT says otherwise.
DEFAULT_PORTS: Mapping[str, int] = {
    "intake": 8001,
    "validation": 8002,
    "billing": 8003,
    "reporting": 8004,
}
SERVICES = tuple(DEFAULT_PORTS)


class Component(StrEnum):
    """What a service process runs: its API and its background work (relay, consumers,
    loops), or one of them (`bpo serve`, `bpo worker`), so each scales on its own."""

    ALL = "all"
    API = "api"
    WORKER = "worker"

    @property
    def serves_api(self) -> bool:
        return self is not Component.WORKER

    @property
    def works(self) -> bool:
        return self is not Component.API


class SettingRefused(ValueError):
    """What a model validator refuses in one field, for `explain` to name the field's variable
    as it does a field validator's (a model validator's own error is of no field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def explain(error: ValidationError, settings: type[BaseSettings]) -> list[str]:
    """What is wrong with the environment a Settings class read, by variable."""
    prefix = settings.model_config.get("env_prefix", "")
    # A shared setting is reported by one of its aliases: its variable is the first.
    shared = {
        str(choice): str(field.validation_alias.choices[0])
        for field in settings.model_fields.values()
        if isinstance(field.validation_alias, AliasChoices)
        for choice in field.validation_alias.choices
    }
    lines = []
    for problem in error.errors():
        refused = problem.get("ctx", {}).get("error")
        if isinstance(refused, SettingRefused):
            name = refused.field
        else:
            name = str(problem["loc"][0]) if problem["loc"] else ""
        variable = shared.get(name) or f"{prefix}{name}".upper()
        message = said(problem)
        lines.append(f"{variable}: {'not set' if problem['type'] == 'missing' else message}")
    return lines


def asyncpg_url(url: str) -> str:
    """postgresql+asyncpg://…, as the services connect; a postgresql:// or postgres:// URL (as
    providers give them) means the same. ValueError for any other, or for TLS asked for in a
    way `database_tls` does not read."""
    scheme, separator, rest = url.partition("://")
    if not separator or scheme not in ("postgresql+asyncpg", "postgresql", "postgres"):
        raise ValueError("must be postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB")
    database_tls(url)
    return f"postgresql+asyncpg://{rest}"


def _shared(name: str) -> AliasChoices:
    """Shared settings are read from one unprefixed variable, whatever the service."""
    return AliasChoices(name, name.removeprefix("BPO_").lower())


# The longest the plumbing's rows are kept (bpo_common.pruning): ten years, in hours.
KEEP_HOURS_AT_MOST = 87_600


# A worker process answers its probes on its service's port plus this, unless its own is set.
WORKER_PORT_OFFSET = 1000
Port = Annotated[int, Field(ge=1, le=65535)]


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclasses set `env_prefix` (BPO_<SERVICE>_)."""

    # A refused value is never repeated in the error: it may be a password.
    model_config = SettingsConfigDict(
        extra="ignore", populate_by_name=True, frozen=True, hide_input_in_errors=True
    )

    database_url: SecretStr = Field(
        description="postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB of this service's database"
    )
    host: str = "127.0.0.1"
    port: Port
    component: Component = Component.ALL
    # Where a worker process answers /healthz, /readyz and /metrics; the service's port plus
    # 1000 when not set.
    worker_port: Port | None = None
    # Connections kept open. Keep it above the requests served at once: a connection opened
    # for a burst beyond it is closed again, and opening one costs a SCRAM handshake.
    database_pool_size: int = Field(40, ge=1)

    nats_url: str = Field("nats://127.0.0.1:14222", validation_alias=_shared("BPO_NATS_URL"))
    # The user and password NATS asks for (deploy/nats/nats.conf, deploy/k8s/base/nats.yaml);
    # both or neither. Unset, none are sent, as the local stack's server asks for none.
    nats_user: str | None = Field(None, validation_alias=_shared("BPO_NATS_USER"))
    nats_password: SecretStr | None = Field(
        None, validate_default=True, validation_alias=_shared("BPO_NATS_PASSWORD")
    )
    stream_replicas: int = Field(1, validation_alias=_shared("BPO_STREAM_REPLICAS"))
    # How long the stream keeps an event (0: no limit): at least the longest retention of a
    # client's data (intake's BPO_INTAKE_RETENTION_DAYS and every client's retention_days).
    # The inboxes forget an event a week after the stream does (bpo_common.pruning).
    stream_max_age_days: int = Field(
        400, ge=0, le=36_500, validation_alias=_shared("BPO_STREAM_MAX_AGE_DAYS")
    )
    nats_connect_timeout_s: float = Field(
        30.0, validation_alias=_shared("BPO_NATS_CONNECT_TIMEOUT_S")
    )
    # How long a starting service waits for its database to answer its start-up checks.
    database_connect_timeout_s: float = Field(
        30.0, validation_alias=_shared("BPO_DATABASE_CONNECT_TIMEOUT_S")
    )

    jwt_issuer: str = Field("bpo-local", validation_alias=_shared("BPO_JWT_ISSUER"))
    jwt_audience: str = Field("bpo", validation_alias=_shared("BPO_JWT_AUDIENCE"))
    jwt_algorithm: Literal["RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"] = Field(
        "RS256", validation_alias=_shared("BPO_JWT_ALGORITHM")
    )
    jwt_public_key_file: Path | None = Field(
        None, validation_alias=_shared("BPO_JWT_PUBLIC_KEY_FILE")
    )
    jwt_jwks_url: str | None = Field(None, validation_alias=_shared("BPO_JWT_JWKS_URL"))
    # Intake's public key for the tokens it issues to clients' API keys (POST /v1/oauth/token),
    # and their `iss`: trusted for those client tokens alone. Unset, no API key's token works.
    api_key_public_key_file: Path | None = Field(
        None, validation_alias=_shared("BPO_API_KEY_PUBLIC_KEY_FILE")
    )
    api_key_issuer: str = Field("bpo-api-keys", validation_alias=_shared("BPO_API_KEY_ISSUER"))
    # A manager token without a `scope` claim may do everything a manager may (ops, finance,
    # admin, pii). For the local stack and tokens of old; in production managers carry scopes.
    manager_unscoped: bool = Field(False, validation_alias=_shared("BPO_MANAGER_UNSCOPED"))

    log_level: str = Field("INFO", validation_alias=_shared("BPO_LOG_LEVEL"))
    # Send a page's sign-in cookie (the dashboard's, the workbench's) over HTTPS only: set it
    # behind TLS.
    cookie_secure: bool = False
    max_body_bytes: int = Field(64 * 1024 * 1024, validation_alias=_shared("BPO_MAX_BODY_BYTES"))
    # What one caller (an API key, else a client company, a contractor; managers are not
    # limited) may spend a minute on each replica (bpo_common.ratelimit); 0 turns one off.
    # Far above what a person or an integration needs, and above what the benchmarks send.
    rate_limit_requests_per_minute: int = Field(
        12_000, ge=0, validation_alias=_shared("BPO_RATE_LIMIT_REQUESTS_PER_MINUTE")
    )
    rate_limit_items_per_minute: int = Field(
        1_000_000, ge=0, validation_alias=_shared("BPO_RATE_LIMIT_ITEMS_PER_MINUTE")
    )
    rate_limit_bytes_per_minute: int = Field(
        1024 * 1024 * 1024, ge=0, validation_alias=_shared("BPO_RATE_LIMIT_BYTES_PER_MINUTE")
    )

    # The proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the
    # caller's address in the audit trail; none: the address the request came from is.
    trusted_proxies: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = Field(
        (), validation_alias=_shared("BPO_TRUSTED_PROXIES")
    )

    consumer_max_deliver: int = Field(6, ge=1, validation_alias=_shared("BPO_CONSUMER_MAX_DELIVER"))
    # How long an event that waits for another it depends on (its job), or for a key, is
    # retried (its retries' delays added up) before it is dead-lettered; one that waits for
    # its database is retried for ever.
    consumer_wait_s: float = Field(86_400.0, ge=0, validation_alias=_shared("BPO_CONSUMER_WAIT_S"))
    consumer_ack_wait_s: float = Field(
        30.0, ge=1, validation_alias=_shared("BPO_CONSUMER_ACK_WAIT_S")
    )
    # The first retry's delay, doubled at each retry up to a minute.
    consumer_backoff_s: float = Field(
        0.5, ge=0.001, le=60, validation_alias=_shared("BPO_CONSUMER_BACKOFF_S")
    )
    relay_batch_size: int = Field(
        500, ge=1, le=10_000, validation_alias=_shared("BPO_RELAY_BATCH_SIZE")
    )
    # How long an outbox row is kept once it was sent (the stream holds the event): then it is
    # deleted, and with it the values it carries sealed.
    outbox_keep_hours: float = Field(
        1.0, ge=0, le=KEEP_HOURS_AT_MOST, validation_alias=_shared("BPO_OUTBOX_KEEP_HOURS")
    )
    # How long an answer is kept for an Idempotency-Key: a key sent again later is a new
    # request.
    idempotency_keep_hours: float = Field(
        24.0, ge=0, le=KEEP_HOURS_AT_MOST, validation_alias=_shared("BPO_IDEMPOTENCY_KEEP_HOURS")
    )

    @field_validator("database_url")
    @classmethod
    def _asyncpg(cls, value: SecretStr) -> SecretStr:
        return SecretStr(asyncpg_url(value.get_secret_value()))

    @field_validator("log_level")
    @classmethod
    def _a_logging_level(cls, level: str) -> str:
        """A level `logging` knows, in capitals as it names them: another would stop the
        service later, in the middle of its start."""
        if level.upper() not in logging.getLevelNamesMapping():
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level.upper()

    @field_validator("nats_password")
    @classmethod
    def _with_its_user(cls, password: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if (password is None) != (info.data.get("nats_user") is None):
            raise ValueError("BPO_NATS_USER and BPO_NATS_PASSWORD go together: set both or neither")
        return password

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    def listen_port(self) -> int:
        """The port this process listens on: the service's, or a worker's."""
        if self.component is Component.WORKER:
            return self.worker_port or self.port + WORKER_PORT_OFFSET
        return self.port

    @model_validator(mode="after")
    def _worker_port_fits(self) -> "ServiceSettings":
        worker = self.component is Component.WORKER
        if worker and self.worker_port is None and self.port + WORKER_PORT_OFFSET > 65535:
            raise SettingRefused(
                "worker_port",
                f"must be set when the port is above {65535 - WORKER_PORT_OFFSET}: a worker "
                f"answers on the port + {WORKER_PORT_OFFSET} by default",
            )
        return self


class KeyedSettings(ServiceSettings):
    """Settings of a service that keeps jobs' values (intake, validation): the key-encryption
    keys (bpo_common.crypto) its jobs' data keys are wrapped with. They have no default: keys
    given wrongly stop the settings from being read, and a service started without any stops
    at start (what needs no key, `bpo migrate`, runs without). Read once, they come with the
    data keys the process unwraps with them (`data_keys`)."""

    # `id:base64(32 bytes)`, several separated by commas while KEKs rotate.
    kek: SecretStr = Field(SecretStr(""), validation_alias=_shared("BPO_KEK"))
    # The KEK that wraps new data keys; needed only when BPO_KEK holds several.
    kek_id: str | None = Field(None, validation_alias=_shared("BPO_KEK_ID"))
    _data_keys: DataKeys | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _key_ring_reads(self) -> "KeyedSettings":
        if self.kek.get_secret_value().strip():
            ring = LocalKeyRing.parse(self.kek.get_secret_value(), self.kek_id)
            self._data_keys = DataKeys(ring)
        return self

    def key_ring(self) -> KeyRing:
        return self.data_keys().ring

    def data_keys(self) -> DataKeys:
        """The jobs' data keys this process has unwrapped, kept for its lifetime;
        KeyUnavailable without BPO_KEK."""
        if self._data_keys is None:
            raise KeyUnavailable(MISSING_KEK)
        return self._data_keys
