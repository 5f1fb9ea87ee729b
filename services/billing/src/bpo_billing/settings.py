from decimal import Decimal
from typing import Annotated

from fastapi import Depends
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from bpo_common.service import settings_dependency
from bpo_common.settings import DEFAULT_PORTS, Port, ServiceSettings


class Settings(ServiceSettings):
    """Settings of the billing service: BPO_BILLING_* and the shared BPO_* ones."""

    model_config = SettingsConfigDict(env_prefix="BPO_BILLING_")

    port: Port = DEFAULT_PORTS["billing"]
    # What an entry overturned by adjudication (or review) pays, as a fraction of its rate.
    # At most 4 decimals, as the earnings keep it.
    overturned_fraction: Decimal = Field(Decimal("0.5"), ge=0, le=1, decimal_places=4)
    # Days from finalizing an invoice to its due date; past it, an unpaid invoice is overdue.
    payment_terms_days: int = Field(30, ge=0, le=3650)


SettingsDep = Annotated[Settings, Depends(settings_dependency(Settings))]
