"""Connecting stores: Shopify's install/OAuth and token exchange, WooCommerce's /wc-auth.

Every inbound request is checked before anything is stored: Shopify's signed query (HMAC,
constant-time), a single-use `state` bound to the shop and to the browser (cookie), the
shop domain's form, and the timestamp; WooCommerce's unsigned key callback only counts if
it carries a nonce we issued and the keys work against that store.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, redirect, request
from shopify_app import ShopifyApp
from werkzeug.wrappers import Response as BaseResponse

from plugin_server.api import rate_limits, schemas
from plugin_server.api.context import current_container
from plugin_server.api.contract import RATE_LIMITED, endpoint
from plugin_server.api.errors import ApiError
from plugin_server.bootstrap import Container
from plugin_server.domain.errors import InstallRejected, ValidationFailed
from plugin_server.platforms import shopify_auth, woocommerce
from plugin_server.platforms.base import PlatformError, ShopCredentials
from plugin_server.platforms.shopify import ShopifyClient
from plugin_server.platforms.woocommerce import WooCommerceClient
from plugin_server.services import install
from webhooks.shopify import normalize_shop_domain

logger = logging.getLogger(__name__)
bp = Blueprint("install", __name__, url_prefix="/auth")


@bp.before_request
def limit_by_address() -> None:
    rate_limits.enforce("install", current_container().settings.public_rate)


STATE_COOKIE = "loyalty_shopify_state"
# Signed install links and callbacks older than this are refused (replays).
MAX_QUERY_AGE_S = 3600


def shopify_app(container: Container) -> ShopifyApp:
    s = container.settings
    if not s.shopify_api_key or not s.shopify_api_secret:
        raise ApiError(503, "not_configured", "SHOPIFY_API_KEY and SHOPIFY_API_SECRET are not set.")
    return ShopifyApp(s.shopify_api_key, s.shopify_api_secret, s.shopify_old_api_secret)


def _verified_shop(container: Container) -> str:
    """The shop of a request Shopify signed (install link or OAuth callback)."""
    s = container.settings
    secrets_ = (s.shopify_api_secret, s.shopify_old_api_secret or "")
    if not shopify_auth.query_hmac_valid(request.query_string.decode(), secrets_):
        raise ApiError(401, "invalid_hmac", "The request is not signed by Shopify.")
    domain = normalize_shop_domain(request.args.get("shop", ""))
    if domain is None:
        raise ApiError(400, "invalid_shop", "shop must be a NAME.myshopify.com domain.")
    try:
        age = time.time() - int(request.args.get("timestamp", ""))
    except ValueError:
        raise ApiError(400, "invalid_timestamp", "timestamp is missing or not a number.") from None
    if abs(age) > MAX_QUERY_AGE_S:
        raise ApiError(401, "stale_request", "The signed request is too old; start again.")
    return domain


def _installed(body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"  # it may carry the shop's new API key
    return response


SIGNED_QUERY_ERRORS = {
    "HTTP_400": (schemas.Error, "invalid_shop or invalid_timestamp."),
    "HTTP_401": (schemas.Error, "invalid_hmac or stale_request."),
}


@bp.get("/shopify")
@endpoint(
    tags=["install"],
    validate=False,  # the query is Shopify's signed one: checked by HMAC before anything
    query=schemas.ShopifyInstallQuery,
    responses={
        **RATE_LIMITED,
        "HTTP_302": (None, "To Shopify's grant screen, with a single-use state."),
        **SIGNED_QUERY_ERRORS,
        "HTTP_503": (schemas.Error, "The app's Shopify credentials are not configured."),
    },
)
def shopify_install() -> BaseResponse:
    """Shopify's install link (the app URL): off to the grant screen with a fresh state"""
    c = current_container()
    domain = _verified_shop(c)
    app = shopify_app(c)
    state = install.new_state(c.uow(), platform="shopify", shop_domain=domain, now=c.clock())
    params = {
        "client_id": app.config["client_id"],
        "scope": c.settings.shopify_scopes,
        "redirect_uri": f"{c.settings.public_url}/auth/shopify/callback",
        "state": state,
    }
    base = c.settings.sandbox_url or f"https://{domain}"
    if c.settings.sandbox_url:
        params["shop"] = domain
    response = redirect(f"{base}/admin/oauth/authorize?{urlencode(params)}")
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=int(install.STATE_TTL.total_seconds()),
        httponly=True,
        secure=not c.settings.development,
        samesite="Lax",
        path="/auth/shopify/callback",
    )
    return response


