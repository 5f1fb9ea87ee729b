"""What the system tests that walk every operation share: the operations of the four OpenAPI
documents, a documented body for each that takes JSON, tokens no service may accept, and a
tenant's real objects (a job with an item and a document, a task leased to a contractor, a
reference dataset, an API key, an invoice) to aim requests at."""

import base64
import io
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image

from bpo_common.auth import KeyScope, Role, Scope, issue_token
from bpo_common.ids import new_id
from bpo_devtools.servers import Services
from bpo_devtools.testing import TEST_AUDIENCE, TEST_ISSUER, Tokens, eventually

from .conftest import register_client

Json = Any
SERVICES = ("intake", "validation", "billing", "reporting")

# Every operation with a JSON body, and the body its documentation gives.
# fmt: off
SAMPLES: dict[tuple[str, str, str], dict[str, Json]] = {
    ("intake", "POST", "/v1/api-keys"): {"name": "erp", "scopes": ["jobs:write"]},
    ("intake", "POST", "/v1/clients"): {"name": "Acme", "webhook_url": "https://example.com/h"},
    ("intake", "PUT", "/v1/clients/{client_id}/webhook"): {"webhook_url": None},
    ("intake", "PUT", "/v1/clients/{client_id}/retention"): {"retention_days": 30},
    ("intake", "POST", "/v1/contractors"): {"name": "Kim", "skills": ["qc"]},
    ("intake", "POST", "/v1/contractors/{contractor_id}/suspend"): {"reason": "errors"},
    ("intake", "PUT", "/v1/contractors/{contractor_id}/skills"): {"skills": ["qc"]},
    ("intake", "POST", "/v1/jobs"): {"work_type": "invoices", "qc": {"mode": "single"},
                                     "fields": [{"name": "total", "type": "decimal"}]},
    ("intake", "POST", "/v1/tasks/claim"): {"limit": 1, "kinds": ["entry"]},
    # No job of that id: a qualification is refused, and the tenant's work type stays free.
    ("intake", "PUT", "/v1/work-types/{work_type}/qualification"): {"job_id": str(uuid4())},
    ("intake", "POST", "/v1/tasks/{task_id}/check"): {"data": {"total": "12.50"}},
    ("intake", "POST", "/v1/tasks/{task_id}/submit"): {"data": {"total": "1"}, "active_seconds": 3},
    ("validation", "POST", "/v1/check"): {"fields": [{"name": "t", "type": "decimal"}],
                                          "data": {"t": "1.00"}},
    ("validation", "POST", "/v1/exceptions/{exception_id}/resolve"): {"action": "correct",
                                                                      "data": {"t": "1.00"}},
    ("billing", "PUT", "/v1/price-books/{client_id}"): {"currency": "EUR", "tax_rate": "0.21",
                                                        "rates": {"jobs": {"per_item": "0.4"}}},
    ("billing", "POST", "/v1/invoices"): {"client_id": str(uuid4()), "period_start": "2026-11-01",
                                          "period_end": "2026-11-30"},
    ("billing", "POST", "/v1/invoices/{invoice_id}/payments"): {"amount": "10.00"},
    ("billing", "POST", "/v1/invoices/{invoice_id}/credit-notes"): {"reason": "x", "amount": "1"},
    ("billing", "POST", "/v1/invoices/{invoice_id}/void"): {"reason": "duplicate"},
    ("billing", "PUT", "/v1/piece-rates/{work_type}"): {"currency": "EUR", "entry": "0.05",
                                                        "review": "0.03", "adjudication": "0.04"},
}
# fmt: on


