"""The WordPress plugin: its PHP parses, and a token it signs (with PHP's own sodium) is
accepted by the app's verifier, while a tampered or expired one is not. The connect flow
picks up the plugin's public key from the store."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from flask.testing import FlaskClient

from plugin_server.bootstrap import Container
from plugin_server.simulate import sign_woocommerce
from tests.conftest import WOO_SECRET, make_shop, post
from tests.integration.test_install import WOO_HOST, Live, live, woo_store_url  # noqa: F401
from tests.integration.test_webhook_intake import woo_order

PLUGIN = Path(__file__).parents[2] / "storefront_widget" / "woocommerce" / "loyalty-rewards"
PHP = shutil.which("php")
STORE = "https://php-store.example.com"

if PHP is None:
    pytest.fail("the plugin tests need PHP: run ./scripts/test, which installs it", pytrace=False)


def php(code: str) -> str:
    done = subprocess.run(
        [PHP, "-r", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_every_php_file_parses() -> None:
    files = sorted(PLUGIN.rglob("*.php"))
    assert len(files) >= 2
    for path in files:
        done = subprocess.run([PHP, "-l", str(path)], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "No syntax errors" in done.stdout


@pytest.fixture
def php_tokens() -> dict[str, str]:
    """A key pair and tokens made by the plugin's own PHP code."""
    out = php(
        f"""
        require {json.dumps(str(PLUGIN / "includes" / "class-loyalty-token.php"))};
        list($secret, $public) = Loyalty_Token::keypair();
        $good = Loyalty_Token::sign({json.dumps(STORE)}, '25', $secret);
        $guest = Loyalty_Token::sign({json.dumps(STORE)}, null, $secret);
        $expired = Loyalty_Token::sign({json.dumps(STORE)}, '25', $secret, 600, time() - 3600);
        $parts = explode('.', $good);
        $claims = json_decode(Loyalty_Token::unb64($parts[1]), true);
        $claims['sub'] = '26';
        $parts[1] = Loyalty_Token::b64(json_encode($claims, JSON_UNESCAPED_SLASHES));
        echo json_encode(['public' => $public, 'good' => $good, 'guest' => $guest,
            'expired' => $expired, 'tampered' => implode('.', $parts)]);
        """
    )
    return dict(json.loads(out))


def test_tokens_signed_by_the_plugin_are_accepted_and_forgeries_are_not(
    container: Container, client: FlaskClient, php_tokens: dict[str, str]
) -> None:
    shop = make_shop(container, "woocommerce", STORE, webhook_secret=WOO_SECRET)
    post(
        client,
        sign_woocommerce(
            woo_order(order_id=1, total="40.00", customer_id=25),
            topic="order.created",
            source=STORE,
            secret=WOO_SECRET,
        ),
    )
    r = client.patch(
        "/api/v1/widget", headers=shop.auth, json={"token_public_key": php_tokens["public"]}
    )
    assert r.status_code == 200, r.json

    def summary(token: str):  # type: ignore[no-untyped-def]
        return client.get("/storefront/v1/summary", headers={"Authorization": f"Bearer {token}"})

    ok = summary(php_tokens["good"])
    assert ok.status_code == 200, ok.json
    assert ok.json["member"]["customer_id"] == "25"
    assert ok.json["member"]["balance"] == 40
    assert summary(php_tokens["guest"]).json["member"] is None
    expired = summary(php_tokens["expired"])
    assert expired.status_code == 401
    assert expired.json["error"]["code"] == "token_expired"
    tampered = summary(php_tokens["tampered"])
    assert tampered.status_code == 401
    assert tampered.json["error"]["code"] == "invalid_token"


def test_connecting_picks_up_the_plugins_public_key(live: Live) -> None:  # noqa: F811
    store = live.sandbox.sandbox.woo_store(WOO_HOST)
    public = json.loads(
        php(
            f"require {json.dumps(str(PLUGIN / 'includes' / 'class-loyalty-token.php'))};"
            "list($s, $p) = Loyalty_Token::keypair(); echo json_encode(['s' => $s, 'p' => $p]);"
        )
    )
    store.plugin_public_key = public["p"]
    start = live.client.get(f"/auth/woocommerce?{urlencode({'store_url': woo_store_url(live)})}")
    approved = requests.get(start.headers["Location"], allow_redirects=False, timeout=30)
    assert approved.status_code == 302
    from plugin_server.db.models import Shop

    with live.container.session_factory() as s:
        shop = s.query(Shop).filter(Shop.platform == "woocommerce").one()
        assert shop.token_public_key == public["p"]
    # A token the plugin signs for this store now opens the storefront API.
    store_url, secret = json.dumps(woo_store_url(live)), json.dumps(public["s"])
    token = php(
        f"require {json.dumps(str(PLUGIN / 'includes' / 'class-loyalty-token.php'))};"
        f"echo Loyalty_Token::sign({store_url}, null, {secret});"
    )
    r = live.client.get("/storefront/v1/summary", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.json
    assert r.json["member"] is None
