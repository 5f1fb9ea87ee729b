"""Pure parts of the HTTP plumbing: cursors, pages, error locations, settings."""

import asyncio
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from bpo_common import messaging
from bpo_common.errors import Invalid, _location, install_error_handlers
from bpo_common.ids import new_id
from bpo_common.pagination import PageRequest, decode_cursor, encode_cursor, make_page
from bpo_common.settings import ServiceSettings, explain
from bpo_devtools.servers import free_port


@given(st.uuids())
def test_a_cursor_decodes_to_the_id_it_was_made_from(value: UUID) -> None:
    assert decode_cursor(encode_cursor(value)) == value


@pytest.mark.parametrize("garbage", ["", "abc", "!!!!", "a" * 40])
def test_a_cursor_not_made_by_the_api_is_a_422_naming_cursor(garbage: str) -> None:
    with pytest.raises(Invalid) as raised:
        decode_cursor(garbage)
    assert [error.field for error in raised.value.errors] == ["cursor"]


@dataclass(frozen=True)
class Row:
    id: UUID


def test_a_page_shows_its_rows_and_says_whether_another_follows() -> None:
    rows = [Row(new_id()) for _ in range(3)]
    full = make_page(rows, PageRequest(limit=2, after=None), lambda row: str(row.id))
    assert full.data == [str(row.id) for row in rows[:2]]
    assert full.next_cursor is not None
    assert decode_cursor(full.next_cursor) == rows[1].id
    last = make_page(rows[2:], PageRequest(limit=2, after=rows[1].id), lambda row: str(row.id))
    assert last.data == [str(rows[2].id)]
    assert last.next_cursor is None


@pytest.mark.parametrize(
    ("loc", "field"),
    [
        (("body", "fields", 0, "type"), "fields[0].type"),
        (("body", "items", 12, "source"), "items[12].source"),
        (("query", "limit"), "limit"),
        (("header", "Idempotency-Key"), "Idempotency-Key"),
        (("body",), "body"),
    ],
)
def test_validation_errors_name_the_field_as_a_user_writes_it(
    loc: tuple[int | str, ...], field: str
) -> None:
    assert _location(loc) == field


class ExampleSettings(ServiceSettings):
    model_config = ServiceSettings.model_config | {"env_prefix": "BPO_EXAMPLE_"}

    port: int = 9000


def test_settings_take_shared_values_unprefixed_and_own_values_prefixed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BPO_NATS_URL", "nats://a:4222,nats://b:4222")
    monkeypatch.setenv("BPO_EXAMPLE_DATABASE_URL", "postgresql+asyncpg://u:p@h:1/d")
    monkeypatch.setenv("BPO_EXAMPLE_PORT", "9100")
    monkeypatch.setenv("BPO_OTHER_PORT", "1")
    settings = ExampleSettings()
    assert settings.nats_url == "nats://a:4222,nats://b:4222"
    assert settings.database_url.get_secret_value() == "postgresql+asyncpg://u:p@h:1/d"
    assert settings.port == 9100
    assert "p@h" not in repr(settings), "the database password never shows in logs"


def test_the_nats_login_is_read_whole_and_its_password_never_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BPO_EXAMPLE_DATABASE_URL", "postgresql+asyncpg://u:p@h:1/d")
    assert (ExampleSettings().nats_user, ExampleSettings().nats_password) == (None, None)
    monkeypatch.setenv("BPO_NATS_USER", "bpo")
    with pytest.raises(ValidationError) as missing:
        ExampleSettings()
    assert explain(missing.value, ExampleSettings) == [
        "BPO_NATS_PASSWORD: BPO_NATS_USER and BPO_NATS_PASSWORD go together: set both or neither"
    ]
    monkeypatch.setenv("BPO_NATS_PASSWORD", "n0tShown")
    settings = ExampleSettings()
    assert settings.nats_user == "bpo"
    assert settings.nats_password is not None
    assert settings.nats_password.get_secret_value() == "n0tShown"
    assert "n0tShown" not in repr(settings)
    monkeypatch.delenv("BPO_NATS_USER")
    with pytest.raises(ValidationError) as alone:
        ExampleSettings()
    assert "n0tShown" not in str(alone.value), "nor in the error a service prints as it stops"


