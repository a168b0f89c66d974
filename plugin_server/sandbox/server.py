"""The sandbox's HTTP face: the same paths the real platforms serve, on 127.0.0.1."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, jsonify, redirect, request
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Response as BaseResponse

from plugin_server.sandbox import shopify_oauth
from plugin_server.sandbox.shopify_admin import Fault, ShopifyAdmin
from plugin_server.sandbox.smtp_sink import SmtpSink
from plugin_server.sandbox.storefront import StorefrontDemo, register_storefront
from plugin_server.sandbox.woocommerce_store import WooStore


@dataclass
class Sandbox:
    """All sandbox state: one Shopify Admin API per shop domain, one WooCommerce store per
    host (served under /woo/<host>, which is the store URL the app is given)."""

    shopify: dict[str, ShopifyAdmin] = field(default_factory=dict)
    woocommerce: dict[str, WooStore] = field(default_factory=dict)
    shopify_apps: dict[str, str] = field(default_factory=dict)  # client_id -> client secret
    storefront: StorefrontDemo | None = None  # one shop's storefront at /, with the app proxy
    smtp: SmtpSink | None = None  # the local SMTP sink, when started (`--smtp-port`)

    def woo_store(self, host: str) -> WooStore:
        return self.woocommerce.setdefault(host, WooStore())

    def shopify_shop(self, domain: str, *, access_token: str | None = None) -> ShopifyAdmin:
        shop = self.shopify.setdefault(domain, ShopifyAdmin())
        if access_token:
            shop.access_tokens.add(access_token)
        return shop


def create_sandbox_app(sandbox: Sandbox) -> Flask:
    app = Flask("loyalty-sandbox")

    @app.post("/admin/api/<version>/graphql.json")
    def shopify_graphql(version: str) -> tuple[Response, int, dict[str, str]]:
        # One sandbox serves many shops: the shop is the Host, as on Shopify
        # (NAME.myshopify.com), or ?shop= when the client points at 127.0.0.1:PORT directly.
        domain = (
            request.args.get("shop")
            or request.headers.get("X-Sandbox-Shop")
            or (request.host.split(":")[0])
        )
        shop = sandbox.shopify.get(domain)
        if shop is None:
            return jsonify(errors="Not Found"), 404, {}
        status, body, headers = shop.handle(
            request.headers.get("X-Shopify-Access-Token"), request.get_json(silent=True)
        )
        return jsonify(body), status, headers

    register_woocommerce(app, sandbox)
    if sandbox.storefront is not None:
        register_storefront(app, sandbox.storefront)

    def shop_domain() -> str:
        return request.args.get("shop") or (request.host.split(":")[0])

    @app.get("/admin/oauth/authorize")
    def shopify_authorize() -> BaseResponse | tuple[str, int]:
        domain = shop_domain()
        status, where = shopify_oauth.authorize_redirect(
            sandbox.shopify_shop(domain), domain, dict(request.args), sandbox.shopify_apps
        )
        return redirect(where) if status == 302 else (where, status)

    @app.post("/admin/oauth/access_token")
    def shopify_access_token() -> tuple[Response, int]:
        domain = shop_domain()
        body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        status, out = shopify_oauth.access_token(
            sandbox.shopify_shop(domain), domain, body or {}, sandbox.shopify_apps
        )
        return jsonify(out), status

    @app.post("/_sandbox/shopify/<domain>/faults")
    def script_faults(domain: str) -> tuple[Response, int]:
        """Test hook: queue failures for the next requests to this shop."""
        shop = sandbox.shopify_shop(domain)
        for spec in (request.get_json(silent=True) or {}).get("faults", []):
            shop.faults.append(
                Fault(
                    kind=spec["kind"],
                    retry_after_s=float(spec.get("retry_after_s", 1)),
                    delay_s=float(spec.get("delay_s", 0)),
                )
            )
        return jsonify(queued=len(shop.faults)), 200

    @app.post("/_sandbox/shopify/<domain>/outage")
    def shopify_outage(domain: str) -> tuple[Response, int]:
        """Test hook: the shop's API answers 503 to everything for `seconds` (0 ends it)."""
        seconds = float((request.get_json(silent=True) or {}).get("seconds", 0))
        sandbox.shopify_shop(domain).set_outage(seconds)
        return jsonify(down_for_s=max(seconds, 0.0)), 200

    @app.post("/_sandbox/shopify/<domain>/collections")
    def seed_collection(domain: str) -> tuple[Response, int]:
        """Demo/test hook: create or replace a collection and its products."""
        body = request.get_json(silent=True) or {}
        sandbox.shopify_shop(domain).set_collection(
            body["id"], body.get("title") or f"Collection {body['id']}", body.get("product_ids", [])
        )
        return jsonify(ok=True), 200

    @app.get("/_sandbox/shopify/<domain>/discounts")
    def list_discounts(domain: str) -> Response:
        shop = sandbox.shopify_shop(domain)
        return jsonify(
            discounts=[_public(d) for d in shop.discounts.values()], requests=shop.requests
        )

    @app.get("/_sandbox/emails")
    def list_emails() -> Response:
        """What the SMTP sink received, oldest first."""
        kept = sandbox.smtp.messages if sandbox.smtp is not None else []
        return jsonify(
            emails=[
                {
                    "from": m["From"],
                    "to": m["To"],
                    "subject": m["Subject"],
                    "list_unsubscribe": m["List-Unsubscribe"],
                    "text": (m.get_body(("plain",)) or m).get_content(),
                }
                for m in kept
            ]
        )

    return app


