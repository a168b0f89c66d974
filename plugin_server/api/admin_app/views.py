"""The admin app's pages. Thin: read through services, write through the same services as
the JSON API (one transaction each), redirect after a successful POST."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Response, abort, current_app, g, render_template, request, session, url_for
from flask import redirect as flask_redirect
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from plugin_server import observability, redemption_flow
from plugin_server.api import rate_limits
from plugin_server.api.admin_app import bp, scores_texts
from plugin_server.api.admin_app.auth import (
    CSRF_FIELD,
    AuthFailed,
    Merchant,
    check_csrf,
    dev_signature,
    session_merchant,
    shopify_merchant,
    start_session,
    uses_shopify_token,
    wants_shopify_bounce,
)
from plugin_server.api.admin_app.i18n import (
    LOCALE_NAMES,
    LOCALES,
    add_texts,
    pick_locale,
    translate,
)
from plugin_server.api.context import current_container
from plugin_server.api.errors import STATUS_FOR, ApiError
from plugin_server.db import repositories
from plugin_server.domain import errors
from plugin_server.services import (
    adjustments,
    admin_links,
    customers,
    overview,
    predictions,
    redemptions,
    referrals,
    rewards,
    scores,
)

logger = logging.getLogger(__name__)

add_texts(scores_texts.TEXTS)

# The sections in the navigation, in order: (key, endpoint). Each page module renders with
# `nav="<key>"`; its `nav_<key>` text is in i18n. A section whose endpoint is not
# registered (a page not built yet) is left out rather than shown as "coming soon".
NAV: tuple[tuple[str, str], ...] = (
    ("overview", "adminapp.home"),
    ("analytics", "adminapp.analytics"),
    ("suggestions", "adminapp.suggestions"),
    ("customers", "adminapp.customer_search"),
    ("referrals", "adminapp.referral_queue"),
    ("rewards", "adminapp.reward_list"),
    ("earning", "adminapp.earning_rules"),
    ("tiers", "adminapp.tier_list"),
    ("referral_program", "adminapp.referral_program"),
    ("widget", "adminapp.widget_look"),
    ("settings", "adminapp.program_settings"),
    ("emails", "adminapp.email_templates"),
    ("webhooks", "adminapp.webhook_endpoints"),
    ("exports", "adminapp.exports"),
)
PUBLIC_ENDPOINTS = frozenset(
    {"adminapp.static", "adminapp.dev_sign_in", "adminapp.woo_sign_in", "adminapp.patch_id_token"}
)
# The `notice=<code>` values a redirect may carry. A page module adds its own codes; each
# is shown by `_macros.notice_box` as the text with the same key (values: points, balance,
# id, name).
NOTICES: set[str] = {"adjusted", "approved", "rejected", "created", "archived"}
REWARD_KINDS = ("fixed_amount", "percentage", "free_shipping", "points_for_money")
REWARD_FIELDS = (
    "name",
    "kind",
    "points_cost",
    "amount",
    "currency",
    "percent",
    "points_per_step",
    "min_points",
    "max_points",
)
INT_FIELDS = frozenset({"points_cost", "points_per_step", "min_points", "max_points"})


# --- request lifecycle ------------------------------------------------------------------------


@bp.before_request
def authenticate() -> BaseResponse | None:
    g.admin_locale = None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    c = current_container()
    try:
        if uses_shopify_token(request):
            merchant = shopify_merchant(c, request)
        elif wants_shopify_bounce(request) and request.args.get("shop"):
            merchant = shopify_merchant(c, request)  # answers the bounce to App Bridge
        else:
            merchant = session_merchant(c)
            if request.method == "POST":
                check_csrf(request)
    except AuthFailed as exc:
        return _auth_failed(exc)
    g.merchant = merchant
    observability.bind_shop(merchant.shop_id)
    chosen = request.args.get("locale")
    if merchant.via == "session" and chosen in LOCALES:
        session["locale"] = chosen
    return None


def _auth_failed(exc: AuthFailed) -> BaseResponse:
    logger.info("admin app refused a request: %s", exc.reason)  # never the token itself
    if exc.location:
        return flask_redirect(exc.location, 302)
    key = {400: "forbidden", 403: "forbidden", 503: "error"}.get(exc.status, "unauthorized")
    response = page(
        "message.html",
        exc.status,
        title=t(f"{key}_title"),
        text=t(f"{key}_text"),
        merchant=None,
    )
    response.headers.update(exc.headers)
    return response


@bp.after_request
def security_headers(response: Response) -> Response:
    merchant: Merchant | None = g.get("merchant")
    ancestors = (
        f"https://{merchant.domain} https://admin.shopify.com"
        if merchant is not None and merchant.via == "shopify"
        else "'none'"
    )
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self' https://cdn.shopify.com; "
        "style-src 'self'; img-src 'self' data:; connect-src 'self' https://*.shopify.com; "
        f"form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors {ancestors}"
    )
    # Document URLs carry Shopify's id_token: never hand them on as a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.endpoint != "adminapp.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 404:
        return page("message.html", 404, title=t("not_found"), text=t("not_found_text"))
    return page("message.html", status, title=t("error_title"), text=t("error_text"))


@bp.errorhandler(errors.LoyaltyError)
def domain_error(exc: errors.LoyaltyError) -> Response:
    status = STATUS_FOR.get(type(exc), 422)
    if status == 404:
        return page("message.html", 404, title=t("not_found"), text=t("not_found_text"))
    return page("message.html", status, title=t("error_title"), text=exc.message)


@bp.errorhandler(ApiError)
def api_error(exc: ApiError) -> Response:
    response = page("message.html", exc.status, title=t("error_title"), text=exc.message)
    response.headers.update(exc.headers)  # Retry-After on 429
    return response


# --- helpers ----------------------------------------------------------------------------------


def _locale() -> str:
    if g.get("admin_locale"):
        return str(g.admin_locale)
    merchant: Merchant | None = g.get("merchant")
    from_session = (
        session.get("locale") if merchant is not None and merchant.via == "session" else None
    )
    g.admin_locale = pick_locale(
        request.args.get("locale"),
        from_session if isinstance(from_session, str) else None,
        accept=[lang for lang, _ in request.accept_languages],
    )
    return str(g.admin_locale)


def t(key: str, **values: object) -> str:
    return translate(_locale(), key, **values)


def link(endpoint: str, **values: Any) -> str:
    """A URL inside the admin app that keeps the Shopify parameters (shop, host...)."""
    merchant: Merchant | None = g.get("merchant")
    carry = dict(merchant.carry) if merchant is not None else {}
    if g.get("admin_locale") and "locale" in request.args:
        carry["locale"] = str(g.admin_locale)
    return url_for(endpoint, **{**carry, **values})


def locale_link(locale: str) -> str:
    args = {k: v for k, v in request.args.items() if k not in ("id_token", "locale")}
    merchant: Merchant | None = g.get("merchant")
    if merchant is not None:
        args.update(merchant.carry)
    args["locale"] = locale
    return f"{request.path}?{urlencode(args)}"


def page(template: str, status: int = 200, **context: Any) -> Response:
    merchant: Merchant | None = context.pop("merchant", g.get("merchant"))
    c = current_container()
    html = render_template(
        f"admin/{template}",
        t=t,
        link=link,
        locale=_locale(),
        locales=[(code, LOCALE_NAMES[code], locale_link(code)) for code in LOCALES],
        merchant=merchant,
        csrf_field=CSRF_FIELD,
        csrf_token=session.get("csrf", "") if merchant and merchant.via == "session" else "",
        shopify_api_key=c.settings.shopify_api_key,
        sections=[
            (key, endpoint) for key, endpoint in NAV if endpoint in current_app.view_functions
        ],
        **context,
    )
    return Response(html, status=status, mimetype="text/html")


def redirect_to(endpoint: str, **values: Any) -> BaseResponse:
    return flask_redirect(link(endpoint, **values), 303)


def notice_from_args() -> dict[str, str] | None:
    code = request.args.get("notice")
    if code not in NOTICES:
        return None
    values = {k: request.args.get(k, "") for k in ("points", "balance", "id")}
    return {"code": code, **values}


def current_merchant() -> Merchant:
    merchant: Merchant = g.merchant
    return merchant


def form_errors(exc: errors.LoyaltyError) -> tuple[int, dict[str, str], str]:
    field = exc.field if isinstance(exc, errors.ValidationFailed) else None
    return STATUS_FOR.get(type(exc), 422), ({field: exc.message} if field else {}), exc.message


# --- sign-in ----------------------------------------------------------------------------------


@bp.get("/auth/dev")
def dev_sign_in() -> BaseResponse:
    """Development only: the demo merchant's sign-in link (`loyalty demo` prints it)."""
    from plugin_server.demo import DEMO_DOMAIN

    c = current_container()
    if not c.settings.development:
        abort(404)
    rate_limits.enforce("admin-sign-in", c.settings.public_rate)
    domain = request.args.get("shop", "")
    given = request.args.get("sig", "")
    expected = dev_signature(c.settings.secret_key, domain)
    if domain != DEMO_DOMAIN or not hmac.compare_digest(given.encode(), expected.encode()):
        return _auth_failed(AuthFailed(401, "bad_dev_link"))
    with c.session_factory() as s:
        shop = repositories.shop_by_domain(s, "shopify", domain)
        shop_id = shop.id if shop is not None and shop.active else None
    if shop_id is None:
        return _auth_failed(AuthFailed(401, "no_demo_shop"))
    chosen = request.args.get("locale")
    start_session(shop_id, locale=pick_locale(chosen) if chosen else None)
    return flask_redirect(url_for("adminapp.home"), 303)


