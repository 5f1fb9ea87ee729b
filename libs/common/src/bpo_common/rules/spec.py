"""Field specs and job specs: what a job's data must look like, validated up front.

A rule that does not fit its field's type is an error at its own path
(`fields[2].min_length`), so a client learns about a broken spec when it creates the job,
not when the first contractor submits.
"""

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol, Self
from uuid import UUID

import phonenumbers
import re2
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from stdnum.eu import vat

from bpo_common.errors import FieldError, said
from bpo_common.events import STORED
from bpo_common.rules.expressions import Kind, Rule, RuleSyntaxError, compile_rule
from bpo_common.rules.matching import Match
from bpo_common.rules.names import DatasetName, FieldName, errors_at, spec_error
from bpo_common.rules.personal import Personal

Bound = int | Decimal | date
# A number bound's reach (a value has at most 60 digits, so none needs a bound beyond).
BOUND_DIGITS = 60


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    EMAIL = "email"
    PHONE = "phone"
    IBAN = "iban"
    ENUM = "enum"
    BOOLEAN = "boolean"
    # identifiers checked by python-stdnum
    VAT = "vat"
    BIC = "bic"
    ISIN = "isin"
    ISBN = "isbn"
    LEI = "lei"
    EAN = "ean"
    US_EIN = "us_ein"
    # rows of columns, each column a field of one of the types above
    TABLE = "table"


class Case(StrEnum):
    UPPER = "upper"
    LOWER = "lower"
    NONE = "none"


IDENTIFIERS = frozenset(
    {
        FieldType.IBAN,
        FieldType.VAT,
        FieldType.BIC,
        FieldType.ISIN,
        FieldType.ISBN,
        FieldType.LEI,
        FieldType.EAN,
        FieldType.US_EIN,
    }
)
_ORDERED = frozenset({FieldType.INTEGER, FieldType.DECIMAL, FieldType.DATE})
_TEXT = frozenset({FieldType.STRING, FieldType.EMAIL})
_SCALAR = frozenset(FieldType) - {FieldType.TABLE}
_TABLE = frozenset({FieldType.TABLE})
# The most rows a table may have. Aligning two keyings whose rows all differ grows with rows
# squared times columns: at 500 rows of 10 columns about a third of a second.
MAX_ROWS = 500
# What a new job's spec may hold: every submission is checked against all of it, and the
# spec travels whole in the job's announcement (a NATS message of at most 16 MB).
MAX_FIELDS = 200
MAX_RULES = 200
MAX_CHOICE_LENGTH = 200
MAX_DATE_FORMAT_LENGTH = 100
MAX_SPEC_BYTES = 1_000_000

# Which optional rule fits which field type; anything else is a spec error.
APPLIES_TO: Mapping[str, frozenset[FieldType]] = {
    "min": _ORDERED,
    "max": _ORDERED,
    "min_length": _TEXT,
    "max_length": _TEXT,
    "pattern": _TEXT | {FieldType.PHONE} | IDENTIFIERS,
    "choices": frozenset({FieldType.ENUM}),
    "case": frozenset({FieldType.STRING}),
    "decimal_places": frozenset({FieldType.DECIMAL}),
    "decimal_separator": frozenset({FieldType.INTEGER, FieldType.DECIMAL}),
    "date_formats": frozenset({FieldType.DATE}),
    "country": frozenset({FieldType.PHONE, FieldType.VAT}),
    "hints": _SCALAR,
    "lookup": _SCALAR,
    "columns": _TABLE,
    "min_rows": _TABLE,
    "max_rows": _TABLE,
    "key": _TABLE,
}

RULE_KINDS: Mapping[FieldType, Kind] = {
    FieldType.INTEGER: Kind.NUMBER,
    FieldType.DECIMAL: Kind.NUMBER,
    FieldType.DATE: Kind.DATE,
    FieldType.BOOLEAN: Kind.BOOLEAN,
}


def rule_kind(field_type: FieldType) -> Kind:
    """How a field of this type reads in a cross-field rule; everything else is text."""
    return Kind.TABLE if field_type is FieldType.TABLE else RULE_KINDS.get(field_type, Kind.TEXT)


def rule_kinds(fields: Sequence["FieldSpec"]) -> dict[str, Kind]:
    """The names a job's rules may use and their kinds: every field, and every column of a
    table as `table.column` (a cell of the row a rule is checked on)."""
    kinds = {spec.name: rule_kind(spec.type) for spec in fields}
    for spec in fields:
        for column in spec.columns or ():
            kinds[f"{spec.name}.{column.name}"] = rule_kind(column.type)
    return kinds