@bp.get("/shopify/callback")
@endpoint(
    tags=["install"],
    validate=False,
    query=schemas.ShopifyCallbackQuery,
    responses={
        **RATE_LIMITED,
        "HTTP_200": (schemas.Installed, "Installed; an expiring offline token stored."),
        "HTTP_303": (None, "Installed; a browser (Accept: text/html) goes on to the admin app."),
        "HTTP_400": (schemas.Error, "invalid_shop, invalid_timestamp or missing_code."),
        "HTTP_401": (schemas.Error, "invalid_hmac or stale_request."),
        "HTTP_403": (
            schemas.Error,
            "invalid_state: unknown, used, expired, other shop or other browser.",
        ),
        "HTTP_502": (schemas.Error, "Shopify refused the code."),
        "HTTP_503": (schemas.Error, "Shopify unreachable, or the app is not configured."),
    },
)
def shopify_callback() -> BaseResponse:
    """Shopify OAuth callback: checks, code exchange, webhook subscriptions"""
    c = current_container()
    domain = _verified_shop(c)
    state = request.args.get("state", "")
    cookie = request.cookies.get(STATE_COOKIE, "")
    if not state or not hmac.compare_digest(state.encode(), cookie.encode()):
        raise ApiError(403, "invalid_state", "The state does not match this browser's install.")
    try:
        install.consume_state(
            c.uow(), platform="shopify", nonce=state, shop_domain=domain, now=c.clock()
        )
    except InstallRejected as exc:
        raise ApiError(403, "invalid_state", exc.message) from None
    app = shopify_app(c)
    code = request.args.get("code", "")
    if not code:
        raise ApiError(400, "missing_code", "The callback has no authorization code.")
    token = shopify_auth.exchange_code(
        domain,
        code,
        client_id=app.config["client_id"],
        client_secret=app.config["client_secret"],
        api_base_url=c.settings.sandbox_url,
    )
    installed = _finish_shopify(c, domain, token)
    if _wants_html():
        # A merchant's browser: the install lands on the admin app, inside the Shopify
        # admin (which loads /admin with a session token).
        response: BaseResponse = redirect(
            f"https://{domain}/admin/apps/{app.config['client_id']}", 303
        )
    else:
        response = _installed(installed)
    response.delete_cookie(STATE_COOKIE, path="/auth/shopify/callback")
    return response


def _wants_html() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html" and request.accept_mimetypes["text/html"] > 0


@bp.post("/shopify/token-exchange")
@endpoint(
    tags=["install"],
    validate=False,  # shopifyapp verifies the session token itself
    headers=schemas.BearerHeaders,
    responses={
        **RATE_LIMITED,
        "HTTP_200": (schemas.Installed, "Token stored."),
        "HTTP_401": (schemas.Error, "The session token is invalid, expired or for another app."),
        "HTTP_503": (schemas.Error, "Shopify unreachable, or the app is not configured."),
    },
)
def shopify_token_exchange() -> Response:
    """Embedded app: exchange a session token for an expiring offline token"""
    c = current_container()
    app = shopify_app(c)
    try:
        domain, token = shopify_auth.exchange_id_token(
            app,
            {
                "method": request.method,
                "headers": dict(request.headers),
                "url": request.url,
                "body": request.get_data(as_text=True),
            },
            api_base_url=c.settings.sandbox_url,
        )
    except PlatformError as exc:
        if exc.retryable:
            raise ApiError(503, "platform_unavailable", str(exc)) from None
        raise ApiError(401, exc.code, str(exc)) from None
    return _installed(_finish_shopify(c, domain, token))


def _finish_shopify(c: Container, domain: str, token: shopify_auth.ShopToken) -> dict[str, Any]:
    shop_id, api_key = install.save_shopify_install(
        c.uow,
        c.cipher,
        domain=domain,
        token=token,
        api_base_url=c.settings.sandbox_url,
        now=c.clock(),
    )
    creds = ShopCredentials(
        domain=domain, access_token=token.access_token, api_base_url=c.settings.sandbox_url
    )
    client = c.platforms.get("shopify")
    try:
        subscribed = len(
            shopify_auth.subscribe_webhooks(
                client if isinstance(client, ShopifyClient) else ShopifyClient(),
                creds,
                c.settings.webhook_url("shopify"),
            )
        )
        webhook_error = None
    except PlatformError as exc:
        # The install stands; re-running it (or `loyalty shops`) subscribes again.
        logger.warning("webhook subscription failed for %s: %s", domain, exc.code)
        subscribed, webhook_error = 0, str(exc)
    return {
        "status": "installed",
        "platform": "shopify",
        "shop": domain,
        "shop_id": shop_id,
        "api_key": api_key,
        "token_expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "webhooks_subscribed": subscribed,
        "webhook_error": webhook_error,
    }


# --- WooCommerce -----------------------------------------------------------------------


