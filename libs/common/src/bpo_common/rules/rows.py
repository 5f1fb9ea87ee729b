"""Table fields: reading a table's rows cell by cell, and aligning two keyings of one table.

A table's value is a list of rows, each an object of column -> value. Every bad cell is
reported at its path, rows counted from 0 (`lines[3].qty`). The canonical form is the list of
rows, each with every column (None for an empty optional cell).

Two keyings of a table are compared after aligning their rows: on the `key` column when the
table has one (rows with the same key pair up, whatever their order), otherwise in order, with
the rows one keying has and the other lacks found as such. Identical rows pair up first
(difflib); between two such anchors, rows pair by the fewest edits, where pairing two rows
costs twice the share of cells they differ in and leaving a row without a partner costs 1
(among pairings that keep each row within BAND rows of its place, beyond the difference in
the two numbers of rows).
"""

import difflib
import math
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bpo_common.errors import FieldError
from bpo_common.rules.spec import FieldSpec
from bpo_common.rules.types import (
    InvalidValue,
    Json,
    Typed,
    cell_key,
    is_empty,
    parse_value,
    row_key,
    to_json,
)

# Two rows, one of each keying; None where a row has no partner in the other keying.
Pair = tuple[int | None, int | None]
# How far from the diagonal two keyings' rows may pair (`_fewest_edits`): every row of one
# with every row of the other would cost seconds over 500 rows a side that differ throughout,
# and a keyer seldom puts a row further from its place than this.
BAND = 16


@dataclass(frozen=True)
class Rows:
    """A table's rows as typed values (for rules) and in canonical JSON form."""

    typed: list[dict[str, Typed]]
    canonical: list[dict[str, Json | None]]


