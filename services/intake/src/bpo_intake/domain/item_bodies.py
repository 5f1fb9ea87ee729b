"""Bodies of items: JSON `{"items": [...]}` (through ijson) or NDJSON, and what every
format's parser is (CSV's, with a header row, is in domain.csv_items).

Each parser is fed the body chunk by chunk as it arrives and gives back the rows those chunks
completed, each an item or what is wrong with it, with its place. It never holds more than a
line or an item, so memory stays bounded whatever the size of the body. A parser that meets
a body it cannot read on (broken JSON, a bad CSV header, a line that is not UTF-8) names the
place and is `done`: the rest of the body is not parsed.
"""

import codecs
import json
from abc import ABC, abstractmethod
from decimal import Decimal
from typing import Any

import ijson

from bpo_common import json_input
from bpo_common.body_lines import Lines
from bpo_common.rules import JobSpec
from bpo_intake.domain.items import (
    Parsed,
    Place,
    index,
    line,
    parse_item,
    problem,
)

NOT_AN_ITEMS_OBJECT = 'the body must be a JSON object: {"items": [...]}'
_BACKEND = ijson.get_backend("python")

Row = tuple[Place, Parsed]


class ItemsParser(ABC):
    """Turns a body, fed in chunks, into its rows."""

    def __init__(self, spec: JobSpec) -> None:
        self.spec = spec
        self.done = False

    @abstractmethod
    def feed(self, chunk: bytes) -> list[Row]:
        """The rows this chunk completes."""

    @abstractmethod
    def end(self) -> list[Row]:
        """The rows left when the body has ended."""


class NdjsonItems(ItemsParser):
    """One item a line; blank lines are skipped."""

    def __init__(self, spec: JobSpec) -> None:
        super().__init__(spec)
        self._lines = Lines()

    def feed(self, chunk: bytes) -> list[Row]:
        return self._items(self._lines.feed(chunk))

    def end(self) -> list[Row]:
        return self._items(self._lines.end())

    def _items(self, lines: list[tuple[int, bytes]]) -> list[Row]:
        return [(line(n), parse_item(text.rstrip(b"\r\n"))) for n, text in lines if text.strip()]


# The least whole number of more digits than json_input takes (as NDJSON lines are read).
_TOO_MANY_DIGITS = 10**json_input.MAX_DIGITS
# A parser's message quotes what it could not read: at most this much of it.
_QUOTED = 100


class _Malformed(Exception):
    """The JSON body is well-formed JSON but not `{"items": [...]}`."""


class _JsonItems:
    """Takes ijson's events for `{"items": [...]}` and builds each item as it closes."""

    def __init__(self) -> None:
        self.built: list[tuple[int, Any]] = []
        self.has_items = False
        self._started = 0
        self._in_array = False
        self._builder: ijson.ObjectBuilder | None = None
        self._depth = 0
        # The keys of each object open in the item: a key twice in one is refused.
        self._keys: list[set[str]] = []

    def send(self, event: tuple[str, str, Any]) -> None:
        prefix, kind, value = event
        if self._builder is None:
            if prefix != "items.item":
                self._outside_items(prefix, kind, value)
                return
            self._builder = ijson.ObjectBuilder()
            self._started += 1
        if kind == "number" and isinstance(value, Decimal):
            try:  # read as a float, as json_input reads an NDJSON line's numbers
                value = json_input.finite_float(value)
            except json_input.BadJson as exc:
                raise _Malformed(exc.message) from exc
        self._builder.event(kind, value)
        if kind in ("start_map", "start_array"):
            self._depth += 1
            if self._depth > json_input.MAX_DEPTH:
                raise _Malformed(f"nested more than {json_input.MAX_DEPTH} levels deep")
            if kind == "start_map":
                self._keys.append(set())
        elif kind in ("end_map", "end_array"):
            self._depth -= 1
            if kind == "end_map":
                self._keys.pop()
        elif kind == "number" and isinstance(value, int) and abs(value) >= _TOO_MANY_DIGITS:
            raise _Malformed(f"a whole number of more than {json_input.MAX_DIGITS} digits")
        elif kind == "map_key":
            if value in self._keys[-1]:
                raise _Malformed(f'the key "{value}" appears twice in one object')
            self._keys[-1].add(value)
        if self._depth == 0:
            self.built.append((self._started - 1, self._builder.value))
            self._builder = None

    def _outside_items(self, prefix: str, kind: str, value: Any) -> None:
        if prefix == "" and kind in ("start_map", "end_map"):
            return
        if prefix == "" and kind == "map_key":
            if value != "items" or self.has_items:
                raise _Malformed(f'unexpected key "{value}": the body is {{"items": [...]}}')
            self.has_items = True
            return
        if prefix == "items" and kind in ("start_array", "end_array"):
            self._in_array = kind == "start_array"
            return
        if prefix == "items":
            raise _Malformed("items must be an array of items")
        raise _Malformed(NOT_AN_ITEMS_OBJECT)

    def take(self) -> list[Row]:
        built, self.built = self.built, []
        return [(index(position), parse_item(raw)) for position, raw in built]

    def place(self) -> Place:
        """Where the parser is: in an item, between items, or elsewhere in the body."""
        if self._builder is not None:
            return index(self._started - 1)
        return index(self._started) if self._in_array else Place("body")


