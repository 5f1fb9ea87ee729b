"""Validation's settings: a quality window that could never hold the minimum of judged
fields (so would never suspend anyone) stops the service at start."""

import pytest
from pydantic import ValidationError

from bpo_validation.settings import Settings

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
