"""Who may call what, against the running services: every operation of the four OpenAPI
documents as every identity (no token, a bad signature, an expired token, one for another
audience, `alg: none`, another client, a contractor, the lease holder, a manager with each one
scope, another client's API key with and without the scope the route needs), aimed at the
objects of tenant B. A failure is a 2xx where a 401, 403 or 404 is due, a list that shows any
of B's ids to someone else, and a 429 or 5xx anywhere; the failures are listed together as
`METHOD path as identity → status`.

What may be done is read from the services' dependencies (bpo_common.auth), their scope tests
and the public contract (API.md), and written down in RULES. What an identity may do is only
sent when it changes nothing (reads, a dry-run check, a lease's heartbeat): then it must not be
refused (401 or 403), which keeps the table honest."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bpo_common.auth import MANAGE_KEYS, Role, Scope
from bpo_common.ids import new_id
from bpo_devtools.servers import Services
from bpo_devtools.testing import Tokens

from .access import (
    DOCUMENT,
    KEY_SCOPES,
    PUBLIC,
    RULE,
    RULES,
    SAMPLES,
    WORK_TYPE,
    Operation,
    Rule,
    Tenants,
    bearer,
    forged_tokens,
    operations,
    png,
    served_documents,
    set_up,
)

Json = Any
CONCURRENCY = 16

# Requests that change nothing, sent for those who may make them too.
HARMLESS = {("validation", "POST", "/v1/check")} | {
    ("intake", "POST", f"/v1/tasks/{{task_id}}/{verb}") for verb in ("check", "heartbeat")
}
FORGED, DENIED, ALLOWED = "401", "403 or 404", "allowed"


@dataclass(frozen=True)
class Identity:
    name: str
    headers: dict[str, str]
    role: Role | None = None  # None: a token no service may accept
    scopes: frozenset[str] = frozenset()
    holder: bool = False  # the contractor holding the lease on B's task

    def expects(self, rule: Rule) -> str:
        if self.role is None:
            return FORGED
        if self.role is Role.MANAGER:
            allowed = bool(self.scopes & rule.managers)
        elif self.role is Role.CONTRACTOR:
            mine = self.holder and rule.contractors in ("self", "holder")
            allowed = rule.contractors == "any" or mine
        else:
            needed = rule.clients
            scoped = needed is not None and (not needed or not needed.isdisjoint(self.scopes))
            allowed = scoped and rule.tenant != "B"
        return ALLOWED if allowed else DENIED

    def refusals(self, rule: Rule) -> set[int]:
        """What denies this identity: a task held by another is a 409 (API.md); a client on a
        route no client may call is a wrong role, a 403, even where another contractor is
        told the contractor is unknown."""
        contested = self.role is Role.CONTRACTOR and rule.contractors == "holder"
        if self.role is Role.CLIENT and rule.clients is None:
            return {403}
        return {403, 404, 409} if contested else {403, 404}

    def sees_b(self, rule: Rule) -> bool:
        """Whether B's ids may show in what this identity is given."""
        return self.role is Role.MANAGER or (self.holder and rule.contractors == "holder")


def _identities(tokens: Tokens, tenants: Tenants) -> list[Identity]:
    forged = [
        Identity(name, bearer(token)) for name, token in forged_tokens(tokens.private_key).items()
    ]
    own_sign_in = KEY_SCOPES | {MANAGE_KEYS}
    return [
        Identity("no token", {}),
        *forged,
        Identity("client A", tokens.client(tenants.a), Role.CLIENT, own_sign_in),
        Identity("contractor", tokens.contractor(tenants.other), Role.CONTRACTOR),
        Identity("lease holder", tokens.contractor(tenants.holder), Role.CONTRACTOR, holder=True),
        *(
            Identity(f"manager {scope}", tokens.manager(scope), Role.MANAGER, frozenset({scope}))
            for scope in Scope
        ),
    ]


def _keys(rule: Rule, tenants: Tenants) -> list[Identity]:
    return [
        Identity(f"A's key ({' '.join(sorted(scopes))})", bearer(tenants.keys[scopes]),
                 Role.CLIENT, scopes)
        for scopes in rule.key_scopes()
    ]  # fmt: skip


@dataclass(frozen=True)
class Request:
    operation: Operation
    url: str
    sent: dict[str, Any]
    filtered: bool = False  # its query names B's client and job where it takes them

    def __str__(self) -> str:
        shown = f"{self.operation.method} {self.operation.path}"
        return f"{shown} (filtered to B)" if self.filtered else shown


