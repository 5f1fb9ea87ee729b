"""Why an item went where it did, as events say it (`reason`): fixed words the service writes,
and after them, for some, what a person typed about the item: a keyer who cannot read it, a
reviewer or adjudicator who rejects it, whoever resolves a match exception with a note. That
text may name anyone, so an item's erasure empties it on the stream and in dead letters
(bpo_common.erasure.redacted) and keeps the fixed words, which say what happened. Reasons are
joined here only, so that this module alone knows where the typed part starts.
"""

from collections.abc import Sequence

from bpo_common.contracts.vocabulary import ExceptionAction, TaskKind

# Between the fixed words and what was typed.
SEPARATOR = ": "

_UNREADABLE = "marked unreadable"
_BY_CLIENT = "the client's accounts payable"
_BY_MANAGER = "a manager"


def _rejected_in(kind: TaskKind) -> str:
    return f"rejected in {kind}"


def _resolved(action: ExceptionAction, by_client: bool) -> str:
    return f"match exception {action}ed by {_BY_CLIENT if by_client else _BY_MANAGER}"


# Every reason's fixed words that typed text may follow (SEPARATOR between).
FIXED = frozenset(
    {
        _UNREADABLE,
        *(_rejected_in(kind) for kind in TaskKind),
        *(_resolved(action, by) for action in ExceptionAction for by in (True, False)),
    }
)


def unreadable(typed: Sequence[str]) -> str:
    """Why keyings marked unreadable go to review: what each keyer typed."""
    return f"{_UNREADABLE}{SEPARATOR}{'; '.join(typed)}"


def rejected(kind: TaskKind, typed: str) -> str:
    """Why a reviewer (or an adjudicator) rejected the item: what they typed."""
    return f"{_rejected_in(kind)}{SEPARATOR}{typed}"


def resolved(action: ExceptionAction, by_client: bool, note: str | None) -> str:
    """How a match exception was resolved, and by whom, with the note they typed if any."""
    fixed = _resolved(action, by_client)
    return f"{fixed}{SEPARATOR}{note}" if note else fixed


def untyped(reason: str) -> str:
    """The reason without what a person typed in it: the fixed words of one joined here, any
    other whole (none other holds typed text, ERASED_REASON for one)."""
    fixed, then, _ = reason.partition(SEPARATOR)
    return fixed if then and fixed in FIXED else reason
