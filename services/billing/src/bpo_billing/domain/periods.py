"""Billing periods are whole UTC days: a period from its first day to its last, included."""

from datetime import UTC, date, datetime, time, timedelta


def start_of(day: date) -> datetime:
    """The first moment of a day (UTC)."""
    return datetime.combine(day, time(), tzinfo=UTC)


def end_of(day: date) -> datetime:
    """The first moment after a day (UTC): what a period that includes `day` stays before."""
    return start_of(day + timedelta(days=1))


def day_of(moment: datetime) -> date:
    """The calendar day (UTC) a moment falls in, whatever offset it was written with."""
    return moment.astimezone(UTC).date()


def month_of(moment: datetime) -> date:
    """The first day of the calendar month (UTC) a moment falls in."""
    return day_of(moment).replace(day=1)


def month_after(first: date) -> date:
    """The first day of the month after the one that starts on `first`."""
    return (first + timedelta(days=31)).replace(day=1)
