"""The bpo command: tokens, and the local stack `make run` starts."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner, Result

from bpo_cli import local
from bpo_cli.main import app
from bpo_common.auth import ensure_key_pair
from bpo_common.ids import new_id
from bpo_common.messaging import connect, ensure_stream
from bpo_common.settings import SERVICES, WORKER_PORT_OFFSET
from bpo_devtools import servers
from bpo_devtools.testing import TestStack


def test_token_command_prints_a_token_signed_with_the_local_key(tmp_path: Path) -> None:
    client_id = UUID("01890a5d-ac96-774b-bcce-b302099a8057")
    result = CliRunner().invoke(
        app,
        ["token", "--role", "client", "--sub", "erp", "--client-id", str(client_id)],
        env={"BPO_RUN_DIR": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    public_key = (tmp_path / "jwt" / "public.pem").read_text()
    claims = jwt.decode(
        result.stdout.strip(), public_key, algorithms=["RS256"], audience="bpo", issuer="bpo-local"
    )
    assert claims["sub"] == "erp"
    assert claims["role"] == "client"
    assert claims["client_id"] == str(client_id)
    assert claims["exp"] > time.time() + 11 * 3600

    again = CliRunner().invoke(
        app, ["token", "--role", "manager"], env={"BPO_RUN_DIR": str(tmp_path)}
    )
    assert jwt.decode(again.stdout.strip(), public_key, algorithms=["RS256"], audience="bpo")


def test_client_token_without_client_id_is_refused_with_a_hint(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["token", "--role", "client"], env={"BPO_RUN_DIR": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "--client-id" in result.output
    for hours in ("-1", "1e8"):  # expired at once; past the calendar's end
        refused = CliRunner().invoke(
            app,
            ["token", "--role", "manager", "--hours", hours],
            env={"BPO_RUN_DIR": str(tmp_path)},
        )
        assert refused.exit_code == 2, refused.output
        assert "--hours" in refused.output


async def test_a_service_role_cannot_connect_to_another_service_database(
    stack: TestStack,
) -> None:
    password = stack.credentials.services["intake"]
    port = stack.postgres_port
    own = await asyncpg.connect(
        f"postgresql://bpo_intake:{password}@{stack.postgres_host}:{port}/bpo_intake"
    )
    assert await own.fetchval("SELECT current_database()") == "bpo_intake"
    await own.close()
    for other in ("validation", "billing", "reporting"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await asyncpg.connect(
                f"postgresql://bpo_intake:{password}@{stack.postgres_host}:{port}/bpo_{other}"
            )


def _free_service_ports() -> dict[str, str]:
    """Ports of its own, so the test runs while `make run` holds the default ones, each with
    room above it for its worker's (the port + 1000)."""
    ports = (servers.free_port() for _ in iter(int, 1))
    fitting = (port for port in ports if port + WORKER_PORT_OFFSET <= 65535)
    return {f"BPO_{s.upper()}_PORT": str(next(fitting)) for s in SERVICES}


class DevUp:
    """`bpo dev up` as `make run` runs it, on ports of its own."""

    def __init__(self, run_dir: Path, existing: dict[str, str] | None = None) -> None:
        self.run_dir = run_dir
        self.ports = {service: servers.free_port() for service in SERVICES}
        self.infra_ports = [servers.free_port(), servers.free_port()]
        self.env = {
            **os.environ,
            "BPO_RUN_DIR": str(run_dir),
            **{f"BPO_{s.upper()}_PORT": str(port) for s, port in self.ports.items()},
        }
        for name in ("BPO_NATS_URL", *(f"BPO_{s.upper()}_DATABASE_URL" for s in self.ports)):
            self.env.pop(name, None)
        self.env.update(existing or {})

    def start(self) -> "subprocess.Popen[str]":
        postgres_port, nats_port = self.infra_ports
        process = subprocess.Popen(
            [sys.executable, "-m", "bpo_cli", "dev", "up",
             "--postgres-port", str(postgres_port), "--nats-port", str(nats_port)],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # As from a terminal, though this run may have been started with nohup.
            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
        )  # fmt: skip
        assert process.stdout is not None
        output = []
        for line in process.stdout:
            output.append(line)
            if "Ctrl-C stops everything" in line:
                return process
        pytest.fail("bpo dev up ended before it was ready:\n" + "".join(output))

    def headers(self, *args: str) -> dict[str, str]:
        result = CliRunner().invoke(app, ["token", *args], env={"BPO_RUN_DIR": str(self.run_dir)})
        return {"Authorization": f"Bearer {result.stdout.strip()}"}

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def all_ports(self) -> list[int]:
        return [*self.ports.values(), *self.infra_ports]


