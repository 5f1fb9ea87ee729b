"""Media types at the HTTP edge, in one place: what `Content-Type` a body comes in, which
type `Accept` asks for, CSV that a spreadsheet cannot run, and the file name a download
carries. Routes use these; use cases never see a header."""

import csv
import io
import json
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from pydantic_core import to_jsonable_python

from bpo_common.errors import NotAcceptable, UnsupportedMediaType

# A spreadsheet reads a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
CSV = "text/csv"


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


def content_type(header: str | None, accepted: Sequence[str], what: str) -> str:
    """The media type of a body, one of `accepted`, in UTF-8; UnsupportedMediaType saying
    how to send `what` otherwise."""
    media_type, *parameters = (header or "").split(";")
    media_type = media_type.strip().lower()
    if media_type not in accepted:
        given = f"not {media_type}" if media_type else "with a Content-Type header"
        raise UnsupportedMediaType(f"send {what} as {_one_of(accepted)} ({given})")
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip(' "').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(f"send {what} in UTF-8")
    return media_type


def _one_of(choices: Sequence[str]) -> str:
    return choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"


def spreadsheet_safe(text: str) -> str:
    """A CSV cell's text that a spreadsheet never runs as a formula. A plain number written as
    text (a canonical decimal, -12.50; a phone number, +4930123456) runs nothing: it stays as
    it is, for the programs that read the file."""
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_cell(value: Any) -> str:
    """A value as a CSV cell: numbers as they are, text defused (`spreadsheet_safe`), true and
    false, nested values as JSON, times as in JSON, nothing as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dict | list):
        return spreadsheet_safe(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    if isinstance(value, datetime):
        return str(to_jsonable_python(value))
    return spreadsheet_safe(str(value))


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """Rows as CSV (RFC 4180 line ends), every value through `csv_cell`."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(
        [csv_cell(value) for value in row] for row in rows
    )
    return buffer.getvalue()


def attachment(filename: str, *, inline: bool = False) -> dict[str, str]:
    """The headers of a download called `filename` (`inline`: shown rather than saved): an
    ASCII name for old clients and, when the name is not plain ASCII, the name itself
    (RFC 6266's filename*)."""
    disposition = "inline" if inline else "attachment"
    plain = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)
    value = f'{disposition}; filename="{plain}"'
    if plain != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return {"Content-Disposition": value, "Vary": "Accept"}


async def drain(chunks: AsyncIterator[bytes]) -> None:
    """Read what a client is still sending, so that it hears a refusal instead of having its
    connection closed mid-upload."""
    async for _ in chunks:
        pass
