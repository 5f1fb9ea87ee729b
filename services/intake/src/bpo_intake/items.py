"""Items in and results out.

Appending reads the body as it arrives (JSON through ijson, NDJSON and CSV line by line),
checks each row, and stores rows in batches of BATCH_SIZE inside the request's one
transaction, so memory stays bounded whatever the size of the body. A bad row makes the
whole request a 422 naming the row (`line 17: golden.total`, `items[16].golden.total`),
and the rollback takes back the batches already stored.

Results are read from a server-side cursor and written out as they come.
"""

import csv
import io
import json
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import ijson
from pydantic import ValidationError
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import SessionFactory
from bpo_common.errors import (
    Conflict,
    DomainError,
    FieldError,
    Invalid,
    NotFound,
    UnsupportedMediaType,
)
from bpo_common.media import csv_cell, negotiate
from bpo_common.pagination import Page, PageRequest, make_page
from bpo_common.rules import JobSpec, spec_errors
from bpo_common.text import unstorable
from bpo_intake import repository, service
from bpo_intake.models import ItemStatus, Job, JobStatus
from bpo_intake.schemas import ItemIn, ItemOut, check_golden

# One ItemsReceived event per stored batch.
BATCH_SIZE = service.ITEMS_PER_EVENT
# Past this many bad rows the rest of the body is read but no longer checked.
MAX_ERRORS = 100
RESULTS_PER_FETCH = 1000

GOLDEN_PREFIX = "golden."
EXTERNAL_ID = "external_id"
UNCLOSED_QUOTE = 'a quoted cell is not closed (a quote inside a cell is doubled: "say ""hi""")'


class Format(StrEnum):
    """The media types items come in and results go out as."""

    JSON = "application/json"
    NDJSON = "application/x-ndjson"
    CSV = "text/csv"


# Appending


@dataclass(frozen=True)
class Place:
    """Where a row sits in the body, as errors name it: `line 17` or `items[16]`."""

    label: str
    separator: str = ": "

    def name(self, path: str = "") -> str:
        return f"{self.label}{self.separator}{path}" if path else self.label


def _line(number: int) -> Place:
    return Place(f"line {number}")


def _index(index: int) -> Place:
    return Place(f"items[{index}]", ".")


# A row of the body: the item, or what is wrong with it (fields relative to the row).
Parsed = ItemIn | list[FieldError]
Parser = Callable[[AsyncIterator[bytes], JobSpec], AsyncGenerator[tuple[Place, Parsed], None]]


def _problem(message: str) -> list[FieldError]:
    return [FieldError("", message)]


def _item(raw: object) -> Parsed:
    try:
        if isinstance(raw, bytes):
            item = ItemIn.model_validate_json(raw)
        else:
            item = ItemIn.model_validate(raw)
    except ValidationError as exc:
        return spec_errors(exc)
    if not isinstance(raw, bytes):
        return unstorable(raw) or item  # a CSV row or a JSON item, already parsed
    if b"\\u" not in raw:
        return item  # in JSON text, a NUL or a lone surrogate can only be a \u escape
    return unstorable(item.model_dump(exclude_none=True)) or item


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, bytes]]:
    """The body's lines, numbered from 1, without their `\\n`, as the chunks arrive."""
    number = 0
    partial = bytearray()
    async for chunk in chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            number += 1
            if partial:
                partial += chunk[start:end]
                yield number, bytes(partial)
                partial.clear()
            else:
                yield number, chunk[start:end]
            start = end + 1
        partial += chunk[start:]
    if partial:
        yield number + 1, bytes(partial)


async def _ndjson(
    chunks: AsyncIterator[bytes], spec: JobSpec
) -> AsyncGenerator[tuple[Place, Parsed], None]:
    async for number, line in _lines(chunks):
        if line.strip():
            yield _line(number), _item(line)


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

    def send(self, event: tuple[str, str, Any]) -> None:
        prefix, kind, value = event
        if self._builder is None:
            if prefix != "items.item":
                self._outside_items(prefix, kind, value)
                return
            self._builder = ijson.ObjectBuilder()
            self._started += 1
        self._builder.event(kind, value)
        if kind in ("start_map", "start_array"):
            self._depth += 1
        elif kind in ("end_map", "end_array"):
            self._depth -= 1
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
        raise _Malformed('the body must be a JSON object: {"items": [...]}')

    def take(self) -> list[tuple[int, Any]]:
        built, self.built = self.built, []
        return built

    def place(self) -> Place:
        """Where the parser is: in an item, between items, or elsewhere in the body."""
        if self._builder is not None:
            return _index(self._started - 1)
        return _index(self._started) if self._in_array else Place("body")


