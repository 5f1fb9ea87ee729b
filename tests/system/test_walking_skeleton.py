"""A job created on intake reaches validation, billing and reporting through JetStream."""

import httpx

from bpo_devtools.servers import Services
from bpo_devtools.testing import Tokens, eventually

from .conftest import register_client


async def test_job_created_on_intake_is_known_to_validation_billing_and_reporting(
    services: Services, tokens: Tokens, http: httpx.AsyncClient
) -> None:
    client_id = await register_client(http, services, tokens, "Skeleton Ltd")
    as_client = tokens.client(client_id)
    created = await http.post(
        f"{services.url('intake')}/v1/jobs",
        headers=as_client | {"X-Correlation-ID": "skeleton-run-1"},
        json={
            "work_type": "invoice_keying",
            "fields": [{"name": "total", "type": "decimal"}, {"name": "vendor", "type": "string"}],
            "qc": {"mode": "double"},
            "sla_hours": 24,
            "items": [{"source": {"page": n}} for n in range(3)],
        },
    )
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["counts"]["total"] == 3
    assert created.headers["x-correlation-id"] == "skeleton-run-1"

    rules_url = f"{services.url('validation')}/v1/jobs/{job['id']}/rules"
    terms_url = f"{services.url('billing')}/v1/jobs/{job['id']}/terms"
    overview_url = f"{services.url('reporting')}/v1/reports/overview?client_id={client_id}"

    async def known_everywhere() -> bool:
        rules = await http.get(rules_url, headers=as_client)
        terms = await http.get(terms_url, headers=as_client)
        overview = await http.get(overview_url, headers=tokens.manager())
        return (
            rules.status_code == 200
            and terms.status_code == 200
            and overview.json()["items_received"] == 3
        )

    await eventually(known_everywhere, what="the job to reach validation, billing and reporting")

    rules = (await http.get(rules_url, headers=as_client)).json()
    assert rules["fields"] == job["fields"]
    assert rules["qc"]["mode"] == "double"
    terms = (await http.get(terms_url, headers=as_client)).json()
    assert terms["client_id"] == str(client_id)
    assert terms["work_type"] == "invoice_keying"
    assert terms["sla_hours"] == "24.00"
    overview = (await http.get(overview_url, headers=tokens.manager())).json()
    assert overview["items_received"] == 3
    assert overview["backlog"] == 3

    other_client = await register_client(http, services, tokens, "Someone Else")
    hidden = await http.get(rules_url, headers=tokens.client(other_client))
    assert hidden.status_code == 404
