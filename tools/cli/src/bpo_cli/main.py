"""The `bpo` command: the local stack, tokens, and running one service."""

import asyncio
import dataclasses
import importlib
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

from bpo_cli import api_keys, demo, reporting, signing
from bpo_cli.services import Service, apply_migrations, service_settings
from bpo_cli.signing import local_signer
from bpo_common.auth import Role, Scope, ensure_key_pair
from bpo_common.crypto import new_kek
from bpo_common.settings import Component

app = typer.Typer(no_args_is_help=True, help="Run and use the BPO platform.")
dev = typer.Typer(no_args_is_help=True, help="The local development stack.")
app.add_typer(dev, name="dev")
app.command()(demo.demo)
app.add_typer(reporting.app, name="reporting")
app.add_typer(api_keys.app, name="api-key")
console = Console()

DEFAULT_POSTGRES_PORT = 15432
DEFAULT_NATS_PORT = 14222


# Seconds an idle connection is kept open: longer than the proxies in front keep theirs
# (ingress-nginx's upstream keep-alive and AWS's load balancers: 60 s), so that the proxy
# closes it. Were it uvicorn (its default: 5 s), a request the proxy sent on the connection
# as it closed would be lost, and answered 502 by the proxy.
KEEP_ALIVE_S = 75


def _run(service: Service, component: Component) -> None:
    """One process of `service` running `component`, under uvicorn, until stopped."""
    import uvicorn

    settings = service_settings(service, component=component)
    app = importlib.import_module(f"bpo_{service.value}.app").create_app(settings)
    # X-Forwarded-For is for BPO_TRUSTED_PROXIES to believe (bpo_common.audit), not uvicorn,
    # which would take it from any local peer.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.listen_port(),
        access_log=False,
        proxy_headers=False,
        timeout_keep_alive=KEEP_ALIVE_S,
    )


@app.command()
def keys(
    directory: Annotated[Path, typer.Option("--dir", help="where the key pair lives")] = Path(
        ".run/jwt"
    ),
    public_dir: Annotated[
        Path | None,
        typer.Option(
            "--public-dir",
            help="a folder to keep a copy of public.pem in, alone, for what verifies tokens "
            "and signs none (written again whenever it differs)",
        ),
    ] = None,
) -> None:
    """Create the token signing key pair (private.pem, public.pem) unless it exists; a private
    key is never replaced (a missing public.pem is derived from it again)."""
    try:
        private, public = ensure_key_pair(directory)
        copy = _copy_public_key(public, public_dir) if public_dir is not None else None
    except (OSError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"private key: {private}\npublic key:  {public}")
    if copy is not None:
        console.print(f"its copy:    {copy}")


def _copy_public_key(public: Path, directory: Path) -> Path:
    """`public` in `directory` too, replaced whole when it differs (another pair's)."""
    copy = directory / public.name
    pem = public.read_bytes()
    if not copy.exists() or copy.read_bytes() != pem:
        directory.mkdir(parents=True, exist_ok=True)
        written = directory / f".{public.name}.new"
        written.write_bytes(pem)
        written.chmod(0o644)
        written.replace(copy)
    return copy


@app.command()
def kek(
    key_id: Annotated[str, typer.Option("--id", help="the key's id, named in BPO_KEK_ID")] = "kek1",
) -> None:
    """Print a new key-encryption key for BPO_KEK: ID:BASE64 of 32 random bytes. To rotate,
    print one with an --id not in use, add it to BPO_KEK beside the keys in use (BPO_KEK_ID
    naming the current one) and restart every replica; then name it in BPO_KEK_ID and restart
    again (docs/security.md): the services wrap every data key by it again, after which the
    old keys may go."""
    try:
        typer.echo(new_kek(key_id))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--id") from exc


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="client, contractor or manager")],
    sub: Annotated[str, typer.Option(help="who the token is for (a contractor's id)")] = "dev",
    client_id: Annotated[
        UUID | None, typer.Option(help="the client a client token acts for")
    ] = None,
    hours: Annotated[
        float, typer.Option(min=0.01, max=8784, help="hours until it expires (up to a year)")
    ] = 12,
    scope: Annotated[
        list[Scope] | None,
        typer.Option(help="a manager's scope (repeatable); default: ops, finance, admin and pii"),
    ] = None,
) -> None:
    """Print a signed token for the local stack (or for BPO_JWT_PRIVATE_KEY_FILE's key)."""
    if role is Role.CLIENT and client_id is None:
        raise typer.BadParameter("a client token needs --client-id", param_hint="--client-id")
    if scope and role is not Role.MANAGER:
        raise typer.BadParameter("only a manager token has scopes", param_hint="--scope")
    signer = local_signer()
    typer.echo(signer.token(role, sub, client_id, timedelta(hours=hours), scope or ()))