async def _json(
    chunks: AsyncIterator[bytes], spec: JobSpec
) -> AsyncGenerator[tuple[Place, Parsed], None]:
    items = _JsonItems()
    parser = ijson.parse_coro(items, use_float=True)
    try:
        async for chunk in chunks:
            parser.send(chunk)
            for index, raw in items.take():
                yield _index(index), _item(raw)
        parser.close()
        if not items.has_items:
            raise _Malformed('the body must be a JSON object: {"items": [...]}')
    except (ijson.JSONError, _Malformed) as exc:
        for index, raw in items.take():
            yield _index(index), _item(raw)
        message = str(exc).splitlines()[0] if str(exc) else "incomplete"
        if not isinstance(exc, _Malformed):
            message = f"not valid JSON: {message}"
        yield items.place(), _problem(message)


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
    """The header row: `external_id`, `golden.<field>`, and the rest, which go into `source`."""

    names: tuple[str, ...]

    @classmethod
    def parse(cls, cells: Sequence[str], spec: JobSpec) -> "_CsvColumns | list[FieldError]":
        names = tuple(cell.strip() for cell in cells)
        errors = [
            FieldError("", f"column {i + 1} has no name") for i, n in enumerate(names) if not n
        ]
        repeated = sorted({name for name in names if name and names.count(name) > 1})
        if repeated:
            errors.append(FieldError("", f"repeated column names: {', '.join(repeated)}"))
        fields = {spec_field.name for spec_field in spec.fields}
        errors += [
            FieldError(name, "not a field of this job")
            for name in names
            if name.startswith(GOLDEN_PREFIX) and name.removeprefix(GOLDEN_PREFIX) not in fields
        ]
        return errors or cls(names)

    def item(self, cells: Sequence[str]) -> dict[str, Any] | list[FieldError]:
        if len(cells) != len(self.names):
            return _problem(f"{len(cells)} cells where the header has {len(self.names)} columns")
        external_id: str | None = None
        source: dict[str, str] = {}
        golden: dict[str, str] = {}
        for name, value in zip(self.names, cells, strict=True):
            if name == EXTERNAL_ID:
                external_id = value or None
            elif name.startswith(GOLDEN_PREFIX):
                golden[name.removeprefix(GOLDEN_PREFIX)] = value
            else:
                source[name] = value
        # A row with every golden cell empty is an ordinary item, not a control item.
        known = golden if any(value.strip() for value in golden.values()) else None
        return {"external_id": external_id, "source": source, "golden": known}


async def _csv(
    chunks: AsyncIterator[bytes], spec: JobSpec
) -> AsyncGenerator[tuple[Place, Parsed], None]:
    pending = _PendingLines()
    reader = csv.reader(pending, strict=True)
    columns: _CsvColumns | None = None
    quotes = 0
    async for number, raw in _lines(chunks):
        try:
            text = raw.decode()
        except UnicodeDecodeError as exc:
            yield _line(number), _problem(f"not UTF-8 (byte {exc.start + 1} of the line)")
            return
        pending.lines.append((text.removeprefix("\ufeff") if number == 1 else text) + "\n")
        # An odd number of quotes so far: a quoted cell goes on on the next line.
        quotes += text.count('"')
        if quotes % 2:
            continue
        quotes = 0
        while pending.lines:
            first = reader.line_num + 1
            try:
                cells = next(reader)
            except (csv.Error, StopIteration) as exc:
                yield _line(first), _problem(f"not valid CSV: {exc or UNCLOSED_QUOTE}")
                return
            if not cells:
                continue  # a blank line
            if columns is None:
                header = _CsvColumns.parse(cells, spec)
                if isinstance(header, list):
                    yield _line(first), header
                    return
                columns = header
                continue
            row = columns.item(cells)
            yield _line(first), row if isinstance(row, list) else _item(row)
    if pending.lines:
        yield _line(reader.line_num + 1), _problem(f"not valid CSV: {UNCLOSED_QUOTE}")


_PARSERS: dict[Format, Parser] = {Format.JSON: _json, Format.NDJSON: _ndjson, Format.CSV: _csv}


def _parser(content_type: str | None) -> Parser:
    media_type, *parameters = (content_type or "").split(";")
    media_type = media_type.strip().lower()
    if media_type not in _PARSERS:
        given = f"not {media_type}" if media_type else "with a Content-Type header"
        raise UnsupportedMediaType(f"send items as {', '.join(Format)} ({given})")
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip(' "').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType("send items in UTF-8")
    return _PARSERS[Format(media_type)]


async def _open_job(session: AsyncSession, job_id: UUID, scope: UUID | None) -> Job:
    job = await repository.lock_job_for_items(session, job_id, scope)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if job.status is not JobStatus.OPEN:
        raise Conflict(
            f"job {job_id} is {job.status.value}; items can be added only while a job is open"
        )
    return job


async def append_items(
    session: AsyncSession,
    job_id: UUID,
    scope: UUID | None,
    content_type: str | None,
    chunks: AsyncIterator[bytes],
) -> int:
    """Add every item of a streamed body to an open job, or none; returns how many."""
    try:
        parse = _parser(content_type)
        job = await _open_job(session, job_id, scope)
        return await _store(session, job, parse(chunks, service.job_spec(job)))
    except DomainError:
        # Read what the client is still sending, so that it hears the answer instead of
        # having its connection closed mid-upload.
        async for _ in chunks:
            pass
        raise


def _checked(spec: JobSpec, row: Parsed) -> Parsed:
    if isinstance(row, list):
        return row
    item, problems = check_golden(spec, row)
    return problems or item


