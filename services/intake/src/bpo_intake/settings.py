from pydantic_settings import SettingsConfigDict

from bpo_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """Settings of the intake service: BPO_INTAKE_* and the shared BPO_* ones."""

    model_config = SettingsConfigDict(env_prefix="BPO_INTAKE_")

    port: int = 8001
