"""The local stack behind `bpo dev up`: NATS and PostgreSQL from their PyPI wheels (or the
servers the environment names), migrations, then the four services as processes."""

import os
import signal
import sys
import time
from pathlib import Path
from typing import NoReturn

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table

from bpo_cli import signing
from bpo_cli.services import Service, apply_migrations
from bpo_common.auth import ensure_key_pair
from bpo_common.settings import DEFAULT_PORTS, SERVICES, WORKER_PORT_OFFSET, Port, asyncpg_url
from bpo_devtools import servers


def _external_urls() -> servers.StackUrls | None:
    """Existing servers named in the environment; None when the stack should start its own."""
    names = ["BPO_NATS_URL", *(f"BPO_{s.upper()}_DATABASE_URL" for s in SERVICES)]
    given = [name for name in names if os.environ.get(name)]
    if not given:
        return None
    if len(given) != len(names):
        missing = ", ".join(sorted(set(names) - set(given)))
        raise typer.BadParameter(f"to use existing servers set all of them; missing: {missing}")
    return servers.StackUrls(
        nats_url=os.environ["BPO_NATS_URL"],
        database_urls={s: _database_url(f"BPO_{s.upper()}_DATABASE_URL") for s in SERVICES},
    )


def running_stack() -> tuple[Path, servers.StackUrls] | None:
    """The folder and URLs of the stack `make run` (or `make run-cluster`) runs in
    BPO_RUN_DIR, if one runs there."""
    for cluster in (False, True):
        root = _root(signing.run_dir(), cluster)
        urls = servers.running_stack(root)
        if urls is not None:
            return root, urls
    return None


def _root(run_dir: Path, cluster: bool) -> Path:
    return run_dir / ("cluster" if cluster else "dev")


def _database_url(name: str) -> str:
    """The URL in `name` as the migrations connect with it, read as the services read it."""
    try:
        return asyncpg_url(os.environ[name])
    except ValueError as exc:
        raise typer.BadParameter(f"{name}: {exc}") from None


def _watch(console: Console, services: servers.Services, logs: Path) -> None:
    """Block until a service exits on its own; then the stack ends with it."""
    while True:
        for name, process in services.processes.items():
            if process.poll() is not None:
                _exited(console, name, process.returncode, logs)
        time.sleep(0.5)


def _exited(console: Console, name: str, returncode: int, logs: Path) -> NoReturn:
    """End the stack saying which service process ended and why, as the end of its log says."""
    console.print(f"[red]{name} exited ({returncode})[/red]")
    # The log as written: brackets in it are not rich's markup.
    console.print((logs / f"{name}.log").read_text()[-3000:], markup=False)
    console.print(f"Service logs: {logs}")
    raise typer.Exit(1)


def listen_addresses() -> tuple[dict[str, str], dict[str, int]]:
    """Where each service listens: BPO_<SERVICE>_HOST and BPO_<SERVICE>_PORT, as the service
    reads them, else 127.0.0.1 and its port of DEFAULT_PORTS."""
    hosts = {
        service: os.environ.get(f"BPO_{service.upper()}_HOST") or servers.LOOPBACK
        for service in DEFAULT_PORTS
    }
    ports = {
        service: _port(f"BPO_{service.upper()}_PORT", default)
        for service, default in DEFAULT_PORTS.items()
    }
    return hosts, ports


def _port(variable: str, default: int) -> int:
    """The port the variable names, as the service would read it; a PortRefused naming it."""
    value = os.environ.get(variable, str(default))
    try:
        return TypeAdapter(Port).validate_python(value)
    except ValidationError as exc:
        raise PortRefused(f"{variable}: {exc.errors()[0]['msg']} (a port, 1 to 65535)") from exc


class PortRefused(ValueError):
    """A service's port in the environment that no service could listen on."""


def _print_ready(
    console: Console,
    hosts: dict[str, str],
    ports: dict[str, int],
    total_s: float,
    logs: Path,
    cluster: bool,
) -> None:
    shape = " as a cluster: 3 NATS nodes, 2 replicas of each service" if cluster else ""
    table = Table(title=f"BPO is up{shape} ({total_s:.1f} s)")
    for column in ("service", "URL", "docs"):
        table.add_column(column)
    base = {service: servers.base_url(hosts[service], port) for service, port in ports.items()}
    for service, url in base.items():
        table.add_row(service, url, f"{url}/docs")
    console.print(table)
    console.print(
        f"Workbench:    {base['intake']}/work (contractors)\n"
        f"Dashboard:    {base['reporting']}/dashboard (managers)\n"
        "Get a token:  [bold].venv/bin/bpo token --role manager --sub alice[/bold]\n"
        f"Service logs: {logs}\n"
        "Ctrl-C stops everything."
    )
    sys.stdout.flush()


