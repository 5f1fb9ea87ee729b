from typing import Annotated

from fastapi import Depends
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from bpo_common.service import settings_dependency
from bpo_common.settings import DEFAULT_PORTS, ServiceSettings


class Settings(ServiceSettings):
    """Settings of the reporting service: BPO_REPORTING_* and the shared BPO_* ones."""

    model_config = SettingsConfigDict(env_prefix="BPO_REPORTING_")

    port: int = DEFAULT_PORTS["reporting"]
    # Whole hours of recent throughput the SLA report's forecast extrapolates, and the
    # current one's minutes.
    forecast_window_hours: int = Field(6, ge=1)


# The settings the app was built with, for a route.
SettingsDep = Annotated[Settings, Depends(settings_dependency(Settings))]
