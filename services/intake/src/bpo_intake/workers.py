"""Every background loop of the intake service.

The outbox relay runs for every service (bpo_common.service starts it); intake adds its
consumer of validation's decisions, the lease sweep, the check for work nobody may take,
the webhook sender, the page renderer, OCR, extraction and document retention. Each loop
runs on every replica, side by side: each step takes its rows with SKIP LOCKED or a lease,
or (the check) does what another replica may do as well.
"""

from datetime import timedelta

import httpx

from bpo_common.clock import utcnow
from bpo_common.loops import keep_running, pause
from bpo_common.service import Runtime, Workers
from bpo_intake.consumers import subscriptions
from bpo_intake.service import documents, extraction, tasks, webhooks
from bpo_intake.service.ocr import Tesseract
from bpo_intake.settings import Settings

WEBHOOK_IDLE_S = 1.0
UNCLAIMABLE_CHECK_S = 60.0
RENDER_IDLE_S = 0.5
EXTRACT_IDLE_S = 0.5
RETENTION_CHECK_S = 3600.0


async def sweep_leases(runtime: Runtime) -> None:
    """Give expired leases back to the queue, every few seconds while there are none."""
    settings = runtime.settings_as(Settings)

    async def sweep() -> bool:
        async with runtime.sessions() as session, session.begin():
            swept = await tasks.sweep_expired_leases(session, max_attempts=settings.max_attempts)
        return swept > 0

    await keep_running("lease sweep", sweep, pause(settings.sweep_interval_s))


async def flag_unclaimable_items(runtime: Runtime) -> None:
    """Flag the items nobody may take work of, once a minute."""
    settings = runtime.settings_as(Settings)
    waited = timedelta(seconds=settings.unclaimable_after_s)

    async def flag() -> bool:
        async with runtime.sessions() as session, session.begin():
            flagged = await tasks.flag_unclaimable_items(session, waited=waited)
        return flagged == tasks.SWEEP_BATCH

    await keep_running("unclaimable check", flag, pause(UNCLAIMABLE_CHECK_S))


async def deliver_webhooks(runtime: Runtime) -> None:
    """Send due webhooks for the app's lifetime."""
    settings = runtime.settings_as(Settings)
    # Straight to the checked address: a proxy from the environment would resolve it again.
    async with httpx.AsyncClient(
        timeout=settings.webhook_timeout_s, follow_redirects=False, trust_env=False
    ) as http:

        async def deliver() -> bool:
            return await webhooks.deliver_due(runtime.sessions, http, settings, utcnow()) > 0

        await keep_running("webhook sender", deliver, pause(WEBHOOK_IDLE_S))


async def render_pages(runtime: Runtime) -> None:
    """Render the pages of uploaded documents to web images, as they come."""
    settings = runtime.settings_as(Settings)
    objects = documents.document_store(settings)

    async def render() -> bool:
        async with runtime.sessions() as session, session.begin():
            rendered = await documents.render_pending(session, objects)
        return rendered == documents.RENDER_BATCH

    await keep_running("page renderer", render, pause(RENDER_IDLE_S))


async def read_pages(runtime: Runtime) -> None:
    """OCR the pages that have no text layer, a few at a time."""
    settings = runtime.settings_as(Settings)
    objects = documents.document_store(settings)
    engine = Tesseract(settings.ocr_languages, settings.ocr_timeout_s)

    async def read() -> bool:
        async with runtime.sessions() as session, session.begin():
            read = await extraction.read_pending(session, objects, engine)
        return read == extraction.OCR_BATCH

    await keep_running("page reader", read, pause(RENDER_IDLE_S))


async def extract_items(runtime: Runtime) -> None:
    """Suggest the fields of items whose pages are read; learn from accepted items."""

    async def extract() -> bool:
        async with runtime.sessions() as session, session.begin():
            handled = await extraction.extract_pending(session)
        return handled > 0

    await keep_running("extraction", extract, pause(EXTRACT_IDLE_S))


async def delete_expired_documents(runtime: Runtime) -> None:
    """Delete documents whose job's retention has run out, once an hour."""
    settings = runtime.settings_as(Settings)
    objects = documents.document_store(settings)

    async def delete() -> bool:
        async with runtime.sessions() as session, session.begin():
            deleted = await documents.delete_expired(
                session, objects, settings.document_retention_days, utcnow()
            )
        return deleted == documents.RETENTION_BATCH

    await keep_running("document retention", delete, pause(RETENTION_CHECK_S))


def workers(settings: Settings) -> Workers:
    """Intake's loops and consumers; the outbox relay runs for every service besides these."""
    return Workers(
        subscriptions=subscriptions,
        loops=[
            sweep_leases,
            flag_unclaimable_items,
            deliver_webhooks,
            render_pages,
            read_pages,
            extract_items,
            delete_expired_documents,
        ],
    )
