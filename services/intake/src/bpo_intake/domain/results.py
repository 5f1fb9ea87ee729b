"""Results out: the final data of a job's completed items as a JSON array, NDJSON or CSV.

An encoder writes a start, the rows in batches as they are read, and an end, so that a
job's results stream out whatever their number. A record carries the job's fields only, and
names the documents the item was keyed from (in CSV, a `documents` column, `;`-separated,
when the job has documents).
"""

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from bpo_common.media import csv_text

# item id, external id, result, completion time, the file names of its documents
ResultRow = tuple[UUID, str | None, dict[str, Any] | None, datetime | None, list[str]]


class ResultsEncoder(ABC):
    """Writes result rows in one format: a start, the rows in batches, an end."""

    def __init__(self, fields: Sequence[str], documents: bool = False) -> None:
        self.fields = fields
        self.documents = documents

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
    """A header row of item_id, external_id, documents (when the job has any) and the job's
    fields; cells a spreadsheet would run as formulas are defused."""

    def start(self) -> str:
        return csv_text([["item_id", "external_id", *self._documents(), *self.fields]])

    def rows(self, rows: Sequence[ResultRow], first: bool) -> str:
        return csv_text(
            [
                item_id,
                external_id,
                *self._documents(";".join(documents)),
                *((result or {}).get(name) for name in self.fields),
            ]
            for item_id, external_id, result, _, documents in rows
        )

    def _documents(self, cell: str = "documents") -> list[str]:
        return [cell] if self.documents else []
