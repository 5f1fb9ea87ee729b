"""The four services as commands name them, and their settings read the way every command
reads them."""

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
