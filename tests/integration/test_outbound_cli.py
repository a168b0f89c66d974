"""`loyalty webhooks ...`: what an operator runs, against a real receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from plugin_server import cli
from plugin_server.settings import Settings
from tests.conftest import SHOPIFY_SECRET, FakeClock, ShopHandle
from tests.webhook_receiver import Receiver


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI tests' environment, with receivers on 127.0.0.1 allowed on PostgreSQL too
    (by default only development allows them, which SQLite implies)."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LOYALTY_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("SHOPIFY_API_SECRET", SHOPIFY_SECRET)
    monkeypatch.setenv("LOYALTY_INSTANCE_PATH", str(settings.instance_path))
    monkeypatch.setenv("LOYALTY_WEBHOOKS_ALLOW_PRIVATE", "1")
    monkeypatch.delenv("REDIS_URL", raising=False)
    return CliRunner()


@pytest.fixture
def receiver(clock: FakeClock) -> Iterator[Receiver]:
    r = Receiver(clock).start()
    yield r
    r.stop()


def test_list_ping_deliveries_and_replay(
    runner: CliRunner, client: FlaskClient, shopify_shop: ShopHandle, receiver: Receiver
) -> None:
    created = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": receiver.url, "topics": ["referral.flagged"]},
        headers=shopify_shop.auth,
    ).json
    receiver.secrets.append(created["secret"])
    shop = ["--shop", str(shopify_shop.id)]

    listed = runner.invoke(cli.main, ["webhooks", "list", *shop])
    assert listed.exit_code == 0, listed.output
    [endpoint] = json.loads(listed.output)
    assert endpoint["url"] == receiver.url
    assert "secret" not in endpoint
    assert created["secret"] not in listed.output

    pinged = runner.invoke(cli.main, ["webhooks", "ping", *shop, str(endpoint["id"])])
    assert pinged.exit_code == 0, pinged.output
    result = json.loads(pinged.output)
    assert (result["status"], result["attempts"], result["last_status_code"]) == (
        "succeeded",
        1,
        204,
    )
    assert [a["status_code"] for a in result["attempt_log"]] == [204]
    assert len(receiver.received) == 1
    assert all(receiver.received[0].verified.values())

    log = json.loads(runner.invoke(cli.main, ["webhooks", "deliveries", *shop]).output)
    assert [(d["topic"], d["status"]) for d in log] == [("ping", "succeeded")]

    replayed = runner.invoke(cli.main, ["webhooks", "replay", *shop, str(log[0]["id"])])
    assert replayed.exit_code == 0, replayed.output
    assert json.loads(replayed.output)["attempts"] == 2
    assert receiver.received[-1].headers["X-Loyalty-Redelivery"] == "true"

    # Another shop's id finds nothing.
    missing = runner.invoke(cli.main, ["webhooks", "replay", "--shop", "999", str(log[0]["id"])])
    assert missing.exit_code != 0
    assert "webhook_delivery_not_found" in missing.output


def test_a_ping_to_a_dead_receiver_reports_the_failure(
    runner: CliRunner, client: FlaskClient, shopify_shop: ShopHandle, receiver: Receiver
) -> None:
    created = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": receiver.url, "topics": ["tier.changed"]},
        headers=shopify_shop.auth,
    ).json
    receiver.stop()
    result = runner.invoke(
        cli.main,
        ["webhooks", "ping", "--shop", str(shopify_shop.id), str(created["id"]), "--wait", "3"],
    )
    out = json.loads(result.output)
    # The first attempt failed; the delivery waits for its retry.
    assert out["status"] == "pending"
    assert out["attempts"] == 1
    assert out["last_error"].startswith("connection failed")
