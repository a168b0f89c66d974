"""Shops: creation rules, credentials encrypted at rest and never in logs or output."""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from plugin_server import cli
from plugin_server.bootstrap import Container
from plugin_server.db.models import Shop
from plugin_server.domain.errors import ShopAlreadyExists, ValidationFailed
from plugin_server.services import shops
from plugin_server.settings import Settings
from tests.conftest import make_shop

TOKEN = "shpat_super_secret_token_0123456789"
WOO_KEY, WOO_SECRET = "ck_abcdefabcdefabcdef", "cs_0123456789abcdef0123"


def test_credentials_are_encrypted_at_rest(container: Container) -> None:
    make_shop(container, "shopify", "enc.myshopify.com", access_token=TOKEN)
    make_shop(
        container,
        "woocommerce",
        "https://woo.example.com",
        webhook_secret="whsec_abc",
        consumer_key=WOO_KEY,
        consumer_secret=WOO_SECRET,
    )
    with container.engine.connect() as conn:
        raw = b"".join(
            bytes(v)
            for row in conn.execute(
                select(
                    Shop.access_token_enc,
                    Shop.webhook_secret_enc,
                    Shop.consumer_key_enc,
                    Shop.consumer_secret_enc,
                    Shop.api_key_hash,
                )
            )
            for v in row
            if v is not None and not isinstance(v, str)
        )
    for secret in (TOKEN, "whsec_abc", WOO_KEY, WOO_SECRET):
        assert secret.encode() not in raw
    with container.session_factory() as s:
        shop = s.scalars(select(Shop).where(Shop.domain == "enc.myshopify.com")).one()
        assert container.cipher.decrypt(shop.access_token_enc) == TOKEN


def test_only_the_api_key_hash_is_stored(container: Container) -> None:
    created = make_shop(container, "shopify", "hash.myshopify.com")
    with container.session_factory() as s:
        stored = s.scalars(select(Shop.api_key_hash)).one()
    assert created.api_key not in stored
    assert len(stored) == 64


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"platform": "shopify", "domain": "evil.com"}, ValidationFailed),
        ({"platform": "magento", "domain": "x.myshopify.com"}, ValidationFailed),
        ({"platform": "woocommerce", "domain": "https://w.example"}, ValidationFailed),  # no secret
        (
            {"platform": "woocommerce", "domain": "javascript:alert(1)", "webhook_secret": "s"},
            ValidationFailed,
        ),
        (
            {"platform": "shopify", "domain": "x.myshopify.com", "consumer_key": "k"},
            ValidationFailed,
        ),
        (
            {"platform": "shopify", "domain": "x.myshopify.com", "api_base_url": "ftp://x"},
            ValidationFailed,
        ),
    ],
)
def test_bad_shop_input_is_refused(container: Container, kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        shops.create_shop(container.uow(), container.cipher, now=container.clock(), **kwargs)


def test_duplicate_shop_is_refused(container: Container) -> None:
    make_shop(container, "shopify", "dup.myshopify.com")
    with pytest.raises(ShopAlreadyExists):
        make_shop(container, "shopify", "DUP.myshopify.com")


def test_cli_creates_shops_and_prints_json_without_secrets(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LOYALTY_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("SHOPIFY_API_SECRET", "s")
    monkeypatch.setenv("LOYALTY_INSTANCE_PATH", str(settings.instance_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    runner = CliRunner()
    caplog.set_level(logging.DEBUG)
    result = runner.invoke(
        cli.main,
        [
            "shops",
            "create",
            "--platform",
            "woocommerce",
            "--domain",
            "https://Store.Example/",
            "--webhook-secret",
            "whsec_cli",
            "--consumer-key",
            WOO_KEY,
            "--consumer-secret",
            WOO_SECRET,
            "--api-base-url",
            "http://127.0.0.1:9999",
        ],
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert created["platform"] == "woocommerce"
    assert created["domain"] == "https://store.example"
    assert created["api_key"].startswith("lk_")
    listed = runner.invoke(cli.main, ["shops", "list"])
    everything = result.output + listed.output + caplog.text
    for secret in ("whsec_cli", WOO_KEY, WOO_SECRET):
        assert secret not in everything
    again = runner.invoke(
        cli.main,
        [
            "shops",
            "create",
            "--platform",
            "woocommerce",
            "--domain",
            "https://store.example",
            "--webhook-secret",
            "x",
        ],
    )
    assert again.exit_code != 0
    assert "shop_already_exists" in again.output
