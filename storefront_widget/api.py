"""/storefront/v1: what the widget calls. Shopify's app proxy forwards /apps/loyalty/* here
(signed); WooCommerce and headless stores call it directly with a store-signed token."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    request,
    send_from_directory,
)

from plugin_server import observability, redemption_flow
from plugin_server.api import schemas
from plugin_server.api.context import current_container
from plugin_server.api.contract import STOREFRONT_AUTH, STOREFRONT_ERRORS, endpoint
from plugin_server.api.errors import ApiError
from plugin_server.services import earning_rules, offers, redemptions, referrals, storefront
from storefront_widget.auth import RateLimits, Shopper, authenticate

bp = Blueprint("storefront", __name__, url_prefix="/storefront/v1")
STATIC = Path(__file__).with_name("static")
ASSETS = {"loader.js", "panel.js", "panel.css"}
CORS_HEADERS = "Authorization, Content-Type, Idempotency-Key"


def _limits() -> RateLimits:
    limits: RateLimits | None = current_app.extensions.get("loyalty_rate_limits")
    if limits is None:
        s = current_container().settings
        limits = RateLimits(
            current_container().redis,
            per_shopper=s.storefront_rate_per_shopper,
            per_address=s.storefront_rate_per_address,
        )
        current_app.extensions["loyalty_rate_limits"] = limits
    return limits


@bp.before_request
def authenticate_shopper() -> Response | None:
    if request.method == "OPTIONS":
        return _preflight()
    if request.endpoint == "storefront.asset":
        return None
    container = current_container()
    shopper = authenticate(container, request)
    cache = container.summary_cache
    read: list[str] = []
    if cache is not None and request.endpoint == "storefront.summary" and shopper.customer_ref:
        # The summary's cache versions come in the rate limits' round trip to Redis.
        g.summary_entry = entry = cache.known(shopper.shop_id, shopper.customer_ref)
        if entry is not None:
            read = cache.keys_for(shopper.shop_id, entry.customer_id, shopper.customer_ref)
    g.summary_versions = _limits().check(shopper, request.remote_addr or "unknown", read) or None
    g.shopper = shopper
    observability.bind_shop(shopper.shop_id)
    return None


def _origins_for(domain: str | None) -> tuple[str, ...]:
    shop = current_container().storefront_shops.active(None, domain) if domain else None
    return shop.origins if shop is not None else ()


def _preflight() -> Response:
    """Browsers ask before sending a token; only the shop's own origins get a yes."""
    response = Response(status=204)
    origin = request.headers.get("Origin", "")
    if origin and origin in _origins_for(request.args.get("shop")):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "GET, POST"
        response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    response.headers["Vary"] = "Origin"
    return response


@bp.after_request
def cors(response: Response) -> Response:
    shopper: Shopper | None = g.get("shopper")
    origin = request.headers.get("Origin", "")
    if origin and request.method != "OPTIONS" and request.endpoint != "storefront.asset":
        # A refused token (expired, rate limited) is answered to the shop's own origins
        # too, as the preflight was: the widget must read "token_expired" to renew it.
        allowed = shopper.origins if shopper is not None else _origins_for(request.args.get("shop"))
        if origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
        response.headers.add("Vary", "Origin")
    if shopper is not None:
        response.headers["Cache-Control"] = "private, no-store"
    # Merchant and shopper text travels in these JSON bodies, read cross-origin: never let
    # a browser guess another type for them.
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _member(shopper: Shopper) -> str:
    if shopper.customer_ref is None:
        raise ApiError(401, "sign_in_required", "Sign in to the store to use your points.")
    return shopper.customer_ref


