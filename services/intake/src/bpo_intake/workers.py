"""Every background loop of the intake service.

The outbox relay runs for every service (bpo_common.service starts it); intake adds its
consumer of validation's decisions, the lease sweep, the check for work nobody may take,
the webhook sender, the page renderer, OCR, extraction, document retention, data retention,
the emptying of erased values from the stream's events, the answerer of validation's
requests for data keys and the rewrapping of data keys after a KEK rotation.
Each loop runs on every replica, side by side: each step takes its rows with SKIP LOCKED or a
lease, or (the check) does what another replica may do as well; the answerers share the
requests as a queue group.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from uuid import UUID

import httpx
import structlog
from nats.aio.msg import Msg

from bpo_common.clock import utcnow
from bpo_common.contracts.intake import DATA_KEYS_SUBJECT
from bpo_common.loops import keep_running, pause
from bpo_common.service import Runtime, Workers
from bpo_intake.consumers import subscriptions
from bpo_intake.domain.documents import WORK_CHANNEL
from bpo_intake.domain.erasure import RetentionFailures
from bpo_intake.repository.claim_keys import CLAIM_KEY
from bpo_intake.repository.jobs import DATA_KEYS
from bpo_intake.service import (
    documents,
    erasure,
    extraction,
    keys,
    orphans,
    rendering,
    tasks,
    webhooks,
)
from bpo_intake.service.ocr import Tesseract
from bpo_intake.settings import Settings

WEBHOOK_IDLE_S = 1.0
UNCLAIMABLE_CHECK_S = 60.0
# The document loops wait for a notification of their work (domain.documents.WORK_CHANNEL);
# work whose notification was lost (the listening connection closed) waits at most this.
DOCUMENTS_POLL_S = 5.0
RETENTION_CHECK_S = 3600.0
ORPHANS_CHECK_S = 86400.0
STREAM_ERASURE_CHECK_S = 5.0

log = structlog.get_logger(__name__)


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
    async with (
        httpx.AsyncClient(
            timeout=settings.webhook_timeout_s, follow_redirects=False, trust_env=False
        ) as http,
        asyncio.TaskGroup() as sends,
    ):
        sender = webhooks.Sender(runtime.sessions, http, settings, sends)

        async def deliver() -> bool:
            return await sender.step(utcnow()) > 0

        async def idle() -> None:
            await sender.idle(WEBHOOK_IDLE_S)

        await keep_running("webhook sender", deliver, idle)


def _documents_work(runtime: Runtime) -> Callable[[], Awaitable[None]]:
    """A document loop's idle wait: until a transaction notifies documents' work, or
    DOCUMENTS_POLL_S."""
    return runtime.notifications.waiter(WORK_CHANNEL).pause(DOCUMENTS_POLL_S)


async def render_pages(runtime: Runtime) -> None:
    """Render the pages of uploaded documents to web images, as they come."""
    settings = runtime.settings_as(Settings)
    objects = documents.document_store(settings)
    reader = documents.document_decoder(settings)
    awaited: dict[UUID, datetime] = {}

    async def render() -> bool:
        rendered = await rendering.render_pending(runtime.sessions, objects, reader, awaited)
        return rendered == rendering.RENDER_BATCH

    await keep_running("page renderer", render, _documents_work(runtime))


async def read_pages(runtime: Runtime) -> None:
    """OCR the pages that have no text layer, a few at a time."""
    settings = runtime.settings_as(Settings)
    objects = documents.document_store(settings)
    engine = Tesseract(settings.ocr_languages, settings.ocr_timeout_s)

    async def read() -> bool:
        read = await extraction.read_pending(runtime.sessions, objects, engine)
        return read == extraction.OCR_BATCH

    await keep_running("page reader", read, _documents_work(runtime))


async def extract_items(runtime: Runtime) -> None:
    """Suggest the fields of items whose pages are read; learn from accepted items."""

    keys = runtime.settings_as(Settings).data_keys()

    async def extract() -> bool:
        async with runtime.sessions() as session, session.begin():
            handled = await extraction.extract_pending(session, keys)
        return handled > 0

    await keep_running("extraction", extract, _documents_work(runtime))


async def delete_expired_documents(runtime: Runtime) -> None:
    """Delete documents whose job's retention has run out, and sweep again the bytes of
    deleted documents that a sweep left (the store away), once an hour."""
    settings = runtime.settings_as(Settings)
    objects = documents.document_store(settings)

    async def delete() -> bool:
        released: list[documents.StoredBytes] = []
        async with runtime.sessions() as session, session.begin():
            deleted = await documents.delete_expired(
                session, settings.document_retention_days, utcnow(), released
            )
        await documents.sweep(runtime.sessions, objects, released)
        left = await documents.sweep_left(runtime.sessions, objects, utcnow())
        return documents.RETENTION_BATCH in (deleted, left)

    await keep_running("document retention", delete, pause(RETENTION_CHECK_S))


async def sweep_orphaned_bytes(runtime: Runtime) -> None:
    """Delete the bytes in the document store that no document has, at start and then once a
    day (the store's every object is listed: for a bucket of 100 million objects, some
    100,000 list requests a pass)."""
    objects = documents.document_store(runtime.settings_as(Settings))

    async def sweep() -> bool:
        await orphans.sweep_orphans(runtime.sessions, objects, utcnow())
        return False

    await keep_running("orphaned bytes", sweep, pause(ORPHANS_CHECK_S))


async def erase_past_retention(runtime: Runtime) -> None:
    """Erase the data of jobs that ended longer ago than their client's retention, a batch at
    a time, then check again every hour."""
    settings = runtime.settings_as(Settings)
    objects = documents.document_store(settings)
    keys = settings.data_keys()
    failures = RetentionFailures()

    async def erase() -> bool:
        released: list[documents.StoredBytes] = []
        async with runtime.sessions() as session, session.begin():
            due = await erasure.erase_past_retention(
                session, keys, settings.retention_days, utcnow(), released, failures
            )
        await documents.sweep(runtime.sessions, objects, released)
        # More may be due (a job that failed is passed over by the next batch).
        return due == erasure.RETENTION_BATCH

    await keep_running("data retention", erase, pause(RETENTION_CHECK_S))


async def erase_from_the_stream(runtime: Runtime) -> None:
    """Empty the stream's events of the values of finished erasures, every few seconds."""

    async def erase() -> bool:
        done = await erasure.erase_from_the_stream(runtime.sessions, runtime.js)
        return done == erasure.STREAM_BATCH

    await keep_running("stream erasure", erase, pause(STREAM_ERASURE_CHECK_S))


