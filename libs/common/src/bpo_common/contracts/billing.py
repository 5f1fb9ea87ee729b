"""Events the billing service publishes: invoices, and the money each item and task moved."""

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from bpo_common.contracts.vocabulary import TaskKind
from bpo_common.events import Event


class UsageRecorded(Event):
    """A usage line was priced onto the client's ledger (revenue): a completed item's, or a
    match exception's that the client's own people resolved. The exception's `item_id` names
    its item, whose own line is another event: revenue is keyed by `usage_id`, not by item."""

    event_type = "bpo.billing.usage.recorded"

    usage_id: UUID
    item_id: UUID
    job_id: UUID
    client_id: UUID
    work_type: str
    amount: Decimal
    currency: str
    completed_at: datetime
    recorded_at: datetime


class EarningRecorded(Event):
    """A contractor earned a piece rate for a task (contractor cost)."""

    event_type = "bpo.billing.earning.recorded"

    earning_id: UUID
    task_id: UUID
    contractor_id: UUID
    job_id: UUID
    client_id: UUID
    work_type: str
    kind: TaskKind
    amount: Decimal
    currency: str
    earned_at: datetime


class InvoiceFinalized(Event):
    event_type = "bpo.billing.invoice.finalized"

    invoice_id: UUID
    client_id: UUID
    number: str
    currency: str
    period_start: date
    period_end: date
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    due_on: date
    finalized_at: datetime


class InvoicePaid(Event):
    event_type = "bpo.billing.invoice.paid"

    invoice_id: UUID
    client_id: UUID
    number: str
    currency: str
    total: Decimal
    paid_at: datetime


class InvoiceVoided(Event):
    event_type = "bpo.billing.invoice.voided"

    invoice_id: UUID
    client_id: UUID
    number: str
    reason: str
    voided_at: datetime
