"""Health, readiness and metrics: what an orchestrator and Prometheus read."""

import asyncio

import httpx

from bpo_common.ids import new_id
from bpo_devtools.servers import NatsServer, free_port
from bpo_devtools.testing import TestStack, Tokens, assert_problem, eventually, serve
from bpo_intake.app import create_app
from bpo_intake.settings import Settings


async def test_health_says_the_process_is_up(intake: httpx.AsyncClient) -> None:
    response = await intake.get("/healthz")
    assert response.json() == {"status": "ok"}


async def test_readiness_checks_the_database_and_nats(intake: httpx.AsyncClient) -> None:
    response = await intake.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "nats": "ok"}}


async def test_metrics_count_requests_by_route_template(intake: httpx.AsyncClient) -> None:
    await intake.get("/v1/jobs/01890a5d-ac96-774b-bcce-b302099a8057")
    response = await intake.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert 'route="/v1/jobs/{job_id}",status="401"' in response.text
    assert "bpo_outbox_published_total" in response.text


async def test_readiness_fails_while_nats_is_away_and_recovers_when_it_is_back(
    stack: TestStack,
) -> None:
    server = NatsServer(stack.root / "nats-readiness", free_port())
    server.start()
    try:
        app = create_app(stack.settings(Settings, "intake", nats_url=server.url))
        async with serve(app) as client:
            assert (await client.get("/readyz")).status_code == 200
            await asyncio.to_thread(server.stop)

            async def not_ready() -> bool:
                return (await client.get("/readyz")).status_code == 503

            await eventually(not_ready, what="readiness to notice NATS is gone")
            problem = assert_problem(await client.get("/readyz"), 503)
            assert problem["detail"] == "not ready: nats unreachable"
            assert (await client.get("/healthz")).status_code == 200

            await asyncio.to_thread(server.start)

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready, what="readiness to come back with NATS")
    finally:
        server.stop()


async def test_the_openapi_document_describes_every_error_as_the_problem_it_is(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    document = (await intake.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    errors = {
        (path, method, status): list(response["content"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for status, response in operation["responses"].items()
        if status[0] in "45"
    }
    assert errors[("/v1/jobs", "post", "422")] == ["application/problem+json"]
    # A token may be refused, an Idempotency-Key still in use, a closed job not closed again.
    assert {("/v1/jobs", "post", "401"), ("/v1/jobs", "post", "409")} <= set(errors)
    assert ("/v1/jobs/{job_id}/close", "post", "409") in errors
    # The token endpoint's errors are OAuth 2.0's (RFC 6749 §5.2), as its clients expect; past
    # its limit, a problem as any 429.
    oauth = {key: errors.pop(key) for key in list(errors) if key[0] == "/v1/oauth/token"}
    assert oauth == {
        ("/v1/oauth/token", "post", "400"): ["application/json"],
        ("/v1/oauth/token", "post", "401"): ["application/json"],
        ("/v1/oauth/token", "post", "429"): ["application/problem+json"],
    }
    assert {tuple(types) for types in errors.values()} == {("application/problem+json",)}
    assert list(document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == [
        "text/plain"
    ]

    # What a 422 really carries is what the document's Problem schema requires.
    refused = await intake.post("/v1/jobs", json={"fields": []}, headers=tokens.client(new_id()))
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert set(schemas["Problem"]["required"]) <= set(refused.json())
