from typing import Annotated

from fastapi import Depends
from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from bpo_common.service import settings_dependency
from bpo_common.settings import DEFAULT_PORTS, KeyedSettings


class Settings(KeyedSettings):
    """Settings of the validation service: BPO_VALIDATION_* and the shared BPO_* ones."""

    model_config = SettingsConfigDict(env_prefix="BPO_VALIDATION_")

    port: int = DEFAULT_PORTS["validation"]
    # A contractor whose accuracy on a work type, over their most recent `quality_window`
    # judged fields on it (those since a manager last reactivated them), falls below the
    # floor, with at least `quality_min_judged` of them, is suspended.
    quality_floor: float = 0.85
    quality_min_judged: int = 50
    quality_window: int = 200
    # Adaptive QC knows a keyer by their latest `adaptive_window` judged fields on the work
    # type, on top of the crew's latest `adaptive_crew_window` (domain.accuracy).
    adaptive_window: int = 5000
    adaptive_crew_window: int = 20000
    # An adjudication that agrees with no keying on some field is confirmed by a second
    # adjudicator, whose answer is final. That takes two people with the qc skill.
    confirm_adjudications: bool = True

    @model_validator(mode="after")
    def _window_holds_the_minimum(self) -> "Settings":
        """A window smaller than the minimum would never suspend anyone."""
        if self.quality_window < self.quality_min_judged:
            raise ValueError(
                f"quality_window ({self.quality_window}) must be at least "
                f"quality_min_judged ({self.quality_min_judged})"
            )
        return self


SettingsDep = Annotated[Settings, Depends(settings_dependency(Settings))]
