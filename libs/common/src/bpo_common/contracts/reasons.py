"""Why an item went where it did, as events say it (`reason`): fixed words the service writes,
and after them, for some, what a person typed about the item (a keyer who cannot read it, a
reviewer or adjudicator who rejects it, whoever resolves a match exception with a note) or
the keyed values a check quotes (what a reference check or an invoice's match found wrong,
the order an invoice matched). Typed text may name anyone, and a value quoted is the client's
data (never a personal field's: domain.reference leaves those unquoted), so an item's erasure
empties that part on the stream and in dead letters (bpo_common.erasure.redacted) and in
validation's decisions, and keeps the fixed words, which say what happened. Reasons are
joined here only, so that this module alone knows where the typed or quoted part starts.
"""

from collections.abc import Sequence

from bpo_common.contracts.vocabulary import ExceptionAction, TaskKind

# Between the fixed words and what was typed or quoted.
SEPARATOR = ": "
# Between reasons said together: "sampled for review at rate 0.1; reference check: ...".
AND = "; "

_UNREADABLE = "marked unreadable"
_BY_CLIENT = "the client's accounts payable"
_BY_MANAGER = "a manager"
_REFERENCE_CHECK = "reference check"
_UNMATCHED = "does not match its purchase order"
# Before this release an order matched was written without SEPARATOR ("matches order PO-4711"):
# whatever follows these words is quoted.
MATCHED = "matches order"


def _rejected_in(kind: TaskKind) -> str:
    return f"rejected in {kind}"


def _resolved(action: ExceptionAction, by_client: bool) -> str:
    return f"match exception {action}ed by {_BY_CLIENT if by_client else _BY_MANAGER}"


# Every reason's fixed words that typed or quoted text may follow (SEPARATOR between).
FIXED = frozenset(
    {
        _UNREADABLE,
        _REFERENCE_CHECK,
        _UNMATCHED,
        MATCHED,
        *(_rejected_in(kind) for kind in TaskKind),
        *(_resolved(action, by) for action in ExceptionAction for by in (True, False)),
    }
)


def unreadable(typed: Sequence[str]) -> str:
    """Why keyings marked unreadable go to review: what each keyer typed."""
    return f"{_UNREADABLE}{SEPARATOR}{AND.join(typed)}"


def rejected(kind: TaskKind, typed: str) -> str:
    """Why a reviewer (or an adjudicator) rejected the item: what they typed."""
    return f"{_rejected_in(kind)}{SEPARATOR}{typed}"


def resolved(action: ExceptionAction, by_client: bool, note: str | None) -> str:
    """How a match exception was resolved, and by whom, with the note they typed if any."""
    fixed = _resolved(action, by_client)
    return f"{fixed}{SEPARATOR}{note}" if note else fixed


def reference_check(problems: Sequence[str]) -> str:
    """What a result disagrees with in the client's reference data, each problem quoting the
    values of fields that are not personal; nothing when nothing disagrees."""
    return f"{_REFERENCE_CHECK}{SEPARATOR}{AND.join(problems)}" if problems else ""


def unmatched(problems: Sequence[str]) -> str:
    """Why an invoice is an exception: what does not match its order, quoting its figures."""
    return f"{_UNMATCHED}{SEPARATOR}{AND.join(problems)}"


def matched(reason: str, order: str) -> str:
    """An accepted invoice's reason, with the order (as keyed) it matched."""
    return f"{reason}{AND}{MATCHED}{SEPARATOR}{order}"


def together(*said: str) -> str:
    """Reasons said together, the empty ones left out."""
    return AND.join(reason for reason in said if reason)


def untyped(reason: str) -> str:
    """The reason without what a person typed or a check quoted in it. Of the reasons said
    together, each that starts with fixed words joined here keeps those words alone
    ("sampled for review at rate 0.1; reference check; matches order"); once one has, a part
    that does not is its typed or quoted text (typed text may hold AND) and goes. A reason's own
    words may hold SEPARATOR ("verified: the client's values stand"): kept, as any other part
    before. Nothing typed nor quoted, the reason stays whole (ERASED_REASON, for one)."""
    kept: list[str] = []
    quoted = False
    for part in reason.split(AND):
        fixed = _fixed_words(part)
        if fixed is not None or not quoted:
            kept.append(fixed or part)
        quoted = quoted or fixed not in (None, part)
    return AND.join(kept)


def _fixed_words(part: str) -> str | None:
    """The fixed words a part of a reason starts with, when they are words typed or quoted text
    may follow; else none."""
    if part.startswith(MATCHED):
        return MATCHED
    fixed = part.partition(SEPARATOR)[0]
    return fixed if fixed in FIXED else None