def test_dev_up_serves_everything_stops_on_ctrl_c_or_hangup_and_keeps_the_data_for_the_next_run(
    stack: TestStack,
) -> None:
    dev = DevUp(stack.root / "dev-up")
    first = dev.start()
    try:
        for service in SERVICES:
            ready = httpx.get(f"{dev.url(service)}/readyz")
            assert ready.json()["status"] == "ready"
        manager = dev.headers("--role", "manager")
        client = httpx.post(f"{dev.url('intake')}/v1/clients", json={"name": "K"}, headers=manager)
        as_client = dev.headers("--role", "client", "--client-id", client.json()["id"])
        job = httpx.post(
            f"{dev.url('intake')}/v1/jobs",
            json={"work_type": "kept", "fields": [{"name": "a", "type": "string"}]},
            headers=as_client,
        ).json()
    finally:
        first.send_signal(signal.SIGINT)
        assert first.wait(60) == 0
    assert [port for port in dev.all_ports() if servers.port_open(port)] == []

    second = dev.start()
    try:
        again = httpx.get(f"{dev.url('intake')}/v1/jobs/{job['id']}", headers=as_client)
        assert again.status_code == 200
        assert again.json()["work_type"] == "kept"
    finally:
        second.send_signal(signal.SIGHUP)  # the terminal closed
        assert second.wait(60) == 0
    assert [port for port in dev.all_ports() if servers.port_open(port)] == []


def test_a_server_port_is_one_no_outgoing_connection_can_take_while_the_server_is_down() -> None:
    low, high = map(int, servers.EPHEMERAL_PORTS.read_text().split())
    ports = [servers.free_port() for _ in range(200)]

    assert len(set(ports)) == len(ports), "never the same port twice"
    assert [port for port in ports if low <= port <= high] == []
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", ports[0]))


@contextmanager
def _a_taken_port() -> Iterator[int]:
    """A port something else listens on, while the block runs."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_dev_up_refuses_to_start_when_a_service_port_is_taken(tmp_path: Path) -> None:
    with _a_taken_port() as port:
        result = CliRunner().invoke(
            app,
            ["dev", "up"],
            env=_free_service_ports()
            | {"BPO_RUN_DIR": str(tmp_path), "BPO_BILLING_PORT": str(port)},
        )
    assert result.exit_code == 1
    assert f"ports in use: billing ({port})" in result.output
    assert not (tmp_path / "dev").exists(), "nothing was started"


@pytest.mark.parametrize("shape", ["--workers-apart", "--cluster"])
def test_dev_up_refuses_to_start_when_a_worker_port_is_taken(shape: str, tmp_path: Path) -> None:
    infra = ["--nats-port", str(servers.free_port()), "--postgres-port", str(servers.free_port())]
    with _a_taken_port() as port:
        result = CliRunner().invoke(
            app,
            ["dev", "up", shape, *infra],
            # The workers answer their probes on their service's port + 1000.
            env=_free_service_ports()
            | {"BPO_RUN_DIR": str(tmp_path), "BPO_BILLING_PORT": str(port - 1000)},
        )
    assert result.exit_code == 1, result.output
    assert f"ports in use: billing worker ({port})" in result.output
    assert not (tmp_path / "dev").exists(), "nothing was started"
    assert not (tmp_path / "cluster").exists(), "nothing was started"


@pytest.mark.parametrize(
    ("port", "said"),
    [
        ("70000", "less than or equal to 65535"),
        ("-1", "greater than or equal to 1"),
        ("8o01", "a valid integer"),
    ],
)
def test_dev_up_refuses_a_port_no_service_could_listen_on_naming_it(
    port: str, said: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app,
        ["dev", "up"],
        env=_free_service_ports() | {"BPO_RUN_DIR": str(tmp_path), "BPO_BILLING_PORT": port},
    )
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), "no traceback"
    output = " ".join(result.output.split())
    assert output.startswith(f"BPO_BILLING_PORT: Input should be {said}"), output
    assert "(a port, 1 to 65535)" in output
    assert not (tmp_path / "dev").exists(), "nothing was started"


@pytest.mark.parametrize("shape", ["--workers-apart", "--cluster"])
def test_dev_up_refuses_a_port_that_leaves_its_worker_none(shape: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["dev", "up", shape],
        env=_free_service_ports() | {"BPO_RUN_DIR": str(tmp_path), "BPO_BILLING_PORT": "65000"},
    )
    assert result.exit_code == 1, result.output
    assert "no worker port for BPO_BILLING_PORT (65000)" in result.output
    assert "set the port to 64535 or lower" in " ".join(result.output.split())
    assert not (tmp_path / "dev").exists(), "nothing was started"


def _existing_servers(stack: TestStack) -> dict[str, str]:
    """The settings naming the test's servers, with the KEK their data keys are wrapped with."""
    return {"BPO_NATS_URL": stack.urls.nats_url, "BPO_KEK": stack.kek} | {
        f"BPO_{service.upper()}_DATABASE_URL": url
        for service, url in stack.urls.database_urls.items()
    }


