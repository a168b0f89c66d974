"""Shared fixtures.

The database is SQLite unless LOYALTY_TEST_DATABASE_URL points at PostgreSQL; tests that
need a real Redis use LOYALTY_TEST_REDIS_URL. With LOYALTY_REQUIRE_SERVICES=1 (CI), a
missing service fails the run instead of skipping those tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from plugin_server import create_app
from plugin_server.bootstrap import Container, bootstrap
from plugin_server.db import migrate
from plugin_server.db.models import Base
from plugin_server.services import shops
from plugin_server.settings import Settings, normalize_database_url
from plugin_server.simulate import SignedDelivery
from tests.contract import ContractClient

PG_URL = os.environ.get("LOYALTY_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("LOYALTY_TEST_REDIS_URL")
REQUIRE_SERVICES = os.environ.get("LOYALTY_REQUIRE_SERVICES") == "1"
SHOPIFY_SECRET = "test_shopify_app_secret_0123456789"
WOO_SECRET = "wooSecret0123456789abcdefABCDEF"
FIXTURES = Path(__file__).parent / "fixtures"


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_SERVICES and not REDIS_URL:
        raise pytest.UsageError("LOYALTY_REQUIRE_SERVICES=1 but LOYALTY_TEST_REDIS_URL is unset")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of PostgreSQL-only behaviour are deselected (not skipped) on the SQLite run."""
    if PG_URL:
        return
    keep = [i for i in items if i.get_closest_marker("postgres_only") is None]
    dropped = [i for i in items if i.get_closest_marker("postgres_only") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_report_header() -> str:
    return f"database: {'postgresql' if PG_URL else 'sqlite'}; redis: {REDIS_URL or 'none'}"


class FakeClock:
    """Real time plus an offset tests can move forward, so payload dates still line up."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **kwargs: float) -> None:
        self.offset += timedelta(**kwargs)


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per run: a template SQLite file, or the PostgreSQL test database."""
    if PG_URL:
        url = normalize_database_url(PG_URL)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        migrate.upgrade(url)
        return url
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture
def database_url(_template_db: str, tmp_path: Path) -> Iterator[str]:
    if PG_URL:
        engine = create_engine(_template_db)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            # TRUNCATE does not fire the ledger's row-level append-only trigger.
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        yield _template_db
        return
    path = tmp_path / "loyalty.db"
    shutil.copyfile(_template_db, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-secret-key-0123456789",
        shopify_api_key="test-api-key",
        shopify_api_secret=SHOPIFY_SECRET,
        instance_path=tmp_path,
        shop_cache_seconds=0,
        development=True,
        testing=True,
        job_retry_intervals=(0, 0, 0, 0),
        wake_debounce_s=0,
        # No order polls from the tick unless a test asks for them: most shops in tests
        # have tokens but no sandbox to poll.
        reconcile_minutes=0,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def container(settings: Settings, clock: FakeClock) -> Iterator[Container]:
    c = bootstrap(settings, clock=clock)
    yield c
    c.close()


@pytest.fixture
def app(container: Container) -> Flask:
    app = create_app(container=container)
    app.test_client_class = ContractClient  # every response checked against the document
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass(frozen=True)
class ShopHandle:
    id: int
    platform: str
    domain: str
    api_key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def make_shop(container: Container, platform: str, domain: str, **kwargs: object) -> ShopHandle:
    created = shops.create_shop(
        container.uow(),
        container.cipher,
        platform=platform,
        domain=domain,
        now=container.clock(),
        **kwargs,  # type: ignore[arg-type]
    )
    return ShopHandle(created.id, created.platform, created.domain, created.api_key)


@pytest.fixture
def shopify_shop(container: Container) -> ShopHandle:
    return make_shop(container, "shopify", "test-shop.myshopify.com", access_token="shpat_x")


@pytest.fixture
def woo_shop(container: Container) -> ShopHandle:
    return make_shop(container, "woocommerce", "https://woo.example.com", webhook_secret=WOO_SECRET)


def post(client: FlaskClient, delivery: SignedDelivery):  # type: ignore[no-untyped-def]
    return client.post(delivery.path, data=delivery.body, headers=delivery.headers)