async def test_a_nats_that_cannot_be_reached_is_said_once_the_connect_timeout_has_gone_by() -> None:
    """As BPO_NATS_CONNECT_TIMEOUT_S says: nats-py's own first connect never ended."""
    url = f"nats://bpo:n0tShown@127.0.0.1:{free_port()}"
    with pytest.raises(ConnectionError) as away:
        await asyncio.wait_for(messaging.connect(url, name="test", timeout_s=0.5), 10)
    assert str(away.value) == f"cannot reach NATS at {messaging.without_login(url)} within 0.5 s"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://bpo:n0tShown@a:4222, nats://b:4222", "nats://a:4222,nats://b:4222"),
        ("bpo:n0tShown@a:4222", "a:4222"),
        ("nats://bpo:n0t/Sh#o?wn@a:4222", "nats://a:4222"),
        ("nats://[::1", "nats://[::1"),
    ],
)
def test_a_login_written_into_the_nats_url_is_left_out_where_an_error_names_it(
    url: str, shown: str
) -> None:
    assert messaging.without_login(url) == shown


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BPO_RELAY_BATCH_SIZE", "0"),
        ("BPO_CONSUMER_BACKOFF_S", "0"),
        ("BPO_CONSUMER_MAX_DELIVER", "0"),
        ("BPO_CONSUMER_ACK_WAIT_S", "0"),
        ("BPO_EXAMPLE_DATABASE_POOL_SIZE", "0"),
    ],
)
def test_plumbing_settings_that_would_stall_a_service_stop_it_at_start_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """A relay that claims nothing and spins, retries without delay that never end, no
    connection to the database."""
    monkeypatch.setenv("BPO_EXAMPLE_DATABASE_URL", "postgresql+asyncpg://u:p@h:1/d")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as refused:
        ExampleSettings()
    (message,) = explain(refused.value, ExampleSettings)
    assert message.startswith(f"{variable}: Input should be greater than or equal to"), message


def test_a_stream_age_past_a_hundred_years_is_refused_by_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BPO_EXAMPLE_DATABASE_URL", "postgresql+asyncpg://u:p@h:1/d")
    monkeypatch.setenv("BPO_STREAM_MAX_AGE_DAYS", "36500")
    assert ExampleSettings().stream_max_age_days == 36_500
    monkeypatch.setenv("BPO_STREAM_MAX_AGE_DAYS", "1000000")
    with pytest.raises(ValidationError) as refused:
        ExampleSettings()
    assert explain(refused.value, ExampleSettings) == [
        "BPO_STREAM_MAX_AGE_DAYS: Input should be less than or equal to 36500"
    ]


def test_a_log_level_logging_does_not_know_is_refused_by_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BPO_EXAMPLE_DATABASE_URL", "postgresql+asyncpg://u:p@h:1/d")
    monkeypatch.setenv("BPO_LOG_LEVEL", "verbose")
    with pytest.raises(ValidationError) as refused:
        ExampleSettings()
    assert explain(refused.value, ExampleSettings) == [
        "BPO_LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    ]
    monkeypatch.setenv("BPO_LOG_LEVEL", "debug")
    assert ExampleSettings().log_level == "DEBUG", "read in any case, as logging names it"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"), 503),
        (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), 503),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), 503),
        (asyncpg.exceptions.UniqueViolationError("duplicate key"), 500),
    ],
)
async def test_a_database_out_of_reach_is_a_503_to_retry_and_any_other_error_a_500(
    error: Exception, status: int
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/statement")
    async def statement() -> None:
        raise error

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/statement")
    assert response.status_code == status
    assert response.headers.get("Retry-After") == ("1" if status == 503 else None)
