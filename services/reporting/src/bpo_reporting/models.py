"""Read models of the reporting service, built only from events."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import DateTime, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bpo_common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


metadata = Base.metadata


class JobFact(Base):
    __tablename__ = "job_fact"

    job_id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID] = mapped_column(index=True)
    work_type: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ItemFact(Base):
    """One row per item: when it was received (and, later, how its life went)."""

    __tablename__ = "item_fact"

    item_id: Mapped[UUID] = mapped_column(primary_key=True)
    job_id: Mapped[UUID]
    client_id: Mapped[UUID]
    work_type: Mapped[str] = mapped_column(String(100))
    golden: Mapped[bool]
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class HourlyRollup(Base):
    """Counts per client, work type and hour; reports read these, never raw facts."""

    __tablename__ = "hourly_rollup"

    client_id: Mapped[UUID] = mapped_column(primary_key=True)
    work_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True, index=True)
    items_received: Mapped[int] = mapped_column(default=0)
