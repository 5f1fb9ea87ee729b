from typing import Annotated

from fastapi import Depends, Request
from pydantic_settings import SettingsConfigDict

from bpo_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """Settings of the validation service: BPO_VALIDATION_* and the shared BPO_* ones."""

    model_config = SettingsConfigDict(env_prefix="BPO_VALIDATION_")

    port: int = 8002
    # A contractor whose accuracy falls below the floor, over at least this many judged
    # fields, is suspended.
    quality_floor: float = 0.85
    quality_min_judged: int = 50
    # Adaptive QC trusts a single keying from a keyer with at least this many judged fields
    # on the work type, over the most recent `adaptive_window` of them.
    adaptive_min_judged: int = 30
    adaptive_window: int = 500
    # An adjudication that agrees with no keying on some field is confirmed by a second
    # adjudicator, whose answer is final. That takes two people with the qc skill.
    confirm_adjudications: bool = True


async def current_settings(request: Request) -> Settings:
    settings = request.app.state.runtime.settings
    assert isinstance(settings, Settings)
    return settings


SettingsDep = Annotated[Settings, Depends(current_settings)]
