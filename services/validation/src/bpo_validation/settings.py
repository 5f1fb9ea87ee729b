from pydantic_settings import SettingsConfigDict

from bpo_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """Settings of the validation service: BPO_VALIDATION_* and the shared BPO_* ones."""

    model_config = SettingsConfigDict(env_prefix="BPO_VALIDATION_")

    port: int = 8002
