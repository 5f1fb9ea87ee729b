"""A database URL that asks for TLS the way providers write it connects: the engines and raw
asyncpg (`bpo migrate --wait`, the notification listener) read its mode alike."""

import asyncpg
import pytest
from sqlalchemy import text

from bpo_common.db import asyncpg_dsn, create_engine
from bpo_common.settings import asyncpg_url

from .conftest import Plumbing

# Whether this connection is encrypted, as the server sees it.
ENCRYPTED = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


@pytest.mark.parametrize("query", ["?sslmode=disable", "?ssl=disable"])
async def test_a_url_saying_sslmode_disable_connects_without_tls_on_every_path(
    plumbing: Plumbing, query: str
) -> None:
    url = asyncpg_url(plumbing.dsn + query)
    engine = create_engine(url, pool_size=1)
    async with engine.connect() as connection:
        assert (await connection.execute(text(ENCRYPTED))).scalar_one() is False
    await engine.dispose()
    raw = await asyncpg.connect(asyncpg_dsn(url))
    try:
        assert await raw.fetchval(ENCRYPTED) is False
    finally:
        await raw.close()