def test_dev_up_ends_as_soon_as_a_service_exits_at_start_saying_why(stack: TestStack) -> None:
    """A percent where validation takes a fraction: validation stops at once, and so does the
    stack, with the end of validation's log and where the logs are (not after a minute's wait
    for it to be ready, with a traceback of its own)."""
    run_dir = stack.root / "dev-up-refused"
    started = time.monotonic()
    result = CliRunner().invoke(
        app,
        ["dev", "up"],
        env=_free_service_ports()
        | _existing_servers(stack)
        | {"BPO_RUN_DIR": str(run_dir), "BPO_VALIDATION_QUALITY_FLOOR": "85", "COLUMNS": "300"},
        catch_exceptions=False,
    )
    assert time.monotonic() - started < 40
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "validation exited (1)" in result.output
    assert "quality_floor" in result.output
    assert "Input should be less than or equal to 1" in result.output
    assert f"Service logs: {run_dir / 'logs'}" in result.output
    assert "BPO is up" not in result.output


def test_dev_up_says_why_the_servers_named_in_settings_could_not_be_migrated(
    tmp_path: Path,
) -> None:
    named = {"BPO_NATS_URL": "nats://127.0.0.1:1"} | {
        f"BPO_{service.upper()}_DATABASE_URL": f"postgresql://u:p@127.0.0.1:1/bpo_{service}"
        for service in SERVICES
    }
    result = CliRunner().invoke(
        app,
        ["dev", "up"],
        env=_free_service_ports() | named | {"BPO_RUN_DIR": str(tmp_path), "COLUMNS": "200"},
        catch_exceptions=False,
    )
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "intake: migrations not applied: " in result.output
    assert not (tmp_path / "logs").exists(), "no service was started"


def test_dev_up_refuses_a_nats_port_another_server_answers_on(tmp_path: Path) -> None:
    with _a_taken_port() as port:
        result = CliRunner().invoke(
            app,
            ["dev", "up", "--nats-port", str(port), "--postgres-port", str(servers.free_port())],
            env=_free_service_ports() | {"BPO_RUN_DIR": str(tmp_path), "COLUMNS": "200"},
        )
    assert result.exit_code == 1
    assert f"ports in use by another server: {port}" in result.output
    assert not (tmp_path / "dev" / "postgres").exists(), "nothing was started"


