from typing import Annotated

from fastapi import Depends
from pydantic_settings import SettingsConfigDict

from bpo_common.service import settings_dependency
from bpo_common.settings import DEFAULT_PORTS, ServiceSettings


class Settings(ServiceSettings):
    """Settings of the intake service: BPO_INTAKE_* and the shared BPO_* ones."""

    model_config = SettingsConfigDict(env_prefix="BPO_INTAKE_")

    port: int = DEFAULT_PORTS["intake"]
    lease_seconds: int = 300
    # A task whose lease expired this many times flags its item for a manager.
    max_attempts: int = 3
    sweep_interval_s: float = 5.0
    # A task queued this long that no active contractor may claim flags its item for a
    # manager (checked every minute).
    unclaimable_after_s: float = 600.0
    # Webhook URLs resolving to loopback, private or link-local addresses are refused
    # unless this is set (for a receiver on the same machine or network).
    webhook_allow_private: bool = False
    webhook_retry_hours: float = 24.0
    webhook_timeout_s: float = 10.0


SettingsDep = Annotated[Settings, Depends(settings_dependency(Settings))]
