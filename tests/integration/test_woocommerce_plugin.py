"""The WordPress plugin: its PHP parses, and a token it signs (with PHP's own sodium) is
accepted by the app's verifier, while a tampered or expired one is not. The connect flow
picks up the plugin's public key from the store. A referral link's code is remembered and
written on the order as the `loyalty_referral` meta, which the app reads from the webhook."""

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


REFERRAL_CLASS = json.dumps(str(PLUGIN / "includes" / "class-loyalty-referral.php"))
# A WC_Order as far as the plugin uses it; its meta comes out as the REST API (and so the
# order webhook) shows it.
FAKE_ORDER = """
class Fake_Order {
    public $meta = array();
    public function get_meta( $key ) {
        return isset( $this->meta[ $key ] ) ? $this->meta[ $key ] : '';
    }
    public function update_meta_data( $key, $value ) { $this->meta[ $key ] = $value; }
    public function rest_meta() {
        $out = array();
        foreach ( $this->meta as $key => $value ) {
            $out[] = array( 'id' => count( $out ) + 1, 'key' => $key, 'value' => $value );
        }
        return $out;
    }
}
"""


def test_a_referral_link_is_remembered_and_tagged_on_the_order() -> None:
    out = json.loads(
        php(
            f"""
            require {REFERRAL_CLASS};
            {FAKE_ORDER}
            $c = 'Loyalty_Referral';
            $tagged = new Fake_Order();
            $first = $c::tag_order( $tagged, array( 'loyalty_referral' => 'ann-7xk2' ) );
            $again = $c::tag_order( $tagged, array( 'loyalty_referral' => 'BAO99' ) );
            $untouched = new Fake_Order();
            $none = $c::tag_order( $untouched, array() );
            $junk = $c::tag_order( $untouched, array( 'loyalty_referral' => '<script>' ) );
            echo json_encode( array(
                'links' => array(
                    $c::from_link( array( 'ref' => ' ann-7xk2 ' ) ),
                    $c::from_link( array( 'ref' => 'a"b' ) ),
                    $c::from_link( array( 'ref' => array( 'x' ) ) ),
                    $c::from_link( array( 'ref' => str_repeat( 'A', 41 ) ) ),
                    $c::from_link( array( 'page' => '2' ) ),
                ),
                'cookie' => $c::cookie_options( 1000, true, '/shop/', '.example.com' ),
                'tagged' => array( $first, $again, $none, $junk ),
                'meta' => $tagged->rest_meta(),
                'untouched' => $untouched->rest_meta(),
            ) );
            """
        )
    )
    assert out["links"] == ["ANN-7XK2", None, None, None, None]
    assert out["cookie"] == {
        "expires": 1000 + 30 * 86400,
        "path": "/shop/",
        "domain": ".example.com",
        "secure": True,
        "httponly": True,
        "samesite": "Lax",
    }
    # The first code stays: a later link does not take the order from the first friend.
    assert out["tagged"] == [True, False, False, False]
    assert out["meta"] == [{"id": 1, "key": "loyalty_referral", "value": "ANN-7XK2"}]
    assert out["untouched"] == []


def test_the_plugin_hooks_remember_the_link_and_tag_both_checkouts() -> None:
    source = (PLUGIN / "loyalty-rewards.php").read_text()
    assert "class-loyalty-referral.php" in source
    for hook in (
        "woocommerce_checkout_create_order",  # classic checkout, before the order is saved
        "woocommerce_store_api_checkout_update_order_from_request",  # block checkout
    ):
        assert f"'{hook}'" in source