def register_woocommerce(app: Flask, sandbox: Sandbox) -> None:
    """WooCommerce's REST API and app-authorization endpoint, per store host."""

    def store_or_404(host: str) -> WooStore | None:
        return sandbox.woocommerce.get(host)

    def answer(result: tuple[int, Any, dict[str, str]]) -> tuple[Response, int, dict[str, str]]:
        status, body, headers = result
        return jsonify(body), status, headers

    @app.route(
        "/woo/<host>/wp-json/wc/v3/<path:endpoint>", methods=["GET", "POST", "PUT", "DELETE"]
    )
    def woo_rest(host: str, endpoint: str) -> tuple[Response, int, dict[str, str]]:
        store = store_or_404(host)
        if store is None:
            return answer((404, {"code": "rest_no_route", "message": "No route."}, {}))
        query = {k: v for k, v in request.args.items()}
        basic = (
            (request.authorization.username or "", request.authorization.password or "")
            if request.authorization
            else None
        )
        denied = store.authenticate(
            method=request.method,
            base_url=request.base_url,
            is_https=request.is_secure,
            query=query,
            basic=basic,
        )
        if denied:
            return answer(denied)
        fault = store.take_fault()
        if fault:
            return answer(fault)
        body = request.get_json(silent=True)
        if endpoint == "coupons" and request.method == "POST":
            return answer(store.create_coupon(body))
        if endpoint == "coupons" and request.method == "GET":
            return answer(store.list_coupons(query))
        if endpoint.startswith("coupons/") and endpoint[8:].isdigit():
            coupon_id = int(endpoint[8:])
            if request.method == "PUT":
                return answer(store.update_coupon(coupon_id, body))
            if request.method == "DELETE":
                return answer(store.delete_coupon(coupon_id, query.get("force") == "true"))
            coupon = store.coupons.get(coupon_id)
            if coupon is None:
                return answer((404, {"code": "woocommerce_rest_shop_coupon_invalid_id"}, {}))
            return answer((200, coupon, {}))
        if endpoint == "products" and request.method == "GET":
            return answer(store.list_products(query))
        if endpoint.startswith("products/categories/") and request.method == "GET":
            return answer(store.get_category(endpoint.removeprefix("products/categories/")))
        if endpoint == "webhooks" and request.method == "POST":
            return answer(store.create_webhook(body))
        if endpoint == "webhooks" and request.method == "GET":
            return answer(store.list_webhooks())
        if endpoint.startswith("webhooks/") and endpoint[9:].isdigit() and request.method == "PUT":
            return answer(store.update_webhook(int(endpoint[9:]), body))
        if endpoint == "orders" and request.method == "GET":
            return answer(store.list_orders(query))
        if endpoint == "system_status" and request.method == "GET":
            return answer((200, {"environment": {"home_url": f"https://{host}"}}, {}))
        return answer(
            (
                404,
                {
                    "code": "rest_no_route",
                    "message": "No route was found.",
                    "data": {"status": 404},
                },
                {},
            )
        )

    @app.get("/woo/<host>/wp-json/loyalty/v1/public-key")
    def woo_plugin_key(host: str) -> tuple[Response, int]:
        store = store_or_404(host)
        if store is None or store.plugin_public_key is None:
            return jsonify(code="rest_no_route", message="No route."), 404
        return jsonify(public_key=store.plugin_public_key), 200

    @app.get("/woo/<host>/wc-auth/v1/authorize")
    def woo_authorize(host: str) -> BaseResponse | tuple[Response, int]:
        """The merchant's approval screen, approved at once (or denied with ?deny=1): keys are
        created and POSTed to callback_url, then the browser goes back to return_url."""

        import requests as http

        store = sandbox.woo_store(host)
        args = request.args
        missing = [
            k
            for k in ("app_name", "scope", "user_id", "return_url", "callback_url")
            if not args.get(k)
        ]
        if missing:
            return jsonify(error=f"Missing parameter {missing[0]}"), 400
        if args["scope"] not in ("read", "write", "read_write"):
            return jsonify(error="Invalid scope"), 400
        callback = args["callback_url"]
        # Real stores insist on https; the sandbox also lets a local app on http call back.
        loopback = urlsplit(callback).hostname in ("127.0.0.1", "localhost")
        if not callback.startswith("https://") and not loopback:
            return jsonify(error="The callback_url needs to be over SSL"), 400
        back = args["return_url"] + ("&" if "?" in args["return_url"] else "?")
        if args.get("deny") == "1":
            return redirect(back + urlencode({"success": 0, "user_id": args["user_id"]}))
        key, secret = store.add_key()
        try:
            sent = http.post(
                callback,
                json={
                    "key_id": len(store.keys),
                    "user_id": args["user_id"],
                    "consumer_key": key,
                    "consumer_secret": secret,
                    "key_permissions": args["scope"],
                },
                timeout=60,
            )
            accepted = sent.status_code == 200
        except http.RequestException:
            accepted = False
        if not accepted:
            del store.keys[key]  # as WooCommerce does when the callback does not answer 200
            return jsonify(
                error="An error occurred in the request and at the time were unable to send "
                "the consumer data"
            ), 400
        return redirect(back + urlencode({"success": 1, "user_id": args["user_id"]}))

    @app.post("/_sandbox/woo/<host>/faults")
    def woo_faults(host: str) -> tuple[Response, int]:
        store = sandbox.woo_store(host)
        for spec in (request.get_json(silent=True) or {}).get("faults", []):
            store.faults.append(
                Fault(
                    kind=spec["kind"],
                    retry_after_s=float(spec.get("retry_after_s", 1)),
                    delay_s=float(spec.get("delay_s", 0)),
                )
            )
        return jsonify(queued=len(store.faults)), 200

    @app.post("/_sandbox/woo/<host>/categories")
    def woo_seed_category(host: str) -> tuple[Response, int]:
        """Demo/test hook: create or replace a product category and its products."""
        body = request.get_json(silent=True) or {}
        sandbox.woo_store(host).set_category(
            int(body["id"]),
            body.get("name") or f"Category {body['id']}",
            body.get("product_ids", []),
        )
        return jsonify(ok=True), 200

    @app.get("/_sandbox/woo/<host>/coupons")
    def woo_list_coupons(host: str) -> Response:
        store = sandbox.woo_store(host)
        return jsonify(coupons=list(store.coupons.values()), requests=store.requests)


def _public(discount: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": discount["node_id"],
        "type": discount["__typename"],
        "code": discount["codes"]["nodes"][0]["code"],
        "status": discount["status"],
        "input": discount["input"],
    }


class RunningSandbox:
    """A sandbox served from a background thread (tests, the demo)."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self._server: BaseWSGIServer = make_server(
            host, port, create_sandbox_app(sandbox), threaded=True
        )
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RunningSandbox:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
