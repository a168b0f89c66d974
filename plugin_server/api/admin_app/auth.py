"""Who is using the admin app: a merchant of one shop, proven on every request.

Three ways in, one result (`Merchant`):

* Shopify (embedded in the Shopify admin): no cookies at all. Every request carries a
  Shopify session token, the document request as its `id_token` query parameter, form
  posts and fetches as `Authorization: Bearer` (App Bridge adds it). `shopifyapp` checks the
  HS256 signature with our client secret (and the old one during a rotation), `exp`/`nbf`
  with 10 s leeway, and `aud` = our client id; we add: `exp` must be present, `dest` and
  `iss` name the same valid NAME.myshopify.com shop, a `shop` query parameter (if any)
  names that shop too, and the shop is installed here. A bearer credential the browser
  never sends by itself is immune to CSRF, so these requests need no CSRF token.
* WooCommerce: the plugin's settings page links here through a short-lived (at most
  5 min) single-use link signed with the store's Ed25519 key (services.admin_links); the
  app then keeps a Flask signed session cookie (HttpOnly, SameSite=Lax, Secure outside
  development, path /admin, 8 hours), and every POST must carry that session's CSRF token.
* Development: `loyalty demo` prints a sign-in link for the demo shop, signed with the
  app's secret key; the route does not exist outside development.

Tokens and links are never logged; comparisons of secrets are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse, urlsplit

from flask import Request, session

from plugin_server.bootstrap import Container
from plugin_server.db import repositories
from plugin_server.platforms import shopify_auth
from plugin_server.platforms.base import PlatformError
from plugin_server.services import admin_links
from webhooks.shopify import normalize_shop_domain

logger = logging.getLogger(__name__)

SESSION_MAX_AGE_S = 8 * 3600
SESSION_COOKIE = "loyalty_admin"
PATCH_ID_TOKEN_PATH = "/admin/auth/patch-id-token"
CSRF_FIELD = "csrf_token"
_HOST_PARAM = re.compile(r"[A-Za-z0-9+/=_-]{1,255}")


@dataclass(frozen=True, slots=True)
class Merchant:
    shop_id: int
    platform: str
    domain: str
    via: str  # "shopify" (session token on each request) or "session" (cookie)
    # Query parameters every link keeps (Shopify: shop, host, embedded, locale), so a
    # document request without a token can be bounced to App Bridge for a fresh one.
    carry: dict[str, str] = field(default_factory=dict)


class AuthFailed(Exception):
    """No merchant: answer `status` (401, 400, 403), or redirect to `location` (re-auth)."""

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        location: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status, self.reason, self.location = status, reason, location
        self.headers = headers or {}


def uses_shopify_token(request: Request) -> bool:
    auth = request.headers.get("Authorization", "")
    return bool(auth) or "id_token" in request.args


def wants_shopify_bounce(request: Request) -> bool:
    """A document request from the Shopify admin without a token (App Bridge adds one)."""
    return SESSION_COOKIE not in request.cookies and (
        "host" in request.args or request.args.get("embedded") == "1"
    )


def _request_input(container: Container, request: Request) -> dict[str, Any]:
    # The URL as the browser sent it to our public address (proxies may change the scheme).
    base = container.settings.public_url.rstrip("/")
    return {
        "method": request.method,
        "headers": dict(request.headers),
        "url": f"{base}{request.full_path.rstrip('?')}",
        "body": "",
    }


def _shop_param(request: Request) -> str | None:
    given = request.args.get("shop")
    return normalize_shop_domain(given) if given else None


def shopify_merchant(container: Container, request: Request) -> Merchant:
    """Verify the Shopify session token of this request; AuthFailed otherwise."""
    from plugin_server.api.install import shopify_app

    app = shopify_app(container)
    is_fetch = bool(request.headers.get("Authorization"))
    result = app.verify_app_home_req(
        _request_input(container, request),  # type: ignore[arg-type]
        app_home_patch_id_token_path=PATCH_ID_TOKEN_PATH,
    )
    if not result.ok or result.id_token is None:
        location = result.response.headers.get("Location")
        if location and _shop_param(request):
            # A document request with no or a stale token: App Bridge gets a new one. Kept
            # on this origin, whatever host the library pieced the URL together from.
            parts = urlsplit(location)
            relative = parts.path + (f"?{parts.query}" if parts.query else "")
            raise AuthFailed(302, result.log.code, location=relative)
        raise AuthFailed(401, result.log.code, headers=dict(result.response.headers))
    claims = result.id_token.claims
    retry = {"X-Shopify-Retry-Invalid-Session-Request": "1"} if is_fetch else {}
    dest_host = urlparse(str(claims.get("dest", ""))).hostname or ""
    domain = normalize_shop_domain(dest_host)
    iss_host = urlparse(str(claims.get("iss", ""))).hostname or ""
    if not isinstance(claims.get("exp"), int) or domain is None or iss_host != domain:
        raise AuthFailed(401, "invalid_claims", headers=retry)
    asked = request.args.get("shop")
    if asked is not None and _shop_param(request) != domain:
        raise AuthFailed(401, "other_shop", headers=retry)
    with container.session_factory() as s:
        shop = repositories.shop_by_domain(s, "shopify", domain)
        found = (shop.id, shop.active, shop.access_token_enc is not None) if shop else None
    if found is None or not found[1] or not found[2]:
        if is_fetch or request.method != "GET":
            raise AuthFailed(401, "not_installed", headers=retry)
        found = (_install_from_token(container, request, app, domain), True, True)
    host = request.args.get("host", "")
    carry = {"shop": domain, "embedded": "1"}
    if _HOST_PARAM.fullmatch(host):
        carry["host"] = host
    locale = request.args.get("locale", "")
    if re.fullmatch(r"[A-Za-z]{2}([-_][A-Za-z]{2})?", locale):
        carry["locale"] = locale
    return Merchant(found[0], "shopify", domain, "shopify", carry)


def _install_from_token(container: Container, request: Request, app: Any, domain: str) -> int:
    """Shopify-managed install: the first visit of the app carries a session token, which
    is exchanged for the shop's expiring offline token; the install lands right here."""
    from plugin_server.api.install import _finish_shopify

    try:
        exchanged_domain, token = shopify_auth.exchange_id_token(
            app,
            _request_input(container, request),
            api_base_url=container.settings.sandbox_url,
        )
    except PlatformError as exc:
        logger.warning("token exchange at first visit failed for %s: %s", domain, exc.code)
        raise AuthFailed(503 if exc.retryable else 401, "token_exchange_failed") from None
    if exchanged_domain != domain:
        raise AuthFailed(401, "other_shop")
    return int(_finish_shopify(container, domain, token)["shop_id"])