def test_dev_up_uses_the_servers_named_in_settings_and_starts_none(stack: TestStack) -> None:
    dev = DevUp(stack.root / "dev-up-external", _existing_servers(stack))
    process = dev.start()
    try:
        for service in SERVICES:
            assert httpx.get(f"{dev.url(service)}/readyz").json()["status"] == "ready"
        assert not (dev.run_dir / "dev").exists(), "no PostgreSQL or NATS of its own"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
    assert servers.port_open(stack.postgres_port), "the existing servers keep running"
    assert servers.port_open(int(stack.urls.nats_url.rsplit(":", 1)[1]))


def test_dev_up_with_only_some_servers_named_says_which_are_missing(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["dev", "up"],
        env=_free_service_ports()
        | {"BPO_RUN_DIR": str(tmp_path), "BPO_NATS_URL": "nats://127.0.0.1:1"},
    )
    assert result.exit_code == 2
    assert "BPO_BILLING_DATABASE_URL" in result.output
    assert "BPO_INTAKE_DATABASE_URL" in result.output


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+asyncpg"])
def test_dev_up_migrates_the_databases_named_as_the_services_read_their_urls(
    scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BPO_NATS_URL", "nats://db.example:4222")
    for service in SERVICES:
        monkeypatch.setenv(
            f"BPO_{service.upper()}_DATABASE_URL", f"{scheme}://u:p@db.example/bpo_{service}"
        )
    urls = local._external_urls()
    assert urls is not None
    assert urls.database_urls == {
        service: f"postgresql+asyncpg://u:p@db.example/bpo_{service}" for service in SERVICES
    }


def test_dev_up_refuses_a_database_url_of_another_kind_naming_it(tmp_path: Path) -> None:
    named = {"BPO_NATS_URL": "nats://127.0.0.1:1"} | {
        f"BPO_{service.upper()}_DATABASE_URL": f"postgresql://u:p@127.0.0.1:1/bpo_{service}"
        for service in SERVICES
    }
    result = CliRunner().invoke(
        app,
        ["dev", "up"],
        env=_free_service_ports()
        | named
        | {"BPO_RUN_DIR": str(tmp_path), "COLUMNS": "200"}
        | {"BPO_BILLING_DATABASE_URL": "mysql://u:p@db/billing"},
    )
    assert result.exit_code == 2
    assert "BPO_BILLING_DATABASE_URL: must be postgresql+asyncpg://" in result.output


class _Unstarted:
    """Stands in for a service's process: what it would have run, never run."""

    def __init__(self, command: list[str], **options: Any) -> None:
        self.command = command
        self.pass_fds: tuple[int, ...] = options.get("pass_fds", ())

    def poll(self) -> int:
        return 0


def test_dev_up_listens_where_bpo_service_host_says_and_on_loopback_otherwise(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    every_address = "0.0.0.0"  # noqa: S104 (what a tester on another machine would set)
    monkeypatch.setenv("BPO_INTAKE_HOST", every_address)
    monkeypatch.setenv("BPO_REPORTING_HOST", "127.0.0.2")
    monkeypatch.setattr(subprocess, "Popen", _Unstarted)
    hosts, ports = local.listen_addresses()
    one = servers.Services({}, ports, tmp_path, hosts=hosts)
    for service in SERVICES:
        one.start_replica(service)
    listening = {name: cast(_Unstarted, process).command for name, process in one.processes.items()}
    assert {name: command[command.index("--host") + 1] for name, command in listening.items()} == {
        "intake": every_address,
        "validation": "127.0.0.1",
        "billing": "127.0.0.1",
        "reporting": "127.0.0.2",
    }
    assert one.url("reporting") == f"http://127.0.0.2:{ports['reporting']}"
    # make run-cluster: the replicas share one socket, bound to the same address.
    replicas = servers.Services({}, {"reporting": servers.free_port()}, tmp_path, 2, hosts=hosts)
    replicas.start_replica("reporting-1")
    (fd,) = cast(_Unstarted, replicas.processes["reporting-1"]).pass_fds
    with socket.socket(fileno=os.dup(fd)) as shared:
        assert shared.getsockname()[0] == "127.0.0.2"
    replicas.stop()
    one.stop()


def test_serve_runs_a_services_api_and_worker_its_background_work_alone(
    stack: TestStack,
) -> None:
    port, worker_port = servers.free_port(), servers.free_port()
    env = {
        **os.environ,
        **stack.service_environment({service: servers.free_port() for service in SERVICES}),
        "BPO_INTAKE_PORT": str(port),
        "BPO_INTAKE_WORKER_PORT": str(worker_port),
    }
    commands = {
        name: subprocess.Popen([sys.executable, "-m", "bpo_cli", name, "intake"], env=env)
        for name in ("serve", "worker")
    }
    try:
        servers.wait_ready({"intake api": port, "intake worker": worker_port})
        # The API has its routes (a request without a token is refused); the worker has none.
        assert httpx.get(f"http://127.0.0.1:{port}/v1/jobs").status_code == 401
        assert httpx.get(f"http://127.0.0.1:{worker_port}/v1/jobs").status_code == 404
        assert httpx.get(f"http://127.0.0.1:{worker_port}/metrics").status_code == 200
    finally:
        servers.stop_services(commands)


def test_serve_keeps_idle_connections_open_longer_than_the_proxies_in_front(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ingress-nginx and AWS's load balancers keep an idle connection to a service 60 s: the
    service must not close it first, or a request sent on it as it closes is answered 502."""
    import uvicorn

    given: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda _app, **options: given.update(options))
    url = "postgresql+asyncpg://u:p@127.0.0.1:1/bpo_billing"
    result = CliRunner().invoke(
        app, ["serve", "billing"], env={"BPO_BILLING_DATABASE_URL": url}, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert given["timeout_keep_alive"] > 60


def test_keys_never_replaces_a_private_key_and_derives_a_missing_public_one(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "jwt"
    made = CliRunner().invoke(app, ["keys", "--dir", str(directory)])
    assert made.exit_code == 0, made.output
    private, public = (directory / "private.pem").read_bytes(), (directory / "public.pem")
    assert (directory / "private.pem").stat().st_mode & 0o777 == 0o600
    shipped = public.read_bytes()
    public.unlink()  # moved to where the services read it

    again = CliRunner().invoke(app, ["keys", "--dir", str(directory)])
    assert again.exit_code == 0, again.output
    assert (directory / "private.pem").read_bytes() == private, "the signing key is kept"
    assert public.read_bytes() == shipped, "its public key, derived again"

    (directory / "private.pem").unlink()
    orphan = CliRunner().invoke(app, ["keys", "--dir", str(directory)], env={"COLUMNS": "200"})
    assert orphan.exit_code == 1
    assert "has no private key beside it" in orphan.output
    assert not (directory / "private.pem").exists(), "no new pair behind the user's back"


def test_keys_keeps_a_copy_of_the_public_key_alone_where_asked(tmp_path: Path) -> None:
    pair, public = tmp_path / "keys", tmp_path / "public-keys"
    made = CliRunner().invoke(app, ["keys", "--dir", str(pair), "--public-dir", str(public)])
    assert made.exit_code == 0, made.output
    assert [p.name for p in public.iterdir()] == ["public.pem"]
    assert (public / "public.pem").read_bytes() == (pair / "public.pem").read_bytes()
    assert (public / "public.pem").stat().st_mode & 0o777 == 0o644

    (public / "public.pem").write_text("another pair's")
    again = CliRunner().invoke(app, ["keys", "--dir", str(pair), "--public-dir", str(public)])
    assert again.exit_code == 0, again.output
    assert (public / "public.pem").read_bytes() == (pair / "public.pem").read_bytes()
    assert [p.name for p in public.iterdir()] == ["public.pem"]


def test_token_signs_with_the_configured_keys_algorithm_and_says_what_is_wrong_with_it(
    tmp_path: Path,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "ec.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    signed = CliRunner().invoke(
        app, ["token", "--role", "manager"], env={"BPO_JWT_PRIVATE_KEY_FILE": str(pem)}
    )
    assert signed.exit_code == 0, signed.output
    assert jwt.decode(signed.stdout.strip(), key.public_key(), algorithms=["ES256"], audience="bpo")

    mismatched = CliRunner().invoke(
        app,
        ["token", "--role", "manager"],
        env={"BPO_JWT_PRIVATE_KEY_FILE": str(pem), "BPO_JWT_ALGORITHM": "RS256"},
    )
    assert mismatched.exit_code == 1
    assert "BPO_JWT_ALGORITHM is RS256, but the key signs ES256" in mismatched.stderr
    rsa_key = ensure_key_pair(tmp_path / "rsa")[0]
    longer = CliRunner().invoke(
        app,
        ["token", "--role", "manager"],
        env={"BPO_JWT_PRIVATE_KEY_FILE": str(rsa_key), "BPO_JWT_ALGORITHM": "RS512"},
    )
    assert jwt.get_unverified_header(longer.stdout.strip())["alg"] == "RS512"

    missing = CliRunner().invoke(
        app,
        ["token", "--role", "manager"],
        env={"BPO_JWT_PRIVATE_KEY_FILE": str(tmp_path / "nowhere.pem")},
    )
    assert missing.exit_code == 1
    assert "no key to sign tokens with" in missing.stderr
    assert "nowhere.pem" in missing.stderr


def test_token_refuses_a_public_or_encrypted_key_saying_so_without_a_traceback(
    tmp_path: Path,
) -> None:
    private_pem, public_pem = ensure_key_pair(tmp_path / "pair")
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        serialization.load_pem_private_key(private_pem.read_bytes(), None).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    for key, said in [
        (public_pem, "the key is a public key: tokens are signed with the private key of its pair"),
        (encrypted, "the private key is encrypted: decrypt it"),
    ]:
        refused = CliRunner().invoke(
            app, ["token", "--role", "manager"], env={"BPO_JWT_PRIVATE_KEY_FILE": str(key)}
        )
        assert refused.exit_code == 1, refused.output
        assert isinstance(refused.exception, SystemExit), refused.exception
        assert f"no key to sign tokens with: {said}" in refused.stderr
        assert refused.stdout == "", "no token"


@pytest.mark.parametrize("key_id", ["a:b", "", "k 1"])
def test_kek_refuses_an_id_bpo_kek_could_not_hold_naming_the_option(key_id: str) -> None:
    refused = CliRunner().invoke(app, ["kek", "--id", key_id], env={"COLUMNS": "200"})
    assert refused.exit_code == 2, refused.output
    assert isinstance(refused.exception, SystemExit), refused.exception
    assert "Invalid value for --id: a KEK id has letters, digits, - and _ only" in refused.output


def test_token_says_when_it_made_a_new_key_pair(tmp_path: Path) -> None:
    first = CliRunner().invoke(
        app, ["token", "--role", "manager"], env={"BPO_RUN_DIR": str(tmp_path)}
    )
    assert first.exit_code == 0, first.output
    assert "made a new signing key pair" in first.stderr
    assert first.stdout.count(".") == 2, "stdout holds the token alone"
    second = CliRunner().invoke(
        app, ["token", "--role", "manager"], env={"BPO_RUN_DIR": str(tmp_path)}
    )
    assert second.stderr == ""


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        (["--keyers", "3"], "leave 1 to key; a double job needs 2: give --keyers 4 or more"),
        (["--keyers", "2", "--mode", "single"], "a single job needs 1: give --keyers 3"),
        (["--mode", "verify"], "'verify' is not one of"),
    ],
)
def test_the_demo_refuses_a_crew_that_could_never_finish_the_job(
    options: list[str], refusal: str
) -> None:
    result = CliRunner().invoke(app, ["demo", *options], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert refusal in " ".join(result.output.split())


URL = "BPO_INTAKE_DATABASE_URL"


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({URL: None}, f"{URL}: not set"),
        ({URL: "mysql://u:p@db/intake"}, f"{URL}: must be postgresql+asyncpg://"),
        (
            {URL: "postgres://u:p@127.0.0.1:1/intake", "BPO_STREAM_MAX_AGE_DAYS": "-1"},
            "  BPO_STREAM_MAX_AGE_DAYS: Input should be greater than or equal to 0",
        ),
        ({URL: "postgres://u:p@127.0.0.1:1/intake"}, "intake: migrations not applied: "),
        (
            {URL: "postgres://u:p@127.0.0.1:1/intake?sslmode=require"},
            "intake: migrations not applied: ",
        ),
        ({URL: "postgres://u:p@db/intake?sslmode=on"}, f"{URL}: sslmode must be one of"),
    ],
    ids=["missing", "other-database", "shared-setting", "unreachable", "unreachable-tls", "tls"],
)
def test_a_command_says_which_setting_is_wrong_or_what_it_could_not_reach(
    env: dict[str, str | None], said: str
) -> None:
    result = CliRunner().invoke(
        app, ["migrate", "intake"], env={**env, "COLUMNS": "200"}, catch_exceptions=False
    )
    assert result.exit_code == 1, result.output
    assert said in result.output
    assert "Traceback" not in result.output


def test_migrating_another_services_database_is_refused_saying_so(stack: TestStack) -> None:
    billing = stack.urls.database_urls["billing"]
    result = CliRunner().invoke(
        app, ["migrate", "intake"], env={URL: billing, "COLUMNS": "200"}, catch_exceptions=False
    )
    assert result.exit_code == 1, result.output
    assert "intake: migrations not applied: Can't locate revision" in result.output


def test_a_rebuild_without_a_local_stack_says_which_setting_is_missing(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["reporting", "rebuild"],
        env={"BPO_REPORTING_DATABASE_URL": None, "BPO_RUN_DIR": str(tmp_path), "COLUMNS": "200"},
        catch_exceptions=False,
    )
    assert result.exit_code == 1, result.output
    assert "BPO_REPORTING_DATABASE_URL: not set" in result.output
    assert "Traceback" not in result.output


def test_a_rebuild_whose_database_cannot_be_reached_says_so_without_a_traceback(
    stack: TestStack,
) -> None:
    result = CliRunner().invoke(
        app,
        ["reporting", "rebuild"],
        env={
            "BPO_REPORTING_DATABASE_URL": "postgresql+asyncpg://bpo:secret@127.0.0.1:1/bpo",
            "BPO_NATS_URL": stack.urls.nats_url,
            "COLUMNS": "200",
        },
        catch_exceptions=False,
    )
    assert result.exit_code == 1, result.output
    assert "not rebuilt, the read models are as they were:" in result.output
    assert "Traceback" not in result.output


def test_a_rebuild_against_a_nats_without_the_stream_says_so_without_a_traceback(
    stack: TestStack,
) -> None:
    """A NATS the services never ran against: one with JetStream and no stream BPO, and one
    without JetStream."""
    with_jetstream = servers.NatsServer(stack.root / "nats-streamless", servers.free_port())
    port = servers.free_port()
    without = subprocess.Popen(
        [str(Path(sys.executable).parent / "nats-server"), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with_jetstream.start()
    try:
        for url, said in [
            (with_jetstream.url, f"the NATS at {with_jetstream.url} has no stream BPO"),
            (f"nats://127.0.0.1:{port}", f"the NATS at nats://127.0.0.1:{port} has no JetStream"),
        ]:
            result = CliRunner().invoke(
                app,
                ["reporting", "rebuild"],
                env={
                    "BPO_REPORTING_DATABASE_URL": stack.urls.database_urls["reporting"],
                    "BPO_NATS_URL": url,
                    "COLUMNS": "300",
                },
                catch_exceptions=False,
            )
            assert result.exit_code == 1, result.output
            assert "not rebuilt, the read models are as they were:" in result.output
            assert said in result.output
            assert "Traceback" not in result.output
    finally:
        with_jetstream.stop()
        without.kill()
        without.wait()


def test_a_rebuild_without_settings_uses_the_database_and_nats_of_the_local_stack(
    stack: TestStack, tmp_path: Path
) -> None:
    """As `make run` leaves it: the stack in the run folder's dev/, its passwords its own."""
    (tmp_path / "dev").symlink_to(stack.root)

    async def with_stream() -> None:
        client = await connect(stack.urls.nats_url, name="test")
        try:
            await ensure_stream(client.jetstream())
        finally:
            await client.close()

    asyncio.run(with_stream())
    result = CliRunner().invoke(
        app,
        ["reporting", "rebuild"],
        env={
            "BPO_REPORTING_DATABASE_URL": None,
            "BPO_NATS_URL": None,
            "BPO_RUN_DIR": str(tmp_path),
            "COLUMNS": "200",
        },
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert f"using the database and NATS of the local stack in {tmp_path / 'dev'}" in result.output
    assert "reporting: read models rebuilt from" in result.output


def test_a_stale_pid_file_stops_the_server_it_named_and_no_other_program(tmp_path: Path) -> None:
    # After a reboot, the number a stack's pid file holds may be anyone's.
    bystander = subprocess.Popen(["sleep", "60"])
    port = servers.free_port()
    nats = subprocess.Popen(
        [str(Path(sys.executable).parent / "nats-server"), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        (tmp_path / "nats").mkdir()
        pid_file = tmp_path / "nats" / "nats.pid"
        pid_file.write_text(str(bystander.pid))
        servers.stop_abandoned(tmp_path)
        assert bystander.poll() is None, "not a NATS server: left alone"
        for _ in range(600):
            if servers.port_open(port):
                break
            time.sleep(0.05)
        assert servers.runs(nats.pid, "nats-server"), _seen(nats.pid)
        assert not servers.runs(bystander.pid, "nats-server"), _seen(bystander.pid)
        pid_file.write_text(str(nats.pid))
        servers.stop_abandoned(tmp_path)
        # Stopped: it ends (given a moment on a busy machine), and is no longer running.
        nats.wait(timeout=15)
        assert not servers.process_alive(nats.pid)
    finally:
        bystander.kill()
        nats.kill()


def _seen(pid: int) -> str:
    """What the system shows of process `pid`, to tell why it was not recognised."""
    shown = {"our pid": str(os.getpid()), "/proc/self": os.readlink("/proc/self")}
    for part in ("comm", "exe", "cmdline"):
        try:
            path = Path(f"/proc/{pid}/{part}")
            shown[part] = os.readlink(path) if part == "exe" else path.read_text()
        except OSError as error:
            shown[part] = repr(error)
    return repr(shown)


def test_a_stack_stops_when_its_terminal_closes_unless_started_with_nohup() -> None:
    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    before = signal.getsignal(signal.SIGHUP)
    try:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        servers.on_hangup(stop)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN, "nohup's choice stands"
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        servers.on_hangup(stop)
        assert signal.getsignal(signal.SIGHUP) is stop
    finally:
        signal.signal(signal.SIGHUP, before)


def test_waiting_for_migrations_ends_once_they_have_run(stack: TestStack) -> None:
    """`bpo migrate SERVICE --wait`, an init container's command: it waits while the
    database is behind, returns once it is at the head, and refuses another service's."""
    name = f"bpo_wait_{new_id().hex[-12:]}"
    server = f"postgres:{stack.credentials.superuser}@{stack.postgres_host}:{stack.postgres_port}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(f"postgresql://{server}/postgres")
        await connection.execute(statement)
        await connection.close()

    def migrate(url: str, *options: str) -> Result:
        env = {URL: url, "COLUMNS": "200"}
        return CliRunner().invoke(app, ["migrate", "intake", *options], env=env)

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        url = f"postgresql+asyncpg://{server}/{name}"
        behind = migrate(url, "--wait", "--timeout", "1")
        assert behind.exit_code == 1, behind.output
        assert "intake: waiting for migrations: no migration has run" in behind.output
        assert migrate(url).exit_code == 0
        ready = migrate(url, "--wait", "--timeout", "1")
        assert ready.exit_code == 0, ready.output
        assert "intake: the database is at this release's migrations" in ready.output
        other = migrate(stack.urls.database_urls["billing"], "--wait", "--timeout", "30")
        assert other.exit_code == 1
        assert "not intake's" in other.output
    finally:
        asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))
