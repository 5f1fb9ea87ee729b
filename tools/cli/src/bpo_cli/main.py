"""The `bpo` command: the local stack, tokens, and running one service."""

import importlib
import os
import signal
import sys
import time
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from bpo_cli import demo, reporting, signing
from bpo_cli.signing import local_signer
from bpo_common import devstack
from bpo_common.auth import Role, ensure_key_pair

app = typer.Typer(no_args_is_help=True, help="Run and use the BPO platform.")
dev = typer.Typer(no_args_is_help=True, help="The local development stack.")
app.add_typer(dev, name="dev")
app.command()(demo.demo)
app.add_typer(reporting.app, name="reporting")
console = Console()

DEFAULT_POSTGRES_PORT = 15432
DEFAULT_NATS_PORT = 14222


class Service(StrEnum):
    INTAKE = "intake"
    VALIDATION = "validation"
    BILLING = "billing"
    REPORTING = "reporting"


def _service_settings(service: Service) -> Any:
    module = importlib.import_module(f"bpo_{service.value}.settings")
    return module.Settings()


@app.command()
def keys(
    directory: Annotated[Path, typer.Option("--dir", help="where the key pair lives")] = Path(
        ".run/jwt"
    ),
) -> None:
    """Create the token signing key pair (private.pem, public.pem) unless it exists."""
    private, public = ensure_key_pair(directory)
    console.print(f"private key: {private}\npublic key:  {public}")


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="client, contractor or manager")],
    sub: Annotated[str, typer.Option(help="who the token is for (a contractor's id)")] = "dev",
    client_id: Annotated[
        UUID | None, typer.Option(help="the client a client token acts for")
    ] = None,
    hours: Annotated[float, typer.Option(help="hours until it expires")] = 12,
) -> None:
    """Print a signed token for the local stack (or for BPO_JWT_PRIVATE_KEY_FILE's key)."""
    if role is Role.CLIENT and client_id is None:
        raise typer.BadParameter("a client token needs --client-id", param_hint="--client-id")
    typer.echo(local_signer().token(role, sub, client_id, timedelta(hours=hours)))


@app.command()
def migrate(service: Service) -> None:
    """Run a service's database migrations (with its BPO_<SERVICE>_DATABASE_URL)."""
    from bpo_common.migrations import upgrade

    settings = _service_settings(service)
    upgrade(f"bpo_{service.value}", settings.database_url.get_secret_value())
    console.print(f"{service.value}: migrations applied")


@app.command()
def serve(service: Service) -> None:
    """Run one service under uvicorn, on its BPO_<SERVICE>_HOST and BPO_<SERVICE>_PORT."""
    import uvicorn

    settings = _service_settings(service)
    uvicorn.run(
        f"bpo_{service.value}.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        access_log=False,
    )


def _external_urls() -> devstack.StackUrls | None:
    """Existing servers named in the environment; None when the stack should start its own."""
    names = ["BPO_NATS_URL", *(f"BPO_{s.upper()}_DATABASE_URL" for s in devstack.SERVICES)]
    given = [name for name in names if os.environ.get(name)]
    if not given:
        return None
    if len(given) != len(names):
        missing = ", ".join(sorted(set(names) - set(given)))
        raise typer.BadParameter(f"to use existing servers set all of them; missing: {missing}")
    return devstack.StackUrls(
        nats_url=os.environ["BPO_NATS_URL"],
        database_urls={s: os.environ[f"BPO_{s.upper()}_DATABASE_URL"] for s in devstack.SERVICES},
    )


@dev.command("up")
def dev_up(
    postgres_port: Annotated[int, typer.Option(help="port of the local PostgreSQL")] = (
        DEFAULT_POSTGRES_PORT
    ),
    nats_port: Annotated[int, typer.Option(help="port of the local NATS")] = DEFAULT_NATS_PORT,
) -> None:
    """Start NATS, PostgreSQL and the four services in the foreground; Ctrl-C stops them all."""
    started = time.monotonic()
    run_dir = signing.run_dir()
    ports = {
        service: int(os.environ.get(f"BPO_{service.upper()}_PORT", default))
        for service, default in devstack.DEFAULT_SERVICE_PORTS.items()
    }
    busy = [f"{service} ({port})" for service, port in ports.items() if devstack.port_open(port)]
    if busy:
        console.print(
            f"[red]ports in use: {', '.join(busy)}.[/red] Is another stack running? "
            "Stop it, or set BPO_<SERVICE>_PORT."
        )
        raise typer.Exit(1)
    _, public_key = ensure_key_pair(run_dir / "jwt")
    urls = _external_urls()
    stack = None
    processes: dict[str, Any] = {}

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    # Explicitly, since a shell may start a background job with SIGINT ignored.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        if urls is None:
            stack = devstack.LocalStack(
                run_dir / "dev", postgres_port=postgres_port, nats_port=nats_port
            )
            console.print(f"starting NATS on :{nats_port} and PostgreSQL on :{postgres_port} ...")
            urls = stack.start()
        else:
            console.print("using the NATS and PostgreSQL servers from the environment")
        devstack.migrate_all(urls.database_urls)
        env = devstack.service_environment(urls, jwt_public_key_file=public_key, ports=ports)
        logs = run_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for service, port in ports.items():
            processes[service] = devstack.start_service(service, env, port, logs / f"{service}.log")
        devstack.wait_ready(ports, timeout_s=120)
        _print_ready(ports, time.monotonic() - started, logs)
        _watch(processes, logs)
    except KeyboardInterrupt:
        console.print("stopping ...")
    finally:
        devstack.stop_services(processes)
        if stack is not None:
            stack.stop()


def _watch(processes: dict[str, Any], logs: Path) -> None:
    """Block until a service exits on its own; then the stack ends with it."""
    while True:
        for service, process in processes.items():
            if process.poll() is not None:
                console.print(f"[red]{service} exited ({process.returncode})[/red]")
                console.print((logs / f"{service}.log").read_text()[-3000:])
                raise typer.Exit(1)
        time.sleep(0.5)


def _print_ready(ports: dict[str, int], total_s: float, logs: Path) -> None:
    table = Table(title=f"BPO is up ({total_s:.1f} s)")
    for column in ("service", "URL", "docs"):
        table.add_column(column)
    for service, port in ports.items():
        base = f"http://127.0.0.1:{port}"
        table.add_row(service, base, f"{base}/docs")
    console.print(table)
    console.print(
        "Get a token:  [bold].venv/bin/bpo token --role manager --sub alice[/bold]\n"
        f"Service logs: {logs}\n"
        "Ctrl-C stops everything."
    )
    sys.stdout.flush()
