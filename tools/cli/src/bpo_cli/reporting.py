"""`bpo reporting …`: operations on the reporting service's read models."""

import asyncio
import os
from typing import Annotated

import typer
from rich.console import Console

from bpo_cli.services import Service, service_settings

app = typer.Typer(no_args_is_help=True, help="The reporting service's read models.")
console = Console()


@app.command()
def rebuild(
    partial: Annotated[
        bool,
        typer.Option(
            "--partial",
            help="rebuild from the events the stream still holds, though it lacks some the "
            "read models count, or may have dropped older ones (BPO_STREAM_MAX_AGE_DAYS): the "
            "reports then count only those",
        ),
    ] = False,
) -> None:
    """Rebuild every read model from the event stream BPO, replayed from its first event.

    Uses BPO_REPORTING_DATABASE_URL and BPO_NATS_URL (with BPO_NATS_USER and
    BPO_NATS_PASSWORD where NATS asks for them); without them, those of the stack `make run`
    runs in BPO_RUN_DIR. Runs in one transaction: reports and
    the service's consumer wait until it commits (they need not be stopped), and a failure
    leaves the read models as they were (an event the consumer dead-lettered that fails again
    is left out instead). Refused, saying what the reports would lose, when the stream no
    longer holds events the read models count (its store lost and the stream made anew, or
    purged), or may have dropped its oldest (BPO_STREAM_MAX_AGE_DAYS), unless --partial.
    """
    from nats.errors import Error as NatsError
    from nats.errors import NoRespondersError
    from nats.js.errors import NotFoundError, ServiceUnavailableError
    from sqlalchemy.exc import DBAPIError

    from bpo_common.db import create_engine, create_session_factory
    from bpo_common.events import STREAM_NAME
    from bpo_common.messaging import StreamStalled
    from bpo_reporting.service.rebuild import HistoryGone
    from bpo_reporting.service.rebuild import rebuild as replay

    settings = service_settings(Service.REPORTING, **_local_stack())

    async def run() -> None:
        engine = create_engine(settings.database_url.get_secret_value(), pool_size=1)
        try:
            done = await replay(
                create_session_factory(engine, source="reporting"),
                settings.nats_url,
                partial=partial,
                nats_user=settings.nats_user,
                nats_password=settings.nats_password,
            )
        finally:
            await engine.dispose()
        console.print(
            f"reporting: read models rebuilt from {done.events_read:,} events "
            f"(stream sequence up to {done.last_sequence:,}; {done.events_applied:,} applied) "
            f"in {done.seconds:.1f} s"
        )
        if done.events_left_out:
            console.print(
                f"[yellow]left out {done.events_left_out:,} events the service's consumer gave "
                "up on, which failed again, or messages that are no event[/yellow] (its "
                "dead_letter table keeps them)"
            )

    try:
        asyncio.run(run())
    except HistoryGone as exc:
        console.print(
            f"[red]not rebuilt, the read models are as they were:[/red] {exc}. --partial "
            "rebuilds from what is left."
        )
        raise typer.Exit(1) from exc
    except StreamStalled as exc:
        console.print(f"[red]not rebuilt, the read models are as they were:[/red] {exc}")
        raise typer.Exit(1) from exc
    except NatsError as exc:
        # NATS answered, but not with the stream: one the services never ran against (or
        # whose store was lost) has none; one without JetStream, or whose JetStream has no
        # leader yet, cannot give it.
        at = f"the NATS at {settings.nats_url}"
        if isinstance(exc, NotFoundError):
            reason = f"{at} has no stream {STREAM_NAME}"
        elif isinstance(exc, ServiceUnavailableError | NoRespondersError):
            reason = f"{at} has no JetStream answering (not enabled, or no leader yet)"
        else:
            reason = f"{at} did not give the stream {STREAM_NAME}: {exc}"
        console.print(f"[red]not rebuilt, the read models are as they were:[/red] {reason}")
        raise typer.Exit(1) from exc
    except (OSError, DBAPIError) as exc:
        # NATS or the database cannot be reached (or refuses the login).
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        console.print(f"[red]not rebuilt, the read models are as they were:[/red] {reason}")
        raise typer.Exit(1) from exc


def _local_stack() -> dict[str, str]:
    """Without BPO_REPORTING_DATABASE_URL, the database (and, without BPO_NATS_URL, the NATS)
    of the stack `make run` runs in BPO_RUN_DIR, whose passwords are its own: as `bpo token`
    signs with that stack's key pair. Nothing where no such stack runs, or where the local
    stack's tooling is not installed (a service's image)."""
    if os.environ.get("BPO_REPORTING_DATABASE_URL"):
        return {}
    try:
        from bpo_cli.local import running_stack
    except ImportError:
        return {}
    running = running_stack()
    if running is None:
        return {}
    root, urls = running
    if os.environ.get("BPO_NATS_URL"):
        console.print(f"reporting: using the database of the local stack in {root}")
        return {"database_url": urls.database_urls["reporting"]}
    console.print(f"reporting: using the database and NATS of the local stack in {root}")
    return {"database_url": urls.database_urls["reporting"], "nats_url": urls.nats_url}
