"""The admin app's notification pages: outbound webhooks (endpoints, their signing secret,
the delivery log) and emails to shoppers (settings, templates with a preview, the log).

Forms are checked first with the JSON API's own request models (so a bad field gets the
API's message) and then by the same services the API calls. Two answers are not a
redirect: creating an endpoint and rotating its secret answer with the page that shows the
secret, the only time it is ever shown. It is never put in the session cookie (signed,
not encrypted) nor in a URL, so it cannot turn up again anywhere.

A template preview is the merchant's HTML: it is never put into an admin page. The page
holds a sandboxed iframe (no scripts, no same origin) that a form posts the fields to;
the frame's own route answers with a CSP that allows nothing but inline styles and data:
images, and sandboxes the document even when it is opened directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, abort, g, render_template, request
from pydantic import BaseModel, ValidationError
from werkzeug.wrappers import Response as BaseResponse

from plugin_server.api import schemas as s
from plugin_server.api.admin_app import bp
from plugin_server.api.admin_app.auth import Merchant
from plugin_server.api.admin_app.i18n import LOCALE_NAMES, add_texts
from plugin_server.api.admin_app.views import (
    NOTICES,
    current_merchant,
    form_errors,
    notice_from_args,
    page,
    redirect_to,
    t,
)
from plugin_server.api.context import current_container
from plugin_server.api.contract import field_errors
from plugin_server.domain import emails as email_domain
from plugin_server.domain import errors, outbound
from plugin_server.services import emails, outbound_webhooks

WEBHOOK_STATUSES = ("pending", "delivering", "succeeded", "failed")
EMAIL_STATUSES = ("pending", "sending", "sent", "failed", "skipped")
LOG_LIMIT = 25
PREVIEW_FRAME = "email-preview"
# The preview frame's own policy: the merchant's HTML may style itself and show data:
# images; nothing loads, nothing runs, and the document is sandboxed (opaque origin).
PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; "
    "base-uri 'none'; form-action 'none'"
)
TEMPLATE_FIELDS = ("subject", "body_text", "body_html")

NOTICES.update(
    {
        "wh_enabled",
        "wh_disabled",
        "wh_deleted",
        "wh_pinged",
        "wh_replayed",
        "em_settings_saved",
        "em_template_saved",
        "em_template_reset",
    }
)

Form = dict[str, Any]


# --- shared helpers ---------------------------------------------------------------------------


def _api_check(model: type[BaseModel], body: Mapping[str, Any]) -> None:
    """The JSON API's own request model: a bad field raises what the API answers."""
    model.model_validate(dict(body))


def _schema_errors(exc: ValidationError) -> tuple[int, dict[str, str], str]:
    """The API's validation_failed (400) as a form's errors: each field named as the API
    names it, list positions ("topics.0") shown beside the list's field."""
    found = field_errors(exc)
    fields: dict[str, str] = {}
    for path, problem in found.items():
        fields.setdefault(path.split(".")[0], problem)
    summary = "; ".join(f"{name}: {problem}" for name, problem in found.items())
    return 400, fields, summary


def _policy() -> outbound_webhooks.DeliveryPolicy:
    return outbound_webhooks.DeliveryPolicy.from_settings(current_container().settings)


def _shop_id() -> int:
    return current_merchant().shop_id


# --- outbound webhooks: endpoints -------------------------------------------------------------


def _endpoints_with_outcome() -> list[dict[str, Any]]:
    c = current_container()
    listed = outbound_webhooks.list_endpoints(c.uow(), _shop_id(), now=c.clock())
    for endpoint in listed:
        last = outbound_webhooks.list_deliveries(
            c.uow(), _shop_id(), endpoint_id=endpoint["id"], limit=1
        )
        endpoint["last_delivery"] = last[0] if last else None
    return listed


def _endpoints_page(status: int = 200, **form: Any) -> Response:
    return page(
        "webhooks.html",
        status,
        endpoints=_endpoints_with_outcome(),
        topics=outbound.TOPICS,
        notice=notice_from_args(),
        nav="webhooks",
        form=form.get("form", {"topics": []}),
        field_errors=form.get("field_errors", {}),
        error=form.get("error"),
        action_error=form.get("action_error"),
    )


