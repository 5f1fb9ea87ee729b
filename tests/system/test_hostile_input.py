"""Hostile input at every door (hypothesis): NaN, ±Infinity and numbers beyond a double's
range; nesting 65 levels deep and more; an object with the same key twice; a NUL or an
unpaired surrogate in a value or a name; instants and days outside 1900..9000. Sent to every
operation that takes a JSON body (as each role), to streamed items and reference datasets,
and to every date the API takes: never a 5xx, and a 422 naming where. A failure prints the
request that reproduces it."""

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from bpo_common.errors import shown
from bpo_devtools.servers import Services
from bpo_devtools.testing import Tokens

from .access import SAMPLES, operations, served_documents

Json = Any
# No shrinking: an example is a few requests, and the first failure is printed whole. Fifty
# an operation: every class of hostile member comes up at each several times over.
EXAMPLES = settings(max_examples=50, derandomize=True, deadline=None, phases=[Phase.generate])
UNSTORABLE = st.sampled_from(["\udc00", "\ud800", "\x00"])
NAMES = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
TEXT = st.text("abc xyz.-0123456789", max_size=12)
PLAIN = st.one_of(st.none(), st.booleans(), st.integers(-9, 10**9), st.floats(-1e300, 1e300), TEXT)
BEYOND = st.sampled_from(["1e400", "-1e999"]) | st.builds(
    "{}{}e{}".format, st.sampled_from(["", "-"]), st.integers(1, 9), st.integers(309, 99_999)
)
PLAUSIBLE = st.dictionaries(NAMES, PLAIN, max_size=4)  # an object of a few plain members
SLOT = "@hostile@"
JSON_TYPE = {"Content-Type": "application/json"}

STREAMED = {("intake", "POST", "/v1/jobs/{job_id}/items")}  # read as a stream: sent rows below


@dataclass(frozen=True)
class Case:
    """JSON with a hostile member; the name its refusal gives (None: the whole), words it says;
    `read`: refused as the JSON is read (not for what it holds), which the streamed JSON items
    name by the item alone."""

    text: str
    at: str | None
    says: str
    read: bool = False


def _nested(levels: int, empty: str) -> str:
    """A JSON value `levels` deep: arrays in arrays, or objects in objects."""
    opener, closer = ("[", "]") if empty == "[]" else ('{"x": ', "}")
    return opener * (levels - 1) + empty + closer * (levels - 1)


@st.composite
def hostile(draw: st.DrawFn, name: str, depth: int, numbers_as_text: bool) -> Case:
    """One class, as member `name` of an object `depth` levels deep (1: the outermost). With
    `numbers_as_text`, numbers beyond a double are not hostile: they are kept as text."""
    key, value = json.dumps(name), json.dumps(draw(PLAIN))
    kinds = ["constant", "deep", "repeated", "in value", "in name"]
    match draw(st.sampled_from(kinds if numbers_as_text else [*kinds, "beyond"])):
        case "constant":
            number = draw(st.sampled_from(["NaN", "Infinity", "-Infinity"]))
            return Case(f"{key}: {number}", name, f"{number} is not a JSON number", True)
        case "beyond":
            return Case(f"{key}: {draw(BEYOND)}", name, "beyond the range of a number", True)
        case "deep":
            # Named down to the first value too deep; past what the parser itself nests
            # (some 1,000 levels), the body as a whole.
            levels = draw(st.integers(65, 800) | st.integers(1000, 3000))
            empty = draw(st.sampled_from(["[]", "{}"]))
            step = "[0]" if empty == "[]" else ".x"
            at = name + step * (64 - depth) if levels <= 800 else None
            return Case(f"{key}: {_nested(levels - depth, empty)}", at, "nested more than", True)
        case "repeated":  # the member's name, or one holding text that cannot be stored
            again = draw(st.just(name) | st.builds(str.__add__, NAMES, UNSTORABLE))
            twice = f"{json.dumps(again)}: {value}, {json.dumps(again)}: {value}"
            return Case(twice, shown(again), "twice", True)
        case "in value":
            text = draw(TEXT) + draw(UNSTORABLE) + draw(TEXT)
            return Case(f"{key}: {json.dumps(text)}", name, "cannot be stored")
    return Case(f"{json.dumps(name + draw(UNSTORABLE))}: {value}", f"{name}\ufffd", "the name")


