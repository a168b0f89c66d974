"""Fixtures shared by the admin app's integration tests: the app with its HTML pages, the
demo shop, and a browser-like client signed in to it (session cookie and CSRF token)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from plugin_server import create_app, demo
from plugin_server.bootstrap import Container
from tests.conftest import ShopHandle, make_shop


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
