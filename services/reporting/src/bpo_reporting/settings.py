from typing import Annotated

from fastapi import Depends
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from bpo_common.service import settings_dependency
from bpo_common.settings import DEFAULT_PORTS, Port, ServiceSettings

# A year of hours, a leap year's.
FORECAST_WINDOW_MOST = 24 * 366


class Settings(ServiceSettings):
    """Settings of the reporting service: BPO_REPORTING_* and the shared BPO_* ones."""

    model_config = SettingsConfigDict(env_prefix="BPO_REPORTING_")

    port: Port = DEFAULT_PORTS["reporting"]
    # Whole hours of recent throughput the SLA report's forecast extrapolates, and the
    # current one's minutes: at most a year's (more reached past the calendar's start, and
    # every SLA report and dashboard was a 500).
    forecast_window_hours: int = Field(6, ge=1, le=FORECAST_WINDOW_MOST)


# The settings the app was built with, for a route.
SettingsDep = Annotated[Settings, Depends(settings_dependency(Settings))]
