"""Reporting's settings: a forecast window reporting could not compute stops it at start,
naming the setting, and the largest it takes is one it computes."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from bpo_common.settings import Component, explain
from bpo_reporting.domain.sla import window_start
from bpo_reporting.settings import FORECAST_WINDOW_MOST, Settings

DATABASE = "postgresql+asyncpg://reporting@db/reporting"


@pytest.mark.parametrize("hours", [0, FORECAST_WINDOW_MOST + 1, 18_000_000])
def test_a_forecast_window_out_of_bounds_is_refused_naming_it(hours: int) -> None:
    with pytest.raises(ValidationError, match="forecast_window_hours"):
        Settings(database_url=DATABASE, forecast_window_hours=hours)


def test_the_largest_forecast_window_is_a_year_before_the_hour() -> None:
    settings = Settings(database_url=DATABASE, forecast_window_hours=FORECAST_WINDOW_MOST)
    now = datetime(2030, 3, 1, 12, 30, tzinfo=UTC)
    assert window_start(now, settings.forecast_window_hours) == datetime(
        2029, 2, 28, 12, tzinfo=UTC
    )


@pytest.mark.parametrize("port", [0, 65536])
def test_a_port_no_server_can_listen_on_is_refused_naming_it(port: int) -> None:
    with pytest.raises(ValidationError, match="port"):
        Settings(database_url=DATABASE, port=port)


def test_a_worker_whose_port_plus_1000_is_past_65535_needs_its_own_named() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(database_url=DATABASE, port=65000, component=Component.WORKER)
    (said,) = explain(refused.value, Settings)
    assert said.startswith("BPO_REPORTING_WORKER_PORT: must be set when the port is above 64535")
    worker = Settings(database_url=DATABASE, port=65000, worker_port=9004, component="worker")
    assert worker.listen_port() == 9004
    assert Settings(database_url=DATABASE, port=65000).listen_port() == 65000