def test_the_order_meta_the_plugin_writes_attributes_the_referral(
    container: Container, client: FlaskClient
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
    r = client.post(
        "/api/v1/referral-campaigns",
        headers=shop.auth,
        json={
            "name": "Give 10%, get 100",
            "starts_at": "2020-01-01T00:00:00Z",
            "friend_discount_kind": "percentage",
            "friend_discount_value": "10",
            "advocate_reward_kind": "points",
            "advocate_points": 100,
        },
    )
    assert r.status_code == 201, r.json
    advocate = client.get("/api/v1/customers/25", headers=shop.auth).json["referral"]
    # The friend follows the link (the code as typed in lower case), then orders.
    typed = json.dumps(advocate["code"].lower())
    meta = json.loads(
        php(
            f"""
            require {REFERRAL_CLASS};
            {FAKE_ORDER}
            $code = Loyalty_Referral::from_link( array( 'ref' => {typed} ) );
            $order = new Fake_Order();
            Loyalty_Referral::tag_order( $order, array( Loyalty_Referral::COOKIE => $code ) );
            echo json_encode( $order->rest_meta() );
            """
        )
    )
    friend = woo_order(order_id=2, total="60.00", customer_id=26)
    friend["billing"]["email"] = "friend@example.com"
    friend["meta_data"] = meta
    r = post(
        client,
        sign_woocommerce(friend, topic="order.created", source=STORE, secret=WOO_SECRET),
    )
    assert r.status_code == 200, r.json
    [referral] = client.get("/api/v1/referrals", headers=shop.auth).json["referrals"]
    assert referral["attributed_by"] == "order_attribute"
    assert referral["order_id"] == "2"


# Just enough of WordPress to load the plugin's main file and call what it registers: hooks
# are collected, options live in an array, the signed-in user and the valid nonce are set
# by the test.
WORDPRESS_STUBS = """
define( 'ABSPATH', '/' );
$GLOBALS['hooks'] = array(); $GLOBALS['routes'] = array(); $GLOBALS['options'] = array();
$GLOBALS['user'] = 0; $GLOBALS['inline'] = array();
function add_action( $hook, $cb ) { $GLOBALS['hooks'][ $hook ][] = $cb; }
function add_filter( $hook, $cb ) { $GLOBALS['hooks'][ $hook ][] = $cb; }
function do_action( $hook ) { foreach ( $GLOBALS['hooks'][ $hook ] as $cb ) { $cb(); } }
function register_activation_hook( $file, $cb ) {}
function register_rest_route( $ns, $route, $args ) { $GLOBALS['routes'][ $ns . $route ] = $args; }
function get_option( $k, $d = false ) {
    return isset( $GLOBALS['options'][ $k ] ) ? $GLOBALS['options'][ $k ] : $d;
}
function update_option( $k, $v, $autoload = null ) { $GLOBALS['options'][ $k ] = $v; }
function untrailingslashit( $s ) { return rtrim( $s, '/' ); }
function home_url() { return 'https://php-store.example.com/'; }
function is_user_logged_in() { return $GLOBALS['user'] > 0; }
function get_current_user_id() { return $GLOBALS['user']; }
function wp_verify_nonce( $nonce, $action ) {
    return 'wp_rest' === $action && 'n0nce' === $nonce ? 1 : false;
}
function wp_create_nonce( $action ) { return 'wp_rest' === $action ? 'n0nce' : 'other'; }
function __( $s, $domain = null ) { return $s; }
function is_admin() { return false; }
function rest_url( $path ) { return 'https://php-store.example.com/wp-json/' . $path; }
function wp_enqueue_script() {}
function wp_add_inline_script( $handle, $js ) { $GLOBALS['inline'][] = $js; }
function wp_json_encode( $v ) { return json_encode( $v, JSON_UNESCAPED_SLASHES ); }
function determine_locale() { return 'en_US'; }
function wc_get_page_permalink( $page ) { return 'https://php-store.example.com/my-account/'; }
function wc_get_cart_url() { return 'https://php-store.example.com/cart/'; }
function add_query_arg( $k, $v, $url ) { return $url . '?' . $k . '=' . $v; }
class WP_Error {
    public $code; public $data;
    public function __construct( $code, $message, $data ) {
        $this->code = $code; $this->data = $data;
    }
}
class WP_REST_Response {
    public $data; public $status; public $headers = array();
    public function __construct( $data, $status ) { $this->data = $data; $this->status = $status; }
    public function header( $k, $v ) { $this->headers[ $k ] = $v; }
}
class Fake_Request {
    private $h;
    public function __construct( $h ) { $this->h = $h; }
    public function get_header( $k ) { return isset( $this->h[ $k ] ) ? $this->h[ $k ] : null; }
}
update_option( 'loyalty_app_url', 'https://app.example.com' );
"""


def plugin_calls(body: str) -> dict:  # type: ignore[type-arg]
    main = json.dumps(str(PLUGIN / "loyalty-rewards.php"))
    return dict(json.loads(php(WORDPRESS_STUBS + f"require {main};\n" + body)))


def test_the_token_route_gives_a_signed_in_customer_a_fresh_token_behind_the_nonce(
    container: Container, client: FlaskClient
) -> None:
    out = plugin_calls(
        """
        do_action( 'rest_api_init' );
        $route = $GLOBALS['routes']['loyalty/v1/shopper-token'];
        $allowed = function ( $headers ) use ( $route ) {
            $r = call_user_func( $route['permission_callback'], new Fake_Request( $headers ) );
            return true === $r ? 'yes' : array( $r->code, $r->data['status'] );
        };
        $GLOBALS['user'] = 25;
        $ok = $allowed( array( 'X-WP-Nonce' => 'n0nce' ) );
        $response = call_user_func( $route['callback'] );
        $no_nonce = $allowed( array() );
        $bad_nonce = $allowed( array( 'X-WP-Nonce' => 'forged' ) );
        $GLOBALS['user'] = 0;
        $signed_out = $allowed( array( 'X-WP-Nonce' => 'n0nce' ) );
        echo json_encode( array(
            'methods' => $route['methods'], 'ok' => $ok, 'no_nonce' => $no_nonce,
            'bad_nonce' => $bad_nonce, 'signed_out' => $signed_out,
            'status' => $response->status, 'token' => $response->data['token'],
            'cache' => $response->headers['Cache-Control'],
            'public' => get_option( 'loyalty_token_public_key' ),
        ) );
        """
    )
    assert out["methods"] == "POST"
    assert out["ok"] == "yes"
    assert out["no_nonce"] == ["loyalty_bad_nonce", 403]
    assert out["bad_nonce"] == ["loyalty_bad_nonce", 403]
    assert out["signed_out"] == ["loyalty_signed_out", 401]
    assert (out["status"], out["cache"]) == (200, "no-store, private")
    # The fresh token opens the storefront API as that customer.
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
    r = client.patch("/api/v1/widget", headers=shop.auth, json={"token_public_key": out["public"]})
    assert r.status_code == 200, r.json
    r = client.get("/storefront/v1/summary", headers={"Authorization": f"Bearer {out['token']}"})
    assert r.status_code == 200, r.json
    assert (r.json["member"]["customer_id"], r.json["member"]["balance"]) == ("25", 40)


def test_the_page_config_names_the_refresh_route_only_for_a_signed_in_customer() -> None:
    out = plugin_calls(
        """
        $configs = array();
        foreach ( array( 25, 0 ) as $user ) {
            $GLOBALS['user'] = $user; $GLOBALS['inline'] = array();
            do_action( 'wp_enqueue_scripts' );
            $js = $GLOBALS['inline'][0];
            $prefix = strlen( 'window.LoyaltyConfig = ' );
            $configs[] = json_decode( substr( $js, $prefix, -1 ), true );
        }
        echo json_encode( array( 'member' => $configs[0], 'guest' => $configs[1] ) );
        """
    )
    member, guest = out["member"], out["guest"]
    assert member["refresh"] == "https://php-store.example.com/wp-json/loyalty/v1/shopper-token"
    assert member["nonce"] == "n0nce"
    assert "refresh" not in guest
    assert "nonce" not in guest
    assert member["token"].count(".") == 2
