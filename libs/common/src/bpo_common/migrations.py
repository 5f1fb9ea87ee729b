"""Alembic plumbing shared by every service's migrations.

A service's `migrations/env.py` calls `run_migrations(metadata, settings_class)`; its first
revision calls `create_plumbing_tables()`; `upgrade()` runs them from code (the CLI, tests).
"""

import asyncio
from collections.abc import Callable

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from bpo_common.settings import ServiceSettings
from bpo_common.tables import OUTBOX_CHANNEL, plumbing_metadata


def run_migrations(metadata: MetaData, settings_class: Callable[[], ServiceSettings]) -> None:
    """Body of a service's env.py: online migrations over asyncpg."""
    config = context.config
    url = config.get_main_option("sqlalchemy.url") or (
        settings_class().database_url.get_secret_value()
    )

    def run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=[metadata, plumbing_metadata],
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(run)
        await engine.dispose()

    asyncio.run(main())


def create_plumbing_tables(connection: Connection | None = None) -> None:
    """Outbox, inbox, dead letters and idempotency keys, and the outbox's commit wake-up."""
    bind = connection or op.get_bind()
    plumbing_metadata.create_all(bind)
    bind.execute(
        text(
            "CREATE FUNCTION notify_outbox_event() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN PERFORM pg_notify('{OUTBOX_CHANNEL}', ''); RETURN NULL; END $$"
        )
    )
    bind.execute(
        text(
            "CREATE TRIGGER outbox_event_notify AFTER INSERT ON outbox_event "
            "FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox_event()"
        )
    )


def drop_plumbing_tables() -> None:
    op.execute("DROP TRIGGER IF EXISTS outbox_event_notify ON outbox_event")
    op.execute("DROP FUNCTION IF EXISTS notify_outbox_event()")
    plumbing_metadata.drop_all(op.get_bind())


def upgrade(package: str, url: str, revision: str = "head") -> None:
    """Run `package`'s migrations (for example `bpo_intake`) against `url`."""
    config = Config()
    config.set_main_option("script_location", f"{package}:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)