@app.command()
def migrate(
    service: Service,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="run none: wait until the database is at this release's migrations (another "
            "process runs them), then exit 0; an init container's command",
        ),
    ] = False,
    timeout: Annotated[
        float, typer.Option(min=1, help="with --wait: seconds before giving up (exit 1)")
    ] = 600,
) -> None:
    """Run a service's database migrations (with its BPO_<SERVICE>_DATABASE_URL)."""
    settings = service_settings(service)
    if wait:
        _wait_for_migrations(service, settings.database_url.get_secret_value(), timeout)
        return
    apply_migrations(service, settings.database_url.get_secret_value())
    console.print(f"{service.value}: migrations applied")


def _wait_for_migrations(service: Service, url: str, timeout_s: float) -> None:
    """Return once the database is at (or past) this release's migrations; exit 1 at once on
    another service's database, or after `timeout_s` seconds of waiting."""
    import asyncpg

    from bpo_common.migrations import OtherServicesSchema, behind

    deadline, said = time.monotonic() + timeout_s, None
    while True:
        try:
            reason = asyncio.run(behind(f"bpo_{service.value}", url))
        except OtherServicesSchema as exc:
            console.print(f"[red]{service.value}: {exc}[/red]")
            raise typer.Exit(1) from exc
        except (OSError, asyncpg.PostgresError) as exc:
            reason = f"the database cannot be read yet ({type(exc).__name__})"
        if reason is None:
            console.print(f"{service.value}: the database is at this release's migrations")
            return
        if reason != said:
            console.print(f"{service.value}: waiting for migrations: {reason}")
            said = reason
        if time.monotonic() >= deadline:
            console.print(f"[red]{service.value}: gave up after {timeout_s:g} s: {reason}[/red]")
            raise typer.Exit(1)
        time.sleep(min(2.0, max(deadline - time.monotonic(), 0.0)))


@app.command()
def serve(service: Service) -> None:
    """Run a service's API (no background work), on BPO_<SERVICE>_HOST and _PORT."""
    _run(service, Component.API)


@app.command()
def worker(service: Service) -> None:
    """Run a service's background work (outbox relay, consumers, loops), no API; its
    /healthz, /readyz and /metrics answer on BPO_<SERVICE>_WORKER_PORT (default: port + 1000)."""
    _run(service, Component.WORKER)


@dev.command("up")
def dev_up(
    postgres_port: Annotated[int, typer.Option(help="port of the local PostgreSQL")] = (
        DEFAULT_POSTGRES_PORT
    ),
    nats_port: Annotated[int, typer.Option(help="port of the local NATS")] = DEFAULT_NATS_PORT,
    cluster: Annotated[
        bool,
        typer.Option(
            "--cluster",
            help="NATS as three nodes (ports from --nats-port up, the stream at three "
            "replicas) and two replicas of each service's API and of its background work",
        ),
    ] = False,
    workers_apart: Annotated[
        bool,
        typer.Option(
            "--workers-apart",
            help="each service's API and its background work as processes of their own "
            "(workers answer probes on the service's port + 1000)",
        ),
    ] = False,
) -> None:
    """Start NATS, PostgreSQL and the four services in the foreground; Ctrl-C stops them all."""
    try:
        # The local stack is development tooling, absent from service images.
        from bpo_cli.local import run_stack
    except ImportError as exc:
        console.print(f"[red]bpo dev needs the development tools ({exc.name} is missing):[/red] "
                      "install bpo-cli[dev], or run `make run` from a checkout.")  # fmt: skip
        raise typer.Exit(1) from exc
    run_stack(postgres_port, nats_port, console, cluster=cluster, apart=workers_apart)


@dev.command("chaos")
def dev_chaos(
    full: Annotated[
        bool, typer.Option("--full", help="5,000 items and every service killed twice")
    ] = False,
    cluster: Annotated[
        bool, typer.Option("--cluster", help="three NATS nodes, two replicas of each service")
    ] = False,
    seed: Annotated[int, typer.Option(help="for the job, the keyers and the faults")] = 7,
) -> None:
    """Key a double-keyed job while services, NATS and PostgreSQL die and come back, then check
    that nothing was lost or done twice (a stack of its own, under BPO_RUN_DIR/chaos)."""
    try:
        # The local stack is development tooling, absent from service images.
        from bpo_cli import chaos
    except ImportError as exc:
        console.print(f"[red]bpo dev needs the development tools ({exc.name} is missing)[/red]")
        raise typer.Exit(1) from exc
    plan = dataclasses.replace(chaos.FULL if full else chaos.QUICK, cluster=cluster, seed=seed)
    root = signing.run_dir() / "chaos" / str(os.getpid())

    def verdict(result: chaos.Result) -> None:
        if not result.passed:
            raise typer.Exit(1)

    chaos.main(plan, root, console, verdict)
