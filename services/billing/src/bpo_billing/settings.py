from pydantic_settings import SettingsConfigDict

from bpo_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """Settings of the billing service: BPO_BILLING_* and the shared BPO_* ones."""

    model_config = SettingsConfigDict(env_prefix="BPO_BILLING_")

    port: int = 8003
