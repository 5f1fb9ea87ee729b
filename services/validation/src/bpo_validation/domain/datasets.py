"""Reading an uploaded reference dataset: a client's own data (purchase orders, vendor
master) that `lookup` rules check entries against.

A dataset is uploaded whole, as CSV with a header row or as NDJSON objects, and one column
is its key. An NDJSON value may also be a list of flat objects: a purchase order's or a
goods receipt's lines, which a job's `match` rule reads. A bad line makes the upload a 422
naming the line, before anything is stored. Values are kept as text (NDJSON numbers keep
their digits), and read by the entry's field type when compared.
"""

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bpo_common import json_input
from bpo_common.body_lines import csv_problem, csv_separator, lines_of
from bpo_common.errors import FieldError, Invalid
from bpo_common.text import MESSAGE, has_unstorable, unstorable
from bpo_validation.domain.reference import reference_key

# Past this many bad lines the rest of the body is not checked.
MAX_ERRORS = 100
# The longest match key, and line of an order that matching remembers, in characters (kept
# in an index, whose entries are bounded).
MAX_KEY = 500


class Format(StrEnum):
    CSV = "text/csv"
    NDJSON = "application/x-ndjson"


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[dict[str, Any]]


class _Errors:
    def __init__(self) -> None:
        self.found: list[FieldError] = []

    def add(self, line: int, message: str) -> None:
        if len(self.found) < MAX_ERRORS:
            self.found.append(FieldError(f"line {line}", message))

    def raise_any(self) -> None:
        if self.found:
            raise self.invalid("the dataset has bad lines")

    def invalid(self, what: str) -> Invalid:
        lines = ", ".join(dict.fromkeys(error.field for error in self.found))
        return Invalid(f"{what}: {lines}", errors=self.found)


def parse(body: bytes, media: Format, key: str) -> Table:
    """The rows of an upload, keyed by column `key`; Invalid naming every bad line."""
    text = _decoded(body)
    if not text.strip():
        # Before the header is read: an empty upload is no header without the key column.
        raise Invalid(
            "the dataset is empty: send at least one row", errors=[FieldError("body", "is empty")]
        )
    errors = _Errors()
    table = _csv(text, key, errors) if media is Format.CSV else _ndjson(text, key, errors)
    errors.raise_any()
    if not table.rows:
        raise Invalid(
            "the dataset has no rows: send at least one",
            errors=[FieldError("body", "holds no row")],
        )
    return table


def _decoded(body: bytes) -> str:
    """The upload as text; Invalid naming each line that is not UTF-8 (an export saved in a
    legacy encoding), its first bad byte counted from 1 as the platform counts bytes."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        errors = _Errors()
        # A line end's bytes are never part of a character's bytes: each line decodes alone.
        for number, line in lines_of(body):
            try:
                line.decode()
            except UnicodeDecodeError as bad:
                errors.add(number, f"not UTF-8 (byte {bad.start + 1} of the line)")
        raise errors.invalid("the dataset is not UTF-8 text (save it as UTF-8)") from exc


def _csv(text: str, key: str, errors: _Errors) -> Table:
    """The rows of a CSV dataset, separated as its header line is (as items' CSV bodies are:
    a `;`-separated export of Excel's, or a tab-separated one, is read so)."""
    header_line = next((line for line in text.splitlines() if line.strip()), "")
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=csv_separator(header_line), strict=True
    )
    header: list[str] = []
    line = 1
    try:
        # Blank lines before the header are passed over, as intake's CSV bodies pass them.
        header = [name.strip() for name in next((cells for cells in reader if cells), [])]
        _check_header(header, key)
        rows, lines = [], []
        line = reader.line_num + 1  # where the next record starts; a cell may span lines
        for cells in reader:
            if len(cells) != len(header) and any(cell.strip() for cell in cells):
                errors.add(line, f"{len(cells)} cells where the header has {len(header)}")
            elif any(cell.strip() for cell in cells):
                rows.append(dict(zip(header, cells, strict=True)))
                lines.append(line)
            line = reader.line_num + 1
    except csv.Error as exc:
        errors.add(line, f"not valid CSV: {csv_problem(exc)}")
        return Table(header, [])
    return Table(header, _keyed(rows, key, errors, lines))


def _check_header(header: Sequence[str], key: str) -> None:
    problems = [
        FieldError("line 1", f"column {i + 1} has no name") for i, n in enumerate(header) if not n
    ]
    problems += [
        FieldError("line 1", f"the name of column {i + 1} {MESSAGE}")
        for i, name in enumerate(header)
        if has_unstorable(name)
    ]
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        problems.append(FieldError("line 1", f"repeated column names: {', '.join(repeated)}"))
    if key not in header:
        problems.append(FieldError("key", f"the header has no column {key}"))
    if problems:
        raise Invalid("the dataset's header needs fixing", errors=problems)


def _ndjson(text: str, key: str, errors: _Errors) -> Table:
    columns: dict[str, None] = {}
    rows, lines = [], []
    # Lines end at LF, CRLF or a CR alone, as in intake's item bodies: U+2028 and the like
    # are text inside a value.
    for number, line in lines_of(text.encode()):
        if not line.strip():
            continue
        try:
            row = json_input.loads(line.rstrip(b"\r\n"), numbers_as_text=True)
        except json_input.BadJson as exc:
            errors.add(number, f"{exc.path}: {exc.message}" if exc.path else exc.message)
            continue
        if not isinstance(row, dict):
            errors.add(number, "each line must be a JSON object")
            continue
        nested = [name for name, value in row.items() if not _flat(value) and not _lines(value)]
        if nested:
            errors.add(
                number,
                "values must be text, numbers, booleans or a list of objects of those (an "
                f"order's lines): {', '.join(nested)}",
            )
            continue
        columns.update(dict.fromkeys(row))
        rows.append(row)
        lines.append(number)
    return Table(list(columns), _keyed(rows, key, errors, lines))


def _flat(value: object) -> bool:
    return not isinstance(value, dict | list)


def _lines(value: object) -> bool:
    """A list of flat objects: the lines of a purchase order or a goods receipt."""
    return isinstance(value, list) and all(
        isinstance(line, dict) and all(_flat(cell) for cell in line.values()) for line in value
    )


def _keyed(
    rows: list[dict[str, Any]], key: str, errors: _Errors, lines: Sequence[int]
) -> list[dict[str, Any]]:
    """The rows with their match key; a missing or repeated key is a bad line."""
    seen: dict[str, int] = {}
    keyed = []
    for row, line in zip(rows, lines, strict=True):
        refused = unstorable(row)
        if refused:
            errors.add(line, "; ".join(f"{error.field}: {error.message}" for error in refused))
            continue
        value = row.get(key)
        if not _flat(value):
            errors.add(line, f"the key column {key} holds lines, not one value")
            continue
        if value is None or not str(value).strip():
            errors.add(line, f"the key column {key} is empty")
            continue
        match = reference_key(value)
        if len(match) > MAX_KEY:
            errors.add(line, f"the key is {len(match)} characters long; the limit is {MAX_KEY}")
            continue
        if match in seen:
            errors.add(line, f"key {value} repeats line {seen[match]} (case and spaces ignored)")
            continue
        seen[match] = line
        keyed.append({"key": match, "values": row})
    return keyed