@bp.get("/auth/woocommerce")
def woo_sign_in() -> BaseResponse:
    """The WordPress plugin's signed, single-use link into the app."""
    c = current_container()
    rate_limits.enforce("admin-sign-in", c.settings.public_rate)
    try:
        found = admin_links.consume_link(c.uow(), request.args.get("token", ""), now=c.clock())
    except admin_links.AdminLinkRejected as exc:
        return _auth_failed(AuthFailed(401, f"woo_link: {exc.detail}"))
    start_session(found.shop_id, locale=found.locale)
    # Off the URL that held the token, at once.
    return flask_redirect(url_for("adminapp.home"), 303)


@bp.post("/auth/sign-out")
def sign_out() -> BaseResponse:
    """Cookie sessions: end this one (CSRF-checked like every POST). Shopify has none."""
    session.clear()
    return page(
        "message.html", title=t("signed_out_title"), text=t("signed_out_text"), merchant=None
    )


@bp.get("/auth/patch-id-token")
def patch_id_token() -> BaseResponse:
    """Shopify: the page App Bridge loads to put a fresh id_token on a document URL."""
    from plugin_server.api.install import shopify_app
    from webhooks.shopify import normalize_shop_domain

    c = current_container()
    shop = normalize_shop_domain(request.args.get("shop", ""))
    if shop is None:
        return _auth_failed(AuthFailed(400, "invalid_shop"))
    result = shopify_app(c).app_home_patch_id_token(
        {"method": "GET", "headers": {}, "url": request.url, "body": ""}
    )
    response = Response(result.response.body, status=result.response.status)
    response.headers.update(result.response.headers)
    g.merchant = Merchant(0, "shopify", shop, "shopify")  # for frame-ancestors
    return response


