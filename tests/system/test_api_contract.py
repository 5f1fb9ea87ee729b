"""Every operation of every service, fed generated requests, valid and not (schemathesis):
never a 5xx, and every answer as the service's OpenAPI document says (status, media type,
schema). A failure prints the request that reproduces it."""

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bpo_common.auth import Role
from bpo_common.settings import SERVICES
from bpo_devtools.servers import Services
from bpo_devtools.testing import Tokens

from .access import allowed_to
from .conftest import register_client

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


@pytest.mark.parametrize("service", SERVICES)
async def test_every_operation_answers_as_documented_and_never_with_a_5xx(
    services: Services, http: httpx.AsyncClient, tokens: Tokens, tmp_path: Path, service: str
) -> None:
    """As a client, a contractor and a manager, the three at once (the two cores share them)."""
    client_id = await register_client(http, services, tokens, f"contract-{service}")
    registered = await http.post(
        f"{services.url('intake')}/v1/contractors",
        json={"name": f"contract-{service}", "skills": ["qc"]},
        headers=tokens.manager(),
    )
    assert registered.status_code == 201, registered.text
    headers = {
        Role.CLIENT: tokens.client(client_id),
        Role.CONTRACTOR: tokens.contractor(registered.json()["id"]),
        Role.MANAGER: tokens.manager(),
    }
    # Each role on the operations it may call: what it is refused is the access matrix's.
    roles = {role: found for role in headers if (found := allowed_to(role, service))}
    runs = await asyncio.gather(
        *(
            asyncio.to_thread(
                _schemathesis, services.url(service), headers[role], operations, tmp_path / role
            )
            for role, operations in roles.items()
        )
    )
    for role, run in zip(roles, runs, strict=True):
        assert run.returncode == 0, role + "\n" + run.stdout[-6000:] + run.stderr[-2000:]


def _schemathesis(
    url: str, headers: dict[str, str], operations: list[tuple[str, str]], where: Path
) -> subprocess.CompletedProcess[str]:
    where.mkdir()
    return subprocess.run(
        [
            str(SCHEMATHESIS), "run", f"{url}/openapi.json",
            "--header", f"Authorization: {headers['Authorization']}",
            *(part for method, path in operations
              for part in ("--include-name", f"{method} {path}")),
            "--checks", CHECKS,
            "--max-examples", "8",
            "--seed", "20261122",
            "--workers", "1",  # several threads trip a CPython 3.11 ast bug in hypothesis
            "--no-color",
        ],
        capture_output=True,
        text=True,
        cwd=where,  # schemathesis keeps its state next to where it runs
        timeout=300,
        check=False,
    )  # fmt: skip
