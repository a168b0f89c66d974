"""A Shopify storefront for one shop, as far as the widget can tell: a theme page that loads
the widget like the app embed does (with the theme's `window.Shopify`), the app proxy
(/apps/loyalty/* forwarded to the app, signed exactly as Shopify signs it, with the signed-in
customer's id), the cart's attributes (/cart.js, /cart/update.js), /discount/CODE, and
sign-in/out for a demo shopper. The shop's domain is this sandbox: links the app makes to
https://<shop>/ (a member's referral link) are answered with this sandbox's address."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from html import escape
from importlib import resources
from urllib.parse import urlencode

import requests
from flask import Flask, Response, jsonify, redirect, request
from werkzeug.wrappers import Response as BaseResponse

PROXY_PREFIX = "/apps/loyalty"
CUSTOMER_COOKIE = "sandbox_customer"
CART_COOKIE = "sandbox_cart"  # the cart's attributes, as JSON (Shopify keeps the cart itself)
# What Shopify sets itself: a shopper cannot choose these by adding them to the URL.
SHOPIFY_PARAMS = {"shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature"}


@dataclass
class StorefrontDemo:
    shop: str  # NAME.myshopify.com
    app_url: str  # where the app serves /storefront/v1
    client_secret: str
    demo_customer_id: str
    demo_customer_name: str = "Ann"
    locale: str = "en"


def proxy_signature(params: list[tuple[str, str]], secret: str) -> str:
    """Shopify's app proxy signature: sorted `k=v` (repeated keys' values joined by ','),
    concatenated with no separator, hex HMAC-SHA256."""
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        grouped.setdefault(key, []).append(value)
    message = "".join(sorted(f"{k}={','.join(v)}" for k, v in grouped.items()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def register_storefront(app: Flask, demo: StorefrontDemo) -> None:
    def customer() -> str:
        # The demo shopper is signed in until they sign out (cookie "guest").
        value = request.cookies.get(CUSTOMER_COOKIE)
        return demo.demo_customer_id if value is None else ("" if value == "guest" else value)

    def cart_attributes() -> dict[str, str]:
        try:
            found = json.loads(request.cookies.get(CART_COOKIE, "{}"))
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    def cart(attributes: dict[str, str]) -> dict[str, object]:
        return {"token": "sandbox-cart", "attributes": attributes, "items": [], "item_count": 0}

    @app.get("/")
    def storefront_home() -> Response:
        template = resources.files("plugin_server.sandbox").joinpath("storefront.html").read_text()
        signed_in = customer()
        account = (
            f'<a href="/account/logout">Sign out ({escape(demo.demo_customer_name)})</a>'
            if signed_in
            else '<a href="/account/login">Sign in</a>'
        )
        lang = request.args.get("locale", demo.locale)
        if lang not in ("en", "vi", "th"):
            lang = "en"
        page = (
            template.replace("{{lang}}", lang)
            .replace("{{shop}}", escape(demo.shop))
            .replace("{{account}}", account)
            .replace(
                "{{widget_tag}}",
                ""
                if request.args.get("widget") == "0"
                else f'<script src="{PROXY_PREFIX}/assets/loader.js" defer '
                f'data-api="{PROXY_PREFIX}"></script>',
            )
        )
        return Response(page, mimetype="text/html")

    @app.get("/favicon.ico")
    def storefront_favicon() -> Response:
        return Response(status=204)

    @app.get("/account/login")
    def storefront_login() -> BaseResponse:
        response = redirect("/")
        response.set_cookie(CUSTOMER_COOKIE, demo.demo_customer_id, httponly=True, samesite="Lax")
        return response

    @app.get("/account/logout")
    def storefront_logout() -> BaseResponse:
        response = redirect("/")
        response.set_cookie(CUSTOMER_COOKIE, "guest", httponly=True, samesite="Lax")
        return response

    @app.get("/account/register")
    def storefront_register() -> Response:
        return Response("<!doctype html><title>Register</title><h1>Create an account</h1>")

    @app.get("/discount/<code>")
    def storefront_discount(code: str) -> Response:
        # Shopify stores the code in the cart for checkout, then shows the shop.
        safe = escape(code)
        attributes = "".join(
            f"<li>{escape(k)}: {escape(v)}</li>" for k, v in sorted(cart_attributes().items())
        )
        return Response(
            f'<!doctype html><html lang="en"><title>Discount {safe}</title>'
            f"<main><h1>Discount code {safe} will apply at checkout</h1>"
            + (f"<h2>Cart attributes</h2><ul>{attributes}</ul>" if attributes else "")
            + '<a href="/">Continue shopping</a></main></html>',
            mimetype="text/html",
        )

    @app.get("/cart.js")
    def storefront_cart() -> Response:
        return jsonify(cart(cart_attributes()))

    @app.post("/cart/update.js")
    def storefront_cart_update() -> Response:
        # Shopify's Ajax Cart API: JSON or form body; `attributes` merge into the cart's, and
        # a blank value removes one. They reach the order as its note_attributes.
        given = request.get_json(silent=True) or {}
        attributes = cart_attributes()
        changes = given.get("attributes") if isinstance(given, dict) else None
        for key, value in (changes if isinstance(changes, dict) else {}).items():
            if value in (None, ""):
                attributes.pop(str(key), None)
            else:
                attributes[str(key)] = str(value)
        response = jsonify(cart(attributes))
        response.set_cookie(CART_COOKIE, json.dumps(attributes), httponly=True, samesite="Lax")
        return response

    @app.route(f"{PROXY_PREFIX}/<path:rest>", methods=["GET", "POST"])
    def storefront_proxy(rest: str) -> Response:
        params = [(k, v) for k, v in request.args.items(multi=True) if k not in SHOPIFY_PARAMS]
        params += [
            ("shop", demo.shop),
            ("logged_in_customer_id", customer()),
            ("path_prefix", PROXY_PREFIX),
            ("timestamp", str(int(time.time()))),
        ]
        params.append(("signature", proxy_signature(params, demo.client_secret)))
        forwarded = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("content-type", "idempotency-key", "accept")
        }
        upstream = requests.request(
            request.method,
            f"{demo.app_url}/storefront/v1/{rest}?{urlencode(params)}",
            data=request.get_data(),
            headers=forwarded,
            timeout=30,
        )
        keep = {
            k: v
            for k, v in upstream.headers.items()
            if k.lower() in ("content-type", "cache-control", "retry-after")
        }
        content = upstream.content
        if upstream.headers.get("content-type", "").startswith("application/json"):
            content = content.replace(f"https://{demo.shop}/".encode(), request.host_url.encode())
        return Response(content, status=upstream.status_code, headers=keep)
