"""What a response's `Accept` header asks for, and CSV cells a spreadsheet cannot run."""

from collections.abc import Sequence

from bpo_common.errors import NotAcceptable

# A spreadsheet reads a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def negotiate(accept: str | None, offered: Sequence[str], refusal: str) -> str:
    """The offered media type `Accept` gives the highest quality (each type by its most
    specific matching range; a tie goes to the one offered first); the first offered when
    `Accept` is absent. NotAcceptable, saying `refusal`, when it allows none of them."""
    if accept is None or not accept.strip():
        return offered[0]
    ranges = [_media_range(part) for part in accept.split(",")]
    best: tuple[float, str] | None = None
    for candidate in offered:
        kind = candidate.split("/")[0]
        specificity = {candidate: 2, f"{kind}/*": 1, "*/*": 0}
        matching = [(specificity[media], q) for media, q in ranges if media in specificity]
        if not matching:
            continue
        quality = max(matching)[1]
        if quality > 0 and (best is None or quality > best[0]):
            best = (quality, candidate)
    if best is None:
        raise NotAcceptable(refusal)
    return best[1]


def _media_range(part: str) -> tuple[str, float]:
    media_range, *parameters = part.split(";")
    quality = 1.0
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
    return media_range.strip().lower(), quality


def spreadsheet_safe(text: str) -> str:
    """A CSV cell's text that a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