# --- pages ------------------------------------------------------------------------------------


@bp.get("/")
def home() -> Response:
    c = current_container()
    stats = overview.overview(c.uow(), current_merchant().shop_id)
    return page("overview.html", stats=stats, nav="overview")


@bp.get("/customers")
def customer_search() -> Response:
    c = current_container()
    q = request.args.get("q", "").strip()
    found = (
        customers.search_customers(c.uow(), current_merchant().shop_id, q, now=c.clock())
        if q
        else []
    )
    segments = scores.segments_by_ref(
        c.uow(), current_merchant().shop_id, [str(f["customer_id"]) for f in found]
    )
    return page("customers.html", q=q, found=found, segments=segments, nav="customers")


def _profile(customer_ref: str, status: int = 200, **form: Any) -> Response:
    c = current_container()
    shop_id = current_merchant().shop_id
    summary = customers.customer_summary(c.uow(), shop_id, customer_ref, now=c.clock())
    history = customers.transactions(
        c.uow(), shop_id, customer_ref, now=c.clock(), limit=50, before_id=None
    )
    redeemed = redemptions.list_redemptions(c.uow(), shop_id, customer_ref, limit=20)
    referred = referrals.list_referrals(
        c.uow(), shop_id, status=None, advocate_ref=customer_ref, before=None, limit=20
    )
    with c.uow() as uow:
        model = predictions.model_of(uow.session, shop_id)
    return page(
        "customer.html",
        status,
        customer=summary,
        scores=scores_texts.profile_view(summary.get("scores"), model),  # type: ignore[arg-type]
        history=history["transactions"],
        redemptions=redeemed,
        referrals=referred,
        notice=notice_from_args(),
        nav="customers",
        form=form.get("form", {}),
        field_errors=form.get("field_errors", {}),
        error=form.get("error"),
    )