class JsonItems(ItemsParser):
    """`{"items": [item, ...]}`, each item built as soon as it closes."""

    def __init__(self, spec: JobSpec) -> None:
        super().__init__(spec)
        self._items = _JsonItems()
        # The pure-Python backend: it keeps an unpaired surrogate (refused as unstorable, naming
        # the field) where the C one turns it into "?" or fails, and refuses NaN and 1e400. It
        # reads strings with the json module, whose own error a broken string raises.
        self._parser = _BACKEND.parse_coro(self._items, use_float=False)
        # The body's first bytes, until they are known not to be a byte-order mark (what some
        # editors and PowerShell write first): None once they are.
        self._head: bytes | None = b""
        # The body checked as UTF-8 before the parser reads it, and how many of its bytes came
        # before this chunk: a byte that is not UTF-8 is named in the body, at the item it is
        # in (the parser's own error counted from its chunk, at the item it had reached).
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._read = 0

    def feed(self, chunk: bytes) -> list[Row]:
        if self._head is not None:
            chunk, self._head = self._head + chunk, None
            if codecs.BOM_UTF8.startswith(chunk):  # a mark, or the start of one, so far
                self._head = chunk
                return []
            self._read += len(chunk) - len(chunk.removeprefix(codecs.BOM_UTF8))
            chunk = chunk.removeprefix(codecs.BOM_UTF8)
        return self._parsed(chunk)

    def _parsed(self, chunk: bytes, *, final: bool = False) -> list[Row]:
        """The items the chunk closes, or the first fault in it: what is not UTF-8 named
        after the items the bytes before it close."""
        held = len(self._utf8.getstate()[0])  # a character's first bytes, from the last chunk
        try:
            self._utf8.decode(chunk, final)
        except UnicodeDecodeError as exc:
            good = max(0, exc.start - held)
            rows = self._send(chunk[:good])
            if self.done:
                return rows
            try:
                self._parser.close()  # mid-value: it says so, as nothing more is to come
            except _Malformed as malformed:  # a value before the byte refused as it closed
                return [*rows, *self._broken(malformed)]
            except (ijson.JSONError, json.JSONDecodeError):
                pass
            self.done = True
            where = self._read - held + exc.start + 1
            return [*rows, (self._items.place(), problem(f"not UTF-8 (byte {where} of the body)"))]
        rows = self._send(chunk)
        self._read += len(chunk)
        return rows

    def _send(self, chunk: bytes) -> list[Row]:
        try:
            if chunk:
                self._parser.send(chunk)
        except (ijson.JSONError, json.JSONDecodeError, _Malformed) as exc:
            return self._broken(exc)
        return self._items.take()

    def end(self) -> list[Row]:
        rest, self._head = self._head or b"", None  # fewer bytes than a mark: not one
        rows = self._parsed(rest, final=True)
        if self.done:
            return rows
        try:
            self._parser.close()
            if not self._items.has_items:
                raise _Malformed(NOT_AN_ITEMS_OBJECT)
        except (ijson.JSONError, json.JSONDecodeError, _Malformed) as exc:
            return rows + self._broken(exc)
        return rows + self._items.take()

    def _broken(self, exc: Exception) -> list[Row]:
        self.done = True
        message = str(exc).splitlines()[0] if str(exc) else "incomplete"
        if len(message) > _QUOTED:
            message = f"{message[:_QUOTED]}…"
        if not isinstance(exc, _Malformed):
            message = f"not valid JSON: {message}"
        return [*self._items.take(), (self._items.place(), problem(message))]
