"""Matching an entry against a client's reference data: the key a lookup finds a row by, and
what in the entry disagrees with the row it found."""

import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from bpo_common.rules import (
    IDENTIFIERS,
    FieldSpec,
    FieldType,
    InvalidValue,
    JobSpec,
    canonical_form,
    equal_after_normalization,
    other_spellings,
)


class Wanted(NamedTuple):
    """What one lookup asks the client's reference data: the row of `dataset` whose match key
    is `key`; for an identifier's value (an IBAN, a VAT number: `identifier`), failing that,
    the row whose key is the same without separators, as the client's data may write it
    ("DE89 3704 0044 ...", "DE 123.456.789"), or is one of its other spellings (`also`:
    "DEUTDEFFXXX" for DEUTDEFF), so written."""

    dataset: str
    key: str
    identifier: bool = False
    also: tuple[str, ...] = ()


# What an identifier's key does not count (`compact_key`): the separators its written forms
# use; spaces are single in a match key.
SEPARATORS = "[ ./-]+"


@dataclass(frozen=True)
class LookupResult:
    """What one lookup found: whether the client has the dataset, and the row with the key."""

    dataset_exists: bool
    row: Mapping[str, Any] | None = None


def reference_key(value: object) -> str:
    """How keys of reference data match: trimmed, spaces collapsed, case ignored, read in
    Unicode NFC as keyed values are (a dataset saved with its accents as characters of their
    own, `Mu\u0308ller`, matched nothing keyed). NFC before the case is folded: a key of text
    written in NFC is what it was before, so keys stored earlier still match."""
    return " ".join(unicodedata.normalize("NFC", str(value)).split()).casefold()


def compact_key(key: str) -> str:
    """A match key without the separators an identifier may be written with."""
    return re.sub(SEPARATORS, "", key)


@dataclass(frozen=True)
class _Lookup:
    """One value a lookup finds a reference row by, and what its checks compare with that row:
    a field and the result, or a table's cell and its row (the job's fields beside it)."""

    where: str  # how a reason names the value: `vendor`, `lines[2].sku`
    field: FieldSpec
    value: Any
    wanted: Wanted
    values: Mapping[str, Any]
    fields: Mapping[str, FieldSpec]
    # By field or column name: the name `_quoted` asks the personal spec about, and the name a
    # reason gives (`lines[2].qty` for a cell of the row).
    personal: Mapping[str, str]
    labels: Mapping[str, str]


def _looked_up(spec: JobSpec, result: Mapping[str, Any]) -> Iterator[_Lookup]:
    """Each lookup the result has a value for: its fields', and its tables' cells', row by row."""
    headers = {field.name: field for field in spec.fields if field.type is not FieldType.TABLE}
    names = {name: name for name in headers}
    for field in spec.fields:
        if field.type is not FieldType.TABLE:
            value = result.get(field.name)
            if field.lookup is not None and value is not None:
                wanted = _wanted(field, field.lookup.dataset, value)
                yield _Lookup(field.name, field, value, wanted, result, headers, names, names)
            continue
        columns = {column.name: column for column in field.columns or ()}
        cells = {**names, **{name: f"{field.name}.{name}" for name in columns}}
        for r, row in enumerate(result.get(field.name) or []):
            for column in columns.values():
                value = row.get(column.name) if isinstance(row, Mapping) else None
                if column.lookup is not None and value is not None:
                    wanted = _wanted(column, column.lookup.dataset, value)
                    labels = {**names, **{c: f"{field.name}[{r}].{c}" for c in columns}}
                    yield _Lookup(
                        labels[column.name],
                        column,
                        value,
                        wanted,
                        {**result, **row},
                        headers | columns,
                        cells,
                        labels,
                    )


def _wanted(field: FieldSpec, dataset: str, value: object) -> Wanted:
    if field.type not in IDENTIFIERS:
        return Wanted(dataset, reference_key(value))
    also = tuple(reference_key(spelling) for spelling in other_spellings(field, value))
    return Wanted(dataset, reference_key(value), True, also)


def wanted_by_key(dataset: str, key: str) -> Wanted:
    """What a lookup asks of `dataset` for `key`, whatever its field: the key as written, and,
    if it reads as an identifier (an IBAN, a BIC, a VAT number...), what a lookup on a field
    of that type asks for it (its row written with separators or in another spelling)."""
    spellings: dict[str, None] = {}
    for field_type in sorted(IDENTIFIERS):
        field = FieldSpec(name="key", type=field_type)
        try:
            canonical = canonical_form(field, key)
        except InvalidValue:
            continue
        if canonical is not None:  # None: a blank key, no identifier
            wanted = _wanted(field, dataset, canonical)
            spellings |= dict.fromkeys((wanted.key, *wanted.also))
    written = reference_key(key)
    also = tuple(spelling for spelling in spellings if spelling != written)
    return Wanted(dataset, written, bool(spellings), also)


