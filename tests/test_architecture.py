"""The boundaries the architecture draws, checked on the source."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("intake", "validation", "billing", "reporting")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    others = {f"bpo_{other}" for other in SERVICES if other != service}
    offending = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted((ROOT / "services" / service).rglob("*.py"))
        for module in sorted(_imported_modules(path))
        if module.split(".")[0] in others
    ]
    assert offending == []


def test_the_shared_library_imports_no_service() -> None:
    services = {f"bpo_{service}" for service in SERVICES}
    offending = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted((ROOT / "libs" / "common" / "src").rglob("*.py"))
        for module in sorted(_imported_modules(path))
        if module.split(".")[0] in services
    ]
    assert offending == []


def test_every_service_has_the_same_few_parts() -> None:
    expected = {"app", "settings", "routes", "service", "models", "repository"}
    for service in SERVICES:
        package = ROOT / "services" / service / "src" / f"bpo_{service}"
        # A part is a module, or a package once it has grown past one idea.
        parts = {path.stem for path in package.glob("*.py")}
        parts |= {path.parent.name for path in package.glob("*/__init__.py")}
        assert expected <= parts, service


def test_every_router_refuses_text_the_database_cannot_store() -> None:
    """Each APIRouter is made with route_class=CheckedRoute (bpo_common.text)."""
    sources = [
        *(ROOT / "services").rglob("*.py"),
        *(ROOT / "libs" / "common" / "src").rglob("*.py"),
    ]
    routers, unchecked = 0, []
    for path in sorted(sources):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "APIRouter":
                routers += 1
                route_class = {k.arg: k.value for k in node.keywords}.get("route_class")
                if getattr(route_class, "id", None) != "CheckedRoute":
                    unchecked.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert routers >= 12
    assert unchecked == []
