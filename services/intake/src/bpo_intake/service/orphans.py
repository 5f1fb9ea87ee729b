"""Bytes in the document store that no document has: an upload's whose process died before
its sweep, or whose sweep found the store away. A daily pass lists the whole store and
deletes those over an hour old, through `documents.sweep` and its locks."""

from datetime import datetime, timedelta

import structlog
from obstore.store import ObjectStore

from bpo_common.db import SessionFactory
from bpo_common.errors import Unavailable
from bpo_intake.repository import documents as repository
from bpo_intake.repository import objects
from bpo_intake.service.documents import StoredBytes, sweep

log = structlog.get_logger(__name__)
# Bytes no document has are deleted once this old: an upload may be writing younger ones.
ORPHAN_AFTER = timedelta(hours=1)
ORPHAN_BATCH = 1000


async def sweep_orphans(sessions: SessionFactory, store: ObjectStore, now: datetime) -> int:
    """Delete the bytes in the store that no document has, once ORPHAN_AFTER old (an upload's
    whose process died before its sweep, or whose sweep found the store away), listing every
    object of the store; returns how many documents' bytes went. A store that does not
    answer ends the pass."""
    swept = 0
    try:
        async for batch in objects.listed(store, ORPHAN_BATCH):
            old = {
                key
                for path, written in batch
                if written < now - ORPHAN_AFTER and (key := objects.original_of(path)) is not None
            }
            if not old:
                continue
            async with sessions() as session:
                named = await repository.stored_among(session, old, unswept_too=True)
            # A deleted document's bytes are swept with its page images (`sweep_left`); these
            # have none: no page is rendered but a document's.
            orphans = [StoredBytes(client_id, sha256, 0) for client_id, sha256 in old - named]
            if orphans and await sweep(sessions, store, orphans):
                swept += len(orphans)
    except Unavailable:
        log.warning("orphaned_bytes_not_swept", swept=swept)
    return swept
