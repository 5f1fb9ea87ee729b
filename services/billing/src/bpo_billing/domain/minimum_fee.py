"""The minimum monthly fee: a month's invoices bill together its usage or the price book's
minimum, whichever is more. A draft's fee line trues up what the month's other invoices
billed and charged, and says the figures it comes from."""

from dataclasses import dataclass
from decimal import Decimal

from bpo_billing.domain.money import round_money


@dataclass(frozen=True)
class MonthBilled:
    """What the client's other invoices not void of a draft's month bill: their items and
    resolved exceptions, and the minimum fee lines they charged (one giving a fee back
    counts negative)."""

    usage: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)


def _owed(usage: Decimal, minimum: Decimal, month: MonthBilled) -> Decimal:
    """What the month's usage (the draft's and its other invoices') falls short of the
    minimum."""
    return max(Decimal(0), minimum - (usage + month.usage))


def minimum_fee_top_up(
    usage: Decimal, minimum: Decimal, currency: str, month: MonthBilled = MonthBilled()
) -> Decimal:
    """The draft's minimum fee line: what the month's usage (this draft's and the month's other
    invoices') falls short of the minimum, less the fees those invoices charged already, so
    that the month pays max(usage, minimum) whatever its invoices. Negative when usage billed
    later made up a fee charged earlier, which is given back, but never more than the draft's
    own usage: an invoice never goes below zero."""
    return round_money(max(_owed(usage, minimum, month) - month.fees, -usage), currency)


def fee_description(usage: Decimal, minimum: Decimal, currency: str, month: MonthBilled) -> str:
    """What the minimum fee line comes to, in figures that add up to its amount: alone in
    its month, the invoice's own usage lines and the line make the minimum; beside other
    invoices, the month's usage and the fee it owes, less what those charged (or plus what
    they gave back), and what is given back when the line is negative."""

    def money(amount: Decimal) -> str:
        return f"{round_money(amount, currency)} {currency}"

    said = f"Minimum monthly fee of {money(minimum)}"
    if month == MonthBilled():
        return said
    owed = _owed(usage, minimum, month)
    said += (
        f" on the month's usage of {money(usage + month.usage)} ({money(month.usage)} of it on "
        f"its other invoices): {money(owed)}"
    )
    if month.fees > 0:
        said += f", less {money(month.fees)} charged before"
    elif month.fees < 0:
        said += f", plus {money(-month.fees)} given back before"
    top_up = minimum_fee_top_up(usage, minimum, currency, month)
    if top_up < 0:
        said += f": {money(-top_up)} given back"
        if owed - month.fees < -usage:
            said += ", no more than this invoice's usage"
    return said