@bp.get("/summary")
@endpoint(
    tags=["storefront"],
    security=STOREFRONT_AUTH,
    # The query is the app proxy's signed one, checked by authenticate_shopper already.
    validate=False,
    query=schemas.StorefrontQuery,
    responses={
        "HTTP_200": (schemas.StorefrontSummary, "member is null for guests."),
        **STOREFRONT_ERRORS,
    },
)
def summary() -> Response:
    """The shopper's points, rewards within reach, codes and history (the program alone
    for guests)"""
    shopper: Shopper = g.shopper
    c = current_container()
    if shopper.customer_ref is None:
        return jsonify(storefront.program(c.storefront_shops, shopper.shop_id))
    if c.summary_cache is None:
        return jsonify(
            storefront.summary(
                c.engine, c.storefront_shops, shopper.shop_id, shopper.customer_ref, now=c.clock()
            )
        )
    body = storefront.cached_summary(
        c.engine,
        c.storefront_shops,
        c.summary_cache,
        shopper.shop_id,
        shopper.customer_ref,
        entry=g.get("summary_entry"),
        versions=g.get("summary_versions"),
        redis=c.redis,
        now=c.clock(),
    )
    return current_app.response_class(body, mimetype="application/json")


@bp.get("/offers")
@endpoint(
    tags=["storefront"],
    security=STOREFRONT_AUTH,
    validate=False,
    query=schemas.StorefrontQuery,
    responses={"HTTP_200": (schemas.Offers, "Picked for this shopper."), **STOREFRONT_ERRORS},
)
def shopper_offers() -> Response:
    """Rewards within the shopper's reach and products picked for them (signed in only)"""
    shopper: Shopper = g.shopper
    c = current_container()
    return jsonify(offers.shopper_offers(c.uow(), shopper.shop_id, _member(shopper), now=c.clock()))


@bp.get("/program")
@endpoint(
    tags=["storefront"],
    security=STOREFRONT_AUTH,
    validate=False,
    query=schemas.StorefrontQuery,
    responses={"HTTP_200": (schemas.StorefrontSummary, "member is null."), **STOREFRONT_ERRORS},
)
def program() -> Response:
    """The program: ways to earn and rewards"""
    return jsonify(storefront.program(current_container().storefront_shops, g.shopper.shop_id))


@bp.post("/redemptions")
@endpoint(
    tags=["storefront"],
    security=STOREFRONT_AUTH,
    query=schemas.StorefrontQuery,
    json=schemas.RedemptionInput,
    headers=schemas.IdempotencyHeaders,
    responses={
        "HTTP_201": (schemas.Redemption, "Points taken; the code or pending."),
        "HTTP_200": (schemas.Redemption, "Already redeemed under this key."),
        "HTTP_400": (schemas.Error, "Invalid body."),
        "HTTP_404": (schemas.Error, "No such reward."),
        "HTTP_409": (
            schemas.Error,
            "insufficient_points, idempotency_key_reused, or tier_required.",
        ),
        **STOREFRONT_ERRORS,
    },
)
def redeem(
    json: schemas.RedemptionInput, headers: schemas.IdempotencyHeaders
) -> tuple[Response, int]:
    """Redeem (same service and guarantees as the admin API)"""
    shopper: Shopper = g.shopper
    customer = _member(shopper)
    given = json.model_dump(exclude_unset=True)
    out, created = redemption_flow.redeem_and_issue(
        current_container(),
        shopper.shop_id,
        customer,
        reward_id=given.get("reward_id"),
        points=given.get("points"),
        idempotency_key=headers.idempotency_key,
    )
    return jsonify(out), 201 if created else 200


# POST, not PUT: Shopify's app proxy and every store's forwarding take POST.
@bp.post("/birthday")
@endpoint(
    tags=["storefront"],
    security=STOREFRONT_AUTH,
    query=schemas.StorefrontQuery,
    json=schemas.BirthdayInput,
    responses={
        "HTTP_200": (schemas.Birthday, "Saved; a new date pays from bonus_from on."),
        "HTTP_400": (schemas.Error, "No such date."),
        **STOREFRONT_ERRORS,
    },
)
def set_birthday(json: schemas.BirthdayInput) -> Response:
    """The shopper's birthday, for the shop's birthday bonus (month and day, no year)"""
    shopper: Shopper = g.shopper
    customer = _member(shopper)
    c = current_container()
    return jsonify(
        earning_rules.set_birthday(
            c.uow(), shopper.shop_id, customer, month=json.month, day=json.day, now=c.clock()
        )
    )


