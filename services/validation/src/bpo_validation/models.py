"""Tables the validation service owns."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bpo_common.db import JSON_TYPES, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = JSON_TYPES


metadata = Base.metadata


class JobRules(Base):
    """The field rules and QC policy of a job, as intake announced them."""

    __tablename__ = "job_rules"

    job_id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID] = mapped_column(index=True)
    work_type: Mapped[str] = mapped_column(String(100))
    fields: Mapped[list[dict[str, Any]]]
    qc: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