class CrossCheck(BaseModel):
    """Another field of the entry that must match a column of the reference row found."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: FieldName
    column: Annotated[str, Field(min_length=1, max_length=100)]
    # Numbers only: the largest difference that still matches (absolute, e.g. 0.01).
    tolerance: Annotated[Decimal, Field(ge=0)] | None = None


class Lookup(BaseModel):
    """The keyed value must be a key of the client's reference dataset (uploaded to
    validation); `checks` compare other fields with that row. Checked by validation when it
    decides: a miss or a mismatch sends the item to review with the reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: DatasetName
    checks: Annotated[tuple[CrossCheck, ...], Field(max_length=20)] = ()


class Hints(BaseModel):
    """Where machine pre-fill should look for a field: the labels it is printed beside."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    labels: Annotated[
        tuple[Annotated[str, Field(min_length=1, max_length=100)], ...], Field(max_length=20)
    ]

    @field_validator("labels")
    @classmethod
    def _some_labels(cls, labels: tuple[str, ...]) -> tuple[str, ...]:
        # Not min_length: pydantic would also report an empty tuple when a label is too long.
        if not labels:
            raise spec_error("give at least one label")
        return labels


class FieldSpec(BaseModel):
    """One field of a job: `{name, type, required, ...rules}`; unset rules are None."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: FieldName
    type: FieldType
    required: bool = True
    # What a person keying the field is shown: its label, and a line of help.
    label: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    help: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    # Personal data: its values are encrypted wherever they are kept, and masked for whoever
    # may not see them (on a table: every cell; on a column: its cells). Unset: not personal.
    pii: bool | None = None
    hints: Hints | None = None
    min: Bound | None = None
    max: Bound | None = None
    min_length: Annotated[int, Field(ge=0)] | None = None
    max_length: Annotated[int, Field(ge=1)] | None = None
    pattern: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    choices: Annotated[tuple[str, ...], Field(min_length=1, max_length=1000)] | None = None
    case: Case | None = None
    decimal_places: Annotated[int, Field(ge=0, le=20)] | None = None
    decimal_separator: Literal[".", ","] | None = None
    date_formats: Annotated[tuple[str, ...], Field(max_length=20)] | None = None
    country: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")] | None = None
    lookup: Lookup | None = None
    # A table: the fields of each row, how many rows, and the column that identifies a row
    # (double keying aligns rows on it; without it rows are aligned by their order).
    columns: Annotated[tuple["FieldSpec", ...], Field(min_length=1, max_length=50)] | None = None
    min_rows: Annotated[int, Field(ge=0, le=MAX_ROWS)] | None = None
    max_rows: Annotated[int, Field(ge=1, le=MAX_ROWS)] | None = None
    key: FieldName | None = None

    @field_validator(*APPLIES_TO)
    @classmethod
    def _rule_fits_type(cls, value: Any, info: ValidationInfo) -> Any:
        field_type = info.data.get("type")
        rule = info.field_name
        if value is None or field_type is None or rule is None:
            return value  # an unknown type is reported on `type` already
        fits = APPLIES_TO[rule]
        if field_type not in fits:
            where = ", ".join(sorted(fits))
            raise spec_error(f"{rule} does not apply to {field_type} fields (only to {where})")
        check = _RULE_CHECKS.get(rule)
        return check(value, field_type, info.data) if check else value

    @model_validator(mode="after")
    def _enum_has_choices(self) -> Self:
        if self.type is FieldType.ENUM and self.choices is None:
            raise errors_at("FieldSpec", [(("choices",), "enum fields need choices")])
        return self

    @model_validator(mode="after")
    def _table_shape(self, info: ValidationInfo) -> Self:
        if self.type is not FieldType.TABLE:
            return self
        # A stored spec is read as it was accepted (hints on a column were let be once).
        stored = bool(info.context and info.context.get(STORED))
        if self.columns is None:
            raise errors_at("FieldSpec", [(("columns",), "table fields need columns")])
        problems: list[tuple[tuple[int | str, ...], str]] = []
        names = [column.name for column in self.columns]
        for j, column in enumerate(self.columns):
            if column.type is FieldType.TABLE:
                problems.append((("columns", j, "type"), "a column cannot be a table"))
            if names.count(column.name) > 1:
                problems.append((("columns", j, "name"), f"column {column.name} is repeated"))
            if column.hints is not None and not stored:
                problems.append((("columns", j, "hints"), "a column takes no hints (fields do)"))
        if self.key is not None and self.key not in names:
            problems.append((("key",), f"{self.key} is not a column of {self.name}"))
        if self.max_rows is not None and self.max_rows < (self.min_rows or 0):
            problems.append((("max_rows",), "max_rows must not be less than min_rows"))
        if problems:
            raise errors_at("FieldSpec", problems)
        return self

    @property
    def row_limit(self) -> int:
        return MAX_ROWS if self.max_rows is None else self.max_rows

    def column(self, name: str) -> "FieldSpec":
        """The column called `name` of a table field; KeyError when it has none."""
        for column in self.columns or ():
            if column.name == name:
                return column
        raise KeyError(name)

    def reading_canonical(self) -> "FieldSpec":
        """This field as it reads values already in canonical form: numbers with '.' as the
        point (see `JobSpec.reading_canonical`)."""
        if not _reads_comma(self):
            return self
        columns = self.columns and tuple(column.reading_canonical() for column in self.columns)
        return self.model_copy(update={"decimal_separator": None, "columns": columns})


