"""A database URL asks for TLS as providers give it (`?sslmode=require`, libpq's spelling) or
as SQLAlchemy's asyncpg dialect reads it (`?ssl=require`): every connection, the engines' and
raw asyncpg's, takes that mode as asyncpg takes it."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from pydantic import ValidationError

from bpo_common.db import asyncpg_dsn, create_engine
from bpo_common.settings import ServiceSettings, asyncpg_url, explain
from bpo_devtools.testing import connect_arguments

# A port nothing listens on: a connection that gets as far as the network is refused.
CLOSED = "postgresql://u:p@127.0.0.1:1/db"


async def _engine_arguments(url: str) -> dict[str, Any]:
    """What the engine hands asyncpg.connect for `url`."""
    return await connect_arguments(create_engine(asyncpg_url(url)))


@pytest.mark.parametrize(
    ("query", "mode"),
    [
        ("?sslmode=disable", "disable"),
        ("?sslmode=require", "require"),
        ("?ssl=require", "require"),
        ("?application_name=bpo&sslmode=verify-full", "verify-full"),
    ],
)
async def test_a_urls_tls_mode_reaches_asyncpg_as_it_takes_it(query: str, mode: str) -> None:
    given = await _engine_arguments(CLOSED + query)
    assert given["ssl"] == mode
    assert "sslmode" not in given, "asyncpg.connect has no sslmode argument"
    dsn = parse_qs(urlsplit(asyncpg_dsn(asyncpg_url(CLOSED + query))).query)
    assert dsn["sslmode"] == [mode]
    assert "ssl" not in dsn, "raw asyncpg would ask the server to set a setting `ssl`"


async def test_a_url_without_tls_leaves_the_mode_to_asyncpg() -> None:
    assert "ssl" not in await _engine_arguments(CLOSED)
    assert asyncpg_dsn(asyncpg_url(CLOSED)) == CLOSED


async def test_a_unix_socket_url_without_a_user_keeps_its_socket_and_its_tls_mode() -> None:
    url = "postgresql:///bpo_intake?host=/var/run/postgresql&sslmode=disable"
    given = await _engine_arguments(url)
    assert (given["host"], given["database"], given["ssl"]) == (
        "/var/run/postgresql",
        "bpo_intake",
        "disable",
    )
    assert asyncpg_dsn(asyncpg_url(url)) == (
        "postgresql:///bpo_intake?host=%2Fvar%2Frun%2Fpostgresql&sslmode=disable"
    )


async def test_a_provider_url_asking_for_tls_gets_to_the_network_on_every_path() -> None:
    url = asyncpg_url(f"{CLOSED}?sslmode=require")
    engine = create_engine(url)
    with pytest.raises(ConnectionRefusedError):
        async with engine.connect():
            pass
    await engine.dispose()
    with pytest.raises(ConnectionRefusedError):
        await asyncpg.connect(asyncpg_dsn(url))


class ExampleSettings(ServiceSettings):
    model_config = ServiceSettings.model_config | {"env_prefix": "BPO_EXAMPLE_"}

    port: int = 9000


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("?sslmode=required", "sslmode must be one of disable, allow, prefer, require"),
        ("?sslmode=require&ssl=disable", "sslmode and ssl ask for different TLS"),
        ("?sslmode=verify-full&sslrootcert=/ca.pem", "sslrootcert: only sslmode is read"),
    ],
)
def test_tls_asked_for_in_a_way_not_read_stops_the_settings_by_name(
    monkeypatch: pytest.MonkeyPatch, query: str, said: str
) -> None:
    monkeypatch.setenv("BPO_EXAMPLE_DATABASE_URL", CLOSED + query)
    with pytest.raises(ValidationError) as refused:
        ExampleSettings()
    (message,) = explain(refused.value, ExampleSettings)
    assert message.startswith(f"BPO_EXAMPLE_DATABASE_URL: {said}"), message
