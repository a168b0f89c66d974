"""Settings from the environment: embedded defaults, and refusals with clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin_server.settings import Settings, SettingsError


def test_embedded_default_is_sqlite_with_a_kept_development_key(tmp_path: Path) -> None:
    env = {"LOYALTY_INSTANCE_PATH": str(tmp_path)}
    first = Settings.from_env(env)
    assert first.database_url == f"sqlite:///{tmp_path / 'loyalty.db'}"
    assert first.redis_url is None
    assert first.development is True
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert Settings.from_env(env).secret_key == first.secret_key  # kept, not regenerated


def test_postgres_without_secret_key_refuses_to_start(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "postgres://u@db/x", "LOYALTY_INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(SettingsError, match="LOYALTY_SECRET_KEY is required"):
        Settings.from_env(env)


def test_postgres_url_forms_use_psycopg(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgres://u@db/x",
        "LOYALTY_SECRET_KEY": "k" * 32,
        "SHOPIFY_API_SECRET": "s",
        "REDIS_URL": "redis://r:6379/0",
    }
    s = Settings.from_env(env)
    assert s.database_url == "postgresql+psycopg://u@db/x"
    assert s.redis_url == "redis://r:6379/0"
    assert s.development is False


def test_short_secret_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="at least 16"):
        Settings.from_env({"LOYALTY_SECRET_KEY": "short", "LOYALTY_INSTANCE_PATH": str(tmp_path)})


def test_bad_integer_setting_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="LOYALTY_MAX_WEBHOOK_BYTES"):
        Settings.from_env(
            {
                "LOYALTY_SECRET_KEY": "k" * 32,
                "LOYALTY_MAX_WEBHOOK_BYTES": "big",
                "LOYALTY_INSTANCE_PATH": str(tmp_path),
            }
        )
