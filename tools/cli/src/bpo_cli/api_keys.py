"""`bpo api-key …`: clients' API keys on the running intake, as a manager with the admin
scope (a token of the local signer, as `bpo token` makes); `create` with every scope, since a
key may do only what its maker may."""

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import httpx
import typer
from rich.console import Console
from rich.table import Table

from bpo_cli.signing import local_signer
from bpo_common.auth import KeyScope, Role, Scope
from bpo_common.settings import DEFAULT_PORTS

app = typer.Typer(no_args_is_help=True, help="Clients' API keys, on the running intake.")
console = Console()


def _intake() -> str:
    """BPO_INTAKE_URL, else the local stack's intake (on BPO_INTAKE_PORT)."""
    port = os.environ.get("BPO_INTAKE_PORT", DEFAULT_PORTS["intake"])
    return os.environ.get("BPO_INTAKE_URL", f"http://127.0.0.1:{port}").rstrip("/")


def _call(
    method: str, path: str, scopes: Sequence[Scope] = (Scope.ADMIN,), **arguments: Any
) -> httpx.Response:
    """The intake's answer, as a manager with `scopes`; an error it gives is printed and ends
    the command."""
    token = local_signer().token(Role.MANAGER, "bpo-cli", scopes=scopes)
    url = f"{_intake()}{path}"
    try:
        response = httpx.request(
            method, url, headers={"Authorization": f"Bearer {token}"}, timeout=30, **arguments
        )
    except httpx.HTTPError as exc:
        console.print(f"[red]intake does not answer at {_intake()}[/red] ({exc}); is the stack "
                      "running (`make run`; BPO_INTAKE_URL or BPO_INTAKE_PORT)?")  # fmt: skip
        raise typer.Exit(1) from exc
    if response.is_error:
        problem = response.json() if "json" in response.headers.get("content-type", "") else {}
        console.print(f"[red]{response.status_code}: {problem.get('detail', response.text)}[/red]")
        for error in problem.get("errors", []):
            console.print(f"  {error['field']}: {error['message']}")
        raise typer.Exit(1)
    return response


def _table(keys: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    # The key's id on one line, whatever the terminal's width: it is what `revoke` takes.
    table.add_column("id", no_wrap=True, min_width=36)
    for column in ("client", "name", "scopes", "created", "expires", "revoked", "last used"):
        table.add_column(column, overflow="fold")
    for key in keys:
        table.add_row(
            key["id"],
            key["client_id"],
            key["name"],
            " ".join(key["scopes"]),
            key["created_at"],
            key["expires_at"] or "never",
            key["revoked_at"] or "",
            key["last_used_at"] or "",
        )
    return table


@app.command()
def create(
    client: Annotated[UUID, typer.Option(help="the client whose systems use the key")],
    name: Annotated[str, typer.Option(help="what it is for, as people will know it")],
    scope: Annotated[
        list[KeyScope], typer.Option(help="what its tokens may do (repeatable)", min=1)
    ],
    expires: Annotated[
        datetime | None,
        typer.Option(help="when it stops working (UTC unless it has an offset); default never"),
    ] = None,
) -> None:
    """Make an API key for a client; its secret is printed this once."""
    body: dict[str, Any] = {"client_id": str(client), "name": name, "scopes": scope}
    if expires is not None:
        aware = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
        body["expires_at"] = aware.isoformat()
    # Whoever holds the signing key may sign any scope: the key gets what it asks for.
    key = _call("POST", "/v1/api-keys", list(Scope), json=body).json()
    console.print(_table([key], "API key made"))
    console.print(
        f"client_id:     [bold]{key['id']}[/bold]\n"
        f"client_secret: [bold]{key['secret']}[/bold]\n"
        "Keep the secret now: it is not stored and cannot be shown again. Tokens: POST "
        f"{_intake()}/v1/oauth/token with grant_type=client_credentials."
    )


@app.command("list")
def list_keys(
    client: Annotated[UUID | None, typer.Option(help="only this client's keys")] = None,
) -> None:
    """List API keys, revoked ones too (never their secrets)."""
    keys: list[dict[str, Any]] = []
    params: dict[str, str] = {"limit": "500"} | ({"client_id": str(client)} if client else {})
    while True:
        page = _call("GET", "/v1/api-keys", params=params).json()
        keys += page["data"]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    console.print(_table(keys, f"{len(keys)} API key{'' if len(keys) == 1 else 's'}"))


@app.command()
def revoke(key_id: Annotated[UUID, typer.Argument(help="the key's id (its client_id)")]) -> None:
    """Revoke an API key: it gets no new token; those it has expire within minutes."""
    _call("DELETE", f"/v1/api-keys/{key_id}")
    console.print(f"API key {key_id} revoked")
