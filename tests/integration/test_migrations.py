"""Migrations upgrade and downgrade cleanly, and match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from plugin_server.db import migrate
from plugin_server.db.models import Base
from plugin_server.settings import Settings


def test_models_match_the_migrated_schema(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": migrate.include_object(conn.dialect.name)}
        )
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_to_base_and_upgrade_again(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    migrate.downgrade(settings.database_url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(settings.database_url)
    assert {t.name for t in Base.metadata.sorted_tables} <= set(inspect(engine).get_table_names())
    engine.dispose()
