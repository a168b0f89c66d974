"""Shopify's OAuth endpoints for sandbox shops: the grant screen (approved at once), and
/admin/oauth/access_token for the authorization code, refresh and token-exchange grants,
issuing expiring offline tokens (1 h) with rotating refresh tokens (90 days)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import jwt

from plugin_server.sandbox.shopify_admin import ShopifyAdmin

ACCESS_TTL_S = 3600
REFRESH_TTL_S = 90 * 24 * 3600
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE = "urn:shopify:params:oauth:token-type:offline-access-token"


def sign_query(params: dict[str, str], secret: str) -> str:
    """Shopify's query HMAC: hex HMAC-SHA256 over the sorted `k=v` pairs joined by `&`."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def authorize_redirect(
    shop: ShopifyAdmin, domain: str, args: dict[str, str], apps: dict[str, str]
) -> tuple[int, str]:
    """(status, Location or error) for a merchant approving the grant screen."""
    client_id = args.get("client_id", "")
    secret = apps.get(client_id)
    if secret is None:
        return 400, "Oauth error invalid_request: The client_id is invalid"
    redirect_uri, state = args.get("redirect_uri", ""), args.get("state", "")
    if not redirect_uri.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        return 400, "Oauth error invalid_request: The redirect_uri is not whitelisted"
    code = secrets.token_hex(16)
    shop.oauth_codes[code] = client_id
    name = domain.removesuffix(".myshopify.com")
    params = {
        "code": code,
        "host": base64.b64encode(f"admin.shopify.com/store/{name}".encode()).decode().rstrip("="),
        "shop": domain,
        "state": state,
        "timestamp": str(int(time.time())),
    }
    params["hmac"] = sign_query(params, secret)
    return 302, f"{redirect_uri}?{urlencode(params)}"


def access_token(
    shop: ShopifyAdmin, domain: str, body: dict[str, Any], apps: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    client_id = str(body.get("client_id") or "")
    secret = apps.get(client_id)
    if secret is None or not hmac.compare_digest(secret, str(body.get("client_secret") or "")):
        return 400, {"error": "invalid_client", "error_description": "Client authentication failed"}
    grant = body.get("grant_type") or "authorization_code"
    expiring = str(body.get("expiring", "0")) == "1"
    if grant == "authorization_code":
        code = str(body.get("code") or "")
        if shop.oauth_codes.pop(code, None) != client_id:
            return 400, {
                "error": "invalid_request",
                "error_description": "The authorization code was not found or was already used",
            }
        return 200, _issue(shop, expiring=expiring)
    if grant == "refresh_token":
        token = str(body.get("refresh_token") or "")
        expires = shop.refresh_tokens.pop(token, None)
        if expires is None or expires < time.time():
            return 400, {
                "error": "invalid_grant",
                "error_description": "The refresh token is invalid or expired",
            }
        return 200, _issue(shop, expiring=True)
    if grant == TOKEN_EXCHANGE:
        if (
            body.get("subject_token_type") != ID_TOKEN
            or body.get("requested_token_type") != OFFLINE
        ):
            return 400, {"error": "invalid_request", "error_description": "Unsupported token types"}
        try:
            claims = jwt.decode(
                str(body.get("subject_token") or ""),
                secret,
                algorithms=["HS256"],
                audience=client_id,
            )
        except jwt.PyJWTError:
            return 400, {"error": "invalid_subject_token", "error_description": "Invalid id token"}
        if claims.get("dest") != f"https://{domain}":
            return 400, {"error": "invalid_subject_token", "error_description": "Wrong shop"}
        return 200, _issue(shop, expiring=expiring)
    return 400, {"error": "unsupported_grant_type"}


def _issue(shop: ShopifyAdmin, *, expiring: bool) -> dict[str, Any]:
    token = "shpat_" + secrets.token_hex(16)
    shop.access_tokens.add(token)
    scope = "write_discounts,read_orders,read_customers"
    if not expiring:
        return {"access_token": token, "scope": scope}
    shop.token_expiry[token] = time.time() + ACCESS_TTL_S
    refresh = "shprt_" + secrets.token_hex(16)
    shop.refresh_tokens[refresh] = time.time() + REFRESH_TTL_S
    return {
        "access_token": token,
        "scope": scope,
        "expires_in": ACCESS_TTL_S,
        "refresh_token": refresh,
        "refresh_token_expires_in": REFRESH_TTL_S,
    }