@bp.get("/customers/<customer_ref>")
def customer(customer_ref: str) -> Response:
    return _profile(customer_ref)


def int_or_text(value: str) -> Any:
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        return text  # the service refuses it with the API's message


@bp.post("/customers/<customer_ref>/adjust")
def adjust(customer_ref: str) -> BaseResponse:
    c = current_container()
    form = {"points": request.form.get("points", ""), "reason": request.form.get("reason", "")}
    try:
        entry, _ = adjustments.adjust_points(
            c.uow(),
            current_merchant().shop_id,
            customer_ref,
            points=int_or_text(form["points"]),
            reason=form["reason"],
            idempotency_key=None,
            now=c.clock(),
        )
    except errors.ValidationFailed as exc:
        status, fields, message = form_errors(exc)
        return _profile(customer_ref, status, form=form, field_errors=fields, error=message)
    return redirect_to(
        "adminapp.customer",
        customer_ref=customer_ref,
        notice="adjusted",
        points=entry["points"],
        balance=entry["balance"],
    )


@bp.get("/referrals")
def referral_queue(status: int = 200, **form: Any) -> Response:
    c = current_container()
    flagged = referrals.list_referrals(
        c.uow(),
        current_merchant().shop_id,
        status="flagged",
        advocate_ref=None,
        before=None,
        limit=100,
    )
    return page(
        "referrals.html",
        status,
        flagged=flagged,
        notice=notice_from_args(),
        nav="referrals",
        error=form.get("error"),
        error_id=form.get("error_id"),
    )


@bp.post("/referrals/<int:referral_id>/<any(approve, reject):decision>")
def review(referral_id: int, decision: str) -> BaseResponse:
    c = current_container()
    note = request.form.get("note", "").strip()
    if len(note) > 500:
        return referral_queue(400, error="note: at most 500 characters", error_id=referral_id)
    try:
        redemption_flow.review_referral(
            c,
            current_merchant().shop_id,
            referral_id,
            approve=decision == "approve",
            note=note or None,
        )
    except (errors.ReferralNotReviewable, errors.ValidationFailed) as exc:
        status, _, message = form_errors(exc)
        return referral_queue(status, error=message, error_id=referral_id)
    notice = "approved" if decision == "approve" else "rejected"
    return redirect_to("adminapp.referral_queue", notice=notice, id=referral_id)


def _rewards_page(status: int = 200, **form: Any) -> Response:
    c = current_container()
    listed = rewards.list_rewards(c.uow(), current_merchant().shop_id, status="all")
    notice = notice_from_args()
    if notice is not None and notice["code"] in ("created", "archived"):
        named = next((r["name"] for r in listed if str(r["id"]) == notice["id"]), None)
        notice = {**notice, "name": named or ""} if named else None
    return page(
        "rewards.html",
        status,
        rewards=listed,
        kinds=REWARD_KINDS,
        notice=notice,
        nav="rewards",
        form=form.get("form", {"kind": "fixed_amount"}),
        field_errors=form.get("field_errors", {}),
        error=form.get("error"),
    )


@bp.get("/rewards")
def reward_list() -> Response:
    return _rewards_page()


def _reward_input(form: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in REWARD_FIELDS:
        value = form.get(name, "").strip()
        if value:
            data[name] = int_or_text(value) if name in INT_FIELDS else value
    return data


@bp.post("/rewards")
def reward_create() -> BaseResponse:
    c = current_container()
    form = {name: request.form.get(name, "") for name in REWARD_FIELDS}
    try:
        created = rewards.create_reward(
            c.uow(), current_merchant().shop_id, _reward_input(form), now=c.clock()
        )
    except errors.ValidationFailed as exc:
        status, fields, message = form_errors(exc)
        return _rewards_page(status, form=form, field_errors=fields, error=message)
    return redirect_to("adminapp.reward_list", notice="created", id=created["id"])


@bp.post("/rewards/<int:reward_id>/archive")
def reward_archive(reward_id: int) -> BaseResponse:
    c = current_container()
    rewards.archive_reward(c.uow(), current_merchant().shop_id, reward_id, now=c.clock())
    return redirect_to("adminapp.reward_list", notice="archived", id=reward_id)
