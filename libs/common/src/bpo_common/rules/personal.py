"""Which values of a job's records are personal, and what is done to them.

A field spec with `pii: true` makes its values personal: the whole value of a field (a pii
table's whole list of rows), or the cells of a pii column of a table. Where a service keeps a
record it seals those values with the job's data key (bpo_common.crypto); where it uses or
shows one it opens them; whoever may not see them gets them masked, a table row by row and
cell by cell whether it or its column is pii (a pii table is opened to count its rows, where
the job's key is at hand). Empty values stay empty.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

MASK = "•••"


class Sealer(Protocol):
    """A job's data key (bpo_common.crypto.DataKey)."""

    def seal(self, value: Any) -> str: ...

    def open(self, value: Any) -> Any: ...


class PersonalSpec(Protocol):
    """What of a field spec says which of its values are personal."""

    @property
    def name(self) -> str: ...
    @property
    def pii(self) -> bool | None: ...
    @property
    def columns(self) -> "tuple[PersonalSpec, ...] | None": ...


def _masked(value: Any) -> str:
    return MASK


@dataclass(frozen=True)
class Personal:
    """The personal values of a job's records: whole fields, and columns of tables."""

    fields: frozenset[str] = frozenset()
    columns: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # The tables among `fields`: sealed whole, masked cell by cell.
    tables: frozenset[str] = frozenset()

    @classmethod
    def of(cls, specs: Iterable[PersonalSpec]) -> "Personal":
        whole, columns, tables = set(), {}, set()
        for spec in specs:
            if spec.pii:
                whole.add(spec.name)
                if spec.columns is not None:
                    tables.add(spec.name)
            elif personal := frozenset(c.name for c in spec.columns or () if c.pii):
                columns[spec.name] = personal
        return cls(frozenset(whole), columns, frozenset(tables))

    def __bool__(self) -> bool:
        return bool(self.fields or self.columns)

    def covers(self, name: str) -> bool:
        """Whether the field's whole value is personal."""
        return name in self.fields

    def column(self, table: str, column: str) -> bool:
        """Whether a cell of the table's column is personal (the table itself, or the column)."""
        return table in self.fields or column in self.columns.get(table, ())

    def map(self, record: Mapping[str, Any], change: Callable[[Any], Any]) -> dict[str, Any]:
        """The record with each of its personal values (not the empty ones) changed."""
        changed = dict(record)
        if not self:
            return changed
        for name in self.fields:
            if changed.get(name) is not None:
                changed[name] = change(changed[name])
        for table, columns in self.columns.items():
            rows = changed.get(table)
            if isinstance(rows, list):
                changed[table] = [_row(row, columns, change) for row in rows]
        return changed

    def seal(self, record: Mapping[str, Any], key: Sealer) -> dict[str, Any]:
        """The record as it is stored: its personal values sealed with the job's data key."""
        return self.map(record, key.seal)

    def open(self, record: Mapping[str, Any], key: Sealer) -> dict[str, Any]:
        """The record as it is used or shown: its personal values opened."""
        return self.map(record, key.open)

    def mask(self, record: Mapping[str, Any], key: Sealer | None = None) -> dict[str, Any]:
        """The record as someone who may not see personal values sees it. A pii table keeps
        its rows, each cell masked, as a table with pii columns does: `key` opens it for its
        rows to be counted (without one it is masked whole)."""
        masked = self.map(record, _masked)
        for name in self.tables:
            sealed = record.get(name)
            if key is not None and sealed is not None:
                masked[name] = _masked_rows(key.open(sealed))
        return masked

    def reader(self, key: Sealer | None, *, clear: bool = True) -> "Reader":
        """How a reader sees the job's records: opened with the job's key, masked without it
        or when the reader may not see them in clear (`clear`: then the key only opens pii
        tables to be masked cell by cell)."""
        return Reader(self, key, clear)


def _row(row: Any, columns: frozenset[str], change: Callable[[Any], Any]) -> Any:
    if not isinstance(row, dict):
        return row
    return {c: change(v) if c in columns and v is not None else v for c, v in row.items()}


def _masked_rows(rows: Any) -> Any:
    """A pii table's rows, each cell masked (what is not a list of rows, whole)."""
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        return MASK
    return [_row(row, frozenset(row), _masked) for row in rows]


@dataclass(frozen=True)
class Reader:
    """A job's records as one reader sees them: personal values opened with the job's `key`,
    or masked when there is none or the reader may not see them (not `clear`)."""

    personal: Personal
    key: Sealer | None = None
    clear: bool = True

    def record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        if self.key is None or not self.clear:
            return self.personal.mask(record, self.key)
        return self.personal.open(record, self.key)

    def value(self, name: str, value: Any) -> Any:
        """A field's whole value (a suggestion's, say)."""
        if value is None or not self.personal.covers(name):
            return value
        return self.record({name: value})[name]

    def shown(self, value: Any) -> Any:
        """One personal value (a cell's, a comparison's) as the reader sees it."""
        return self.key.open(value) if self.key is not None and self.clear else MASK
