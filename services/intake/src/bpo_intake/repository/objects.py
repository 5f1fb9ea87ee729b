"""The object store documents live in, opened from a URL and options (settings name both):
a document's bytes as `<client>/<sha256>/original` (so the same bytes are stored once per
client), its page images beside them as `page-<n>.webp`. A store that cannot be reached or
refuses is Unavailable (a 503 on a request), whatever it says."""

import re
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from uuid import UUID

import obstore
import structlog
from obstore.exceptions import BaseError
from obstore.store import ObjectStore, from_url

from bpo_common.errors import NotFound, Unavailable

if TYPE_CHECKING:
    from obstore.store import RetryConfig

log = structlog.get_logger(__name__)

# Options of the HTTP client rather than of the store; the rest are the store's own
# (`endpoint`, `region`, `access_key_id`, ... as object_store names them).
CLIENT_OPTIONS = frozenset(
    {
        "allow_http",
        "allow_invalid_certificates",
        "connect_timeout",
        "timeout",
        "proxy_url",
        "user_agent",
        "pool_idle_timeout",
        "http1_only",
        "http2_only",
    }
)


# A store that answers errors is tried again a few times within seconds, not the client's
# default of 10 times within 3 minutes: a request waiting on it answers 503 meanwhile.
RETRIES: "RetryConfig" = {"max_retries": 3, "retry_timeout": timedelta(seconds=10)}


def open_store(url: str, options: dict[str, str]) -> ObjectStore:
    """The store at `url`, one per URL and options; ValueError saying why it cannot open."""
    return _open(url, tuple(sorted(options.items())))


@cache
def _open(url: str, options: tuple[tuple[str, str], ...]) -> ObjectStore:
    if url.startswith("file://"):
        Path(urlparse(url).path).mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {k: v for k, v in options if k not in CLIENT_OPTIONS}
    client: dict[str, Any] = {k: v for k, v in options if k in CLIENT_OPTIONS}
    try:
        return from_url(
            url,
            config=config or None,  # type: ignore[arg-type]
            client_options=client or None,  # type: ignore[arg-type]
            retry_config=RETRIES,
        )
    except BaseException as exc:  # object_store panics on an option it does not know
        raise ValueError(f"the document store cannot be opened: {exc}") from None


def original(client_id: UUID, sha256: str) -> str:
    return f"{client_id}/{sha256}/original"


def page_image(client_id: UUID, sha256: str, number: int) -> str:
    return f"{client_id}/{sha256}/page-{number}.webp"


_ORIGINAL = re.compile(r"([0-9a-f-]{36})/([0-9a-f]{64})/original")


def original_of(path: str) -> tuple[UUID, str] | None:
    """The (client, sha256) of a document's bytes at `path`; None for any other object."""
    found = _ORIGINAL.fullmatch(path)
    if found is None:
        return None
    try:
        return UUID(found[1]), found[2]
    except ValueError:
        return None


async def put(store: ObjectStore, path: str, content: bytes) -> None:
    try:
        await obstore.put_async(store, path, content)
    except (BaseError, OSError) as exc:  # a bucket that is not there: FileNotFoundError
        raise _unavailable(path, exc) from exc


async def read(store: ObjectStore, path: str) -> bytes:
    """The object's bytes; NotFound when it is not there, but Unavailable when the store
    itself is not (a bucket that does not exist answers as a missing object would)."""
    try:
        result = await obstore.get_async(store, path)
        return bytes(await result.bytes_async())
    except FileNotFoundError as exc:
        if not await _answers(store):
            raise _unavailable(path, exc) from exc
        raise NotFound(f"{path} is not in the document store") from exc
    except (BaseError, OSError) as exc:
        raise _unavailable(path, exc) from exc


async def _answers(store: ObjectStore) -> bool:
    """Whether the store lists its top level."""
    try:
        await obstore.list_with_delimiter_async(store)
    except (BaseError, OSError):
        return False
    return True


async def listed(store: ObjectStore, chunk: int) -> AsyncIterator[list[tuple[str, datetime]]]:
    """Every object of the store, up to `chunk` at a time: its path and when it was written."""
    try:
        async for batch in obstore.list(store, chunk_size=chunk):
            yield [(meta["path"], meta["last_modified"]) for meta in batch]
    except (BaseError, OSError) as exc:
        raise _unavailable("/", exc) from exc


async def delete(store: ObjectStore, paths: Iterable[str]) -> None:
    """Delete the objects; one already gone is no error."""
    for path in paths:
        try:
            await obstore.delete_async(store, path)
        except FileNotFoundError:
            continue
        except (BaseError, OSError) as exc:
            raise _unavailable(path, exc) from exc


def _unavailable(path: str, exc: Exception) -> Unavailable:
    log.warning("document_store_unavailable", path=path, error=str(exc))
    return Unavailable("the document storage is unavailable; retry the request")