async def answer_data_key_requests(runtime: Runtime) -> None:
    """Answer validation's requests for jobs' data keys (wrapped) for the app's lifetime; the
    subscription outlives NATS reconnects."""
    settings = runtime.settings_as(Settings)

    async def answer(message: Msg) -> None:
        try:
            reply = await keys.answer(runtime.sessions, settings.key_ring(), message.data)
        except Exception:
            # Unanswered, the request times out and the asking consumer tries again later.
            log.exception("data key request not answered")
            return
        await message.respond(reply)

    subscription = await runtime.nats.subscribe(DATA_KEYS_SUBJECT, queue="intake", cb=answer)
    try:
        await asyncio.Event().wait()
    finally:
        await subscription.unsubscribe()


def workers(settings: Settings) -> Workers:
    """Intake's loops and consumers; the outbox relay runs for every service besides these."""
    return Workers(
        # Made at start (after the check of the KEKs), so that the app is built without them.
        subscriptions=lambda runtime: subscriptions(settings),
        loops=[
            sweep_leases,
            flag_unclaimable_items,
            deliver_webhooks,
            render_pages,
            read_pages,
            extract_items,
            delete_expired_documents,
            sweep_orphaned_bytes,
            erase_past_retention,
            erase_from_the_stream,
            answer_data_key_requests,
            DATA_KEYS.rewrap_loop(),
        ],
        keyed=[CLAIM_KEY],
    )