# --- cookie sessions (WooCommerce and development) -----------------------------------------


def start_session(shop_id: int, *, locale: str | None) -> None:
    """A fresh session for this shop: nothing of a previous one survives (fixation)."""
    session.clear()
    session.permanent = True
    session["shop_id"] = shop_id
    session["iat"] = int(time.time())
    session["csrf"] = secrets.token_urlsafe(32)
    if locale:
        session["locale"] = locale


def session_merchant(container: Container) -> Merchant:
    shop_id, iat = session.get("shop_id"), session.get("iat")
    if not isinstance(shop_id, int) or not isinstance(iat, int):
        raise AuthFailed(401, "no_session")
    if time.time() - iat > SESSION_MAX_AGE_S:
        session.clear()
        raise AuthFailed(401, "session_expired")
    found = admin_links.shop_for_admin(container.uow(), shop_id)
    if found is None:
        session.clear()
        raise AuthFailed(401, "shop_gone")
    return Merchant(shop_id, found[0], found[1], "session")


def check_csrf(request: Request) -> None:
    """Cookie sessions only: the form's token must be this session's (400 missing, 403
    wrong)."""
    given = request.form.get(CSRF_FIELD, "")
    if not given:
        raise AuthFailed(400, "csrf_missing")
    expected = session.get("csrf", "")
    if not isinstance(expected, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        raise AuthFailed(403, "csrf_invalid")


# --- development sign-in -------------------------------------------------------------------


def dev_signature(secret_key: str, domain: str) -> str:
    return hmac.new(
        secret_key.encode(), f"loyalty-admin-dev:{domain}".encode(), hashlib.sha256
    ).hexdigest()


def dev_sign_in_path(secret_key: str, domain: str) -> str:
    """The demo's sign-in link (path and query), valid only while the app is in
    development."""
    return f"/admin/auth/dev?shop={domain}&sig={dev_signature(secret_key, domain)}"
