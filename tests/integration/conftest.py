"""Fixtures shared by integration tests: the admin app with its HTML pages, the demo shop,
a browser-like client signed in to it (session cookie and CSRF token), and the real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis

from plugin_server import create_app, demo
from plugin_server.bootstrap import Container
from tests.conftest import REDIS_URL, ShopHandle, make_shop


@pytest.fixture
def redis_conn() -> Iterator[Redis]:
    """The test Redis, empty before and after."""
    assert REDIS_URL, "LOYALTY_TEST_REDIS_URL must point at a real Redis"
    conn = Redis.from_url(REDIS_URL)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def html_app(container: Container) -> Flask:
    return create_app(container=container)


@pytest.fixture
def demo_shop(container: Container) -> ShopHandle:
    return make_shop(container, "shopify", demo.DEMO_DOMAIN, access_token="shpat_demo")


@pytest.fixture
def signed_in(html_app: Flask, container: Container, demo_shop: ShopHandle) -> FlaskClient:
    from tests.integration.test_admin_app import cookie_client

    return cookie_client(html_app, container, demo_shop.domain)
