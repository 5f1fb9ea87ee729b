"""Results out: the final data of a job's completed items as a JSON array, NDJSON or CSV.

An encoder writes a start, the rows in batches as they are read, and an end, so that a
job's results stream out whatever their number. A record carries the job's fields only, and
names the documents the item was keyed from (in CSV, a `documents` column, `;`-separated,
when the job has documents).

A table field's value is its list of rows: nested as it is in JSON and NDJSON. CSV is flat, so
a job with table fields gives one CSV row per table row, the item's other cells repeated on
each: a `line` column numbers the rows from 1, and each column of a table has a column of its
own, `lines.sku`, `lines.qty`, where the table was among the fields. Row n of every table of
the item shares CSV row n (a shorter table leaves its cells empty there), and an item without
rows still has one CSV row, its `line` and table cells empty.
"""

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from bpo_common.media import csv_text

# The CSV results' columns of an item beside its fields' (and CSV appends' `external_id` and
# `documents`): no field may be called so.
ITEM_COLUMNS = ("item_id", "external_id", "documents", "line")

# item id, external id, result, completion time, the file names of its documents
ResultRow = tuple[UUID, str | None, dict[str, Any] | None, datetime | None, list[str]]


class ResultsEncoder(ABC):
    """Writes result rows in one format: a start, the rows in batches, an end."""

    def __init__(
        self,
        fields: Sequence[str],
        documents: bool = False,
        tables: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.fields = fields
        self.documents = documents
        # The table fields among `fields`, with their columns.
        self.tables = tables or {}

    def start(self) -> str:
        return ""

    @abstractmethod
    def rows(self, rows: Sequence[ResultRow], first: bool) -> str: ...

    def end(self) -> str:
        return ""

    def record(self, row: ResultRow) -> dict[str, Any]:
        item_id, external_id, result, completed_at, documents = row
        return {
            "item_id": str(item_id),
            "external_id": external_id,
            "completed_at": completed_at.isoformat().replace("+00:00", "Z")
            if completed_at
            else None,
            "documents": documents,
            "data": {name: (result or {}).get(name) for name in self.fields},
        }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class JsonArray(ResultsEncoder):
    def start(self) -> str:
        return "["

    def rows(self, rows: Sequence[ResultRow], first: bool) -> str:
        text = ",\n".join(_dumps(self.record(row)) for row in rows)
        return text if first else ",\n" + text

    def end(self) -> str:
        return "]\n"


class JsonLines(ResultsEncoder):
    def rows(self, rows: Sequence[ResultRow], first: bool) -> str:
        return "".join(_dumps(self.record(row)) + "\n" for row in rows)


class CsvTable(ResultsEncoder):
    """A header row of item_id, external_id, documents (when the job has any), line (when it
    has table fields) and the job's fields, each table as a column per its columns; cells a
    spreadsheet would run as formulas are defused."""

    def start(self) -> str:
        header = ["item_id", "external_id", *self._documents()]
        if self.tables:
            header.append("line")
        for name in self.fields:
            columns = self.tables.get(name)
            header += [name] if columns is None else [f"{name}.{c}" for c in columns]
        return csv_text([header])

    def rows(self, rows: Sequence[ResultRow], first: bool) -> str:
        return csv_text(line for row in rows for line in self._lines(row))

    def _lines(self, row: ResultRow) -> Iterator[list[Any]]:
        """The CSV rows of one item: one, or one per row of its longest table."""
        item_id, external_id, result, _, documents = row
        values = result or {}
        start = [item_id, external_id, *self._documents(";".join(documents))]
        if not self.tables:
            yield [*start, *(values.get(name) for name in self.fields)]
            return
        tables = {name: _rows(values.get(name)) for name in self.tables}
        count = max(len(table) for table in tables.values())
        for n in range(max(count, 1)):
            line = [*start, n + 1 if n < count else None]
            for name in self.fields:
                columns = self.tables.get(name)
                if columns is None:
                    line.append(values.get(name))
                else:
                    cells = tables[name][n] if n < len(tables[name]) else {}
                    line += [cells.get(column) for column in columns]
            yield line

    def _documents(self, cell: str = "documents") -> list[str]:
        return [cell] if self.documents else []


def _rows(value: Any) -> list[dict[str, Any]]:
    """A table's rows as stored (an empty or missing table has none)."""
    if not isinstance(value, list):
        return []
    return [row if isinstance(row, dict) else {} for row in value]