class JobSpec(BaseModel):
    """The fields of a job and its cross-field rules (e.g. `total == net + tax`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fields: tuple[FieldSpec, ...]
    rules: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    # Invoices: match each line against the client's purchase orders and goods receipts.
    match: Match | None = None
    _compiled: tuple[Rule, ...] | None = PrivateAttr(default=None)
    # The spec as written, of a spec reading canonical values (see reading_canonical).
    _source: "JobSpec | None" = PrivateAttr(default=None)

    @field_validator("fields")
    @classmethod
    def _unique_names(cls, fields: tuple[FieldSpec, ...]) -> tuple[FieldSpec, ...]:
        names = [spec.name for spec in fields]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise spec_error(f"field names must be unique; repeated: {', '.join(duplicates)}")
        return fields

    @model_validator(mode="after")
    def _within_limits(self, info: ValidationInfo) -> Self:
        """A new spec's size (a stored one is read as it was accepted, limits added since
        included); checked before its rules are compiled."""
        if info.context and info.context.get(STORED):
            return self
        problems: list[tuple[tuple[int | str, ...], str]] = []
        if len(self.fields) > MAX_FIELDS:
            problems.append((("fields",), f"a job has at most {MAX_FIELDS} fields"))
        if len(self.rules) > MAX_RULES:
            problems.append((("rules",), f"a job has at most {MAX_RULES} rules"))
        for i, spec in enumerate(self.fields):
            for at, field in [((), spec)] + [
                (("columns", j), column) for j, column in enumerate(spec.columns or ())
            ]:
                for j, choice in enumerate(field.choices or ()):
                    if len(choice) > MAX_CHOICE_LENGTH:
                        message = f"a choice has at most {MAX_CHOICE_LENGTH} characters"
                        problems.append((("fields", i, *at, "choices", j), message))
                for j, written in enumerate(field.date_formats or ()):
                    if len(written) > MAX_DATE_FORMAT_LENGTH:
                        message = f"a date format has at most {MAX_DATE_FORMAT_LENGTH} characters"
                        problems.append((("fields", i, *at, "date_formats", j), message))
        written = self.model_dump_json(include={"fields", "rules", "match"}, exclude_none=True)
        if not problems and len(written) > MAX_SPEC_BYTES:
            message = f"the fields and rules take more than {MAX_SPEC_BYTES:,} bytes as JSON"
            problems.append((("fields",), message))
        if problems:
            raise errors_at(type(self).__name__, problems)
        return self

    @model_validator(mode="after")
    def _lookups_name_fields(self) -> Self:
        """A lookup's checks name fields of the job; a column's, the other columns of its row
        or fields of the job."""
        kinds = rule_kinds(self.fields)
        problems: list[tuple[tuple[int | str, ...], str]] = []
        for i, spec in enumerate(self.fields):
            places: list[tuple[tuple[int | str, ...], FieldSpec, dict[str, Kind]]] = [
                (("fields", i), spec, kinds)
            ]
            row = {column.name: rule_kind(column.type) for column in spec.columns or ()}
            places += [
                (("fields", i, "columns", j), column, {**kinds, **row})
                for j, column in enumerate(spec.columns or ())
            ]
            for at, field, named in places:
                for j, cross in enumerate(field.lookup.checks if field.lookup else ()):
                    where = (*at, "lookup", "checks", j)
                    if cross.field not in named:
                        message = f"{cross.field} is not a field of the job"
                        problems.append(((*where, "field"), message))
                    elif named[cross.field] is Kind.TABLE:
                        problems.append(((*where, "field"), f"{cross.field} is a table"))
                    elif cross.tolerance is not None and named[cross.field] is not Kind.NUMBER:
                        problems.append(
                            ((*where, "tolerance"), "a tolerance applies to number fields only")
                        )
        if problems:
            raise errors_at(type(self).__name__, problems)
        return self

    @model_validator(mode="after")
    def _match_names_fields(self, info: ValidationInfo) -> Self:
        if self.match is not None:
            # A stored spec (`spec_for`) is read as it was accepted: a check added since
            # must not refuse a job that exists.
            stored = bool(info.context and info.context.get(STORED))
            problems = self.match.problems(rule_kinds(self.fields), kinds_checked=not stored)
            if problems:
                raise errors_at(type(self).__name__, [(("match", *w), m) for w, m in problems])
        return self

    @model_validator(mode="after")
    def _match_reads_no_personal_data(self) -> Self:
        """Matching keeps the values it reads (orders invoiced, invoices seen) across jobs to
        match later invoices by: those fields cannot be personal."""
        if self.match is None:
            return self
        personal = self.personal
        problems: list[tuple[tuple[int | str, ...], str]] = []
        for name, where in self.match.fields_read():
            table, _, column = name.partition(".")
            if personal.covers(name) if not column else personal.column(table, column):
                message = f"{name} is pii; matching keeps the values it reads, so it cannot be"
                problems.append((("match", *where), message))
        if problems:
            raise errors_at(type(self).__name__, problems)
        return self

    @model_validator(mode="after")
    def _compile_rules(self) -> Self:
        kinds = rule_kinds(self.fields)
        compiled, problems = [], []
        for i, source in enumerate(self.rules):
            try:
                compiled.append(compile_rule(source, kinds))
            except RuleSyntaxError as exc:
                problems.append((("rules", i), str(exc)))
        if problems:
            raise errors_at(type(self).__name__, problems)
        self._compiled = tuple(compiled)
        return self

    @property
    def compiled_rules(self) -> tuple[Rule, ...]:
        if self._compiled is None:  # built with model_construct(), which skips validators
            kinds = rule_kinds(self.fields)
            self._compiled = tuple(compile_rule(source, kinds) for source in self.rules)
        return self._compiled

    @functools.cached_property
    def personal(self) -> Personal:
        """Which values of the job's records are personal (`pii`)."""
        return Personal.of(self.fields)

    def field(self, name: str) -> FieldSpec:
        """The field called `name`; KeyError when the job has none."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def reading_canonical(self) -> "JobSpec":
        """This spec as it reads values already in canonical form (what intake checked and
        sends on): numbers with '.' as the point whatever a field's `decimal_separator`. A
        field with ',' reads what people type, where "1.500" is 1500; its canonical form of
        1.5 is "1.500" too, which only this reading gives back as 1.5. `source` is this spec,
        for what a client or a person sends as they write it."""
        if not any(_reads_comma(field) for field in self.fields):
            return self
        fields = tuple(field.reading_canonical() for field in self.fields)
        spec = self.model_copy(update={"fields": fields})
        spec._source = self
        return spec

    @property
    def source(self) -> "JobSpec":
        """The spec as written (of a spec `reading_canonical`; else the spec itself)."""
        return self._source or self


def _reads_comma(field: FieldSpec) -> bool:
    return field.decimal_separator == "," or any(map(_reads_comma, field.columns or ()))


def spec_errors(exc: ValidationError) -> list[FieldError]:
    """A spec's validation errors at their paths: `fields[2].min_length`, `rules[0]`."""
    return [FieldError(_path(error["loc"]), said(error)) for error in exc.errors()]


