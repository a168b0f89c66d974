"""Alembic environment: the URL comes from the app's settings unless a caller set one."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from alembic import context
from alembic.migration import MigrationContext, MigrationInfo

from plugin_server.db.engine import make_engine
from plugin_server.db.migrate import include_object
from plugin_server.db.models import Base
from plugin_server.settings import Settings, normalize_database_url

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return normalize_database_url(url) if url else Settings.from_env().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(
            connection=connectable,
            target_metadata=target_metadata,
            include_object=include_object(connectable.dialect.name),
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    sqlite = url.startswith("sqlite")
    with engine.connect() as connection:
        if sqlite:
            # SQLite alters a table by rebuilding it (batch mode), and dropping the old copy
            # of a table other rows point at fails while foreign keys are enforced. SQLite's
            # own recipe: keys off outside the transaction, checked before it commits.
            raw = connection.connection.dbapi_connection
            assert raw is not None
            raw.cursor().execute("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=sqlite,
            include_object=include_object(connection.dialect.name),
            # SQLite commits each step on its own: checked before each commit.
            on_version_apply=_check_sqlite_foreign_keys if sqlite else None,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def _check_sqlite_foreign_keys(
    ctx: MigrationContext,
    step: MigrationInfo,
    heads: Collection[Any],
    run_args: Mapping[str, Any],
) -> None:
    assert ctx.connection is not None
    broken = ctx.connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        rows = ", ".join(f"{table} rowid {rowid} -> {parent}" for table, rowid, parent, _ in broken)
        raise RuntimeError(f"the migration left rows pointing at nothing: {rows[:2000]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