def _requests(services: Services, operation: Operation, tenants: Tenants) -> list[Request]:
    """The operation aimed at B's objects (a fresh id where B has none: an exception, a
    webhook delivery), with a body it would take; where its query takes a client's or a job's
    id, once more with B's."""
    ids = {
        "job_id": tenants.job,
        "item_id": tenants.item,
        "task_id": tenants.task,
        "document_id": tenants.document,
        "invoice_id": tenants.invoice,
        "key_id": tenants.key,
        "client_id": str(tenants.b),
        "contractor_id": str(tenants.holder),
        "name": tenants.dataset,
        "key": "V-1",
        "work_type": WORK_TYPE,
        "exception_id": str(new_id()),
        "delivery_id": str(new_id()),
    }
    path = operation.path
    for name in operation.parameters("path"):
        assert name in ids, f"{operation}: what to fill {{{name}}} with?"
        path = path.replace(f"{{{name}}}", ids[name])
    query = operation.parameters("query")
    sent: dict[str, Any] = {"params": {"key": "id"} if "key" in query else {}}
    media = operation.media_types()
    if operation.key in SAMPLES:
        body = dict(SAMPLES[operation.key])
        if operation.key[2] in ("/v1/api-keys", "/v1/invoices"):
            body["client_id"] = str(tenants.b)
        sent["json"] = body
    elif "text/csv" in media and "application/json" not in media:
        sent |= {"content": "id,name\nV-2,ACME\n", "headers": {"Content-Type": "text/csv"}}
    elif "image/*" in media:
        sent |= {"content": png(), "headers": {"Content-Type": "image/png"}}
        sent["params"] = {"filename": DOCUMENT}
    elif "application/json" in media:  # the items of a job
        sent["json"] = {"items": [{"source": {"total": "2"}}]}
    else:
        assert not media, f"{operation}: what body to send as {sorted(media)}?"
    url = services.url(operation.service) + path
    requests = [Request(operation, url, sent)]
    filters = {"client_id": str(tenants.b), "job_id": tenants.job}
    if filtering := {name: value for name, value in filters.items() if name in query}:
        sent = sent | {"params": sent["params"] | filtering}
        requests.append(Request(operation, url, sent, filtered=True))
    return requests


@pytest.fixture(scope="module")
async def tenants(services: Services, tokens: Tokens) -> AsyncIterator[Tenants]:
    scopes = {scopes for rule in RULE.values() for scopes in rule.key_scopes()}
    async with httpx.AsyncClient(timeout=30) as http:
        yield await set_up(http, services, tokens, scopes)


@pytest.fixture(scope="module")
def documented(services: Services) -> list[Operation]:
    return operations(served_documents(services))


def test_every_operation_is_in_the_table_or_needs_no_token(documented: list[Operation]) -> None:
    found = {operation.key for operation in documented}
    assert sorted(set(PUBLIC) - found) == [], "public, but no longer an operation"
    assert sorted(set(RULES) - found) == [], "in the table, but no longer an operation"
    assert sorted(found - set(PUBLIC) - set(RULES)) == [], "neither public nor in the table"
    assert not set(PUBLIC) & set(RULES)
    # The documents agree: an operation with no security scheme is one that takes no token.
    assert {o.key for o in documented if "security" not in o.spec} == set(PUBLIC)


def _shown(response: httpx.Response) -> str:
    return " ".join(response.text[:300].split())


async def test_every_operation_as_every_identity_is_refused_where_it_must_be(
    documented: list[Operation], services: Services, tokens: Tokens, tenants: Tenants
) -> None:
    identities = _identities(tokens, tenants)
    of_b = [value.lower() for value in tenants.of_b()]
    cases: list[tuple[Request, Identity, str]] = []
    for operation in documented:
        if operation.key in PUBLIC:
            continue
        assert operation.key in RULE, f"{operation}: who may call it? Add it to RULES"
        rule = RULE[operation.key]
        harmless = operation.method == "GET" or operation.key in HARMLESS
        for request in _requests(services, operation, tenants):
            for who in [*identities, *_keys(rule, tenants)]:
                expected = who.expects(rule)
                if expected != ALLOWED or harmless:  # what may change something is left alone
                    cases.append((request, who, expected))
    violations: list[str] = []
    gate = asyncio.Semaphore(CONCURRENCY)

    async def check(
        http: httpx.AsyncClient, request: Request, who: Identity, expected: str
    ) -> None:
        sent = dict(request.sent)
        sent["headers"] = {**sent.get("headers", {}), **who.headers}
        async with gate:
            response = await http.request(request.operation.method, request.url, **sent)
        status, rule = response.status_code, RULE[request.operation.key]
        wrong = status == 429 or status >= 500
        if expected == FORGED:
            wrong |= status != 401
        elif expected == DENIED:
            wrong |= status not in who.refusals(rule)
        else:
            wrong |= status in (401, 403)
        leaked = response.is_success and not who.sees_b(rule)
        leaked = leaked and any(value in response.text.lower() for value in of_b)
        if wrong or leaked:
            if expected == DENIED:
                expected = " or ".join(str(status) for status in sorted(who.refusals(rule)))
            what = "shows B's ids" if leaked and not wrong else f"expected {expected}"
            violations.append(
                f"{request} ({request.operation.service}) as {who.name} → {status} ({what}): "
                + _shown(response)
            )

    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(check(http, *case) for case in cases))
    assert len(cases) > 700, len(cases)
    assert not violations, f"{len(violations)} of {len(cases)} cases:\n" + "\n".join(
        sorted(violations)
    )


async def test_a_signed_link_or_a_key_with_a_wrong_secret_opens_nothing(
    services: Services, tenants: Tenants
) -> None:
    intake = services.url("intake")
    page = f"{intake}/v1/documents/{tenants.document}/pages/1"
    link = {"expires": "4102444800", "signature": "A" * 43}
    wrong = {"grant_type": "client_credentials"}
    async with httpx.AsyncClient(timeout=30) as http:
        answers = [await http.get(url, params=link) for url in (page, f"{page}/words")]
        answers.append(
            await http.post(f"{intake}/v1/oauth/token", data=wrong, auth=(tenants.key, "guess"))
        )
    assert [answer.status_code for answer in answers] == [403, 403, 401], [
        _shown(answer) for answer in answers
    ]
