"""POST /webhooks/<platform>: verify, store durably, enqueue, answer in milliseconds.

Nothing here parses more than it must: the ledger work happens in a job, so a slow or
broken ledger can never make the platform's delivery time out.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from flask import Blueprint, Flask, Response, g, jsonify, request
from werkzeug.datastructures import EnvironHeaders

from plugin_server import metrics, observability
from plugin_server.api import rate_limits, schemas
from plugin_server.api.context import current_container
from plugin_server.api.contract import endpoint
from plugin_server.api.errors import ApiError
from plugin_server.domain.orders import Platform
from plugin_server.services import webhook_receipts
from webhooks import envelopes, handled_topics, shopify, woocommerce
from webhooks.base import Envelope, MissingHeaders, header
from webhooks.signing import hmac_sha256_base64, signatures_match

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from plugin_server.bootstrap import Container

bp = Blueprint("webhooks", __name__)

_UNAUTHORIZED = "The request is not signed by a shop we know."


@bp.after_request
def count_outcome(response: Response) -> Response:
    platform = (request.view_args or {}).get("platform")
    label = platform if platform in ("shopify", "woocommerce") else "other"
    outcome = g.get("webhook_outcome") or g.get("error_code") or f"http_{response.status_code}"
    metrics.WEBHOOKS_RECEIVED.labels(label, outcome).inc()
    if response.status_code == 401:
        rate = current_container().settings.refused_webhook_rate
        rate_limits.retry_after("webhook-refused", rate, local=True)
    return response


def _reply(status: str, extra: Mapping[str, object]) -> tuple[Response, int]:
    g.webhook_outcome = status
    return jsonify(status=status, **extra), 200


@bp.post("/webhooks/<platform>")
@endpoint(
    tags=["webhooks"],
    # Platform payloads: the signature is checked over the raw bytes before anything is
    # parsed, and the body is normalised later by the job, so nothing is validated here.
    validate=False,
    headers=schemas.WebhookHeaders,
    json=schemas.WebhookPayload,
    path_parameters={"platform": "shopify or woocommerce"},
    responses={
        "HTTP_200": (
            schemas.WebhookAck,
            "accepted (stored, applied shortly), duplicate, ignored (topic unused, shop "
            "inactive, or a privacy topic for a shop we hold nothing on) or ping.",
        ),
        "HTTP_400": (schemas.Error, "missing_headers, or a signed but malformed_payload."),
        "HTTP_401": (schemas.Error, "invalid_signature or unknown_shop."),
        "HTTP_404": (schemas.Error, "unknown_platform."),
        "HTTP_413": (schemas.Error, "payload_too_large."),
        "HTTP_503": (schemas.Error, "Database or queue unavailable; retry later."),
        "HTTP_429": (
            schemas.Error,
            "rate_limited: this address sent too many refused webhooks; see Retry-After.",
        ),
    },
)
def receive(platform: str) -> tuple[Response, int]:
    """Order, refund and privacy webhooks from Shopify and WooCommerce"""
    container = current_container()
    # An address that keeps sending what we refuse waits before we verify anything more.
    # Counted in this process's memory: no Redis round trip on the hot path.
    wait = rate_limits.over("webhook-refused", container.settings.refused_webhook_rate, local=True)
    if wait is not None:
        raise rate_limits.too_many(wait)
    body = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    # Werkzeug's Headers: a case-insensitive mapping, which is what the readers expect.
    reply = accept(container, platform, cast(Mapping[str, str], request.headers), body)
    return _reply(reply.status, reply.extra)


@dataclass(frozen=True)
class Reply:
    """A 200 answer to a delivery: `status` and what goes beside it in the JSON body."""

    status: str
    extra: dict[str, object] = field(default_factory=dict)


def accept(container: Container, platform: str, headers: Mapping[str, str], body: bytes) -> Reply:
    """Verify a delivery, store it durably and wake a drain; ApiError for what is refused.

    Shared by the Flask view and `WebhookFastPath`, so both answer exactly alike.
    """
    try:
        plat = Platform(platform)
    except ValueError:
        raise ApiError(404, "unknown_platform", f"no webhook endpoint for {platform!r}") from None

    if plat is Platform.WOOCOMMERCE and woocommerce.is_ping(headers, body):
        # WooCommerce's unsigned "webhook created" ping must get exactly 200 and nothing else.
        return Reply("ping")

    if plat is Platform.SHOPIFY:
        given = header(headers, envelopes.SHOPIFY_SIGNATURE)
        settings = container.settings
        secrets = [s for s in (settings.shopify_api_secret, settings.shopify_old_api_secret) if s]
        if not any(signatures_match(hmac_sha256_base64(s, body), given) for s in secrets):
            raise ApiError(401, "invalid_signature", _UNAUTHORIZED)
        domain = shopify.normalize_shop_domain(header(headers, envelopes.SHOPIFY_SHOP) or "")
        shop = container.shops.get(plat.value, domain) if domain else None
        if shop is None:
            if domain and header(headers, "X-Shopify-Topic") in shopify.COMPLIANCE_TOPICS:
                # Signed by Shopify for a shop we hold nothing on (never installed, or already
                # erased by shop/redact): the duty is done, and Shopify needs a 2xx to know.
                return Reply("ignored", {"reason": "no data held for this shop"})
            raise ApiError(401, "unknown_shop", _UNAUTHORIZED)
    else:
        given = header(headers, envelopes.WOO_SIGNATURE)
        domain = woocommerce.normalize_source(header(headers, envelopes.WOO_SOURCE) or "")
        shop = container.shops.get(plat.value, domain) if domain else None
        if shop is None or not shop.webhook_secret:
            raise ApiError(401, "unknown_shop", _UNAUTHORIZED)
        if not signatures_match(hmac_sha256_base64(shop.webhook_secret, body), given):
            raise ApiError(401, "invalid_signature", _UNAUTHORIZED)

    assert domain is not None  # a shop was found for it
    observability.bind_shop(shop.id)
    try:
        envelope: Envelope = (
            envelopes.shopify_envelope(headers, domain)
            if plat is Platform.SHOPIFY
            else envelopes.woocommerce_envelope(headers, domain)
        )
    except MissingHeaders as exc:
        raise ApiError(400, "missing_headers", str(exc)) from None

    if not shop.active and envelope.topic not in shopify.COMPLIANCE_TOPICS:
        return Reply("ignored", {"reason": "shop is not active"})
    if envelope.topic not in handled_topics(plat):
        return Reply("ignored", {"reason": f"topic {envelope.topic} is not used"})

    failed_reason = None
    try:
        if not isinstance(json.loads(body), dict):
            failed_reason = "body is not a JSON object"
    except ValueError:
        failed_reason = "body is not valid JSON"

    receipt_id = webhook_receipts.record_receipt(
        container.engine,
        shop_id=shop.id,
        envelope=envelope,
        body=body,
        now=container.clock(),
        failed_reason=failed_reason,
    )
    if failed_reason:
        # Signed but unreadable: kept as a failed receipt (`loyalty receipts list --failed`)
        # and refused, so the platform's delivery log shows the problem too.
        raise ApiError(400, "malformed_payload", failed_reason)
    if receipt_id is None:
        return Reply("duplicate")
    container.dispatcher.wake()  # after the commit: the receipt is durable
    return Reply("accepted", {"receipt_id": receipt_id})


_PATHS = {"/webhooks/shopify": "shopify", "/webhooks/woocommerce": "woocommerce"}


class WebhookFastPath:
    """The intake's hot path as plain WSGI, in front of Flask.

    Deliveries are the busiest route, and Flask's request and app contexts, hooks and
    response objects cost more CPU than verifying and storing a delivery. A POST to a
    webhook path with a Content-Length is answered here when `accept` answers it; anything
    it refuses (and anything unusual) goes on to the Flask view with the body put back, and
    that view, which runs the same `accept`, answers it with the documented error. Storing is
    idempotent per delivery id, so a delivery that reaches both is stored once.
    """

    def __init__(self, flask_app: Flask, wsgi_app: WSGIApplication, container: Container):
        self._flask_app = flask_app
        self._next = wsgi_app
        self._container = container

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        platform = _PATHS.get(environ.get("PATH_INFO", ""))
        if platform is None or environ.get("REQUEST_METHOD") != "POST":
            return self._next(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return self._next(environ, start_response)
        settings = self._container.settings
        if not 0 < length <= settings.max_webhook_bytes or rate_limits.over_locally(
            self._flask_app,
            "webhook-refused",
            settings.refused_webhook_rate,
            environ.get("REMOTE_ADDR") or "unknown",
        ):
            return self._next(environ, start_response)
        body = environ["wsgi.input"].read(length)
        if len(body) != length:  # the client went away mid-body
            return self._next(_with_body(environ, body), start_response)
        headers = EnvironHeaders(environ)
        request_id = observability.request_id_from(headers.get(observability.REQUEST_ID_HEADER))
        tokens = observability.bind_request(request_id)
        try:
            reply = accept(self._container, platform, cast(Mapping[str, str], headers), body)
        except Exception:  # refused or failed: the Flask view answers it as documented
            return self._next(_with_body(environ, body), start_response)
        finally:
            observability.unbind_request(tokens)
        metrics.WEBHOOKS_RECEIVED.labels(platform, reply.status).inc()
        payload = json.dumps({"status": reply.status, **reply.extra}, separators=(",", ":"))
        answer = (payload + "\n").encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(answer))),
                (observability.REQUEST_ID_HEADER, request_id),
            ],
        )
        return [answer]


def _with_body(environ: WSGIEnvironment, body: bytes) -> WSGIEnvironment:
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return environ