async def _store(
    session: AsyncSession, job: Job, rows: AsyncGenerator[tuple[Place, Parsed], None]
) -> int:
    spec = service.job_spec(job)
    batch: list[ItemIn] = []
    errors: list[FieldError] = []
    first_bad: Place | None = None
    stored = 0
    async with aclosing(rows):
        async for place, parsed in rows:
            row = _checked(spec, parsed)
            if isinstance(row, list):
                first_bad = first_bad or place
                errors += [FieldError(place.name(p.field), p.message) for p in row]
                if len(errors) >= MAX_ERRORS:
                    break
            elif not errors:
                batch.append(row)
                if len(batch) == BATCH_SIZE:
                    stored += await service.add_items(session, job, batch)
                    batch = []
    if first_bad is not None:
        raise Invalid(
            f"nothing was stored: the first problem is at {first_bad.label}", errors=errors
        )
    if batch:
        stored += await service.add_items(session, job, batch)
    return stored


# Reading


async def list_items(
    session: AsyncSession,
    job_id: UUID,
    scope: UUID | None,
    status: ItemStatus | None,
    page: PageRequest,
) -> Page[ItemOut]:
    job = await service.get_job(session, job_id, scope)
    rows = await repository.list_items(session, job.id, status, page)
    return make_page(rows, page, lambda item: ItemOut.model_validate(item, from_attributes=True))


def results_format(accept: str | None) -> Format:
    """The format the Accept header prefers; JSON when it has no preference."""
    refusal = f"results come as {', '.join(Format)}; Accept allows none"
    return Format(negotiate(accept, list(Format), refusal))


@dataclass(frozen=True)
class ResultsExport:
    media_type: Format
    filename: str
    chunks: AsyncIterator[bytes]


async def export_results(
    session: AsyncSession,
    sessions: SessionFactory,
    job_id: UUID,
    scope: UUID | None,
    accept: str | None,
) -> ResultsExport:
    """The final data of every completed item, in the format Accept asks for, to be streamed.

    The rows are read when the chunks are, in a session of their own: the request's session
    is closed by then.
    """
    chosen = results_format(accept)
    job = await service.get_job(session, job_id, scope)
    fields = [spec_field.name for spec_field in service.job_spec(job).fields]
    extension = {Format.JSON: "json", Format.NDJSON: "ndjson"}.get(chosen, "csv")
    return ResultsExport(
        media_type=chosen,
        filename=f"job-{job.id}-results.{extension}",
        chunks=_results(sessions, job.id, _ENCODERS[chosen](fields)),
    )


ResultRow = Row[UUID, str | None, dict[str, Any] | None, datetime | None]


class _Encoder(ABC):
    """Writes result rows in one format: a start, the rows in batches, an end."""

    def __init__(self, fields: Sequence[str]) -> None:
        self.fields = fields

    def start(self) -> str:
        return ""

    @abstractmethod
    def rows(self, rows: Sequence[ResultRow], first: bool) -> str: ...

    def end(self) -> str:
        return ""

    def record(self, row: ResultRow) -> dict[str, Any]:
        item_id, external_id, result, completed_at = row
        return {
            "item_id": str(item_id),
            "external_id": external_id,
            "completed_at": completed_at.isoformat().replace("+00:00", "Z")
            if completed_at
            else None,
            "data": {name: (result or {}).get(name) for name in self.fields},
        }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _JsonArray(_Encoder):
    def start(self) -> str:
        return "["

    def rows(self, rows: Sequence[ResultRow], first: bool) -> str:
        text = ",\n".join(_dumps(self.record(row)) for row in rows)
        return text if first else ",\n" + text

    def end(self) -> str:
        return "]\n"


class _JsonLines(_Encoder):
    def rows(self, rows: Sequence[ResultRow], first: bool) -> str:
        return "".join(_dumps(self.record(row)) + "\n" for row in rows)


class _Csv(_Encoder):
    def _write(self, rows: list[list[str]]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer).writerows(rows)
        return buffer.getvalue()

    def start(self) -> str:
        return self._write([[csv_cell(name) for name in ["item_id", EXTERNAL_ID, *self.fields]]])

    def rows(self, rows: Sequence[ResultRow], first: bool) -> str:
        return self._write(
            [
                [str(item_id), csv_cell(external_id)]
                + [csv_cell((result or {}).get(name)) for name in self.fields]
                for item_id, external_id, result, _ in rows
            ]
        )


_ENCODERS: dict[Format, type[_Encoder]] = {
    Format.JSON: _JsonArray,
    Format.NDJSON: _JsonLines,
    Format.CSV: _Csv,
}


async def _results(
    sessions: SessionFactory, job_id: UUID, encoder: _Encoder
) -> AsyncIterator[bytes]:
    async with sessions() as session, session.begin():
        yield encoder.start().encode()
        first = True
        async for rows in repository.completed_results(session, job_id, RESULTS_PER_FETCH):
            yield encoder.rows(rows, first).encode()
            first = False
        yield encoder.end().encode()