def _objects(value: dict[str, Json], where: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Where each object of `value` sits, `value` itself first."""
    found = [where]
    for name, item in value.items():
        if isinstance(item, dict):
            found += _objects(item, (*where, name))
    return found


@st.composite
def hostile_bodies(
    draw: st.DrawFn, sample: dict[str, Json], depth: int = 0, numbers_as_text: bool = False
) -> Case:
    """`sample` or a plausible object, with a hostile member in one of its objects, in place of
    a member or added; `depth`: how many objects enclose the body."""
    body: dict[str, Json] = copy.deepcopy(draw(st.just(sample) | PLAUSIBLE))
    where = draw(st.sampled_from(_objects(body)))
    target = body
    for step in where:
        target = target[step]
    name = draw(st.sampled_from(sorted(target)) | NAMES if target else NAMES)
    bad = draw(hostile(name, depth + len(where) + 1, numbers_as_text))
    target[name] = SLOT
    text = json.dumps(body).replace(f"{json.dumps(name)}: {json.dumps(SLOT)}", bad.text)
    return Case(text, None if bad.at is None else ".".join((*where, bad.at)), bad.says, bad.read)


def _shown(response: httpx.Response, role: str = "") -> str:
    request, body = response.request, response.request.content.decode(errors="replace")
    body = body if len(body) < 600 else f"{body[:300]} ... {body[-200:]} ({len(body)} chars)"
    head = f"{request.method} {request.url} {role} {request.headers.get('content-type')}"
    return f"{head}\n{body!r}\n-> {response.status_code} {response.text[:600]}"


def _names(response: httpx.Response, field: str, says: str = "") -> bool:
    """A 422 problem with an error naming `field` whose message says `says`."""
    problem = response.headers.get("content-type") == "application/problem+json"
    errors = response.json().get("errors", []) if problem else []
    return response.status_code == 422 and any(
        e["field"] == field and says in e["message"] for e in errors
    )


def _ok(response: httpx.Response) -> Json:
    assert response.status_code in (200, 201), _shown(response)
    return response.json()


def _openapi(stage: "Stage") -> Iterator[tuple[str, str, str, Json]]:
    """Every operation of the four services: service, method, path, operation."""
    for operation in operations(served_documents(stage.services)):
        yield operation.service, operation.method, operation.path, operation.spec


GOOD_ITEM, GOOD_ROWS = '{"source": {"total": "1.00"}}', ['{"id": "a"}', '{"id": "b"}']
JOB = {"work_type": "hostile", "fields": [{"name": "total", "type": "decimal"}]}
PRICES = {"currency": "EUR", "tax_rate": "0.2", "rates": {"hostile": {"per_item": "0.40"}}}


@dataclass(frozen=True)
class Stage:
    """A client's people (headers by role), its open job of two items, its reference dataset
    `hostile` of two rows, and the URL of its finalized invoice of 12.00."""

    services: Services
    api: httpx.Client
    client_id: UUID
    headers: dict[str, dict[str, str]]
    job: str
    invoice: str

    def url(self, service: str, path: str) -> str:
        path = re.sub(r"\{\w+_id\}", lambda _: str(uuid4()), path)
        return self.services.url(service) + path.replace("{work_type}", "hostile")

    def send(self, door: str, rows: list[str], dataset: str = "hostile") -> httpx.Response:
        """`rows` as items or reference rows; at `body` (/v1/check) and `items body`, a body."""
        url, media, body = self.url("intake", f"/v1/jobs/{self.job}/items"), "json", rows[0]
        if door == "body":
            url = self.url("validation", "/v1/check")
        elif door == "json items":
            body = f'{{"items": [{", ".join(rows)}]}}'
        elif door != "items body":
            media, body = "x-ndjson", "\n".join(rows) + "\n"
        if door == "dataset":
            url = self.url("validation", f"/v1/reference-datasets/{dataset}?key=id")
        headers = {**self.headers["client"], "Content-Type": f"application/{media}"}
        method = "PUT" if door == "dataset" else "POST"
        return self.api.request(method, url, content=body.encode(), headers=headers)

    def get(self, service: str, path: str) -> Json:
        return _ok(self.api.get(self.url(service, path), headers=self.headers["client"]))

    def stored(self) -> tuple[int, int]:
        """How many items the job holds, and rows the dataset."""
        job = self.get("intake", f"/v1/jobs/{self.job}")["counts"]["total"]
        return job, self.get("validation", "/v1/reference-datasets/hostile")["row_count"]


@pytest.fixture(scope="module")
def stage(services: Services, tokens: Tokens) -> Iterator[Stage]:
    intake, billing, manager = services.url("intake"), services.url("billing"), tokens.manager()
    # No connection is reused: after a 500 the server may drop it under the next request.
    with httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=0)) as api:

        def ask(method: str, url: str, body: Json, headers: dict[str, str] = manager) -> Json:
            return _ok(api.request(method, url, json=body, headers=headers))

        client_id = UUID(ask("POST", f"{intake}/v1/clients", {"name": "h"})["id"])
        keyer = ask("POST", f"{intake}/v1/contractors", {"name": "k", "skills": []})["id"]
        client = tokens.client(client_id)
        roles = {"manager": manager, "client": client, "contractor": tokens.contractor(keyer)}
        items = [json.loads(GOOD_ITEM)] * 2
        job = ask("POST", f"{intake}/v1/jobs", {**JOB, "items": items}, client)["id"]
        # In force from before the period drafted, whose minimum fee is then all it bills.
        prices = {**PRICES, "minimum_monthly_fee": "10", "effective_from": "2026-01-01"}
        ask("PUT", f"{billing}/v1/price-books/{client_id}", prices)
        period = {"period_start": "2026-11-01", "period_end": "2026-11-30"}
        draft = ask("POST", f"{billing}/v1/invoices", {"client_id": str(client_id), **period})
        invoice = f"{billing}/v1/invoices/{draft['id']}"
        ask("POST", f"{invoice}/finalize", None)
        made = Stage(services, api, client_id, roles, job, invoice)
        _ok(made.send("dataset", GOOD_ROWS))
        yield made


def test_every_operation_with_a_json_body_is_sent_hostile_bodies_here(stage: Stage) -> None:
    found = {
        (service, method, path)
        for service, method, path, operation in _openapi(stage)
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }
    assert found == set(SAMPLES) | STREAMED


@pytest.mark.parametrize("operation", sorted(SAMPLES), ids=" ".join)
def test_a_hostile_json_body_is_a_422_naming_where_for_every_role(
    stage: Stage, operation: tuple[str, str, str]
) -> None:
    service, method, path = operation

    @EXAMPLES
    @given(hostile_bodies(SAMPLES[operation]))
    def refused(case: Case) -> None:
        url, sent = stage.url(service, path), case.text.encode()
        answers = {
            role: stage.api.request(method, url, content=sent, headers={**headers, **JSON_TYPE})
            for role, headers in stage.headers.items()
        }
        for role, response in answers.items():
            assert response.status_code < 500, _shown(response, role)
        # Whichever role gets past authorization has the body read and refused.
        field = case.at if case.at is not None else "body"
        assert any(_names(r, field, case.says) for r in answers.values()), "\n".join(
            [f"expected a 422 naming {field!r} saying {case.says!r}:"]
            + [_shown(response, role) for role, response in answers.items()]
        )

    refused()


@settings(EXAMPLES, max_examples=200)
@given(
    door=st.sampled_from(["ndjson items", "json items", "dataset"]),
    item=hostile_bodies({"total": "12.50", "vendor": "Acme"}, depth=1),
    row=hostile_bodies({"id": "z", "name": "Zinc"}, numbers_as_text=True),
    before=st.integers(0, 3),
    after=st.integers(0, 2),
)
def test_an_upload_with_one_hostile_row_is_refused_naming_it_and_stores_nothing(
    stage: Stage, door: str, item: Case, row: Case, before: int, after: int
) -> None:
    good = [f'{{"id": "k{i}"}}' for i in range(before + after)]
    case, bad, field, says = row, row.text, f"line {before + 1}", row.says
    if door == "dataset" and row.at is not None:
        says = f"{row.at}: "  # a row's field is named in the message
    elif door != "dataset":
        good, case, bad = [GOOD_ITEM] * (before + after), item, f'{{"source": {item.text}}}'
        field, says = f"{field}: source.{item.at}" if item.at else field, item.says
    if door == "json items":  # ijson words its refusals its own way, naming the item
        named = item.at and not item.read
        field = f"items[{before}]" + (f".source.{item.at}" if named else "")
        says = says if named else ""
    stored = stage.stored()
    response = stage.send(door, [*good[:before], bad, *good[before:]])
    assert _names(response, field, says), f"expected {field!r} saying {says!r}:\n{_shown(response)}"
    assert stage.stored() == stored, f"{case}\n{_shown(response)}"


LONG = "1" * 5000  # Python reads no integer of more than 4,300 digits: a ValueError
# fmt: off
FOUND = [  # by the cases above, each at the door where it was found
    ("body", '{"data": {"a\\ud800": 1, "a\\ud800": 2}}', "data.a\ufffd"),
    ("ndjson items", '{"source": {"\\udc00": 1, "\\udc00": 2}}', "line 3: source.\ufffd"),
    ("json items", '{"source": {"\\udc00": 1, "\\udc00": 2}}', "items[2]"),
    ("dataset", '{"id": "x", "\\ud800": 1, "\\ud800": 2}', "line 3"),
    ("items body", '{"items\\ud800": []}', "body"),  # not {"items": [...]}
    ("dataset", '{"id": "x", "\\ud800": [1]}', "line 3"),  # not a flat value
    ("json items", '{"source": {"total": -1e400}}', "items[2]"),
    ("ndjson items", f'{{"source": {{"total": {LONG}}}}}', "line 3: source.total"),
    ("body", f'{{"data": {{"total": {LONG}}}}}', "data.total"),
    # 65 levels with the body, each named down to the first too deep
    ("body", f'{{"data": {_nested(64, "[]")}}}', "data" + "[0]" * 63),
    ("ndjson items", f'{{"source": {{"x": {_nested(63, "{}")}}}}}', "line 3: source" + ".x" * 63),
    ("body", f'{{"data": {_nested(5000, "[]")}}}', "body"),  # deeper than the parser goes
    # Broken after the fault too: read twice, named as the whole line or body.
    ("ndjson items", '{"source": {"total": NaN}', "line 3"),
    ("dataset", '{"id": "x", "v": NaN', "line 3"),
    ("body", '{"data": {"total": NaN}', "body"),
]
# fmt: on
FOUND_IDS = [f"{door} {bad[:30]}" for door, bad, _ in FOUND]


@pytest.mark.parametrize(("door", "bad", "field"), FOUND, ids=FOUND_IDS)
def test_each_finding_is_a_422_naming_where(stage: Stage, door: str, bad: str, field: str) -> None:
    good = GOOD_ROWS if door == "dataset" else [GOOD_ITEM] * 2
    stored = stage.stored()
    response = stage.send(door, [bad] if "body" in door else [*good, bad])
    assert _names(response, field), _shown(response)
    assert stage.stored() == stored


def test_reference_rows_keep_huge_numbers_and_line_separators_as_text(stage: Stage) -> None:
    # U+2028, U+2029 and U+0085 may stand unescaped in a JSON string; only \n ends a line.
    rows = [f'{{"id": "x", "v": 1e400, "w": {LONG}}}', '{"id": "y", "v": "a\u2028b\u2029c\u0085d"}']
    response = stage.send("dataset", rows, dataset="texts")
    assert response.status_code == 200, _shown(response)
    x, y = (stage.get("validation", f"/v1/reference-datasets/texts/rows/{k}") for k in "xy")
    assert (x["v"], x["w"], y["v"]) == ("1e400", LONG, "a\u2028b\u2029c\u0085d")


def test_a_field_bound_with_a_huge_exponent_gets_a_short_answer(stage: Stage) -> None:
    # "1e999999" written out in full is a million digits; no value needs a bound beyond 1e60.
    body = '{"fields": [{"name": "n", "type": "decimal", "min": "1e999999"}], "data": {"n": "1"}}'
    response = stage.send("body", [body])
    assert response.status_code == 422, response.text[:300]
    assert response.json()["errors"] == [
        {"field": "fields[0].min", "message": "must be within ±1e60, to at most 60 decimal places"}
    ]
    assert len(response.content) < 10_000, response.text[:300]


INSTANTS = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9000-12-31T23:59:59-00:01"]
INSTANTS.append("1900-01-01T00:00:00+00:01")  # a minute before 1900 in UTC
DAYS = ["9999-12-31", "0001-01-01", "9001-01-01", "1899-12-31"]


def test_every_instant_and_day_outside_1900_to_9000_is_a_422_naming_it(stage: Stage) -> None:
    intake, billing = stage.services.url("intake"), stage.services.url("billing")
    client, manager, invoice = stage.headers["client"], stage.headers["manager"], stage.invoice
    key = {"client_id": str(stage.client_id), "name": "erp", "scopes": ["jobs:write"]}
    period: dict[str, Json] = {"client_id": str(stage.client_id), "period_start": "2026-01-01"}
    # fmt: off
    cases: list[tuple[str, str, dict[str, str], dict[str, Json] | None, str, list[str]]] = [
        ("POST", f"{intake}/v1/jobs", client, JOB, "due_at", INSTANTS),
        ("POST", f"{intake}/v1/api-keys", manager, key, "expires_at", INSTANTS),
        ("POST", f"{invoice}/payments", manager, {"amount": "1"}, "paid_at", INSTANTS),
        ("POST", f"{billing}/v1/invoices", manager, period, "period_end", DAYS[::2]),
        ("POST", f"{billing}/v1/invoices", manager, {**period, "period_end": "2026-01-31"},
         "period_start", DAYS),
        ("PUT", f"{billing}/v1/price-books/{stage.client_id}", manager, PRICES, "effective_from",
         DAYS),
    ]
    # fmt: on
    queried = set()  # and every query parameter that is an instant or a day
    for service, method, path, operation in _openapi(stage):
        for parameter in operation.get("parameters", []) if method == "GET" else []:
            formats = json.dumps(parameter["schema"])
            instant = '"date-time"' in formats
            if parameter["in"] == "query" and (instant or '"date"' in formats):
                queried.add((path, parameter["name"]))
                values = INSTANTS if instant else DAYS
                cases.append(
                    ("GET", stage.url(service, path), manager, None, parameter["name"], values)
                )
    assert {("/v1/reports/overview", "from"), ("/v1/usage", "period_end")} <= queried
    failures = []
    for method, url, headers, body, field, values in cases:
        for value in values:
            query, sent = ({field: value}, None) if body is None else (None, {**body, field: value})
            response = stage.api.request(method, url, params=query, json=sent, headers=headers)
            if not _names(response, field):
                failures.append(_shown(response))
    assert not failures, "\n\n".join(failures)


def test_payments_at_the_ends_of_the_calendar_are_kept_or_refused_and_the_invoice_renders(
    stage: Stage,
) -> None:
    api, invoice, manager = stage.api, stage.invoice, stage.headers["manager"]
    for paid_at in ["1900-01-01T00:00:00Z", "1900-01-01T00:00:01Z"]:
        payment = {"amount": "1.00", "paid_at": paid_at}
        paid = api.post(f"{invoice}/payments", json=payment, headers=manager)
        assert paid.status_code == 201, _shown(paid)
    # Not yet made: nothing is kept.
    future = {"amount": "1.00", "paid_at": "9000-12-31T23:59:59Z"}
    assert _names(api.post(f"{invoice}/payments", json=future, headers=manager), "paid_at")
    for media in ["application/json", "text/csv", "application/pdf"]:
        shown = api.get(invoice, headers={**manager, "Accept": media})
        assert shown.status_code == 200, _shown(shown)
        assert shown.headers["content-type"].startswith(media), shown.headers
    assert api.get(invoice, headers=manager).json()["amount_paid"] == "2.00"
