"""Merchant admin API for shopper emails: settings, templates, preview and the log.

Routes live on the admin blueprint (same API-key authentication and shop scoping)."""

from __future__ import annotations

from flask import Response, g, jsonify

from plugin_server.api import schemas as s
from plugin_server.api.admin import ID, bp
from plugin_server.api.context import current_container
from plugin_server.api.contract import API_KEY, AUTH_ERRORS, endpoint
from plugin_server.services import emails

TYPE = {"type": "The email type: " + ", ".join(s.EmailTypeName.__args__)}  # type: ignore[attr-defined]
NO_TYPE = {"HTTP_404": (s.Error, "email_type_not_found.")}
BAD_TEMPLATE = (
    s.Error,
    "invalid_template (fields names the field and what is wrong, with the line for syntax "
    "errors), validation_failed or invalid_json.",
)


def _smtp() -> bool:
    return bool(current_container().settings.smtp_url)


def _preview_link() -> str:
    return current_container().settings.public_url.rstrip("/") + "/email/unsubscribe?token=preview"


@bp.get("/email-settings")
@endpoint(
    tags=["emails"],
    security=API_KEY,
    responses={"HTTP_200": (s.EmailSettingsOut, "The shop's email settings."), **AUTH_ERRORS},
)
def get_email_settings() -> Response:
    """Sender, language and which emails are on"""
    return jsonify(emails.get_settings(current_container().uow(), g.shop_id, smtp=_smtp()))


@bp.patch("/email-settings")
@endpoint(
    tags=["emails"],
    security=API_KEY,
    json=s.EmailSettingsChanges,
    responses={
        "HTTP_200": (s.EmailSettingsOut, "The settings after the change."),
        "HTTP_400": (s.Error, "validation_failed (naming the field) or invalid_json."),
        **AUTH_ERRORS,
    },
)
def update_email_settings(json: s.EmailSettingsChanges) -> Response:
    """Change the sender, the language, or switch email types on and off"""
    c = current_container()
    return jsonify(
        emails.update_settings(
            c.uow(), g.shop_id, json.model_dump(exclude_unset=True), smtp=_smtp(), now=c.clock()
        )
    )


@bp.get("/email-templates")
@endpoint(
    tags=["emails"],
    security=API_KEY,
    responses={
        "HTTP_200": (s.EmailTemplateList, "Every type in every language (en, vi, th)."),
        **AUTH_ERRORS,
    },
)
def list_email_templates() -> Response:
    """Every email template: the merchant's version, or the default text"""
    return jsonify(email_templates=emails.list_templates(current_container().uow(), g.shop_id))


def _locale(query: s.EmailLocaleQuery) -> str:
    if query.locale is not None:
        return query.locale
    return str(emails.get_settings(current_container().uow(), g.shop_id, smtp=False)["locale"])


@bp.get("/email-templates/<type>")
@endpoint(
    tags=["emails"],
    security=API_KEY,
    path_parameters=TYPE,
    responses={
        "HTTP_200": (s.EmailTemplateOut, "The template."),
        "HTTP_400": (s.Error, "Bad locale."),
        **NO_TYPE,
        **AUTH_ERRORS,
    },
)
def get_email_template(type: str, query: s.EmailLocaleQuery) -> Response:
    """One email template in one language"""
    return jsonify(emails.get_template(current_container().uow(), g.shop_id, type, _locale(query)))


@bp.patch("/email-templates/<type>")
@endpoint(
    tags=["emails"],
    security=API_KEY,
    path_parameters=TYPE,
    json=s.EmailTemplateChanges,
    responses={
        "HTTP_200": (s.EmailTemplateOut, "The template after the change."),
        "HTTP_400": BAD_TEMPLATE,
        **NO_TYPE,
        **AUTH_ERRORS,
    },
)
def update_email_template(
    type: str, query: s.EmailLocaleQuery, json: s.EmailTemplateChanges
) -> Response:
    """Edit a template's subject, text or HTML (checked by rendering it with sample data)"""
    c = current_container()
    return jsonify(
        emails.update_template(
            c.uow(),
            g.shop_id,
            type,
            _locale(query),
            json.model_dump(exclude_unset=True),
            now=c.clock(),
        )
    )


@bp.post("/email-templates/<type>/reset")
@endpoint(
    tags=["emails"],
    security=API_KEY,
    path_parameters=TYPE,
    responses={
        "HTTP_200": (s.EmailTemplateOut, "The default text, now in use again."),
        "HTTP_400": (s.Error, "Bad locale."),
        **NO_TYPE,
        **AUTH_ERRORS,
    },
)
def reset_email_template(type: str, query: s.EmailLocaleQuery) -> Response:
    """Go back to the default text of a template"""
    return jsonify(
        emails.reset_template(current_container().uow(), g.shop_id, type, _locale(query))
    )


@bp.post("/email-templates/<type>/preview")
@endpoint(
    tags=["emails"],
    security=API_KEY,
    path_parameters=TYPE,
    json=s.EmailTemplateChanges,
    responses={
        "HTTP_200": (s.EmailPreviewOut, "Rendered with sample data; nothing is saved."),
        "HTTP_400": BAD_TEMPLATE,
        **NO_TYPE,
        **AUTH_ERRORS,
    },
)
def preview_email_template(
    type: str, query: s.EmailLocaleQuery, json: s.EmailTemplateChanges
) -> Response:
    """Render a template with sample data: the saved one, or the unsaved fields sent"""
    return jsonify(
        emails.preview(
            current_container().uow(),
            g.shop_id,
            type,
            locale=query.locale,
            draft=json.model_dump(exclude_unset=True),
            unsubscribe_url=_preview_link(),
        )
    )


@bp.get("/emails")
@endpoint(
    tags=["emails"],
    security=API_KEY,
    responses={
        "HTTP_200": (
            s.EmailList,
            "Emails, newest first. Without SMTP_URL they stay pending (kept, not sent).",
        ),
        "HTTP_400": (s.Error, "Bad status, before or limit."),
        **AUTH_ERRORS,
    },
)
def list_emails(query: s.EmailLogQuery) -> Response:
    """The email log: recipient, subject, status, attempts and last error"""
    found = emails.list_messages(
        current_container().uow(),
        g.shop_id,
        status=query.status,
        before=query.before,
        limit=query.limit,
    )
    next_before = found[-1]["id"] if len(found) == query.limit else None
    return jsonify(emails=found, next_before=next_before)


@bp.get(f"/emails/<{ID}:email_id>")
@endpoint(
    tags=["emails"],
    security=API_KEY,
    path_parameters={"email_id": "The email's id."},
    responses={
        "HTTP_200": (s.EmailOut, "The email."),
        "HTTP_404": (s.Error, "email_not_found in this shop."),
        **AUTH_ERRORS,
    },
)
def get_email(email_id: int) -> Response:
    """One email of the log"""
    return jsonify(emails.get_message(current_container().uow(), g.shop_id, email_id))