@bp.get(f"/redemptions/<int(max={schemas.MAX_ID}):redemption_id>")
@endpoint(
    tags=["storefront"],
    security=STOREFRONT_AUTH,
    validate=False,
    query=schemas.StorefrontQuery,
    path_parameters={"redemption_id": "The redemption's id."},
    responses={
        "HTTP_200": (schemas.Redemption, "The redemption."),
        "HTTP_404": (schemas.Error, "Not this shopper's redemption."),
        **STOREFRONT_ERRORS,
    },
)
def redemption_status(redemption_id: int) -> Response:
    """One of the shopper's own redemptions (poll while pending)"""
    shopper: Shopper = g.shopper
    customer = _member(shopper)
    found = redemptions.get_redemption(current_container().uow(), shopper.shop_id, redemption_id)
    if found["customer_id"] != customer:  # another shopper's: as if it did not exist
        raise ApiError(404, "redemption_not_found", f"no redemption {redemption_id}")
    return jsonify(found)


@bp.get("/referrals/<code>")
@endpoint(
    tags=["storefront"],
    security=STOREFRONT_AUTH,
    validate=False,
    query=schemas.StorefrontQuery,
    path_parameters={"code": "The advocate's referral code (from ?ref= in the link)."},
    responses={
        "HTTP_200": (schemas.ReferralLanding, "The offer, and whose code it is."),
        "HTTP_404": (
            schemas.Error,
            "referral_code_not_found, or no_referral_campaign (none is running).",
        ),
        **STOREFRONT_ERRORS,
    },
)
def referral_offer(code: str) -> Response:
    """What a friend arriving through a referral link is offered (guests too)"""
    c = current_container()
    return jsonify(referrals.offer_for_code(c.uow(), g.shopper.shop_id, code, now=c.clock()))


@bp.post("/referrals/claim")
@endpoint(
    tags=["storefront"],
    security=STOREFRONT_AUTH,
    query=schemas.StorefrontQuery,
    json=schemas.ClaimInput,
    responses={
        "HTTP_201": (schemas.ReferralClaim, "Claimed: the code, or pending at the store."),
        "HTTP_200": (schemas.ReferralClaim, "Claimed before: as it is now."),
        "HTTP_400": (schemas.Error, "A guest without a valid email."),
        "HTTP_404": (schemas.Error, "referral_code_not_found or no_referral_campaign."),
        "HTTP_409": (
            schemas.Error,
            "own_referral_code, already_referred (by another member), or not_new_customer.",
        ),
        **STOREFRONT_ERRORS,
    },
)
def claim_referral(json: schemas.ClaimInput) -> tuple[Response, int]:
    """A friend takes the offer: their single-use discount code"""
    shopper: Shopper = g.shopper
    given = json.model_dump(exclude_unset=True)
    out, created = redemption_flow.claim_referral(
        current_container(),
        shopper.shop_id,
        json.code,
        customer_ref=shopper.customer_ref,
        email=given.get("email"),
        address=request.remote_addr,
        device=given.get("device_id"),
    )
    return jsonify(out), 201 if created else 200


@bp.get("/assets/<name>")
@endpoint(
    tags=["storefront"],
    validate=False,
    path_parameters={"name": "loader.js, panel.js or panel.css"},
    responses={
        "HTTP_200": (None, "The file (JavaScript or CSS)."),
        "HTTP_404": (schemas.Error, "No such file."),
    },
)
def asset(name: str) -> Response:
    """The widget's files (for the demo, WooCommerce and headless stores; Shopify serves
    them from the theme app extension on its CDN)."""
    if name not in ASSETS:
        raise ApiError(404, "not_found", "No such asset.")
    response = send_from_directory(STATIC, name, max_age=300)
    response.headers["Access-Control-Allow-Origin"] = "*"  # public, no credentials
    return response
