"""Operator commands: listing and replaying receipts, ticking, migrations."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import update

from plugin_server import cli
from plugin_server.bootstrap import Container
from plugin_server.db.models import WebhookReceipt
from plugin_server.settings import Settings
from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import SHOPIFY_SECRET, ShopHandle, post


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LOYALTY_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("SHOPIFY_API_SECRET", SHOPIFY_SECRET)
    monkeypatch.setenv("LOYALTY_INSTANCE_PATH", str(settings.instance_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    return CliRunner()


def test_failed_receipts_are_listed_and_replayed(
    runner: CliRunner, client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    order = shopify_order(order_id=7, email="o@example.com", subtotal=D("70"), customer_id=70)
    good = sign_shopify(
        order, topic="orders/paid", shop_domain=shopify_shop.domain, secret=SHOPIFY_SECRET
    )
    bad = sign_shopify(
        {"id": 8}, topic="orders/paid", shop_domain=shopify_shop.domain, secret=SHOPIFY_SECRET
    )
    good_id = post(client, good).json["receipt_id"]
    post(client, bad)
    # Pretend the good one failed for a reason since fixed (e.g. the database was down).
    with container.session_factory.begin() as s:
        s.execute(
            update(WebhookReceipt)
            .where(WebhookReceipt.id == good_id)
            .values(status="failed", last_error="OperationalError: down")
        )
    failed = json.loads(runner.invoke(cli.main, ["receipts", "list", "--failed"]).output)
    assert {r["status"] for r in failed} == {"failed"}
    assert len(failed) == 2
    replayed = runner.invoke(cli.main, ["receipts", "replay", str(good_id)])
    assert replayed.exit_code == 0, replayed.output
    assert json.loads(replayed.output)["status"] == "processed"
    assert client.get("/api/v1/customers/70", headers=shopify_shop.auth).json["balance"] == 70
    # Replaying again is harmless: the ledger never applies the same fact twice.
    runner.invoke(cli.main, ["receipts", "replay", str(good_id)])
    assert client.get("/api/v1/customers/70", headers=shopify_shop.auth).json["balance"] == 70
    missing = runner.invoke(cli.main, ["receipts", "replay", "99999"])
    assert missing.exit_code != 0
    assert "receipt_not_found" in missing.output


def test_tick_reports_what_it_did(runner: CliRunner, container: Container) -> None:
    result = runner.invoke(cli.main, ["tick"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "released_claims": 0,
        "woke": 0,
        "redemptions_retried": 0,
        "redemptions_expired": 0,
        "points_expired": 0,
        "tier_changes": 0,
        "birthday_bonuses": 0,
        "referrals_rewarded": 0,
        "imports_resumed": 0,
        "collections_due": 0,
        "webhooks_woke": 0,
        "emails_woke": 0,
        "analytics_shops_built": 0,
        "reconciles_queued": 0,
        "backfills_resumed": 0,
        "scores_shops_computed": 0,
    }


def test_simulate_without_a_server_says_how_to_start_one(runner: CliRunner) -> None:
    result = runner.invoke(
        cli.main,
        [
            "simulate",
            "order",
            "--email",
            "a@example.com",
            "--total",
            "1.00",
            "--url",
            "http://127.0.0.1:9",
        ],
    )
    assert result.exit_code != 0
    assert "loyalty demo" in result.output


@pytest.mark.parametrize("total", ["abc", "-1", "1.234"])
def test_simulate_rejects_bad_amounts(runner: CliRunner, total: str) -> None:
    result = runner.invoke(
        cli.main, ["simulate", "order", "--email", "a@example.com", "--total", total]
    )
    assert result.exit_code == 2
    assert "--total" in result.output
