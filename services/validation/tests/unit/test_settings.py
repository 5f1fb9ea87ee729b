"""Validation's settings: a quality window that could never hold the minimum of judged
fields (so would never suspend anyone), or a floor, minimum or window out of its bounds,
stops the service at start, naming the setting."""

from typing import Any

import pytest
from pydantic import ValidationError

from bpo_validation.settings import WINDOW_MOST, Settings

DATABASE = "postgresql+asyncpg://validation@db/validation"


def test_a_quality_window_smaller_than_the_minimum_stops_the_service_at_start() -> None:
    with pytest.raises(ValidationError, match=r"quality_window \(40\) must be at least"):
        Settings(database_url=DATABASE, quality_window=40, quality_min_judged=50)


def test_the_quality_floor_holds_over_the_latest_200_judged_fields_by_default() -> None:
    settings = Settings(database_url=DATABASE)
    assert (settings.quality_floor, settings.quality_min_judged, settings.quality_window) == (
        0.85,
        50,
        200,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        # A percent for a fraction, or no number: every keyer judged enough was suspended.
        ("quality_floor", 85),
        ("quality_floor", float("nan")),
        ("quality_floor", float("inf")),
        ("quality_floor", -0.1),
        # A keyer suspended for their first wrong field.
        ("quality_min_judged", 0),
        ("quality_min_judged", -5),
        # A negative LIMIT: every adaptive first keying failed.
        ("adaptive_window", -1),
        ("adaptive_crew_window", 0),
        # More than any record holds, read at every decision.
        ("quality_window", WINDOW_MOST + 1),
        ("adaptive_crew_window", WINDOW_MOST + 1),
    ],
)
def test_a_floor_minimum_or_window_out_of_bounds_stops_the_service_naming_it(
    name: str, value: float
) -> None:
    setting: dict[str, Any] = {name: value}
    with pytest.raises(ValidationError, match=name):
        Settings(database_url=DATABASE, **setting)


def test_a_floor_given_as_a_percent_in_the_environment_stops_the_service_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BPO_VALIDATION_QUALITY_FLOOR", "85")
    with pytest.raises(ValidationError, match="quality_floor"):
        Settings(database_url=DATABASE)


def test_the_bounds_themselves_are_taken() -> None:
    settings = Settings(
        database_url=DATABASE,
        quality_floor=1,
        quality_min_judged=1,
        quality_window=WINDOW_MOST,
        adaptive_window=1,
        adaptive_crew_window=WINDOW_MOST,
    )
    assert (settings.quality_floor, settings.quality_window) == (1.0, WINDOW_MOST)
    assert Settings(database_url=DATABASE, quality_floor=0).quality_floor == 0.0
