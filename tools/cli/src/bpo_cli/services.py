"""The four services as commands name them, and their settings read, and their migrations
applied, the way every command does it."""

import importlib
from enum import StrEnum
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console

from bpo_common.settings import explain

console = Console()


class Service(StrEnum):
    INTAKE = "intake"
    VALIDATION = "validation"
    BILLING = "billing"
    REPORTING = "reporting"


def service_settings(service: Service, **overrides: Any) -> Any:
    """The service's settings from the environment; what is wrong with them ends the command,
    by variable."""
    settings = importlib.import_module(f"bpo_{service.value}.settings").Settings
    try:
        return settings(**overrides)
    except ValidationError as exc:
        console.print(f"[red]{service.value}: the settings are not right[/red]")
        for line in explain(exc, settings):
            console.print(f"  {line}")
        raise typer.Exit(1) from exc


def apply_migrations(service: Service, database_url: str) -> None:
    """Bring the service's database at `database_url` to this release's migrations; what
    stops them ends the command, saying why."""
    from alembic.util import CommandError
    from sqlalchemy.exc import DBAPIError

    from bpo_common.migrations import upgrade

    try:
        upgrade(f"bpo_{service.value}", database_url)
    except (OSError, DBAPIError, CommandError) as exc:
        # CommandError: the database is at a revision these migrations do not know (another
        # service's database, or a newer release's).
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        console.print(f"[red]{service.value}: migrations not applied:[/red] {reason}")
        raise typer.Exit(1) from exc
