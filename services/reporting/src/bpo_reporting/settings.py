from pydantic_settings import SettingsConfigDict

from bpo_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """Settings of the reporting service: BPO_REPORTING_* and the shared BPO_* ones."""

    model_config = SettingsConfigDict(env_prefix="BPO_REPORTING_")

    port: int = 8004
