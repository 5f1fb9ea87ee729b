"""Bodies of items as CSV: a header row, then one item a record (see domain.item_bodies)."""

import csv
import re
from _csv import Reader
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bpo_common.body_lines import Lines, csv_problem, csv_separator
from bpo_common.errors import FieldError
from bpo_common.rules import FieldType, JobSpec
from bpo_intake.domain.item_bodies import ItemsParser, Row
from bpo_intake.domain.items import line, not_in_csv, parse_item, problem

GOLDEN_PREFIX = "golden."
EXTERNAL_ID = "external_id"
DOCUMENTS = "documents"
UNCLOSED_QUOTE = 'a quoted cell is not closed (a quote inside a cell is doubled: "say ""hi""")'
# Said of a reserved column named in another case.
LOWER_CASE = "external_id, documents and golden.<field> are written in lower case"


class _PendingLines:
    """What csv.reader reads from: lines put here only once they hold whole records."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque()

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if not self.lines:
            raise StopIteration
        return self.lines.popleft()


@dataclass(frozen=True)
class _CsvColumns:
    """The header row: `external_id`, `golden.<field>`, `documents` (`;`-separated), and the
    rest, which go into `source`. A cell holds no table's rows: a golden answer in CSV cannot
    give a table, so a job with a required table takes its control items as NDJSON or JSON.
    The reserved names are matched as written; one in another case (`Documents`) is refused,
    as it can only be meant as the reserved column, rather than taken into `source`."""

    names: tuple[str, ...]
    # The job's required tables, which a golden answer must give.
    required_tables: tuple[str, ...] = ()

    @classmethod
    def parse(cls, cells: Sequence[str], spec: JobSpec) -> "_CsvColumns | list[FieldError]":
        names = tuple(cell.strip() for cell in cells)
        errors = [
            FieldError("", f"column {i + 1} has no name") for i, n in enumerate(names) if not n
        ]
        repeated = sorted({name for name in names if name and names.count(name) > 1})
        if repeated:
            errors.append(FieldError("", f"repeated column names: {', '.join(repeated)}"))
        for name in names:
            reserved = _reserved_spelling(name)
            if reserved not in (None, name):
                errors.append(FieldError(name, f"did you mean {reserved}? {LOWER_CASE}"))
        fields = {spec_field.name for spec_field in spec.fields}
        tables = [f.name for f in spec.fields if f.type is FieldType.TABLE]
        for name in names:
            if not name.startswith(GOLDEN_PREFIX):
                continue
            field = name.removeprefix(GOLDEN_PREFIX)
            table = field.split(".")[0].split("[")[0]
            if table in tables:
                errors.append(FieldError(name, not_in_csv(table)))
            elif field not in fields:
                errors.append(FieldError(name, "not a field of this job"))
        required = tuple(f.name for f in spec.fields if f.type is FieldType.TABLE and f.required)
        return errors or cls(names, required)

    def item(self, cells: Sequence[str]) -> dict[str, Any] | list[FieldError]:
        if len(cells) != len(self.names):
            return problem(f"{len(cells)} cells where the header has {len(self.names)} columns")
        external_id: str | None = None
        source: dict[str, str] = {}
        golden: dict[str, str] = {}
        documents: list[str] = []
        for name, value in zip(self.names, cells, strict=True):
            if name == EXTERNAL_ID:
                external_id = value or None
            elif name == DOCUMENTS:
                documents = [part.strip() for part in value.split(";") if part.strip()]
            elif name.startswith(GOLDEN_PREFIX):
                golden[name.removeprefix(GOLDEN_PREFIX)] = value
            else:
                source[name] = value
        # A row with every golden cell empty is an ordinary item, not a control item.
        known = golden if any(value.strip() for value in golden.values()) else None
        if known is not None and self.required_tables:
            return [
                FieldError(GOLDEN_PREFIX + table, not_in_csv(table))
                for table in self.required_tables
            ]
        return {
            "external_id": external_id,
            "source": source,
            "golden": known,
            "documents": documents,
        }


def _reserved_spelling(name: str) -> str | None:
    """How the reserved column that `name` names in any case is written; None if it names
    none."""
    if name.casefold() in (EXTERNAL_ID, DOCUMENTS):
        return name.casefold()
    prefix = len(GOLDEN_PREFIX)
    if name[:prefix].casefold() == GOLDEN_PREFIX:
        return GOLDEN_PREFIX + name[prefix:]
    return None


class _Quoting:
    """Whether a CSV record's lines so far end inside a quoted cell, read as the csv module
    reads them: a quote opens a quoted cell only at a cell's start (elsewhere it is text: an
    inch mark), and inside one a doubled quote is a quote."""

    # The rest of a quoted cell, to the quote that closes it.
    _REST = re.compile('(?:[^"]|"")*"(?!")')

    def __init__(self, separator: str) -> None:
        # A quote that opens a cell.
        self._opening = re.compile(f'(?:^|{re.escape(separator)})"')
        self._open = False

    def ends_open(self, line: str) -> bool:
        at = 0
        if self._open:
            rest = self._REST.match(line)
            if rest is None:
                return True
            at, self._open = rest.end(), False
        while (opening := self._opening.search(line, at)) is not None:
            rest = self._REST.match(line, opening.end())
            if rest is None:
                self._open = True
                return True
            at = rest.end()
        return False


class CsvItems(ItemsParser):
    """A header row, then one item a record; a quoted cell may span lines. The records are
    separated as the header line is (see `bpo_common.body_lines.csv_separator`)."""

    def __init__(self, spec: JobSpec) -> None:
        super().__init__(spec)
        self._lines = Lines()
        self._pending = _PendingLines()
        # The records' reader and where its quoted cells end, once the header line has told
        # the separator.
        self._read: tuple[Reader, _Quoting] | None = None
        self._columns: _CsvColumns | None = None

    def feed(self, chunk: bytes) -> list[Row]:
        return self._records(self._lines.feed(chunk))

    def end(self) -> list[Row]:
        rows = self._records(self._lines.end())
        if not self.done and self._pending.lines and self._read is not None:
            rows += self._broken(self._read[0].line_num + 1, f"not valid CSV: {UNCLOSED_QUOTE}")
        return rows

    def _records(self, lines: list[tuple[int, bytes]]) -> list[Row]:
        rows: list[Row] = []
        for number, raw in lines:
            if self.done:
                break
            rows += self._line(number, raw)
        return rows

    def _line(self, number: int, raw: bytes) -> list[Row]:
        try:
            text = raw.decode()
        except UnicodeDecodeError as exc:
            return self._broken(number, f"not UTF-8 (byte {exc.start + 1} of the line)")
        text = text.removeprefix("\ufeff") if number == 1 else text
        # With its own line end: a quoted cell that spans lines keeps the one it was saved with.
        self._pending.lines.append(text)
        if self._read is None:
            if not text.strip("\r\n"):
                return []  # a blank line before the header, read with it
            separator = csv_separator(text)
            reader = csv.reader(self._pending, delimiter=separator, strict=True)
            self._read = reader, _Quoting(separator)
        reader, quoting = self._read
        if quoting.ends_open(text):
            return []  # a quoted cell goes on on the next line
        rows: list[Row] = []
        while self._pending.lines:
            first = reader.line_num + 1
            try:
                cells = next(reader)
            except (csv.Error, StopIteration) as exc:
                said = csv_problem(exc) if isinstance(exc, csv.Error) else ""
                return rows + self._broken(first, f"not valid CSV: {said or UNCLOSED_QUOTE}")
            if not any(cell.strip() for cell in cells):
                continue  # a blank line, or a row of empty cells (a spreadsheet's blank row)
            if self._columns is None:
                header = _CsvColumns.parse(cells, self.spec)
                if isinstance(header, list):
                    self.done = True
                    return [*rows, (line(first), header)]
                self._columns = header
                continue
            row = self._columns.item(cells)
            rows.append((line(first), row if isinstance(row, list) else parse_item(row)))
        return rows

    def _broken(self, number: int, message: str) -> list[Row]:
        self.done = True
        return [(line(number), problem(message))]