def lookups_of(spec: JobSpec, result: Mapping[str, Any]) -> list[Wanted]:
    """What checking `result` against the reference data looks up."""
    return [lookup.wanted for lookup in _looked_up(spec, result)]


def reference_problems(
    spec: JobSpec, result: Mapping[str, Any], found: Mapping[Wanted, LookupResult]
) -> list[str]:
    """What in a result disagrees with the client's reference data (empty: all agrees), given
    what each of its lookups (`lookups_of`) found."""
    problems: list[str] = []
    for lookup in _looked_up(spec, result):
        dataset, looked = lookup.wanted.dataset, found[lookup.wanted]
        own = lookup.personal[lookup.field.name]
        if not looked.dataset_exists:
            problems.append(f"there is no reference dataset {dataset} to find {lookup.where} in")
        elif looked.row is None:
            problems.append(f"{_quoted(spec, own, lookup.value, lookup.where)} is not in {dataset}")
        else:
            problems += _mismatches(spec, lookup, looked.row)
    return problems


def _mismatches(spec: JobSpec, lookup: _Lookup, row: Mapping[str, Any]) -> list[str]:
    """What in an entry disagrees with the reference row a lookup found (empty: all match).

    The row's values are read as the entry's fields are, so "1,000.50" matches 1000.5.
    """
    field = lookup.field
    assert field.lookup is not None
    problems = []
    for cross in field.lookup.checks:
        target, own = lookup.fields[cross.field], lookup.personal[cross.field]
        mine, written = lookup.values.get(cross.field), row.get(cross.column)
        theirs = _canonical(_as_written(spec, own), written)
        label = lookup.labels[cross.field]
        if cross.column not in row:
            problems.append(f"{field.lookup.dataset} has no column {cross.column}")
        elif cross.tolerance is not None:
            # Read as a number, so that a whole-number field's 10 is 0.4 from a row's 10.4.
            as_number = _as_written(spec, own).model_copy(update={"type": FieldType.DECIMAL})
            gap = _difference(mine, _canonical(as_number, written))
            if gap is None or gap > cross.tolerance:
                problems.append(
                    f"{_quoted(spec, own, mine, label)} differs from "
                    f"{_quoted(spec, own, written, cross.column)} by more than "
                    f"{cross.tolerance}"
                )
        elif not equal_after_normalization(target, mine, theirs):
            problems.append(
                f"{_quoted(spec, own, mine, label)} is not "
                f"{_quoted(spec, own, written, cross.column)}"
            )
    return problems


def _quoted(spec: JobSpec, field: str, value: object, name: str) -> str:
    """A value as a reason quotes it, after the `name` it goes by: a personal field's (or
    column's, `table.column`) value is never quoted (reasons are kept and sent in clear)."""
    table, _, column = field.partition(".")
    personal = spec.personal.column(table, column) if column else spec.personal.covers(field)
    return name if personal else f"{name} {value}"


def _as_written(spec: JobSpec, name: str) -> FieldSpec:
    """The field (or `table.column`) as the job wrote it: how a client's data reads."""
    table, _, column = name.partition(".")
    field = spec.source.field(table)
    return field.column(column) if column else field


@dataclass(frozen=True)
class _Unread:
    """A reference row's value that does not read as the field's type: equal to no value."""

    written: object


def _canonical(field: FieldSpec, value: object) -> object:
    """A reference row's value in canonical form, read as the client wrote it by the type of
    the field it is compared with (not held to its decimal places: 1,234 is 1.234 there);
    one that does not read is unequal to every keyed value."""
    try:
        return canonical_form(field.model_copy(update={"decimal_places": None}), value)
    except InvalidValue:
        return _Unread(value)


# A number as canonical forms write it ('.' for the point), held to no field's limits.
_NUMBER = FieldSpec(name="number", type=FieldType.DECIMAL)


def _difference(a: object, b: object) -> Decimal | None:
    """|a - b| of two values in canonical form (an entry's, and a row's `_canonical`), not
    held to the field's places, bounds or whole numbers (a row's 5.125 is 0.005 from 5.13);
    None when either is not a number."""
    try:
        x, y = canonical_form(_NUMBER, a), canonical_form(_NUMBER, b)
    except InvalidValue:
        return None
    if x is None or y is None:
        return None
    return abs(Decimal(str(x)) - Decimal(str(y)))
