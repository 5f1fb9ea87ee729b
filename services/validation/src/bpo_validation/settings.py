from typing import Annotated

from fastapi import Depends
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from bpo_common.service import settings_dependency
from bpo_common.settings import DEFAULT_PORTS, KeyedSettings, Port

# The most judged fields a window holds: each decision reads them all, so a window far
# larger than any keyer's or crew's record would only slow it (and one past 2**63 would
# have the database refuse the read).
WINDOW_MOST = 1_000_000


class Settings(KeyedSettings):
    """Settings of the validation service: BPO_VALIDATION_* and the shared BPO_* ones."""

    model_config = SettingsConfigDict(env_prefix="BPO_VALIDATION_")

    port: Port = DEFAULT_PORTS["validation"]
    # A contractor whose accuracy on a work type, over their most recent `quality_window`
    # judged fields on it (those since a manager last reactivated them), falls below the
    # floor, with at least `quality_min_judged` of them, is suspended. The floor is a
    # fraction: 85 (a percent) or nan would suspend every keyer once judged enough. A minimum
    # under 1 would suspend a keyer for their first wrong field, and a window (here or below)
    # under 1 reads nothing, or, negative, has the database refuse the read at every judging.
    quality_floor: float = Field(0.85, ge=0, le=1, allow_inf_nan=False)
    quality_min_judged: int = Field(50, ge=1)
    quality_window: int = Field(200, ge=1, le=WINDOW_MOST)
    # Adaptive QC knows a keyer by their latest `adaptive_window` judged fields on the work
    # type, on top of the crew's latest `adaptive_crew_window` (domain.accuracy).
    adaptive_window: int = Field(5000, ge=1, le=WINDOW_MOST)
    adaptive_crew_window: int = Field(20000, ge=1, le=WINDOW_MOST)
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
