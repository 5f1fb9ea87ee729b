"""Items as a client sends them, and the checks each one passes before it is stored.

A row of a body is an item, or what is wrong with it (fields relative to the row); `Place`
says where the row sits, as errors name it: `line 17: golden.total`, `items[16].golden.total`.

A table field's value is a list of rows, which JSON and NDJSON bodies carry and a CSV cell
cannot: a golden answer, or a verify job's client values (in `source`), with a table come in
NDJSON or JSON.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bpo_common import json_input
from bpo_common.contracts.sealed import too_large
from bpo_common.errors import FieldError, Invalid
from bpo_common.rules import FieldType, JobSpec, check, is_empty, spec_errors
from bpo_common.text import unstorable

MAX_DOCUMENTS = 100
NO_DOCUMENTS_YET = (
    "a new job has no documents yet: create the job, upload its documents, then append items"
)
DocumentRef = Annotated[str, Field(min_length=1, max_length=255)]


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    source: dict[str, Any]
    golden: dict[str, Any] | None = None
    documents: Annotated[list[DocumentRef], Field(max_length=MAX_DOCUMENTS)] = Field(
        default_factory=list,
        description="ids or file names of documents uploaded to the same job",
    )


# A row of a body: the item, or what is wrong with it.
Parsed = ItemIn | list[FieldError]


@dataclass(frozen=True)
class Place:
    """Where a row sits in the body, as errors name it: `line 17` or `items[16]`."""

    label: str
    separator: str = ": "

    def name(self, path: str = "") -> str:
        return f"{self.label}{self.separator}{path}" if path else self.label


def line(number: int) -> Place:
    return Place(f"line {number}")


def index(position: int) -> Place:
    return Place(f"items[{position}]", ".")


def problem(message: str) -> list[FieldError]:
    """What is wrong with a row as a whole."""
    return [FieldError("", message)]


def parse_item(raw: object) -> Parsed:
    """An item from its JSON text, or from a JSON value or CSV row already parsed."""
    try:
        if isinstance(raw, bytes):
            value = json_input.loads(raw)  # its depth checked
        else:
            value = raw
            json_input.check_depth(value)
        item = ItemIn.model_validate(value)
    except UnicodeDecodeError as exc:
        return problem(f"not UTF-8 (byte {exc.start + 1})")
    except json_input.BadJson as exc:
        return [FieldError(exc.path, exc.message)]
    except ValidationError as exc:
        return spec_errors(exc)
    if isinstance(raw, bytes) and not json_input.may_hold_unstorable(raw):
        return item  # the walk below is a third of a line's parsing
    return unstorable(value) or item


def not_in_csv(table: str) -> str:
    """Why a CSV body cannot give a table's value."""
    return (
        f"{table} is a table, whose rows a CSV cell cannot hold: send items that give it as "
        "NDJSON or JSON"
    )


def check_client_values(spec: JobSpec, item: ItemIn) -> list[FieldError]:
    """In a verify job the source carries the client's values of the job's fields, which
    validation checks: a table's must at least be its rows (`source.lines`)."""
    errors = []
    for field in spec.fields:
        value = item.source.get(field.name)
        if field.type is not FieldType.TABLE or is_empty(value):
            continue
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            message = "must be a list of rows, each an object of column: value"
            if isinstance(value, str):  # what a CSV cell gives
                message = not_in_csv(field.name)
            errors.append(FieldError(f"source.{field.name}", message))
    return errors


def check_golden(spec: JobSpec, item: ItemIn) -> tuple[ItemIn, list[FieldError]]:
    """The item with its golden answer in canonical form, or what is wrong with the answer
    (`golden.total`): a golden answer must be a complete record that passes the job's rules."""
    if item.golden is None:
        return item, []
    checked = check(spec, item.golden)
    if not checked.valid:
        return item, [FieldError(f"golden.{e.field}", e.message) for e in checked.errors]
    return item.model_copy(update={"golden": checked.normalized}), []


def check_sizes(spec: JobSpec, item: ItemIn, *, verify: bool) -> list[FieldError]:
    """The item's values its events carry, each record within `MAX_RECORD_BYTES` as they
    carry it: its golden answer (in canonical form) and, in a `verify` job, its client values
    as a keying that kept them would carry them (`source.lines` names the largest field of
    one past it)."""
    records = {"golden": item.golden or {}}
    if verify:
        names = {field.name for field in spec.fields}
        given = {name: value for name, value in item.source.items() if name in names}
        records["source"] = given | check(spec, given, partial=True).normalized
    return [
        FieldError(f"{where}.{error.field}", error.message)
        for where, values in records.items()
        if (error := too_large(values)) is not None
    ]


def _checked(spec: JobSpec, item: ItemIn, *, verify: bool) -> tuple[ItemIn, list[FieldError]]:
    """The item with its golden answer checked (and in a `verify` job, its client values),
    and the size of what its events carry."""
    checked, problems = check_golden(spec, item)
    if verify:
        problems += check_client_values(spec, item)
    return checked, problems + check_sizes(spec, checked, verify=verify)


def checked_row(spec: JobSpec, row: Parsed, *, verify: bool = False) -> Parsed:
    """A parsed row with its golden answer (and in a `verify` job, its client values)
    checked: the item to store, or its problems."""
    if isinstance(row, list):
        return row
    item, problems = _checked(spec, row, verify=verify)
    return problems or item


def checked_items(spec: JobSpec, items: Sequence[ItemIn], *, verify: bool = False) -> list[ItemIn]:
    """Every item with its golden answer checked and normalized (in a `verify` job, its
    client values too); Invalid names each bad answer by its place in the body
    (`items[3].golden.total`)."""
    checked, errors = [], []
    for position, item in enumerate(items):
        item, problems = _checked(spec, item, verify=verify)
        checked.append(item)
        errors += [FieldError(index(position).name(e.field), e.message) for e in problems]
        if item.documents:
            errors.append(FieldError(index(position).name("documents"), NO_DOCUMENTS_YET))
    if errors:
        fields = ", ".join(dict.fromkeys(error.field for error in errors[:10]))
        raise Invalid(f"invalid items: {fields}", errors=errors)
    return checked
