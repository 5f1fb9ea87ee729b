"""JSON that comes in, read strictly: what the database or the JSON encoder would fail on later
(as a 500) is refused where it is parsed, with a 422 saying what to fix.

Refused, wherever JSON comes in (request bodies through `CheckedRoute`, NDJSON and JSON items,
NDJSON reference data):
- `NaN`, `Infinity`, `-Infinity`, and numbers beyond a double's range (`1e400`): JSON has no
  such numbers, and PostgreSQL's jsonb refuses them (where numbers are kept as text, as in
  reference data, `1e400` is text like any other); numbers with more digits than a double
  keeps, which it would change (`1234567890123.4567`): text keeps them;
- nesting deeper than `MAX_DEPTH` levels, whole numbers of more than `MAX_DIGITS` digits;
- an object with the same key twice (JSON parsers disagree on which one wins);
- text PostgreSQL cannot store (NUL, unpaired surrogates), as `text.unstorable` finds it.
"""

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bpo_common.errors import shown

MAX_DEPTH = 64
# Python reads whole numbers of up to 4,300 digits; far more than any value needs.
MAX_DIGITS = 1000
# A number in exponent form is written out up to this many digits either side of the point.
MAX_WRITTEN_OUT = 100


class BadJson(ValueError):
    """The text is not JSON this platform can take; `message` says why, and `path` where in
    the value, as errors name fields (`items[3].source.total`; empty: the text as a whole)."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def _no_constant(name: str) -> Any:
    raise BadJson(f"{name} is not a JSON number; send a number or null")


def finite_float(written: str | Decimal) -> float:
    """A JSON number with a point or an exponent as the float it is read as, or BadJson: one
    beyond a double's range, or one whose digits a double does not keep (a golden total of
    `1234567890123.4567` was kept as `...4568`, and a keyer who keyed it right scored wrong)."""
    number = float(written)
    try:
        exact = Decimal(written)
    except ArithmeticError:  # an exponent past what a decimal holds (1E-4000000000000000000)
        exact = None
    if not math.isfinite(number) or exact is None:
        raise BadJson(f"{written} is beyond the range of a number (about 1.8e308)")
    if number == 0 and exact != 0:
        raise BadJson(f"{written} is nearer 0 than a number can be (about 5e-324): send 0")
    # As a double is written shortest, or in full (17 digits, as C's %.17g and some JSON
    # writers do): either is the double the client had; other digits are lost on reading.
    if exact != Decimal(repr(number)) and exact != Decimal(format(number, ".17g")):
        raise BadJson(
            f"{written} has more digits than a JSON number keeps (15 to 17): send it as text, "
            "in quotes"
        )
    return number


def _whole(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise BadJson(f"a whole number of more than {MAX_DIGITS} digits")
    return int(text)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise BadJson(f'the key "{key}" appears twice in one object')
        found[key] = value
    return found


def _written_out(text: str) -> str:
    """A number kept as text: as written, but for one in exponent form (`1E2`, `2.5e-3`, as
    JSON encoders write some numbers), written out (`100`, `0.0025`), which is how the field
    types read numbers; one too long to write out (`1e400`) stays as written."""
    if "e" not in text.lower():
        return text
    value = Decimal(text)
    return text if abs(value.adjusted()) > MAX_WRITTEN_OUT else format(value, "f")


def loads(text: str | bytes, *, numbers_as_text: bool = False) -> Any:
    """The JSON value of `text` (bytes: UTF-8), or BadJson naming where the first fault is. With
    `numbers_as_text`, numbers keep their digits as strings (reference data compares them as
    the entry's field type reads them), written out if in exponent form."""
    parse_float: Callable[[str], Any] = _written_out if numbers_as_text else finite_float
    if isinstance(text, bytes):
        # Read as the UTF-8 JSON is (UnicodeDecodeError otherwise), as json reads UTF-8 bytes
        # (a byte-order mark left out, a surrogate's bytes kept for the caller to name): left
        # to itself, json guesses UTF-16 or UTF-32 from where NUL bytes fall, and took a line
        # of a UTF-16 file saved without its byte-order mark for a value.
        text = text.decode("utf-8-sig", "surrogatepass")
    try:
        value = json.loads(
            text,
            parse_float=parse_float,
            parse_int=str if numbers_as_text else _whole,
            parse_constant=_no_constant,
            object_pairs_hook=_unique,
        )
    except RecursionError as exc:
        raise BadJson(f"nested more than {MAX_DEPTH} levels deep") from exc
    except json.JSONDecodeError as exc:
        raise BadJson(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
    except BadJson as exc:
        raise _located(text, numbers_as_text) or exc from exc
    check_depth(value)
    return value


def member_path(path: str, name: str) -> str:
    """Where member `name` of the object at `path` is, as errors name fields
    (`items[3].source.total`; what cannot be shown of the name as U+FFFD)."""
    return f"{path}.{shown(name)}" if path else shown(name)


class _Members(list[tuple[str, Any]]):
    """An object's members as written, a key given twice kept twice."""


@dataclass(frozen=True)
class _Refused:
    """A value `loads` refuses, in the place it was written."""

    message: str


def _refused(read: Callable[[str], Any]) -> Callable[[str], Any]:
    def reading(text: str) -> Any:
        try:
            return read(text)
        except BadJson as exc:
            return _Refused(exc.message)

    return reading


def _located(text: str | bytes, numbers_as_text: bool) -> BadJson | None:
    """The first value or key `loads` refuses in `text`, in the order written, named by its
    place (read again, as the hooks that refuse it cannot know where they are); None when
    the text does not read as JSON even so."""
    read_number = str if numbers_as_text else None
    try:
        value = json.loads(
            text,
            parse_float=read_number or _refused(finite_float),
            parse_int=read_number or _refused(_whole),
            parse_constant=_refused(_no_constant),
            object_pairs_hook=_Members,
        )
    except (ValueError, RecursionError):  # broken after it too: the fault is the text's
        return None
    pending: list[tuple[Any, str]] = [(value, "")]
    while pending:
        current, path = pending.pop()
        if isinstance(current, _Refused):
            return BadJson(current.message, path)
        inside: list[tuple[Any, str]] = []
        if isinstance(current, _Members):
            seen: set[str] = set()
            for key, member in current:
                where = member_path(path, key)
                if key in seen:
                    inside.append((_Refused(f'the key "{key}" appears twice in one object'), where))
                seen.add(key)
                inside.append((member, where))
        elif isinstance(current, list):
            inside = [(member, f"{path}[{n}]") for n, member in enumerate(current)]
        pending.extend(reversed(inside))
    return None


def may_hold_unstorable(text: bytes) -> bool:
    """Whether JSON text could hold what PostgreSQL cannot store: only a `\\u` escape writes a
    NUL or a lone surrogate (a raw control character is no JSON), or the UTF-8 bytes of a
    surrogate (0xED 0xA0-0xBF), which `loads` reads from bytes as Python's json does."""
    return b"\\u" in text or b"\xed" in text


def check_depth(value: Any) -> None:
    """BadJson when `value` nests deeper than MAX_DEPTH (checked without recursion), naming
    the first value too deep (found by a second walk, which names every place it passes)."""
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadJson(f"nested more than {MAX_DEPTH} levels deep", _too_deep(value))
        if isinstance(current, dict):
            stack.extend((item, depth + 1) for item in current.values())
        elif isinstance(current, list):
            stack.extend((item, depth + 1) for item in current)


def _too_deep(value: Any) -> str:
    pending: list[tuple[Any, int, str]] = [(value, 1, "")]
    while pending:
        current, depth, path = pending.pop()
        if depth > MAX_DEPTH:
            return path
        if isinstance(current, dict):
            inside = [(item, member_path(path, str(key))) for key, item in current.items()]
        elif isinstance(current, list):
            inside = [(item, f"{path}[{n}]") for n, item in enumerate(current)]
        else:
            continue
        pending.extend((item, depth + 1, where) for item, where in reversed(inside))
    return ""