def run_stack(
    postgres_port: int, nats_port: int, console: Console, *, cluster: bool, apart: bool
) -> None:
    """Start everything in the foreground until Ctrl-C (or a service exits)."""
    started = time.monotonic()
    run_dir = signing.run_dir()
    try:
        hosts, ports = listen_addresses()
    except PortRefused as refused:
        console.print(str(refused), style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    worker_ports = {service: port + WORKER_PORT_OFFSET for service, port in ports.items()}
    beyond = [
        f"BPO_{s.upper()}_PORT ({port - WORKER_PORT_OFFSET})"
        for s, port in worker_ports.items()
        if port > 65535
    ]
    if (apart or cluster) and beyond:
        console.print(
            f"[red]no worker port for {', '.join(beyond)}:[/red] a worker answers on its "
            f"service's port + {WORKER_PORT_OFFSET}; set the port to "
            f"{65535 - WORKER_PORT_OFFSET} or lower."
        )
        raise typer.Exit(1)
    busy = [f"{service} ({port})" for service, port in ports.items() if servers.port_open(port)]
    if apart or cluster:
        busy += [
            f"{service} worker ({port})"
            for service, port in worker_ports.items()
            if servers.port_open(port)
        ]
    if busy:
        console.print(
            f"[red]ports in use: {', '.join(busy)}.[/red] Is another stack running? "
            "Stop it, or set BPO_<SERVICE>_PORT."
        )
        raise typer.Exit(1)
    private_key, public_key = ensure_key_pair(run_dir / "jwt")
    urls = _external_urls()
    stack = None
    logs = run_dir / "logs"
    services: servers.Services | None = None

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    # Explicitly, since a shell may start a background job with SIGINT ignored; and on the
    # terminal closing (SIGHUP), which would otherwise leave every server running.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    servers.on_hangup(stop)
    try:
        if urls is None:
            nodes = 3 if cluster else 1
            root = _root(run_dir, cluster)
            # What this stack left running is stopped; a server of anyone else's on its ports
            # would otherwise be taken for its own.
            servers.stop_abandoned(root)
            taken = [port for port in (postgres_port, nats_port) if servers.port_open(port)]
            if taken:
                console.print(
                    f"[red]ports in use by another server: {', '.join(map(str, taken))}.[/red] "
                    "Stop it, or give --postgres-port and --nats-port."
                )
                raise typer.Exit(1)
            stack = servers.LocalStack(
                root, postgres_port=postgres_port, nats_port=nats_port, nats_nodes=nodes
            )
            console.print(
                f"starting NATS ({nodes} node{'s' if cluster else ''} from :{nats_port}) "
                f"and PostgreSQL on :{postgres_port} ..."
            )
            urls = stack.start()
        else:
            # Their data keys are wrapped by the KEK that came with them (BPO_KEK), else the
            # services refuse to start, saying so.
            console.print("using the NATS and PostgreSQL servers from the environment")
        for service in Service:
            apply_migrations(service, urls.database_urls[service])
        # Intake signs its API keys' tokens with the stack's own key pair.
        env = servers.service_environment(
            urls,
            jwt_public_key_file=public_key,
            kek=servers.local_kek(run_dir / "kek"),
            api_key_private_key_file=private_key,
            ports=ports,
        )
        if cluster:
            env["BPO_STREAM_REPLICAS"] = "3"
        services = servers.Services(
            env,
            ports,
            logs,
            replicas=2 if cluster else 1,
            apart=apart or cluster,
            worker_ports=worker_ports,
            hosts=hosts,
        )
        services.start(*SERVICES)
        _print_ready(console, hosts, ports, time.monotonic() - started, logs, cluster)
        _watch(console, services, logs)
    except servers.ServiceExited as exited:
        _exited(console, exited.name, exited.returncode, logs)
    except servers.NotReady as exc:
        console.print(f"[red]{exc}[/red]\nService logs: {logs}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console.print("stopping ...")
    finally:
        if services is not None:
            services.stop()
        if stack is not None:
            stack.stop()
