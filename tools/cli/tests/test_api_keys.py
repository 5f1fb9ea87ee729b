"""`bpo token` signs managers' scopes; `bpo api-key` makes, lists and revokes clients' API keys
on the running intake, as an admin."""

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import jwt
from typer.testing import CliRunner

from bpo_cli.main import app
from bpo_common.auth import Scope
from bpo_common.ids import new_id
from bpo_devtools.testing import TestStack, Tokens, serve_http
from bpo_intake.app import create_app
from bpo_intake.settings import Settings as IntakeSettings


def _claims(tmp_path: Path, *arguments: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["token", *arguments], env={"BPO_RUN_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    public_key = (tmp_path / "jwt" / "public.pem").read_text()
    claims: dict[str, object] = jwt.decode(
        result.stdout.strip(), public_key, algorithms=["RS256"], audience="bpo"
    )
    return claims


def test_a_manager_token_has_every_scope_unless_scopes_are_named(tmp_path: Path) -> None:
    assert _claims(tmp_path, "--role", "manager")["scope"] == "ops finance admin pii"
    narrow = _claims(tmp_path, "--role", "manager", "--scope", "ops", "--scope", "admin")
    assert narrow["scope"] == "ops admin"
    contractor = _claims(tmp_path, "--role", "contractor", "--sub", "k1")
    assert "scope" not in contractor

    refused = CliRunner().invoke(
        app,
        ["token", "--role", "contractor", "--scope", "ops"],
        env={"BPO_RUN_DIR": str(tmp_path)},
    )
    assert refused.exit_code == 2
    assert "only a manager token has scopes" in refused.output


def _bpo(
    env: dict[str, str], *arguments: str, columns: int = 250
) -> "subprocess.CompletedProcess[str]":
    """The command as a person runs it, in a terminal `columns` wide."""
    return subprocess.run(
        [sys.executable, "-m", "bpo_cli", *arguments],
        env={**os.environ, **env, "COLUMNS": str(columns)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_api_key_commands_make_list_and_revoke_keys_on_the_running_intake(
    stack: TestStack, tokens: Tokens
) -> None:
    intake = create_app(stack.settings(IntakeSettings, "intake"))
    async with serve_http(intake) as url, httpx.AsyncClient(base_url=url) as http:
        env = {
            "BPO_INTAKE_PORT": url.rsplit(":", 1)[1],
            "BPO_JWT_PRIVATE_KEY_FILE": str(stack.private_key),
        }
        client = await http.post("/v1/clients", json={"name": "CLI Ltd"}, headers=tokens.manager())
        client_id = client.json()["id"]

        # Each command takes seconds to start: those that wait for no other run side by side.
        made, unknown = await asyncio.gather(
            asyncio.to_thread(
                _bpo, env, "api-key", "create", "--client", client_id, "--name", "nightly export",
                "--scope", "jobs:write", "--scope", "results:read", "--expires", "2031-01-01",
            ),
            asyncio.to_thread(_bpo, env, "api-key", "revoke", str(new_id())),
        )  # fmt: skip
        assert unknown.returncode == 1
        assert "404: no API key" in unknown.stdout
        assert made.returncode == 0, made.stdout + made.stderr
        key_id = re.search(r"client_id:\s+(\S+)", made.stdout)
        secret = re.search(r"client_secret:\s+(bpok_\S+)", made.stdout)
        assert key_id is not None, made.stdout
        assert secret is not None, made.stdout
        assert "cannot be shown again" in made.stdout
        granted = await http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(key_id[1], secret[1]),
        )
        assert granted.json()["scope"] == "jobs:write results:read"
        stored = await http.get(
            "/v1/api-keys", params={"client_id": client_id}, headers=tokens.manager(Scope.ADMIN)
        )
        (shown,) = stored.json()["data"]
        assert (shown["id"], shown["name"], shown["created_by"]) == (
            key_id[1],
            "nightly export",
            "bpo-cli",
        )
        assert shown["expires_at"] == "2031-01-01T00:00:00Z"

        # Intake named by its URL; in a narrow terminal the ids are whole, for `revoke`.
        remote = {
            "BPO_INTAKE_URL": f"{url}/",
            "BPO_JWT_PRIVATE_KEY_FILE": env["BPO_JWT_PRIVATE_KEY_FILE"],
        }
        listed, wide = await asyncio.gather(
            asyncio.to_thread(
                lambda: _bpo(remote, "api-key", "list", "--client", client_id, columns=80)
            ),
            asyncio.to_thread(_bpo, remote, "api-key", "list", "--client", client_id),
        )
        assert listed.returncode == 0, listed.stdout + listed.stderr
        assert "1 API key" in listed.stdout
        assert key_id[1] in listed.stdout
        assert client_id in wide.stdout
        assert "jobs:write results:read" in wide.stdout
        assert secret[1] not in listed.stdout

        revoked = await asyncio.to_thread(_bpo, env, "api-key", "revoke", key_id[1])
        assert revoked.returncode == 0, revoked.stdout + revoked.stderr
        assert f"API key {key_id[1]} revoked" in revoked.stdout
        again = await http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(key_id[1], secret[1]),
        )
        assert again.json()["error_description"] == "the API key was revoked"