class BadTable(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def read_table(table: FieldSpec, raw: object) -> Rows | None:
    """The rows of a table's value, every cell checked; None when empty and optional;
    BadTable naming every bad cell, row or limit."""
    name = table.name
    if is_empty(raw) or raw == []:
        if table.required:
            raise BadTable([FieldError(name, "required: give at least one row")])
        return None
    if not isinstance(raw, list):
        raise BadTable([FieldError(name, "must be a list of rows, each an object of cells")])
    if len(raw) > table.row_limit:
        raise BadTable([FieldError(name, f"has {len(raw)} rows; at most {table.row_limit}")])
    errors: list[FieldError] = []
    if table.min_rows is not None and len(raw) < table.min_rows:
        errors.append(FieldError(name, f"needs at least {table.min_rows} rows, has {len(raw)}"))
    rows = Rows([], [])
    for i, row in enumerate(raw):
        if not isinstance(row, Mapping):
            errors.append(FieldError(f"{name}[{i}]", "must be an object of column: value"))
            continue
        errors += [
            FieldError(f"{name}[{i}].{column}", f"not a column of {name}")
            for column in row
            if not _is_column(table, column)
        ]
        typed: dict[str, Typed] = {}
        canonical: dict[str, Json | None] = {}
        for column in table.columns or ():
            cell = row.get(column.name)
            try:
                if column.name == table.key and is_empty(cell):
                    raise InvalidValue(f"required: {table.key} is the key of {name}'s rows")
                value = parse_value(column, cell)
            except InvalidValue as exc:
                errors.append(FieldError(f"{name}[{i}].{column.name}", exc.message))
                continue
            canonical[column.name] = None if value is None else to_json(column, value)
            if value is not None:
                typed[column.name] = value
        rows.typed.append(typed)
        rows.canonical.append(canonical)
    errors += _repeated_keys(table, rows.canonical)
    if errors:
        raise BadTable(errors)
    return rows


def _is_column(table: FieldSpec, name: object) -> bool:
    return any(column.name == name for column in table.columns or ())


def _repeated_keys(table: FieldSpec, rows: Sequence[Mapping[str, Any]]) -> list[FieldError]:
    if table.key is None:
        return []
    first: dict[object, int] = {}
    errors = []
    for i, row in enumerate(rows):
        key = row.get(table.key)
        if key is None:
            continue
        if key in first:
            message = f"repeats the {table.key} of {table.name}[{first[key]}]: {key}"
            errors.append(FieldError(f"{table.name}[{i}].{table.key}", message))
        else:
            first[key] = i
    return errors


def rows_of(raw: object) -> list[Any]:
    """A keyed table's rows as they are (a value that is not a list has none)."""
    return raw if isinstance(raw, list) else []


def align(table: FieldSpec, a: object, b: object) -> list[Pair]:
    """The rows of two keyings of a table paired up (see the module's note), in the order of
    `a`'s rows; a row of `b` that pairs with none comes after the row of `b` before it, or,
    on a key, at the end."""
    keys_a = [row_key(table, row) for row in rows_of(a)]
    keys_b = [row_key(table, row) for row in rows_of(b)]
    if table.key is not None:
        return _align_on_key(table, rows_of(a), rows_of(b))
    pairs: list[Pair] = []
    matcher = difflib.SequenceMatcher(None, keys_a, keys_b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs += zip(range(i1, i2), range(j1, j2), strict=True)
        else:
            pairs += _fewest_edits(keys_a[i1:i2], keys_b[j1:j2], i1, j1)
    return pairs


def _align_on_key(table: FieldSpec, a: list[Any], b: list[Any]) -> list[Pair]:
    assert table.key is not None
    column = table.column(table.key)

    def key_of(row: object) -> Hashable:
        return cell_key(column, row.get(column.name)) if isinstance(row, Mapping) else None

    in_b: dict[Hashable, int] = {}
    for n, row in enumerate(b):
        in_b.setdefault(key_of(row), n)
    pairs: list[Pair] = []
    paired: set[int] = set()
    for i, row in enumerate(a):
        found = in_b.get(key_of(row))
        if found is None or found in paired:
            pairs.append((i, None))
        else:
            pairs.append((i, found))
            paired.add(found)
    return pairs + [(None, j) for j in range(len(b)) if j not in paired]


def _fewest_edits(
    a: Sequence[tuple[Hashable, ...]], b: Sequence[tuple[Hashable, ...]], i0: int, j0: int
) -> list[Pair]:
    """Rows between two anchors paired by the fewest edits (Needleman-Wunsch), among the
    pairings that stay within BAND rows of the diagonal (beyond the difference in the two
    numbers of rows)."""
    n, m = len(a), len(b)
    low, high = min(0, m - n) - BAND, max(0, m - n) + BAND  # what j - i may be
    cost = [[math.inf] * (m + 1) for _ in range(n + 1)]
    pair: dict[tuple[int, int], float] = {}
    for i in range(n + 1):
        above, here = cost[i - 1], cost[i]
        for j in range(max(0, i + low), min(m, i + high) + 1):
            if i == 0 or j == 0:
                here[j] = float(i + j)
                continue
            pair[i, j] = p = 2 * _differing_share(a[i - 1], b[j - 1])
            here[j] = min(above[j - 1] + p, above[j] + 1, here[j - 1] + 1)
    pairs: list[Pair] = []
    i, j = n, m
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + pair[i, j]:
            pairs.append((i0 + i - 1, j0 + j - 1))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            pairs.append((i0 + i - 1, None))
            i -= 1
        else:
            pairs.append((None, j0 + j - 1))
            j -= 1
    return pairs[::-1]


def _differing_share(a: tuple[Hashable, ...], b: tuple[Hashable, ...]) -> float:
    if len(a) != len(b):
        return 1.0
    return sum(x != y for x, y in zip(a, b, strict=True)) / max(len(a), 1)


@dataclass(frozen=True)
class Cell:
    """One cell of a table across keyings: the row it is in in each (None: the keying has
    no such row) and each keying's value."""

    column: str
    rows: tuple[int | None, ...]
    values: tuple[Any, ...]
    equal: bool


def cells(table: FieldSpec, keyings: Sequence[object]) -> Iterator[Cell]:
    """Every cell of a table across keyings, rows aligned to the first keying's."""
    groups: list[list[int | None]] = [[i] for i in range(len(rows_of(keyings[0])))]
    for n, other in enumerate(keyings[1:], 1):
        for i, j in align(table, keyings[0], other):
            if i is None:
                alone: list[int | None] = [None] * n
                groups.append([*alone, j])
            else:
                groups[i].append(j)
        for group in groups:
            if len(group) == n:
                group.append(None)
    for group in groups:
        rows = [
            rows_of(keying)[j] if j is not None else None
            for keying, j in zip(keyings, group, strict=True)
        ]
        for column in table.columns or ():
            values = tuple(
                row.get(column.name) if isinstance(row, Mapping) else None for row in rows
            )
            keys = {cell_key(column, value) for value in values}
            present = all(row is not None for row in rows)
            yield Cell(column.name, tuple(group), values, present and len(keys) == 1)


def cell_path(table: FieldSpec, cell: Cell) -> str:
    """Where a cell is, by the first keying that has its row: `lines[3].qty`."""
    n, row = next((n, j) for n, j in enumerate(cell.rows) if j is not None)
    where = f"{table.name}[{row}]" if n == 0 else f"{table.name}[{row} of keying {n + 1}]"
    return f"{where}.{cell.column}"