@bp.get("/woocommerce")
@endpoint(
    tags=["install"],
    query=schemas.WooConnectQuery,
    responses={
        **RATE_LIMITED,
        "HTTP_302": (None, "To the store's approval screen, with a single-use nonce."),
        "HTTP_400": (schemas.Error, "No store_url, or store_url_not_allowed."),
    },
)
def woocommerce_connect(query: schemas.WooConnectQuery) -> BaseResponse:
    """Connect a WooCommerce store: off to its /wc-auth approval screen"""
    c = current_container()
    store_url = install.check_store_url(query.store_url, allow_private=c.settings.development)
    nonce = install.new_state(c.uow(), platform="woocommerce", shop_domain=store_url, now=c.clock())
    params = {
        "app_name": "Loyalty",
        "scope": "read_write",
        "user_id": nonce,
        "return_url": f"{c.settings.public_url}/auth/woocommerce/return",
        "callback_url": f"{c.settings.public_url}/auth/woocommerce/callback",
    }
    return redirect(f"{store_url}/wc-auth/v1/authorize?{urlencode(params)}")


@bp.post("/woocommerce/callback")
@endpoint(
    tags=["install"],
    json=schemas.WooKeys,
    responses={
        **RATE_LIMITED,
        "HTTP_200": (schemas.WooConnected, "Keys stored encrypted; webhooks created."),
        "HTTP_400": (
            schemas.Error,
            "invalid_json, validation_failed (wrong permissions) or keys_rejected by the store.",
        ),
        "HTTP_403": (schemas.Error, "invalid_state: the nonce is unknown, used or expired."),
    },
)
def woocommerce_callback(json: schemas.WooKeys) -> tuple[Response, int]:
    """WooCommerce's key callback (unsigned): nonce checked, keys tested, webhooks created.

    Anything but 200 makes WooCommerce revoke the keys."""
    c = current_container()
    try:
        store_url = install.consume_state(
            c.uow(),
            platform="woocommerce",
            nonce=json.user_id,
            shop_domain=None,
            now=c.clock(),
        )
    except InstallRejected as exc:
        raise ApiError(403, "invalid_state", exc.message) from None
    # Checked again at the moment of calling: DNS may have changed since the merchant began.
    install.check_store_url(store_url, allow_private=c.settings.development)
    creds = ShopCredentials(
        domain=store_url,
        consumer_key=json.consumer_key,
        consumer_secret=json.consumer_secret,
    )
    client = WooCommerceClient(timeout_s=10.0, max_retries=1)
    try:
        client.verify_keys(creds)
    except PlatformError as exc:
        raise ApiError(400, "keys_rejected", f"The store did not accept the keys: {exc}") from None
    webhook_secret = secrets.token_urlsafe(32)
    shop_id, _ = install.save_woocommerce_install(
        c.uow,
        c.cipher,
        store_url=store_url,
        consumer_key=json.consumer_key,
        consumer_secret=json.consumer_secret,
        webhook_secret=webhook_secret,
        now=c.clock(),
    )
    # The Loyalty Rewards plugin signs shopper tokens; its public key comes from the store
    # we just verified, so tokens it signs can be trusted as this store's.
    plugin_key = client.plugin_public_key(creds)
    if plugin_key:
        try:
            install.set_token_key(c.uow(), shop_id, plugin_key)
        except ValidationFailed:
            logger.warning("the store's plugin served an invalid token key: %s", store_url)
    created = 0
    for topic in woocommerce.WEBHOOK_TOPICS:
        try:
            client.create_webhook(
                creds,
                topic=topic,
                delivery_url=c.settings.webhook_url("woocommerce"),
                secret=webhook_secret,
            )
            created += 1
        except PlatformError as exc:
            logger.warning("webhook %s not created for %s: %s", topic, store_url, exc.code)
    return jsonify(status="connected", shop_id=shop_id, webhooks_created=created), 200


@bp.get("/woocommerce/return")
@endpoint(
    tags=["install"],
    query=schemas.WooReturnQuery,
    responses={
        "HTTP_200": (schemas.WooReturn, "Whether the store is connected."),
        **RATE_LIMITED,
    },
)
def woocommerce_return(query: schemas.WooReturnQuery) -> Response:
    """Where WooCommerce sends the merchant back.

    `success=1` alone proves nothing (anyone can type it): connected means our callback
    used this nonce."""
    c = current_container()
    connected = query.success == "1" and install.state_was_used(
        c.uow(), platform="woocommerce", nonce=query.user_id or ""
    )
    return jsonify(
        status="connected" if connected else "not_connected",
        next=(
            "Points now follow this store's orders. Get an API key for the admin API with "
            "`loyalty shops rotate-key <shop id>`."
            if connected
            else "The store was not connected; start again from the app."
        ),
    )
