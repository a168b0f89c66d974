"""Running Alembic from code (the CLI, tests) with the project's migrations folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.schema import SchemaItem

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def include_object(dialect: str) -> Callable[..., bool]:
    """Alembic's `include_object` for comparing the models with a database of `dialect`:
    a model object declared for other dialects only (`ddl_if(dialect=...)`, e.g. the two
    forms of models.tenant_fk) is not expected there."""

    def include(obj: SchemaItem, _name: Any, _type: str, reflected: bool, _other: Any) -> bool:
        only_for = getattr(obj, "_ddl_if", None)
        if reflected or only_for is None or only_for.dialect is None:
            return True
        wanted = only_for.dialect
        return dialect == wanted if isinstance(wanted, str) else dialect in wanted

    return include