@dataclass(frozen=True)
class Operation:
    """One operation of a service's OpenAPI document; `spec` is its operation object."""

    service: str
    method: str
    path: str
    spec: Json = field(compare=False, hash=False, repr=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.service, self.method, self.path

    def parameters(self, where: str) -> list[str]:
        """The names of its parameters `in` the path, the query ..."""
        return [p["name"] for p in self.spec.get("parameters", []) if p["in"] == where]

    def media_types(self) -> set[str]:
        """The media types its request body may come as (none: it takes no body)."""
        return set(self.spec.get("requestBody", {}).get("content", {}))

    def __str__(self) -> str:
        return f"{self.service}: {self.method} {self.path}"


def operations(documents: Mapping[str, Json]) -> list[Operation]:
    """Every operation of the services' OpenAPI documents (by service name)."""
    return [
        Operation(service, method.upper(), path, operation)
        for service, document in documents.items()
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def served_documents(services: Services) -> dict[str, Json]:
    """The OpenAPI document each of the four running services serves."""
    documents = {}
    for service in SERVICES:
        response = httpx.get(f"{services.url(service)}/openapi.json", timeout=30)
        assert response.status_code == 200, response.text
        documents[service] = response.json()
    return documents


def _unpadded(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged_tokens(private_key: str) -> dict[str, str]:
    """A manager's token with every scope, as no service may take it: signed by another key,
    expired, for another audience, and unsigned (`alg: none`)."""
    another = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    scopes = [scope.value for scope in Scope]
    manager: dict[str, Any] = {"subject": "manager", "role": Role.MANAGER, "scopes": scopes}
    claims: dict[str, Any] = {
        "sub": "manager",
        "role": "manager",
        "iss": TEST_ISSUER,
        "aud": TEST_AUDIENCE,
    }
    now = int(time.time())
    claims |= {"iat": now, "exp": now + 3600, "scope": " ".join(scopes)}
    header = _unpadded(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return {
        "bad signature": issue_token(
            another.decode(), issuer=TEST_ISSUER, audience=TEST_AUDIENCE, **manager
        ),
        "expired": issue_token(
            private_key,
            issuer=TEST_ISSUER,
            audience=TEST_AUDIENCE,
            ttl=timedelta(minutes=-5),
            **manager,
        ),
        "wrong audience": issue_token(
            private_key, issuer=TEST_ISSUER, audience="somebody-else", **manager
        ),
        "alg none": f"{header}.{_unpadded(json.dumps(claims).encode())}.",
    }


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (40, 120, 200)).save(out, "PNG")
    return out.getvalue()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


WORK_TYPE = "access"
DOCUMENT = "access.png"
PERIOD = {"period_start": "2026-11-01", "period_end": "2026-11-30"}


@dataclass(frozen=True)
class Tenants:
    """Clients A and B; B's job (of the work type WORK_TYPE) with an item keyed from a
    document, the item's task leased to `holder` (another contractor, `other`, may take the
    job's work too), B's reference dataset with the row `V-1`, an API key and a draft
    invoice; and tokens of API keys of A, by their scopes."""

    a: UUID
    b: UUID
    holder: UUID
    other: UUID
    job: str
    item: str
    task: str
    document: str
    dataset: str
    key: str
    invoice: str
    keys: dict[frozenset[str], str]

    def of_b(self) -> list[str]:
        """What names B or its objects: no one but B and managers may be shown any of it."""
        ids = [str(self.b), self.job, self.item, self.task, self.document, self.key]
        return [*ids, self.invoice, self.dataset]


class Desk:
    """Requests made as someone who may make them, each checked to succeed."""

    def __init__(self, http: httpx.AsyncClient, services: Services) -> None:
        self.http, self.services = http, services

    async def ask(
        self, method: str, service: str, path: str, headers: dict[str, str], **sent: Any
    ) -> Json:
        url = f"{self.services.url(service)}{path}"
        response = await self.http.request(method, url, headers=headers, **sent)
        assert response.status_code in (200, 201, 202), f"{method} {path}: {response.text}"
        return response.json()

    async def key_token(self, maker: dict[str, str], client_id: UUID, scopes: Iterable[str]) -> str:
        """A token from the token endpoint for a new API key of the client with these scopes."""
        body = {"client_id": str(client_id), "name": "access", "scopes": sorted(scopes)}
        key = await self.ask("POST", "intake", "/v1/api-keys", maker, json=body)
        grant = {"grant_type": "client_credentials"}
        url = f"{self.services.url('intake')}/v1/oauth/token"
        granted = await self.http.post(url, data=grant, auth=(key["id"], key["secret"]))
        assert granted.status_code == 200, granted.text
        token: str = granted.json()["access_token"]
        return token


async def set_up(
    http: httpx.AsyncClient,
    services: Services,
    tokens: Tokens,
    key_scopes: Iterable[frozenset[str]],
) -> Tenants:
    """Tenants A and B, B's objects, and A's API keys with each of `key_scopes`."""
    desk, manager, finance = Desk(http, services), tokens.manager(), tokens.manager(Scope.FINANCE)
    a = await register_client(http, services, tokens, "Access A")
    b = await register_client(http, services, tokens, "Access B")
    client = tokens.client(b)
    skill = f"access-{new_id().hex[-8:]}"
    keyers = [
        await desk.ask(
            "POST", "intake", "/v1/contractors", manager, json={"name": n, "skills": [skill]}
        )
        for n in ("holder", "other")
    ]
    holder, other = (UUID(keyer["id"]) for keyer in keyers)
    job = {
        "work_type": WORK_TYPE,
        "fields": [{"name": "total", "type": "decimal"}],
        "qc": {"mode": "single", "review_sample_rate": "0"},
        "due_at": "1970-01-02T00:00:00Z",
        "required_skills": [skill],
    }
    job_id = (await desk.ask("POST", "intake", "/v1/jobs", client, json=job))["id"]
    document = await desk.ask(
        "POST",
        "intake",
        f"/v1/jobs/{job_id}/documents",
        client | {"Content-Type": "image/png"},
        params={"filename": DOCUMENT},
        content=png(),
    )
    item = {"external_id": "b-1", "source": {"total": "1"}, "documents": [DOCUMENT]}
    path = f"/v1/jobs/{job_id}/items"
    await desk.ask("POST", "intake", path, client, json={"items": [item]})
    (listed,) = (await desk.ask("GET", "intake", path, client))["data"]
    leased: list[str] = []

    async def claimed() -> bool:
        body = {"limit": 1, "job_id": job_id}
        answer = await desk.ask(
            "POST", "intake", "/v1/tasks/claim", tokens.contractor(holder), json=body
        )
        leased.extend(task["id"] for task in answer["tasks"])
        return bool(leased)

    await eventually(claimed, what="a task of B's job to claim")
    # The job known to validation and billing, where routes take its id too.
    for service, route, who in (("validation", "rules", manager), ("billing", "terms", finance)):

        async def known(service: str = service, route: str = route, who: Any = who) -> bool:
            url = f"{services.url(service)}/v1/jobs/{job_id}/{route}"
            return (await http.get(url, headers=who)).status_code == 200

        await eventually(known, what=f"B's job to reach {service}")
    dataset = f"access-{new_id().hex[-8:]}"
    await desk.ask(
        "PUT",
        "validation",
        f"/v1/reference-datasets/{dataset}",
        client | {"Content-Type": "text/csv"},
        params={"key": "id"},
        content="id,name\nV-1,ACME\n",
    )
    key_body = {"name": "b", "scopes": ["results:read"]}
    key = await desk.ask("POST", "intake", "/v1/api-keys", client, json=key_body)
    prices = {"currency": "EUR", "tax_rate": "0.2", "rates": {WORK_TYPE: {"per_item": "0.40"}}}
    # In force from before the period drafted, whose minimum fee is then all it bills.
    prices |= {"minimum_monthly_fee": "10", "effective_from": "2026-01-01"}
    await desk.ask("PUT", "billing", f"/v1/price-books/{b}", finance, json=prices)
    drafted = {"client_id": str(b), **PERIOD}
    invoice = await desk.ask("POST", "billing", "/v1/invoices", finance, json=drafted)
    maker = tokens.manager(*Scope)  # a key may do only what its maker may
    keys = {scopes: await desk.key_token(maker, a, scopes) for scopes in set(key_scopes)}
    return Tenants(
        a=a,
        b=b,
        holder=holder,
        other=other,
        job=job_id,
        item=listed["id"],
        task=leased[0],
        document=document["id"],
        dataset=dataset,
        key=key["id"],
        invoice=invoice["id"],
        keys=keys,
    )


# Operations that take no token, and why; each must still be in the documents.
PUBLIC: dict[tuple[str, str, str], str] = {
    **{
        (service, "GET", path): "health and metrics, for probes and Prometheus (API.md)"
        for service in ("intake", "validation", "billing", "reporting")
        for path in ("/healthz", "/readyz", "/metrics")
    },
    ("intake", "POST", "/v1/oauth/token"): "an API key's own credentials, as OAuth 2.0 has them",
    ("intake", "GET", "/v1/documents/{document_id}/pages/{number}"): "a signed link, for <img>",
    ("intake", "GET", "/v1/documents/{document_id}/pages/{number}/words"): "a signed link",
}

# Who may call each operation, from its dependencies (bpo_common.auth, the routes):
# - the manager scopes of which a manager's token needs one ("": no manager);
# - what a client's token needs: "-" no client may, "*" any client token, else the key scopes
#   of which it needs one ("api-keys": a client's own sign-in, never an API key's token);
# - contractors: "" none, "any", "self" (the path's contractor), "holder" (of the lease on the
#   path's task, or on a task of the document's item);
# - for a client: B: the path or body names tenant B's object, so another client is denied;
#   own: the client's own (PUT /v1/reference-datasets/{name} writes the caller's dataset);
#   list: a list, which may show another client only its own rows.
# fmt: off
ALL_ROLES = "ops finance admin pii"
RULES: dict[tuple[str, str, str], tuple[str, str, str, str]] = {
    ("intake", "GET", "/v1/api-keys"): ("admin", "api-keys", "", "list"),
    ("intake", "POST", "/v1/api-keys"): ("admin", "api-keys", "", "B"),
    ("intake", "DELETE", "/v1/api-keys/{key_id}"): ("admin", "api-keys", "", "B"),
    ("intake", "POST", "/v1/clients"): ("ops", "-", "", ""),
    ("intake", "PUT", "/v1/clients/{client_id}/retention"): ("admin", "-", "", ""),
    ("intake", "PUT", "/v1/clients/{client_id}/webhook"): ("admin", "-", "", ""),
    ("intake", "GET", "/v1/contractors"): ("ops", "-", "", ""),
    ("intake", "POST", "/v1/contractors"): ("ops", "-", "", ""),
    ("intake", "GET", "/v1/contractors/{contractor_id}"): ("ops", "-", "self", ""),
    ("intake", "POST", "/v1/contractors/{contractor_id}/activate"): ("ops", "-", "", ""),
    ("intake", "POST", "/v1/contractors/{contractor_id}/suspend"): ("ops", "-", "", ""),
    ("intake", "PUT", "/v1/contractors/{contractor_id}/skills"): ("ops", "-", "", ""),
    ("intake", "GET", "/v1/contractors/{contractor_id}/qualifications"): ("ops", "-", "self", ""),
    ("intake", "GET", "/v1/work-types/{work_type}/qualification"): ("ops", "-", "", ""),
    ("intake", "PUT", "/v1/work-types/{work_type}/qualification"): ("ops", "-", "", ""),
    ("intake", "GET", "/v1/documents/{document_id}"): ("ops", "results:read", "holder", "B"),
    ("intake", "GET", "/v1/documents/{document_id}/file"): ("ops", "results:read", "holder", "B"),
    ("intake", "GET", "/v1/items/flagged"): ("ops", "-", "", ""),
    ("intake", "DELETE", "/v1/items/{item_id}/data"): ("admin", "jobs:write", "", "B"),
    ("intake", "POST", "/v1/items/{item_id}/requeue"): ("ops", "-", "", ""),
    ("intake", "GET", "/v1/jobs"): ("ops", "jobs:write results:read", "", "list"),
    ("intake", "POST", "/v1/jobs"): ("", "jobs:write", "", "own"),
    ("intake", "GET", "/v1/jobs/{job_id}"): ("ops", "jobs:write results:read", "", "B"),
    ("intake", "POST", "/v1/jobs/{job_id}/cancel"): ("ops", "jobs:write", "", "B"),
    ("intake", "POST", "/v1/jobs/{job_id}/close"): ("", "jobs:write", "", "B"),
    ("intake", "DELETE", "/v1/jobs/{job_id}/data"): ("admin", "jobs:write", "", "B"),
    ("intake", "POST", "/v1/jobs/{job_id}/documents"): ("", "jobs:write", "", "B"),
    ("intake", "GET", "/v1/jobs/{job_id}/erasure"):
        ("ops admin", "jobs:write results:read", "", "B"),
    ("intake", "GET", "/v1/jobs/{job_id}/items"): ("ops", "results:read", "", "B"),
    ("intake", "POST", "/v1/jobs/{job_id}/items"): ("", "jobs:write", "", "B"),
    ("intake", "GET", "/v1/jobs/{job_id}/results"): ("ops", "results:read", "", "B"),
    ("intake", "POST", "/v1/tasks/claim"): ("", "-", "any", ""),
    ("intake", "POST", "/v1/tasks/{task_id}/check"): ("", "-", "holder", ""),
    ("intake", "POST", "/v1/tasks/{task_id}/heartbeat"): ("", "-", "holder", ""),
    ("intake", "POST", "/v1/tasks/{task_id}/release"): ("", "-", "holder", ""),
    ("intake", "POST", "/v1/tasks/{task_id}/submit"): ("", "-", "holder", ""),
    ("intake", "GET", "/v1/webhooks/deliveries"): ("ops admin", "results:read", "", "list"),
    ("intake", "GET", "/v1/webhooks/deliveries/{delivery_id}"):
        ("ops admin", "results:read", "", "B"),
    ("validation", "POST", "/v1/check"): (ALL_ROLES, "*", "any", "own"),
    ("validation", "GET", "/v1/contractors/{contractor_id}/quality"): ("ops", "-", "self", ""),
    ("validation", "GET", "/v1/exceptions"): ("ops", "results:read", "", "list"),
    ("validation", "GET", "/v1/exceptions/{exception_id}"): ("ops", "results:read", "", "B"),
    ("validation", "POST", "/v1/exceptions/{exception_id}/resolve"): ("ops", "jobs:write", "", "B"),
    ("validation", "GET", "/v1/items/{item_id}/decision"): ("ops", "results:read", "", "B"),
    ("validation", "GET", "/v1/jobs/{job_id}/rules"): ("ops", "jobs:write results:read", "", "B"),
    ("validation", "GET", "/v1/jobs/{job_id}/accuracy"): ("ops", "results:read", "", "B"),
    ("validation", "GET", "/v1/reference-datasets"): ("ops", "jobs:write results:read", "", "list"),
    ("validation", "GET", "/v1/reference-datasets/{name}"):
        ("", "jobs:write results:read", "", "B"),
    ("validation", "PUT", "/v1/reference-datasets/{name}"): ("", "jobs:write", "", "own"),
    ("validation", "DELETE", "/v1/reference-datasets/{name}"): ("", "jobs:write", "", "B"),
    ("validation", "GET", "/v1/reference-datasets/{name}/rows/{key}"):
        ("", "jobs:write results:read", "", "B"),
    ("billing", "GET", "/v1/contractors/{contractor_id}/earnings"): ("finance", "-", "self", ""),
    ("billing", "GET", "/v1/invoices"): ("finance", "invoices:read", "", "list"),
    ("billing", "POST", "/v1/invoices"): ("finance", "-", "", ""),
    ("billing", "GET", "/v1/invoices/{invoice_id}"): ("finance", "invoices:read", "", "B"),
    ("billing", "POST", "/v1/invoices/{invoice_id}/credit-notes"): ("finance", "-", "", ""),
    ("billing", "POST", "/v1/invoices/{invoice_id}/finalize"): ("finance", "-", "", ""),
    ("billing", "POST", "/v1/invoices/{invoice_id}/payments"): ("finance", "-", "", ""),
    ("billing", "POST", "/v1/invoices/{invoice_id}/void"): ("finance", "-", "", ""),
    ("billing", "GET", "/v1/jobs/{job_id}/terms"): ("finance", "invoices:read", "", "B"),
    ("billing", "GET", "/v1/margin"): ("finance", "-", "", ""),
    ("billing", "GET", "/v1/piece-rates"): ("finance", "-", "any", ""),
    ("billing", "PUT", "/v1/piece-rates/{work_type}"): ("finance", "-", "", ""),
    ("billing", "GET", "/v1/price-books/{client_id}"): ("finance", "invoices:read", "", "B"),
    ("billing", "PUT", "/v1/price-books/{client_id}"): ("finance", "-", "", ""),
    ("billing", "GET", "/v1/price-books/{client_id}/versions"):
        ("finance", "invoices:read", "", "B"),
    ("billing", "GET", "/v1/usage"): ("finance", "invoices:read", "", "list"),
    **{(service, "GET", "/v1/audit"): ("admin", "-", "", "")
       for service in ("intake", "validation", "billing", "reporting")},
    **{("reporting", "GET", f"/v1/reports/{report}"): ("ops finance", "-", "", "")
       for report in ("accuracy", "clients", "contractors", "overview", "sla")},
    ("reporting", "GET", "/v1/reports/throughput"): ("ops finance", "reports:read", "", "list"),
}
# fmt: on
KEY_SCOPES = frozenset(KeyScope)


@dataclass(frozen=True)
class Rule:
    managers: frozenset[str]
    clients: frozenset[str] | None  # None: no client; empty: any client token
    contractors: str
    tenant: str

    @classmethod
    def of(cls, managers: str, clients: str, contractors: str, tenant: str) -> "Rule":
        needed = None if clients == "-" else frozenset(clients.replace("*", "").split())
        return cls(frozenset(managers.split()), needed, contractors, tenant)

    def key_scopes(self) -> tuple[frozenset[str], frozenset[str]]:
        """The scopes of A's API key with the one the route needs, and of one without it (a
        route that names none for clients: one with every scope, and one with one)."""
        needed = (self.clients or frozenset()) & KEY_SCOPES
        if not needed:
            return KEY_SCOPES, frozenset({KeyScope.REPORTS_READ.value})
        return frozenset({min(needed)}), KEY_SCOPES - needed


RULE = {operation: Rule.of(*row) for operation, row in RULES.items()}


def allowed_to(role: Role, service: str) -> list[tuple[str, str]]:
    """The operations of the service, as (method, path), that a token of the role may call
    (a client's own sign-in, a manager with every scope), the public ones with a manager's."""

    def allowed(rule: Rule) -> bool:
        if role is Role.MANAGER:
            return bool(rule.managers)
        if role is Role.CLIENT:
            return rule.clients is not None
        return rule.contractors != ""

    operations = [key for key, rule in RULE.items() if key[0] == service and allowed(rule)]
    if role is Role.MANAGER:
        operations += [key for key in PUBLIC if key[0] == service]
    return [(method, path) for _, method, path in operations]
