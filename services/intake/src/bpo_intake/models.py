"""Tables the intake service owns."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, Enum, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bpo_common.db import JSON_TYPES, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = JSON_TYPES


metadata = Base.metadata


class JobStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ItemStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    IN_REVIEW = "in_review"
    COMPLETED = "completed"
    REJECTED = "rejected"


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(cls, name=cls.__name__.lower(), values_callable=lambda e: [m.value for m in e])


class Client(Base):
    __tablename__ = "client"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Job(Base):
    __tablename__ = "job"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID] = mapped_column(ForeignKey("client.id"), index=True)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus))
    work_type: Mapped[str] = mapped_column(String(100))
    fields: Mapped[list[dict[str, Any]]]
    qc: Mapped[dict[str, Any]]
    priority: Mapped[int]
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sla_hours: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    required_skills: Mapped[list[str]]
    external_ref: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Item(Base):
    __tablename__ = "item"
    __table_args__ = (Index("ix_item_job_id_status", "job_id", "status"),)

    id: Mapped[UUID] = mapped_column(primary_key=True)
    job_id: Mapped[UUID] = mapped_column(ForeignKey("job.id"))
    client_id: Mapped[UUID]
    external_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[ItemStatus] = mapped_column(_enum(ItemStatus))
    source: Mapped[dict[str, Any]]
    golden: Mapped[dict[str, Any] | None]
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