def _secret_page(endpoint: Mapping[str, Any], *, status: int, rotated: bool) -> Response:
    return page(
        "webhook_secret.html",
        status,
        endpoint=endpoint,
        rotated=rotated,
        nav="webhooks",
        signature_header=outbound.SIGNATURE_HEADER,
        timestamp_header=outbound.TIMESTAMP_HEADER,
        tolerance_min=int(outbound.DEFAULT_TOLERANCE.total_seconds() // 60),
    )


@bp.get("/webhooks")
def webhook_endpoints() -> Response:
    return _endpoints_page()


@bp.post("/webhooks")
def webhook_create() -> BaseResponse:
    c = current_container()
    form: Form = {
        "url": request.form.get("url", ""),
        "description": request.form.get("description", ""),
        "topics": request.form.getlist("topics"),
    }
    body: dict[str, Any] = {"url": form["url"], "topics": form["topics"]}
    if form["description"].strip():
        body["description"] = form["description"].strip()
    try:
        _api_check(s.WebhookEndpointInput, body)
        created = outbound_webhooks.create_endpoint(
            c.uow(),
            c.cipher,
            _shop_id(),
            url=body["url"],
            topics=body["topics"],
            description=body.get("description"),
            allow_private=_policy().allow_private,
            now=c.clock(),
        )
    except ValidationError as exc:
        status, fields, message = _schema_errors(exc)
        return _endpoints_page(status, form=form, field_errors=fields, error=message)
    except (errors.ValidationFailed, errors.WebhookEndpointLimit) as exc:
        status, fields, message = form_errors(exc)
        return _endpoints_page(status, form=form, field_errors=fields, error=message)
    # The secret exists in clear only in this answer (no redirect: nothing may hold it).
    return _secret_page(created, status=201, rotated=False)


@bp.post("/webhooks/<int:endpoint_id>/active")
def webhook_switch(endpoint_id: int) -> BaseResponse:
    c = current_container()
    on = request.form.get("active") == "1"
    outbound_webhooks.update_endpoint(
        c.uow(),
        _shop_id(),
        endpoint_id,
        {"active": on},
        allow_private=_policy().allow_private,
        now=c.clock(),
    )
    notice = "wh_enabled" if on else "wh_disabled"
    return redirect_to("adminapp.webhook_endpoints", notice=notice, id=endpoint_id)


@bp.post("/webhooks/<int:endpoint_id>/rotate")
def webhook_rotate(endpoint_id: int) -> BaseResponse:
    c = current_container()
    rotated = outbound_webhooks.rotate_secret(
        c.uow(),
        c.cipher,
        _shop_id(),
        endpoint_id,
        overlap=_policy().secret_overlap,
        now=c.clock(),
    )
    return _secret_page(rotated, status=200, rotated=True)


@bp.post("/webhooks/<int:endpoint_id>/ping")
def webhook_ping(endpoint_id: int) -> BaseResponse:
    c = current_container()
    try:
        delivery = outbound_webhooks.ping(c.uow(), _shop_id(), endpoint_id, now=c.clock())
    except errors.WebhookEndpointInactive as exc:
        status, _, message = form_errors(exc)
        return _endpoints_page(status, action_error=message)
    return redirect_to(
        "adminapp.webhook_deliveries",
        endpoint_id=endpoint_id,
        notice="wh_pinged",
        id=delivery["id"],
    )


@bp.get("/webhooks/<int:endpoint_id>/delete")
def webhook_delete_confirm(endpoint_id: int) -> Response:
    c = current_container()
    endpoint = outbound_webhooks.get_endpoint(c.uow(), _shop_id(), endpoint_id, now=c.clock())
    return page("webhook_delete.html", endpoint=endpoint, nav="webhooks")


@bp.post("/webhooks/<int:endpoint_id>/delete")
def webhook_delete(endpoint_id: int) -> BaseResponse:
    c = current_container()
    outbound_webhooks.delete_endpoint(c.uow(), _shop_id(), endpoint_id, now=c.clock())
    return redirect_to("adminapp.webhook_endpoints", notice="wh_deleted", id=endpoint_id)


# --- outbound webhooks: the delivery log ------------------------------------------------------


def _deliveries_page(status: int = 200, *, action_error: str | None = None) -> Response:
    c = current_container()
    filters = {k: request.args.get(k, "").strip() for k in ("endpoint_id", "status", "before")}
    query = {k: v for k, v in filters.items() if v}
    endpoints = outbound_webhooks.list_endpoints(c.uow(), _shop_id(), now=c.clock())
    found: list[dict[str, Any]] = []
    fields: dict[str, str] = {}
    error = None
    try:
        checked = s.WebhookDeliveryQuery.model_validate({**query, "limit": LOG_LIMIT})
    except ValidationError as exc:
        status, fields, error = _schema_errors(exc)
    else:
        found = outbound_webhooks.list_deliveries(
            c.uow(),
            _shop_id(),
            endpoint_id=checked.endpoint_id,
            status=checked.status,
            before=checked.before,
            limit=LOG_LIMIT,
        )
    urls = {e["id"]: e["url"] for e in endpoints}
    older = None
    if len(found) == LOG_LIMIT:
        older = {**{k: v for k, v in query.items() if k != "before"}, "before": found[-1]["id"]}
    return page(
        "webhook_deliveries.html",
        status,
        deliveries=found,
        endpoints=endpoints,
        urls=urls,
        topic_names={x: t(f"wh_topic_{x}") for x in (*outbound.TOPICS, outbound.PING)},
        statuses=WEBHOOK_STATUSES,
        filters=filters,
        older=older,
        notice=notice_from_args(),
        nav="webhooks",
        field_errors=fields,
        error=error,
        action_error=action_error,
    )


@bp.get("/webhooks/deliveries")
def webhook_deliveries() -> Response:
    return _deliveries_page()


@bp.post("/webhooks/deliveries/<int:delivery_id>/replay")
def webhook_replay(delivery_id: int) -> BaseResponse:
    c = current_container()
    shop_id = _shop_id()
    # Another shop's delivery (or none): 404 before anything else is said about it.
    outbound_webhooks.get_delivery(c.uow(), shop_id, delivery_id)
    try:
        outbound_webhooks.replay(c.uow(), shop_id, delivery_id, now=c.clock())
    except (
        errors.WebhookDeliveryInProgress,
        errors.WebhookEndpointInactive,
        errors.WebhookEndpointNotFound,
    ) as exc:
        status, _, message = form_errors(exc)
        return _deliveries_page(status, action_error=message)
    return redirect_to("adminapp.webhook_deliveries", notice="wh_replayed", id=delivery_id)


# --- emails: settings, templates, the log -----------------------------------------------------


def _smtp() -> bool:
    return bool(current_container().settings.smtp_url)


def _emails_page(status: int = 200, **form: Any) -> Response:
    c = current_container()
    shop_id = _shop_id()
    settings = emails.get_settings(c.uow(), shop_id, smtp=_smtp())
    log_status = request.args.get("status", "").strip()
    log_error = None
    try:
        checked = s.EmailLogQuery.model_validate(
            {"status": log_status, "limit": LOG_LIMIT} if log_status else {"limit": LOG_LIMIT}
        )
    except ValidationError as exc:
        log_error = _schema_errors(exc)[2]
        status = 400
        sent: list[dict[str, Any]] = []
    else:
        sent = emails.list_messages(c.uow(), shop_id, status=checked.status, limit=LOG_LIMIT)
    templates = emails.list_templates(c.uow(), shop_id)
    customized = {(x["type"], x["locale"]) for x in templates if x["customized"]}
    return page(
        "emails.html",
        status,
        settings=settings,
        types=email_domain.TYPES,
        email_locales=email_domain.LOCALES,
        locale_names=LOCALE_NAMES,
        customized=customized,
        messages=sent,
        statuses=EMAIL_STATUSES,
        log_status=log_status,
        log_error=log_error,
        notice=notice_from_args(),
        nav="emails",
        form=form.get("form") or _settings_form(settings),
        field_errors=form.get("field_errors", {}),
        error=form.get("error"),
    )


def _settings_form(settings: Mapping[str, Any]) -> Form:
    return {
        "sender_name": settings["sender_name"] or "",
        "sender_address": settings["sender_address"] or "",
        "locale": settings["locale"],
        "types": [name for name, on in settings["types"].items() if on],
    }


@bp.get("/emails")
def email_templates() -> Response:
    return _emails_page()


@bp.post("/emails/settings")
def email_settings_save() -> BaseResponse:
    c = current_container()
    form: Form = {
        "sender_name": request.form.get("sender_name", ""),
        "sender_address": request.form.get("sender_address", ""),
        "locale": request.form.get("locale", ""),
        "types": request.form.getlist("types"),
    }
    changes: dict[str, Any] = {
        # An empty box means "none" (the shop's domain / the server's address is used).
        "sender_name": form["sender_name"] if form["sender_name"].strip() else None,
        "sender_address": form["sender_address"] if form["sender_address"].strip() else None,
        "locale": form["locale"],
        "types": {name: name in form["types"] for name in email_domain.TYPES},
    }
    try:
        _api_check(s.EmailSettingsChanges, changes)
        emails.update_settings(c.uow(), _shop_id(), changes, smtp=_smtp(), now=c.clock())
    except ValidationError as exc:
        status, fields, message = _schema_errors(exc)
        return _emails_page(status, form=form, field_errors=fields, error=message)
    except errors.ValidationFailed as exc:
        status, fields, message = form_errors(exc)
        return _emails_page(status, form=form, field_errors=fields, error=message)
    return redirect_to("adminapp.email_templates", notice="em_settings_saved")


def _known(type_: str, locale: str) -> None:
    if type_ not in email_domain.TYPES or locale not in email_domain.LOCALES:
        abort(404)


def _template_form() -> Form:
    return {name: request.form.get(name, "").replace("\r\n", "\n") for name in TEMPLATE_FIELDS}


def _draft(form: Mapping[str, str]) -> dict[str, Any]:
    """The fields as the API takes them: an empty HTML body means text only (null)."""
    return {
        "subject": form["subject"],
        "body_text": form["body_text"],
        "body_html": form["body_html"] if form["body_html"].strip() else None,
    }


def _preview_link() -> str:
    base = current_container().settings.public_url.rstrip("/")
    return base + "/email/unsubscribe?token=preview"


def _editor(
    type_: str,
    locale: str,
    status: int = 200,
    *,
    form: Form | None = None,
    previewed: Mapping[str, Any] | None = None,
    field_errors: Mapping[str, str] | None = None,
    error: str | None = None,
) -> Response:
    c = current_container()
    saved = emails.get_template(c.uow(), _shop_id(), type_, locale)
    if form is None:
        form = {name: saved[name] or "" for name in TEMPLATE_FIELDS}
    if previewed is None and error is None:
        previewed = emails.preview(
            c.uow(),
            _shop_id(),
            type_,
            locale=locale,
            draft={},
            unsubscribe_url=_preview_link(),
        )
    return page(
        "email_template.html",
        status,
        type=type_,
        template_locale=locale,
        locale_names=LOCALE_NAMES,
        email_locales=email_domain.LOCALES,
        saved=saved,
        form=form,
        previewed=previewed,
        draft_shown=form != {name: saved[name] or "" for name in TEMPLATE_FIELDS},
        variables=email_domain.VARIABLES,
        preview_frame=PREVIEW_FRAME,
        notice=notice_from_args(),
        nav="emails",
        field_errors=field_errors or {},
        error=error,
    )


def _checked_preview(type_: str, locale: str, form: Form) -> dict[str, Any]:
    """The API's preview of the fields: ValidationError or InvalidTemplate if they are bad."""
    draft = _draft(form)
    _api_check(s.EmailTemplateChanges, draft)
    return emails.preview(
        current_container().uow(),
        _shop_id(),
        type_,
        locale=locale,
        draft=draft,
        unsubscribe_url=_preview_link(),
    )


@bp.get("/emails/templates/<type_>/<locale>")
def email_template_edit(type_: str, locale: str) -> Response:
    _known(type_, locale)
    return _editor(type_, locale)


@bp.post("/emails/templates/<type_>/<locale>/preview")
def email_template_preview(type_: str, locale: str) -> Response:
    _known(type_, locale)
    form = _template_form()
    try:
        previewed = _checked_preview(type_, locale, form)
    except ValidationError as exc:
        status, fields, message = _schema_errors(exc)
        return _editor(type_, locale, status, form=form, field_errors=fields, error=message)
    except errors.ValidationFailed as exc:
        status, fields, message = form_errors(exc)
        return _editor(type_, locale, status, form=form, field_errors=fields, error=message)
    return _editor(type_, locale, form=form, previewed=previewed)


@bp.post("/emails/templates/<type_>/<locale>")
def email_template_save(type_: str, locale: str) -> BaseResponse:
    _known(type_, locale)
    c = current_container()
    form = _template_form()
    draft = _draft(form)
    try:
        _api_check(s.EmailTemplateChanges, draft)
        emails.update_template(c.uow(), _shop_id(), type_, locale, draft, now=c.clock())
    except ValidationError as exc:
        status, fields, message = _schema_errors(exc)
        return _editor(type_, locale, status, form=form, field_errors=fields, error=message)
    except errors.ValidationFailed as exc:
        status, fields, message = form_errors(exc)
        return _editor(type_, locale, status, form=form, field_errors=fields, error=message)
    return redirect_to(
        "adminapp.email_template_edit", type_=type_, locale=locale, notice="em_template_saved"
    )


@bp.post("/emails/templates/<type_>/<locale>/reset")
def email_template_reset(type_: str, locale: str) -> BaseResponse:
    _known(type_, locale)
    emails.reset_template(current_container().uow(), _shop_id(), type_, locale)
    return redirect_to(
        "adminapp.email_template_edit", type_=type_, locale=locale, notice="em_template_reset"
    )


@bp.post("/emails/templates/<type_>/<locale>/frame")
def email_preview_frame(type_: str, locale: str) -> Response:
    """The preview itself, for the sandboxed iframe only (see PREVIEW_CSP)."""
    _known(type_, locale)
    form = _template_form()
    try:
        previewed = _checked_preview(type_, locale, form)
    except ValidationError as exc:
        problem = _schema_errors(exc)[2]
        previewed = None
    except errors.ValidationFailed as exc:
        problem = exc.message
        previewed = None
    else:
        problem = ""
    if previewed is not None and previewed["body_html"]:
        # The merchant's HTML as the shopper gets it (shopper data in it is escaped by the
        # service); the policy below keeps it inert.
        html = previewed["body_html"]
    else:
        html = render_template(
            "admin/email_preview_frame.html",
            locale=locale,
            text=previewed["body_text"] if previewed is not None else "",
            problem=problem,
        )
    return Response(html, status=200 if previewed else 400, mimetype="text/html")


@bp.after_app_request
def preview_frame_policy(response: Response) -> Response:
    """The frame's own CSP, set after the admin app's (which allows the app's scripts)."""
    if request.endpoint == "adminapp.email_preview_frame":
        merchant: Merchant | None = g.get("merchant")
        ancestors = "'self'"
        if merchant is not None and merchant.via == "shopify":
            ancestors += f" https://{merchant.domain} https://admin.shopify.com"
        response.headers["Content-Security-Policy"] = f"{PREVIEW_CSP}; frame-ancestors {ancestors}"
        response.headers["Cache-Control"] = "no-store"
    return response


# --- texts ------------------------------------------------------------------------------------

add_texts(
    {
        "en": {
            "wh_title": "Webhooks",
            "wh_intro": (
                "Send signed events (points earned, rewards redeemed, tier changes, "
                "referrals) to your own systems."
            ),
            "wh_none": "No endpoints yet.",
            "wh_col_url": "URL",
            "wh_col_topics": "Topics",
            "wh_col_enabled": "Sending",
            "wh_col_last": "Last delivery",
            "wh_on": "On",
            "wh_off": "Off",
            "wh_never": "Nothing sent yet",
            "wh_enable": "Turn on",
            "wh_disable": "Turn off",
            "wh_ping": "Send a test",
            "wh_rotate": "New secret",
            "wh_delete": "Delete",
            "wh_register": "Register an endpoint",
            "wh_url": "Endpoint URL",
            "wh_url_hint": "Where the events are sent with POST, for example https://crm.example.com/hooks.",
            "wh_description": "Description (optional)",
            "wh_topics": "Topics",
            "wh_topics_hint": "The events this endpoint receives.",
            "wh_register_button": "Register",
            "wh_topic_points.earned": "Points earned",
            "wh_topic_points.redeemed": "Points redeemed",
            "wh_topic_points.expired": "Points expired",
            "wh_topic_points.expiring": "Points about to expire",
            "wh_topic_tier.changed": "Tier changed",
            "wh_topic_referral.completed": "Referral completed",
            "wh_topic_referral.flagged": "Referral flagged",
            "wh_topic_ping": "Test (ping)",
            "wh_secret_title": "The endpoint's signing secret",
            "wh_secret_created": "Endpoint registered: {url}",
            "wh_secret_rotated": "New secret for {url}",
            "wh_secret_once": (
                "Copy this secret now and keep it in your receiving system. It is shown "
                "only this once: after you leave this page nobody can see it again (you "
                "can make a new one)."
            ),
            "wh_secret_label": "Signing secret",
            "wh_copy": "Copy the secret",
            "wh_copied": "Copied.",
            "wh_secret_overlap": (
                "Until {until} (UTC) deliveries are signed with the previous secret too, "
                "so your receiver can switch without refusing any."
            ),
            "wh_verify_title": "How to check a delivery is ours",
            "wh_verify_1": (
                "Each delivery has the headers {ts} (Unix seconds) and {sig} "
                "(sha256=<hex>, one or more separated by commas)."
            ),
            "wh_verify_2": (
                "Compute HMAC-SHA256 with this secret over the timestamp, a dot, and "
                "the raw request body exactly as received; write it in hexadecimal after "
                "sha256=."
            ),
            "wh_verify_3": (
                "Accept the delivery if it equals one of the signatures (compare in "
                "constant time) and the timestamp is within {minutes} minutes of now."
            ),
            "wh_verify_example": "Example in Python",
            "wh_back": "Back to webhooks",
            "wh_delete_title": "Delete this endpoint?",
            "wh_delete_text": (
                "Nothing more is sent to {url}. Deliveries still queued for it fail; its "
                "delivery log stays readable. This cannot be undone."
            ),
            "wh_delete_confirm": "Delete the endpoint",
            "wh_cancel": "Cancel",
            "wh_enabled": "The endpoint is on: events are sent to it.",
            "wh_disabled": "The endpoint is off: nothing is sent to it.",
            "wh_deleted": "The endpoint was deleted.",
            "wh_pinged": "A test delivery (no. {id}) is queued; its outcome appears below.",
            "wh_replayed": "Delivery no. {id} is queued to be sent again.",
            "wh_log_title": "Webhook deliveries",
            "wh_filter": "Filter",
            "wh_filter_endpoint": "Endpoint",
            "wh_filter_status": "Status",
            "wh_filter_any": "All",
            "wh_filter_button": "Show",
            "wh_log_none": "No deliveries match.",
            "wh_col_id": "No.",
            "wh_col_topic": "Topic",
            "wh_col_status": "Status",
            "wh_col_code": "HTTP status",
            "wh_col_attempts": "Attempts",
            "wh_col_next": "Next retry",
            "wh_col_error": "Error",
            "wh_col_created": "Created",
            "wh_replay": "Send again",
            "wh_older": "Older deliveries",
            "wh_deleted_endpoint": "endpoint {id} (deleted)",
            "wh_status_pending": "Pending",
            "wh_status_delivering": "Sending",
            "wh_status_succeeded": "Delivered",
            "wh_status_failed": "Failed",
            "wh_redelivery": "sent again",
            "em_title": "Emails to shoppers",
            "em_smtp_on": "Sending is set up: emails that are on are sent.",
            "em_smtp_off": (
                "Sending is not set up on this server (no SMTP_URL): emails are kept in "
                "the log as pending and not sent."
            ),
            "em_settings": "Email settings",
            "em_sender_name": "Sender name",
            "em_sender_name_hint": "Shown as the sender; empty: your store's domain.",
            "em_sender_address": "Sender and reply-to address",
            "em_sender_address_hint": "Replies from shoppers go here; empty: the server's address.",
            "em_locale": "Default email language",
            "em_locale_hint": "Used when a shopper's language is not known.",
            "em_types": "Emails that are sent",
            "em_types_hint": "Only the emails ticked here are sent.",
            "em_save_settings": "Save settings",
            "em_settings_saved": "Email settings saved.",
            "em_templates": "Templates",
            "em_col_type": "Email",
            "em_custom": "{language} (edited)",
            "em_default": "{language}",
            "em_log": "Recent emails",
            "em_log_status": "Status",
            "em_log_any": "All",
            "em_log_show": "Show",
            "em_log_none": "No emails yet.",
            "em_col_to": "Recipient",
            "em_col_subject": "Subject",
            "em_col_error": "Error",
            "em_col_when": "Created",
            "em_type_points_earned": "Points earned",
            "em_type_reward_unlocked": "Reward unlocked",
            "em_type_tier_changed": "Tier changed",
            "em_type_referral_rewarded": "Referral rewarded",
            "em_type_points_expiring": "Points about to expire",
            "em_type_birthday_bonus": "Birthday bonus",
            "em_status_pending": "Pending",
            "em_status_sending": "Sending",
            "em_status_sent": "Sent",
            "em_status_failed": "Failed",
            "em_status_skipped": "Skipped",
            "em_on": "On",
            "em_off": "Off",
            "em_editor_title": "{type}: {language} template",
            "em_other_languages": "Other languages",
            "em_subject": "Subject",
            "em_body_text": "Text",
            "em_body_html": "HTML (optional)",
            "em_body_html_hint": "Empty: the email is sent as text only.",
            "em_variables": "Variables you can use, written as {{ name }}",
            "em_preview_button": "Preview",
            "em_save_template": "Save",
            "em_reset": "Reset to the default text",
            "em_reset_hint": "Your edits in this language are discarded.",
            "em_customized": "You have edited this template.",
            "em_is_default": "This is the default text.",
            "em_preview": "Preview with sample data",
            "em_preview_draft": "This preview shows your unsaved changes.",
            "em_preview_subject": "Subject",
            "em_preview_frame": "Preview of the email",
            "em_preview_show": "Show the preview",
            "em_template_saved": "Template saved.",
            "em_template_reset": "Template reset to the default text.",
            "em_back": "Back to emails",
            "em_state": "Sending this email",
        },
        "vi": {
            "wh_title": "Webhook",
            "wh_intro": (
                "Gửi các sự kiện có chữ ký (nhận điểm, đổi thưởng, đổi hạng, giới thiệu) "
                "đến hệ thống của riêng bạn."
            ),
            "wh_none": "Chưa có điểm nhận nào.",
            "wh_col_url": "URL",
            "wh_col_topics": "Chủ đề",
            "wh_col_enabled": "Gửi",
            "wh_col_last": "Lần gửi gần nhất",
            "wh_on": "Bật",
            "wh_off": "Tắt",
            "wh_never": "Chưa gửi gì",
            "wh_enable": "Bật",
            "wh_disable": "Tắt",
            "wh_ping": "Gửi thử",
            "wh_rotate": "Khóa bí mật mới",
            "wh_delete": "Xóa",
            "wh_register": "Đăng ký điểm nhận",
            "wh_url": "URL điểm nhận",
            "wh_url_hint": "Nơi sự kiện được gửi bằng POST, ví dụ https://crm.example.com/hooks.",
            "wh_description": "Mô tả (không bắt buộc)",
            "wh_topics": "Chủ đề",
            "wh_topics_hint": "Các sự kiện điểm nhận này sẽ nhận.",
            "wh_register_button": "Đăng ký",
            "wh_topic_points.earned": "Nhận điểm",
            "wh_topic_points.redeemed": "Dùng điểm",
            "wh_topic_points.expired": "Điểm hết hạn",
            "wh_topic_points.expiring": "Điểm sắp hết hạn",
            "wh_topic_tier.changed": "Đổi hạng",
            "wh_topic_referral.completed": "Giới thiệu hoàn tất",
            "wh_topic_referral.flagged": "Giới thiệu bị gắn cờ",
            "wh_topic_ping": "Thử (ping)",
            "wh_secret_title": "Khóa bí mật để ký của điểm nhận",
            "wh_secret_created": "Đã đăng ký điểm nhận: {url}",
            "wh_secret_rotated": "Khóa bí mật mới cho {url}",
            "wh_secret_once": (
                "Hãy sao chép khóa bí mật này ngay và lưu trong hệ thống nhận của bạn. Nó "
                "chỉ hiển thị một lần này: sau khi rời trang, không ai xem lại được (bạn "
                "có thể tạo khóa mới)."
            ),
            "wh_secret_label": "Khóa bí mật để ký",
            "wh_copy": "Sao chép khóa bí mật",
            "wh_copied": "Đã sao chép.",
            "wh_secret_overlap": (
                "Đến {until} (UTC), các lượt gửi cũng được ký bằng khóa cũ để hệ thống "
                "nhận của bạn chuyển đổi mà không từ chối lượt nào."
            ),
            "wh_verify_title": "Cách kiểm tra một lượt gửi là của chúng tôi",
            "wh_verify_1": (
                "Mỗi lượt gửi có tiêu đề {ts} (giây Unix) và {sig} (sha256=<hex>, một "
                "hoặc nhiều chữ ký cách nhau bằng dấu phẩy)."
            ),
            "wh_verify_2": (
                "Tính HMAC-SHA256 bằng khóa bí mật này trên chuỗi: dấu thời gian, một dấu "
                "chấm, rồi nội dung thô của yêu cầu đúng như nhận được; viết dạng thập lục "
                "phân sau sha256=."
            ),
            "wh_verify_3": (
                "Chấp nhận lượt gửi nếu kết quả trùng một trong các chữ ký (so sánh trong "
                "thời gian không đổi) và dấu thời gian cách hiện tại không quá {minutes} phút."
            ),
            "wh_verify_example": "Ví dụ bằng Python",
            "wh_back": "Quay lại webhook",
            "wh_delete_title": "Xóa điểm nhận này?",
            "wh_delete_text": (
                "Sẽ không gửi gì thêm đến {url}. Các lượt gửi còn trong hàng đợi sẽ thất "
                "bại; nhật ký gửi vẫn xem được. Không thể hoàn tác."
            ),
            "wh_delete_confirm": "Xóa điểm nhận",
            "wh_cancel": "Hủy",
            "wh_enabled": "Điểm nhận đã bật: sự kiện được gửi đến đó.",
            "wh_disabled": "Điểm nhận đã tắt: không gửi gì đến đó.",
            "wh_deleted": "Đã xóa điểm nhận.",
            "wh_pinged": "Đã xếp hàng một lượt gửi thử (số {id}); kết quả hiện bên dưới.",
            "wh_replayed": "Lượt gửi số {id} đã được xếp hàng để gửi lại.",
            "wh_log_title": "Các lượt gửi webhook",
            "wh_filter": "Lọc",
            "wh_filter_endpoint": "Điểm nhận",
            "wh_filter_status": "Trạng thái",
            "wh_filter_any": "Tất cả",
            "wh_filter_button": "Hiển thị",
            "wh_log_none": "Không có lượt gửi nào phù hợp.",
            "wh_col_id": "Số",
            "wh_col_topic": "Chủ đề",
            "wh_col_status": "Trạng thái",
            "wh_col_code": "Mã HTTP",
            "wh_col_attempts": "Số lần thử",
            "wh_col_next": "Thử lại lúc",
            "wh_col_error": "Lỗi",
            "wh_col_created": "Tạo lúc",
            "wh_replay": "Gửi lại",
            "wh_older": "Các lượt gửi cũ hơn",
            "wh_deleted_endpoint": "điểm nhận {id} (đã xóa)",
            "wh_status_pending": "Đang chờ",
            "wh_status_delivering": "Đang gửi",
            "wh_status_succeeded": "Đã gửi",
            "wh_status_failed": "Thất bại",
            "wh_redelivery": "gửi lại",
            "em_title": "Email gửi khách hàng",
            "em_smtp_on": "Đã thiết lập gửi email: các email đang bật sẽ được gửi.",
            "em_smtp_off": (
                "Máy chủ này chưa thiết lập gửi email (không có SMTP_URL): email được giữ "
                "trong nhật ký ở trạng thái chờ và không được gửi."
            ),
            "em_settings": "Cài đặt email",
            "em_sender_name": "Tên người gửi",
            "em_sender_name_hint": "Hiển thị là người gửi; để trống: tên miền cửa hàng của bạn.",
            "em_sender_address": "Địa chỉ gửi và nhận phản hồi",
            "em_sender_address_hint": (
                "Phản hồi của khách hàng gửi về đây; để trống: địa chỉ của máy chủ."
            ),
            "em_locale": "Ngôn ngữ email mặc định",
            "em_locale_hint": "Dùng khi không biết ngôn ngữ của khách hàng.",
            "em_types": "Các email được gửi",
            "em_types_hint": "Chỉ gửi những email được đánh dấu ở đây.",
            "em_save_settings": "Lưu cài đặt",
            "em_settings_saved": "Đã lưu cài đặt email.",
            "em_templates": "Mẫu email",
            "em_col_type": "Email",
            "em_custom": "{language} (đã sửa)",
            "em_default": "{language}",
            "em_log": "Email gần đây",
            "em_log_status": "Trạng thái",
            "em_log_any": "Tất cả",
            "em_log_show": "Hiển thị",
            "em_log_none": "Chưa có email nào.",
            "em_col_to": "Người nhận",
            "em_col_subject": "Tiêu đề",
            "em_col_error": "Lỗi",
            "em_col_when": "Tạo lúc",
            "em_type_points_earned": "Nhận điểm",
            "em_type_reward_unlocked": "Mở khóa phần thưởng",
            "em_type_tier_changed": "Đổi hạng",
            "em_type_referral_rewarded": "Thưởng giới thiệu",
            "em_type_points_expiring": "Điểm sắp hết hạn",
            "em_type_birthday_bonus": "Thưởng sinh nhật",
            "em_status_pending": "Đang chờ",
            "em_status_sending": "Đang gửi",
            "em_status_sent": "Đã gửi",
            "em_status_failed": "Thất bại",
            "em_status_skipped": "Bỏ qua",
            "em_on": "Bật",
            "em_off": "Tắt",
            "em_editor_title": "{type}: mẫu {language}",
            "em_other_languages": "Ngôn ngữ khác",
            "em_subject": "Tiêu đề",
            "em_body_text": "Nội dung văn bản",
            "em_body_html": "HTML (không bắt buộc)",
            "em_body_html_hint": "Để trống: email chỉ gửi dạng văn bản.",
            "em_variables": "Biến bạn có thể dùng, viết dạng {{ name }}",
            "em_preview_button": "Xem trước",
            "em_save_template": "Lưu",
            "em_reset": "Khôi phục nội dung mặc định",
            "em_reset_hint": "Các chỉnh sửa của bạn cho ngôn ngữ này sẽ bị bỏ.",
            "em_customized": "Bạn đã sửa mẫu này.",
            "em_is_default": "Đây là nội dung mặc định.",
            "em_preview": "Xem trước với dữ liệu mẫu",
            "em_preview_draft": "Bản xem trước này có các thay đổi chưa lưu của bạn.",
            "em_preview_subject": "Tiêu đề",
            "em_preview_frame": "Bản xem trước của email",
            "em_preview_show": "Hiện bản xem trước",
            "em_template_saved": "Đã lưu mẫu.",
            "em_template_reset": "Đã khôi phục mẫu về nội dung mặc định.",
            "em_back": "Quay lại email",
            "em_state": "Gửi email này",
        },
        "th": {
            "wh_title": "เว็บฮุก",
            "wh_intro": (
                "ส่งเหตุการณ์ที่มีลายเซ็น (ได้รับคะแนน แลกรางวัล เปลี่ยนระดับ การแนะนำ) ไปยังระบบของคุณเอง"
            ),
            "wh_none": "ยังไม่มีปลายทาง",
            "wh_col_url": "URL",
            "wh_col_topics": "หัวข้อ",
            "wh_col_enabled": "การส่ง",
            "wh_col_last": "การส่งล่าสุด",
            "wh_on": "เปิด",
            "wh_off": "ปิด",
            "wh_never": "ยังไม่ได้ส่ง",
            "wh_enable": "เปิด",
            "wh_disable": "ปิด",
            "wh_ping": "ส่งทดสอบ",
            "wh_rotate": "สร้างรหัสลับใหม่",
            "wh_delete": "ลบ",
            "wh_register": "ลงทะเบียนปลายทาง",
            "wh_url": "URL ปลายทาง",
            "wh_url_hint": "ที่ที่เหตุการณ์จะถูกส่งด้วย POST เช่น https://crm.example.com/hooks",
            "wh_description": "คำอธิบาย (ไม่บังคับ)",
            "wh_topics": "หัวข้อ",
            "wh_topics_hint": "เหตุการณ์ที่ปลายทางนี้จะได้รับ",
            "wh_register_button": "ลงทะเบียน",
            "wh_topic_points.earned": "ได้รับคะแนน",
            "wh_topic_points.redeemed": "ใช้คะแนน",
            "wh_topic_points.expired": "คะแนนหมดอายุ",
            "wh_topic_points.expiring": "คะแนนใกล้หมดอายุ",
            "wh_topic_tier.changed": "เปลี่ยนระดับ",
            "wh_topic_referral.completed": "การแนะนำสำเร็จ",
            "wh_topic_referral.flagged": "การแนะนำถูกตั้งค่าสถานะ",
            "wh_topic_ping": "ทดสอบ (ping)",
            "wh_secret_title": "รหัสลับสำหรับลงลายเซ็นของปลายทาง",
            "wh_secret_created": "ลงทะเบียนปลายทางแล้ว: {url}",
            "wh_secret_rotated": "รหัสลับใหม่สำหรับ {url}",
            "wh_secret_once": (
                "คัดลอกรหัสลับนี้ตอนนี้และเก็บไว้ในระบบรับของคุณ รหัสจะแสดงเพียงครั้งนี้"
                "ครั้งเดียว เมื่อออกจากหน้านี้แล้วจะไม่มีใครดูได้อีก (คุณสร้างรหัสใหม่ได้)"
            ),
            "wh_secret_label": "รหัสลับสำหรับลงลายเซ็น",
            "wh_copy": "คัดลอกรหัสลับ",
            "wh_copied": "คัดลอกแล้ว",
            "wh_secret_overlap": (
                "จนถึง {until} (UTC) การส่งจะลงลายเซ็นด้วยรหัสลับเดิมด้วย "
                "เพื่อให้ระบบรับของคุณเปลี่ยนได้โดยไม่ปฏิเสธการส่งใด"
            ),
            "wh_verify_title": "วิธีตรวจว่าการส่งมาจากเรา",
            "wh_verify_1": (
                "ทุกการส่งมีส่วนหัว {ts} (วินาที Unix) และ {sig} (sha256=<hex> "
                "หนึ่งรายการหรือมากกว่า คั่นด้วยจุลภาค)"
            ),
            "wh_verify_2": (
                "คำนวณ HMAC-SHA256 ด้วยรหัสลับนี้จาก timestamp ตามด้วยจุด แล้วตามด้วย"
                "เนื้อหาดิบของคำขอตามที่ได้รับทุกไบต์ เขียนเป็นเลขฐานสิบหกต่อจาก sha256="
            ),
            "wh_verify_3": (
                "ยอมรับการส่งเมื่อผลตรงกับลายเซ็นใดลายเซ็นหนึ่ง (เปรียบเทียบแบบเวลาคงที่) "
                "และ timestamp ห่างจากเวลาปัจจุบันไม่เกิน {minutes} นาที"
            ),
            "wh_verify_example": "ตัวอย่างในภาษา Python",
            "wh_back": "กลับไปที่เว็บฮุก",
            "wh_delete_title": "ลบปลายทางนี้หรือไม่",
            "wh_delete_text": (
                "จะไม่มีการส่งไปยัง {url} อีก การส่งที่ยังรออยู่จะล้มเหลว ส่วนบันทึกการส่งยังอ่านได้ การลบนี้ย้อนกลับไม่ได้"
            ),
            "wh_delete_confirm": "ลบปลายทาง",
            "wh_cancel": "ยกเลิก",
            "wh_enabled": "เปิดปลายทางแล้ว: เหตุการณ์จะถูกส่งไปที่นั่น",
            "wh_disabled": "ปิดปลายทางแล้ว: จะไม่มีการส่งไปที่นั่น",
            "wh_deleted": "ลบปลายทางแล้ว",
            "wh_pinged": "จัดคิวการส่งทดสอบ (หมายเลข {id}) แล้ว ผลจะแสดงด้านล่าง",
            "wh_replayed": "จัดคิวการส่งหมายเลข {id} เพื่อส่งอีกครั้งแล้ว",
            "wh_log_title": "การส่งเว็บฮุก",
            "wh_filter": "ตัวกรอง",
            "wh_filter_endpoint": "ปลายทาง",
            "wh_filter_status": "สถานะ",
            "wh_filter_any": "ทั้งหมด",
            "wh_filter_button": "แสดง",
            "wh_log_none": "ไม่มีการส่งที่ตรงกัน",
            "wh_col_id": "หมายเลข",
            "wh_col_topic": "หัวข้อ",
            "wh_col_status": "สถานะ",
            "wh_col_code": "รหัส HTTP",
            "wh_col_attempts": "จำนวนครั้งที่ลอง",
            "wh_col_next": "ลองใหม่เมื่อ",
            "wh_col_error": "ข้อผิดพลาด",
            "wh_col_created": "สร้างเมื่อ",
            "wh_replay": "ส่งอีกครั้ง",
            "wh_older": "การส่งที่เก่ากว่า",
            "wh_deleted_endpoint": "ปลายทาง {id} (ลบแล้ว)",
            "wh_status_pending": "รอส่ง",
            "wh_status_delivering": "กำลังส่ง",
            "wh_status_succeeded": "ส่งสำเร็จ",
            "wh_status_failed": "ล้มเหลว",
            "wh_redelivery": "ส่งซ้ำ",
            "em_title": "อีเมลถึงลูกค้า",
            "em_smtp_on": "ตั้งค่าการส่งแล้ว: อีเมลที่เปิดไว้จะถูกส่ง",
            "em_smtp_off": (
                "เซิร์ฟเวอร์นี้ยังไม่ได้ตั้งค่าการส่ง (ไม่มี SMTP_URL) อีเมลจะถูกเก็บไว้ในบันทึกเป็นสถานะรอส่งและไม่ถูกส่ง"
            ),
            "em_settings": "การตั้งค่าอีเมล",
            "em_sender_name": "ชื่อผู้ส่ง",
            "em_sender_name_hint": "แสดงเป็นผู้ส่ง เว้นว่าง: ใช้โดเมนของร้านค้า",
            "em_sender_address": "ที่อยู่ผู้ส่งและที่อยู่สำหรับตอบกลับ",
            "em_sender_address_hint": "คำตอบจากลูกค้าจะส่งมาที่นี่ เว้นว่าง: ใช้ที่อยู่ของเซิร์ฟเวอร์",
            "em_locale": "ภาษาเริ่มต้นของอีเมล",
            "em_locale_hint": "ใช้เมื่อไม่ทราบภาษาของลูกค้า",
            "em_types": "อีเมลที่จะส่ง",
            "em_types_hint": "จะส่งเฉพาะอีเมลที่เลือกไว้ที่นี่",
            "em_save_settings": "บันทึกการตั้งค่า",
            "em_settings_saved": "บันทึกการตั้งค่าอีเมลแล้ว",
            "em_templates": "เทมเพลต",
            "em_col_type": "อีเมล",
            "em_custom": "{language} (แก้ไขแล้ว)",
            "em_default": "{language}",
            "em_log": "อีเมลล่าสุด",
            "em_log_status": "สถานะ",
            "em_log_any": "ทั้งหมด",
            "em_log_show": "แสดง",
            "em_log_none": "ยังไม่มีอีเมล",
            "em_col_to": "ผู้รับ",
            "em_col_subject": "หัวเรื่อง",
            "em_col_error": "ข้อผิดพลาด",
            "em_col_when": "สร้างเมื่อ",
            "em_type_points_earned": "ได้รับคะแนน",
            "em_type_reward_unlocked": "ปลดล็อกรางวัล",
            "em_type_tier_changed": "เปลี่ยนระดับ",
            "em_type_referral_rewarded": "รางวัลการแนะนำ",
            "em_type_points_expiring": "คะแนนใกล้หมดอายุ",
            "em_type_birthday_bonus": "โบนัสวันเกิด",
            "em_status_pending": "รอส่ง",
            "em_status_sending": "กำลังส่ง",
            "em_status_sent": "ส่งแล้ว",
            "em_status_failed": "ล้มเหลว",
            "em_status_skipped": "ข้าม",
            "em_on": "เปิด",
            "em_off": "ปิด",
            "em_editor_title": "{type}: เทมเพลตภาษา{language}",
            "em_other_languages": "ภาษาอื่น",
            "em_subject": "หัวเรื่อง",
            "em_body_text": "ข้อความ",
            "em_body_html": "HTML (ไม่บังคับ)",
            "em_body_html_hint": "เว้นว่าง: ส่งอีเมลเป็นข้อความอย่างเดียว",
            "em_variables": "ตัวแปรที่ใช้ได้ เขียนเป็น {{ name }}",
            "em_preview_button": "ดูตัวอย่าง",
            "em_save_template": "บันทึก",
            "em_reset": "คืนค่าข้อความเริ่มต้น",
            "em_reset_hint": "การแก้ไขของคุณในภาษานี้จะถูกยกเลิก",
            "em_customized": "คุณแก้ไขเทมเพลตนี้แล้ว",
            "em_is_default": "นี่คือข้อความเริ่มต้น",
            "em_preview": "ตัวอย่างพร้อมข้อมูลตัวอย่าง",
            "em_preview_draft": "ตัวอย่างนี้แสดงการเปลี่ยนแปลงที่ยังไม่ได้บันทึก",
            "em_preview_subject": "หัวเรื่อง",
            "em_preview_frame": "ตัวอย่างอีเมล",
            "em_preview_show": "แสดงตัวอย่าง",
            "em_template_saved": "บันทึกเทมเพลตแล้ว",
            "em_template_reset": "คืนค่าเทมเพลตเป็นข้อความเริ่มต้นแล้ว",
            "em_back": "กลับไปที่อีเมล",
            "em_state": "การส่งอีเมลนี้",
        },
    }
)
