"""Request and response bodies of the intake API."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationInfo,
    field_validator,
)

from bpo_intake.models import ItemStatus, JobStatus

Name = Annotated[str, Field(min_length=1, max_length=200)]
FieldName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]

MAX_ITEMS_IN_BODY = 10_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClientCreate(Strict):
    name: Name
    webhook_url: HttpUrl | None = None


class ClientCreated(BaseModel):
    id: UUID
    name: str
    webhook_url: str | None
    webhook_secret: str
    created_at: datetime


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    EMAIL = "email"
    PHONE = "phone"
    IBAN = "iban"
    ENUM = "enum"
    BOOLEAN = "boolean"


class FieldSpec(Strict):
    name: FieldName
    type: FieldType
    required: bool = True


class QcMode(StrEnum):
    SINGLE = "single"
    DOUBLE = "double"
    VERIFY = "verify"


class QcPolicy(Strict):
    mode: QcMode = QcMode.SINGLE
    review_sample_rate: Annotated[Decimal, Field(ge=0, le=1)] = Decimal(0)


class ItemIn(Strict):
    external_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    source: dict[str, Any]
    golden: dict[str, Any] | None = None


class JobCreate(Strict):
    work_type: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")]
    fields: Annotated[list[FieldSpec], Field(min_length=1, max_length=200)]
    qc: QcPolicy = QcPolicy()
    due_at: AwareDatetime | None = None
    sla_hours: Annotated[Decimal, Field(gt=0, le=8760, decimal_places=2)] | None = None
    priority: Annotated[int, Field(ge=0, le=100)] = 50
    required_skills: list[Annotated[str, Field(min_length=1, max_length=50)]] = []
    external_ref: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    items: Annotated[list[ItemIn], Field(max_length=MAX_ITEMS_IN_BODY)] = []

    @field_validator("fields")
    @classmethod
    def _unique_names(cls, fields: list[FieldSpec]) -> list[FieldSpec]:
        names = [spec.name for spec in fields]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"field names must be unique; repeated: {', '.join(duplicates)}")
        return fields

    @field_validator("sla_hours")
    @classmethod
    def _one_deadline(cls, sla_hours: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if sla_hours is not None and info.data.get("due_at") is not None:
            raise ValueError("give due_at or sla_hours, not both")
        return sla_hours


class ItemCounts(BaseModel):
    pending: int = 0
    in_progress: int = 0
    in_review: int = 0
    completed: int = 0
    rejected: int = 0
    total: int = 0


class JobOut(BaseModel):
    id: UUID
    client_id: UUID
    status: JobStatus
    work_type: str
    fields: list[FieldSpec]
    qc: QcPolicy
    due_at: datetime | None
    sla_hours: Decimal | None
    priority: int
    required_skills: list[str]
    external_ref: str | None
    counts: ItemCounts
    progress: float
    created_at: datetime
    completed_at: datetime | None


class ItemOut(BaseModel):
    id: UUID
    job_id: UUID
    external_id: str | None
    status: ItemStatus
    source: dict[str, Any]
    result: dict[str, Any] | None
    completed_at: datetime | None
