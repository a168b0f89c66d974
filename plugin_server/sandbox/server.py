"""The sandbox's HTTP face: the same paths the real platforms serve, on 127.0.0.1."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server

from plugin_server.sandbox.shopify_admin import Fault, ShopifyAdmin


@dataclass
class Sandbox:
    """All sandbox state: one Shopify Admin API per shop domain."""

    shopify: dict[str, ShopifyAdmin] = field(default_factory=dict)

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

    @app.get("/_sandbox/shopify/<domain>/discounts")
    def list_discounts(domain: str) -> Response:
        shop = sandbox.shopify_shop(domain)
        return jsonify(
            discounts=[_public(d) for d in shop.discounts.values()], requests=shop.requests
        )

    return app


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