def _path(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _check_bound(value: Bound, field_type: FieldType, data: Mapping[str, Any]) -> Bound:
    if field_type is FieldType.DATE:
        if not isinstance(value, date):
            raise spec_error("must be a date (YYYY-MM-DD) for date fields")
    elif isinstance(value, date):
        raise spec_error(f"must be a number for {field_type} fields")
    elif not Decimal(value).is_finite() or abs(Decimal(value).adjusted()) > BOUND_DIGITS:
        reach = f"±1e{BOUND_DIGITS}"
        raise spec_error(f"must be within {reach}, to at most {BOUND_DIGITS} decimal places")
    elif field_type is FieldType.INTEGER and value != int(value):
        raise spec_error("must be a whole number for integer fields")
    low = data.get("min")  # present only when checking max, and only if min was valid
    if low is not None and isinstance(low, date) is isinstance(value, date) and value < low:
        raise spec_error("max must not be less than min")
    return value


def _check_max_length(value: int, field_type: FieldType, data: Mapping[str, Any]) -> int:
    low = data.get("min_length")
    if low is not None and value < low:
        raise spec_error("max_length must not be less than min_length")
    return value


def _check_pattern(value: str, field_type: FieldType, data: Mapping[str, Any]) -> str:
    try:
        compiled_pattern(value)
    except re2.error as exc:
        raise spec_error(
            f"not a valid regular expression: {_re2_message(exc)} (patterns use RE2 syntax, "
            "which has no look-around and no back-references)"
        ) from exc
    return value


class Pattern(Protocol):
    def fullmatch(self, text: str) -> object | None: ...


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


@functools.lru_cache(maxsize=1024)
def compiled_pattern(pattern: str) -> Pattern:
    """A field's `pattern`, compiled by RE2: matching takes time linear in the value, so a
    pattern a client writes cannot stall a service on a value someone types."""
    compiled: Pattern = re2.compile(pattern, _RE2_OPTIONS)
    return compiled


def _re2_message(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else exc
    return detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)


def _check_choices(
    value: tuple[str, ...], field_type: FieldType, data: Mapping[str, Any]
) -> tuple[str, ...]:
    choices = tuple(" ".join(choice.split()) for choice in value)
    if not all(choices):
        raise spec_error("choices must not be empty text")
    keys = [choice.casefold() for choice in choices]
    repeated = sorted({c for c, k in zip(choices, keys, strict=True) if keys.count(k) > 1})
    if repeated:
        # Input is matched case-insensitively, so these could not be told apart.
        raise spec_error(f"choices must differ in more than case: {', '.join(repeated)}")
    return choices


def _check_date_formats(
    value: tuple[str, ...], field_type: FieldType, data: Mapping[str, Any]
) -> tuple[str, ...]:
    probe = date(2001, 11, 23)  # day, month and year all distinct and unambiguous
    for fmt in value:
        try:
            parsed = datetime.strptime(probe.strftime(fmt), fmt).date()
        except (ValueError, re.error):  # a directive given twice is a regular expression's error
            parsed = None
        if parsed != probe:
            raise spec_error(f"{fmt!r} is not a usable date format: it needs day, month and year")
    return value


def _check_country(value: str, field_type: FieldType, data: Mapping[str, Any]) -> str:
    code = value.upper()
    if field_type is FieldType.PHONE and code not in phonenumbers.SUPPORTED_REGIONS:
        raise spec_error(f"{value} is not a region phonenumbers knows")
    if field_type is FieldType.VAT and code.lower() not in vat.MEMBER_STATES | {"el"}:
        raise spec_error(f"{value} is not an EU VAT country")
    return code


_RULE_CHECKS: Mapping[str, Callable[[Any, FieldType, Mapping[str, Any]], Any]] = {
    "min": _check_bound,
    "max": _check_bound,
    "max_length": _check_max_length,
    "pattern": _check_pattern,
    "choices": _check_choices,
    "date_formats": _check_date_formats,
    "country": _check_country,
}


_compiled: dict[UUID, JobSpec] = {}


def spec_for(
    job_id: UUID,
    fields: Sequence[Mapping[str, Any]],
    rules: Sequence[str],
    match: Mapping[str, Any] | None = None,
) -> JobSpec:
    """A job's stored spec, compiled once per job and process (a job's spec never changes);
    every submission of every job is checked against one."""
    spec = _compiled.get(job_id)
    if spec is None:
        if len(_compiled) >= 1024:
            _compiled.clear()
        body = {"fields": fields, "rules": rules, "match": match}
        spec = _compiled[job_id] = JobSpec.model_validate(body, context={STORED: True})
    return spec
