from typing import Annotated

from fastapi import Depends
from pydantic_settings import SettingsConfigDict

from bpo_common.service import settings_dependency
from bpo_common.settings import DEFAULT_PORTS, KeyedSettings


class Settings(KeyedSettings):
    """Settings of the validation service: BPO_VALIDATION_* and the shared BPO_* ones."""

    model_config = SettingsConfigDict(env_prefix="BPO_VALIDATION_")

    port: int = DEFAULT_PORTS["validation"]
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


SettingsDep = Annotated[Settings, Depends(settings_dependency(Settings))]
