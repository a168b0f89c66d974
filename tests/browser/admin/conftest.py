"""Shared by the admin app's browser tests: the demo shop served by the real app on a
local port, the system Chromium driven by Playwright, sign-in and axe-core. Each page's
tests live in their own `test_*.py` here and take the `page` and `admin` fixtures."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from plugin_server import create_app, demo
from plugin_server.api.admin_app.auth import dev_sign_in_path
from plugin_server.bootstrap import Container
from plugin_server.sandbox.server import RunningSandbox, Sandbox

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AXE = Path(__file__).parents[3] / "storefront_widget" / "node_modules" / "axe-core" / "axe.min.js"

if CHROMIUM is None or not AXE.exists():
    pytest.fail(
        "browser tests need the system Chromium and axe-core: run ./scripts/test, which "
        "installs both",
        pytrace=False,
    )


@dataclass
class Admin:
    url: str
    container: Container
    shop_id: int
    console_errors: list[str] = field(default_factory=list)

    def sign_in_url(self, locale: str | None = None) -> str:
        path = dev_sign_in_path(self.container.settings.secret_key, demo.DEMO_DOMAIN)
        return f"{self.url}{path}" + (f"&locale={locale}" if locale else "")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield instance
        instance.close()


@pytest.fixture
def admin(container: Container) -> Iterator[Admin]:
    server = make_server("127.0.0.1", 0, Flask("placeholder"), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    server.app = create_app(container=container)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with RunningSandbox(Sandbox()) as sandbox:
        shop = demo.set_up(container, sandbox_url=sandbox.url, showcase=False)
        try:
            yield Admin(url, container, shop.shop_id)
        finally:
            server.shutdown()
            thread.join(timeout=5)


@pytest.fixture
def page(browser: Browser, admin: Admin) -> Iterator[Page]:
    # axe-core is injected as an inline script, which the app's CSP forbids (as it should).
    context = browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True)
    tab = context.new_page()
    tab.on("console", lambda m: admin.console_errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: admin.console_errors.append(str(e)))
    yield tab
    context.close()
    # A form sent back with its errors is a 400 (or 409) document, which the browser notes.
    refused = re.compile(r"Failed to load resource: .* status of (400|409) ")
    assert [e for e in admin.console_errors if not refused.match(e)] == []


def sign_in(page: Page, admin: Admin, locale: str | None = None) -> None:
    page.goto(admin.sign_in_url(locale))
    page.wait_for_selector("h1")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
    ]
