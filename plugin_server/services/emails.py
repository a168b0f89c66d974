"""Emails to shoppers: settings, templates, preview, the log, unsubscribing and sending.

Emails are queued by `plugin_server.db.email_outbox` in the transaction that wrote each
event (one row per event and shopper, unique). `send_due` claims due rows by moving them to
`sending` in a committed transaction *before* talking to the SMTP server, and records the
outcome afterwards; a claim whose outcome was never recorded (the worker died mid-send) is
failed, not retried. So each email is sent at most once. Without SMTP_URL nothing is sent:
the emails stay `pending` in the outbox, visible through the CLI and the API.

Templates are rendered in Jinja2's immutable sandbox: a merchant's template can read the
variables it is given but cannot call into Python, reach attributes that start with `_`
or change anything. The HTML body is autoescaped, so a shopper's name or a reward name
with markup in it is shown as text. The subject has line breaks removed (no header
injection).
"""

from __future__ import annotations

import json
import logging
import re
import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import formataddr, make_msgid
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import func, select, update

from plugin_server.db import email_outbox, repositories
from plugin_server.db.email_outbox import FAILED, PENDING, SENDING, SENT, SKIPPED
from plugin_server.db.models import (
    Customer,
    EmailMessage,
    EmailSettings,
    EmailTemplate,
    EmailUnsubscribe,
    Shop,
)
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain import emails, outbound
from plugin_server.domain.errors import (
    EmailNotFound,
    InvalidTemplate,
    ShopNotFound,
    UnknownEmailType,
    ValidationFailed,
)
from plugin_server.services import offers

logger = logging.getLogger(__name__)

CLAIM_BATCH = 50
_ADDRESS = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


# --- rendering ---------------------------------------------------------------------------


def _environment(*, html: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        autoescape=html, undefined=StrictUndefined, keep_trailing_newline=True
    )
    env.globals = {"plural": emails.plural}  # nothing else reachable by name
    return env


_TEXT_ENV = _environment(html=False)
_HTML_ENV = _environment(html=True)


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body_text: str
    body_html: str | None


def _render_one(field: str, source: str, variables: Mapping[str, Any], *, html: bool) -> str:
    env = _HTML_ENV if html else _TEXT_ENV
    try:
        return env.from_string(source).render(**variables)
    except TemplateSyntaxError as exc:
        raise InvalidTemplate(f"line {exc.lineno}: {exc.message}", field=field) from None
    except TemplateError as exc:  # undefined variables, sandbox refusals
        raise InvalidTemplate(f"{type(exc).__name__}: {exc}", field=field) from None
    except (ArithmeticError, TypeError, ValueError, OverflowError) as exc:
        raise InvalidTemplate(f"{type(exc).__name__}: {exc}", field=field) from None


def render(
    template: emails.Template,
    variables: Mapping[str, Any],
    *,
    locale: str,
    shop_name: str,
    unsubscribe_url: str,
) -> Rendered:
    """The email's subject and bodies; the unsubscribe footer is added here, outside the
    template. Raises InvalidTemplate naming the field (and the line, for syntax errors)."""
    values = {name: "" for name in emails.VARIABLES}
    values.update(variables)
    values["shop_name"] = shop_name
    values["unsubscribe_url"] = unsubscribe_url
    subject = _render_one("subject", template.subject, values, html=False)
    subject = " ".join(subject.split())[: emails.MAX_SUBJECT]  # no CR/LF reaches a header
    text = _render_one("body_text", template.body_text, values, html=False)
    text = text.rstrip("\n") + "\n\n-- \n" + emails.footer_text(locale, shop_name, unsubscribe_url)
    html = None
    if template.body_html:
        html = _render_one("body_html", template.body_html, values, html=True)
        link = _HTML_ENV.from_string(
            '<p style="font-size:12px;color:#666">{{ note }} '
            '<a href="{{ url }}">{{ label }}</a></p>'
        ).render(
            note=emails.FOOTER_NOTE.get(locale, emails.FOOTER_NOTE["en"]).format(shop=shop_name),
            url=unsubscribe_url,
            label=emails.UNSUBSCRIBE_LINK_TEXT.get(locale, "Unsubscribe"),
        )
        html = html.replace("</body>", link + "</body>") if "</body>" in html else html + link
    return Rendered(subject, text, html)


def check_template(template: emails.Template, locale: str) -> None:
    """Compile and render with sample data: InvalidTemplate if it cannot be sent."""
    for field, source in (("subject", template.subject), ("body_text", template.body_text)):
        if not source.strip():
            raise ValidationFailed(f"{field} must not be empty", field=field)
    render(
        template,
        emails.SAMPLE,
        locale=locale,
        shop_name="Sample shop",
        unsubscribe_url="https://example.com/email/unsubscribe?token=sample",
    )


# --- settings ----------------------------------------------------------------------------


def _type(type_: str) -> str:
    if type_ not in emails.TYPES:
        raise UnknownEmailType(f"no email type {type_!r}; the types are {', '.join(emails.TYPES)}")
    return type_


def _locale(locale: str) -> str:
    if locale not in emails.LOCALES:
        raise ValidationFailed(f"locale is one of {', '.join(emails.LOCALES)}", field="locale")
    return locale


def _settings_row(session: Any, shop_id: int) -> EmailSettings | None:
    return session.get(EmailSettings, shop_id)


def _settings_view(row: EmailSettings | None, shop: Shop, *, smtp: bool) -> dict[str, Any]:
    enabled = emails.DEFAULT_ENABLED if row is None else email_outbox.parse_types(row.enabled_types)
    return {
        "sender_name": row.sender_name if row else None,
        "sender_address": row.sender_address if row else None,
        "locale": row.locale if row else "en",
        "types": {t: t in enabled for t in emails.TYPES},
        "smtp_configured": smtp,
    }


def _shop(session: Any, shop_id: int) -> Shop:
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise ShopNotFound(f"no shop {shop_id}")
    return shop


def get_settings(uow: UnitOfWork, shop_id: int, *, smtp: bool) -> dict[str, Any]:
    """The shop's sender, language and the kinds of email it sends (defaults if unset)."""
    with uow:
        session = uow.session
        return _settings_view(_settings_row(session, shop_id), _shop(session, shop_id), smtp=smtp)


def update_settings(
    uow: UnitOfWork, shop_id: int, changes: Mapping[str, Any], *, smtp: bool, now: datetime
) -> dict[str, Any]:
    """Change the sender, language or switch kinds on and off; unset fields stay."""
    with uow:
        session = uow.session
        row = _settings_row(session, shop_id)
        if row is None:
            row = EmailSettings(
                shop_id=shop_id,
                locale="en",
                enabled_types=",".join(sorted(emails.DEFAULT_ENABLED)),
                updated_at=now,
            )
            session.add(row)
        if "sender_name" in changes:
            name = changes["sender_name"]
            if name is not None and ("\r" in name or "\n" in name):
                raise ValidationFailed("no line breaks", field="sender_name")
            row.sender_name = name.strip() if name else None
        if "sender_address" in changes:
            address = changes["sender_address"]
            if address is not None and not _ADDRESS.match(address.strip()):
                raise ValidationFailed("not an email address", field="sender_address")
            row.sender_address = address.strip() if address else None
        if "locale" in changes:
            row.locale = _locale(changes["locale"])
        if "types" in changes:
            enabled = set(email_outbox.parse_types(row.enabled_types))
            for type_, on in changes["types"].items():
                if type_ not in emails.TYPES:
                    raise ValidationFailed(f"unknown email type {type_!r}", field=f"types.{type_}")
                (enabled.add if on else enabled.discard)(type_)
            row.enabled_types = ",".join(sorted(enabled))
        row.updated_at = now
        session.flush()
        out = _settings_view(row, _shop(session, shop_id), smtp=smtp)
        uow.commit()
        return out


# --- templates ---------------------------------------------------------------------------


def _stored(session: Any, shop_id: int, type_: str, locale: str) -> EmailTemplate | None:
    return session.scalar(
        select(EmailTemplate).where(
            EmailTemplate.shop_id == shop_id,
            EmailTemplate.type == type_,
            EmailTemplate.locale == locale,
        )
    )


def _template_view(
    type_: str, locale: str, row: EmailTemplate | None, enabled: frozenset[str]
) -> dict[str, Any]:
    default = emails.default_template(type_, locale)
    return {
        "type": type_,
        "locale": locale,
        "enabled": type_ in enabled,
        "customized": row is not None,
        "subject": row.subject if row else default.subject,
        "body_text": row.body_text if row else default.body_text,
        "body_html": row.body_html if row else default.body_html,
        "updated_at": row.updated_at.isoformat() if row else None,
    }


def effective_template(session: Any, shop_id: int, type_: str, locale: str) -> emails.Template:
    """The merchant's version if there is one, else the shipped text."""
    row = _stored(session, shop_id, type_, locale)
    if row is None:
        return emails.default_template(type_, locale)
    return emails.Template(row.subject, row.body_text, row.body_html)


def list_templates(uow: UnitOfWork, shop_id: int) -> list[dict[str, Any]]:
    """Every type in every language, the merchant's version or the default."""
    with uow:
        session = uow.session
        enabled = email_outbox.enabled_types(session, shop_id)
        rows = {
            (r.type, r.locale): r
            for r in session.scalars(select(EmailTemplate).where(EmailTemplate.shop_id == shop_id))
        }
        return [
            _template_view(t, loc, rows.get((t, loc)), enabled)
            for t in emails.TYPES
            for loc in emails.LOCALES
        ]


def get_template(uow: UnitOfWork, shop_id: int, type_: str, locale: str) -> dict[str, Any]:
    """One type in one language."""
    _type(type_)
    _locale(locale)
    with uow:
        session = uow.session
        return _template_view(
            type_,
            locale,
            _stored(session, shop_id, type_, locale),
            email_outbox.enabled_types(session, shop_id),
        )


def update_template(
    uow: UnitOfWork,
    shop_id: int,
    type_: str,
    locale: str,
    changes: Mapping[str, Any],
    *,
    now: datetime,
) -> dict[str, Any]:
    """Save the merchant's subject/text/HTML (unset fields keep their current text); the
    result must compile and render with sample data, or InvalidTemplate names the field."""
    _type(type_)
    _locale(locale)
    with uow:
        session = uow.session
        row = _stored(session, shop_id, type_, locale)
        current = effective_template(session, shop_id, type_, locale)
        merged = emails.Template(
            changes.get("subject", current.subject),
            changes.get("body_text", current.body_text),
            changes.get("body_html", current.body_html) or None,
        )
        check_template(merged, locale)
        if row is None:
            row = EmailTemplate(shop_id=shop_id, type=type_, locale=locale)
            session.add(row)
        row.subject, row.body_text, row.body_html = (
            merged.subject,
            merged.body_text,
            merged.body_html,
        )
        row.updated_at = now
        session.flush()
        out = _template_view(type_, locale, row, email_outbox.enabled_types(session, shop_id))
        uow.commit()
        return out


def reset_template(uow: UnitOfWork, shop_id: int, type_: str, locale: str) -> dict[str, Any]:
    """Back to the shipped text (idempotent)."""
    _type(type_)
    _locale(locale)
    with uow:
        session = uow.session
        row = _stored(session, shop_id, type_, locale)
        if row is not None:
            session.delete(row)
            session.flush()
        out = _template_view(type_, locale, None, email_outbox.enabled_types(session, shop_id))
        uow.commit()
        return out


def _shop_name(row: EmailSettings | None, shop: Shop) -> str:
    if row is not None and row.sender_name:
        return row.sender_name
    domain = shop.domain
    return urlsplit(domain).hostname or domain if "://" in domain else domain


def preview(
    uow: UnitOfWork,
    shop_id: int,
    type_: str,
    *,
    locale: str | None,
    draft: Mapping[str, Any],
    unsubscribe_url: str,
) -> dict[str, Any]:
    """Render the type (the saved version, or `draft`'s unsaved fields over it) with
    sample data."""
    _type(type_)
    with uow:
        session = uow.session
        row = _settings_row(session, shop_id)
        locale = _locale(locale) if locale else (row.locale if row else "en")
        current = effective_template(session, shop_id, type_, locale)
        template = emails.Template(
            draft.get("subject", current.subject),
            draft.get("body_text", current.body_text),
            draft.get("body_html", current.body_html) or None,
        )
        out = render(
            template,
            emails.SAMPLE,
            locale=locale,
            shop_name=_shop_name(row, _shop(session, shop_id)),
            unsubscribe_url=unsubscribe_url,
        )
    return {
        "type": type_,
        "locale": locale,
        "subject": out.subject,
        "body_text": out.body_text,
        "body_html": out.body_html,
    }


# --- the log -----------------------------------------------------------------------------


def _message_view(m: EmailMessage, customer_ref: str | None) -> dict[str, Any]:
    return {
        "id": m.id,
        "type": m.type,
        "customer_id": customer_ref,
        "status": m.status,
        "locale": m.locale,
        "to": m.to_address,
        "subject": m.subject,
        "attempts": m.attempts,
        "last_error": m.last_error,
        "next_attempt_at": m.next_attempt_at.isoformat() if m.status == PENDING else None,
        "created_at": m.created_at.isoformat(),
        "sent_at": m.sent_at.isoformat() if m.sent_at else None,
    }


def list_messages(
    uow: UnitOfWork,
    shop_id: int,
    *,
    status: str | None = None,
    before: int | None = None,
    limit: int = 25,
) -> list[dict[str, Any]]:
    """The shop's emails, newest first."""
    with uow:
        stmt = (
            select(EmailMessage, Customer.customer_ref)
            .join(Customer, Customer.id == EmailMessage.customer_id)
            .where(EmailMessage.shop_id == shop_id)
        )
        if status is not None:
            stmt = stmt.where(EmailMessage.status == status)
        if before is not None:
            stmt = stmt.where(EmailMessage.id < before)
        found = uow.session.execute(stmt.order_by(EmailMessage.id.desc()).limit(limit))
        return [_message_view(m, ref) for m, ref in found]


def get_message(uow: UnitOfWork, shop_id: int, message_id: int) -> dict[str, Any]:
    """One email of the shop."""
    with uow:
        row = uow.session.execute(
            select(EmailMessage, Customer.customer_ref)
            .join(Customer, Customer.id == EmailMessage.customer_id)
            .where(EmailMessage.shop_id == shop_id, EmailMessage.id == message_id)
        ).one_or_none()
        if row is None:
            raise EmailNotFound(f"no email {message_id} in this shop")
        return _message_view(row[0], row[1])


# --- unsubscribing -----------------------------------------------------------------------


def unsubscribe_url(
    public_url: str, secret: str, shop_id: int, customer_id: int, *, now: datetime
) -> str:
    """The shopper's signed link (valid for a year)."""
    token = emails.unsubscribe_token(
        secret, shop_id, customer_id, expires_at=now + emails.UNSUBSCRIBE_VALID
    )
    return f"{public_url.rstrip('/')}/email/unsubscribe?token={quote(token)}"


@dataclass(frozen=True, slots=True)
class UnsubscribePage:
    shop_name: str
    locale: str
    already: bool


def check_unsubscribe(
    uow: UnitOfWork, secret: str, token: str, *, now: datetime
) -> UnsubscribePage:
    """What the confirm page shows. Raises emails.InvalidToken / ExpiredToken, or
    InvalidToken for a shop or customer that no longer exists."""
    shop_id, customer_id = emails.verify_unsubscribe_token(secret, unquote(token), now=now)
    with uow:
        session = uow.session
        shop = session.get(Shop, shop_id)
        exists = session.scalar(
            select(Customer.id).where(Customer.shop_id == shop_id, Customer.id == customer_id)
        )
        if shop is None or exists is None:
            raise emails.InvalidToken("no such shopper")
        row = _settings_row(session, shop_id)
        already = session.scalar(
            select(EmailUnsubscribe.id).where(
                EmailUnsubscribe.shop_id == shop_id, EmailUnsubscribe.customer_id == customer_id
            )
        )
        return UnsubscribePage(
            _shop_name(row, shop), row.locale if row else "en", already is not None
        )


def unsubscribe(uow: UnitOfWork, secret: str, token: str, *, now: datetime) -> UnsubscribePage:
    """Record that the token's shopper wants no more emails from its shop (idempotent);
    their emails still queued are skipped."""
    page = check_unsubscribe(uow, secret, token, now=now)
    shop_id, customer_id = emails.verify_unsubscribe_token(secret, unquote(token), now=now)
    with uow:
        session = uow.session
        repositories.insert_ignoring_conflict(
            session,
            EmailUnsubscribe,
            {"shop_id": shop_id, "customer_id": customer_id, "created_at": now},
            ("shop_id", "customer_id"),
        )
        session.execute(
            update(EmailMessage)
            .where(
                EmailMessage.shop_id == shop_id,
                EmailMessage.customer_id == customer_id,
                EmailMessage.status == PENDING,
            )
            .values(status=SKIPPED, last_error="unsubscribed", updated_at=now)
        )
        uow.commit()
    logger.info("shopper unsubscribed", extra={"shop_id": shop_id, "customer_id": customer_id})
    return UnsubscribePage(page.shop_name, page.locale, True)


# --- sending -----------------------------------------------------------------------------


class Mailer(Protocol):
    def send(self, message: MimeMessage) -> None: ...


class PermanentFailure(Exception):
    """The server refused for good (a 5xx answer): retrying cannot help."""


@dataclass(frozen=True, slots=True)
class SmtpMailer:
    """One SMTP conversation per batch would be faster; one per email keeps a broken
    connection from failing the rest, and volumes are small."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False  # smtps:// (implicit TLS)
    starttls: bool = False
    timeout_s: float = 10.0

    @classmethod
    def from_url(cls, url: str, *, starttls: bool = False, timeout_s: float = 10.0) -> SmtpMailer:
        """smtp://user:pass@host:port or smtps://...; `?starttls=1` works too."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:pass@host:port")
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            starttls=starttls or "starttls=1" in parts.query or "starttls=true" in parts.query,
            timeout_s=timeout_s,
        )

    def send(self, message: MimeMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        try:
            if self.starttls:
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            try:
                smtp.send_message(message)
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                if all(500 <= c < 600 for c in codes):
                    raise PermanentFailure(f"recipient refused: {codes}") from None
                raise
            except smtplib.SMTPResponseException as exc:
                if 500 <= exc.smtp_code < 600:
                    raise PermanentFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from None
                raise
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


@dataclass(frozen=True, slots=True)
class SendPolicy:
    max_attempts: int = 8
    retry_base: timedelta = timedelta(seconds=60)
    retry_cap: timedelta = timedelta(hours=6)
    lease: timedelta = timedelta(minutes=5)
    public_url: str = "http://127.0.0.1:5000"
    secret: str = ""
    default_from: str = "rewards@localhost"

    @classmethod
    def from_settings(cls, s: Any) -> SendPolicy:
        return cls(
            max_attempts=s.email_max_attempts,
            retry_base=timedelta(seconds=s.email_retry_base_s),
            retry_cap=timedelta(seconds=s.email_retry_cap_s),
            lease=timedelta(seconds=max(s.email_lease_s, s.smtp_timeout_s * 4)),
            public_url=s.public_url,
            secret=s.secret_key,
            default_from=s.email_from,
        )


def mailer_from_settings(s: Any) -> SmtpMailer | None:
    """The configured SMTP server, or None on the embedded default (nothing is sent)."""
    if not s.smtp_url:
        return None
    return SmtpMailer.from_url(s.smtp_url, starttls=s.smtp_starttls, timeout_s=s.smtp_timeout_s)


def has_due(uow: UnitOfWork, *, now: datetime) -> bool:
    """Whether any email is due (cheap; the scheduler asks every tick)."""
    with uow:
        return (
            uow.session.scalar(
                select(EmailMessage.id)
                .where(EmailMessage.status == PENDING, EmailMessage.next_attempt_at <= now)
                .limit(1)
            )
            is not None
        )


def count_pending(uow: UnitOfWork) -> int:
    with uow:
        return int(
            uow.session.scalar(
                select(func.count()).select_from(EmailMessage).where(EmailMessage.status == PENDING)
            )
            or 0
        )


def _fail_interrupted(uow: UnitOfWork, *, now: datetime) -> int:
    # A claim whose send never reported back may have gone out: never send it again.
    with uow:
        result = uow.session.execute(
            update(EmailMessage)
            .where(EmailMessage.status == SENDING, EmailMessage.lease_expires_at < now)
            .values(
                status=FAILED,
                last_error="interrupted while sending; not retried so it is never sent twice",
                updated_at=now,
            )
        )
        uow.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _claim(uow: UnitOfWork, *, now: datetime, lease: timedelta, limit: int) -> list[int]:
    # A conditional UPDATE per row: only one worker moves a row out of `pending`, on
    # SQLite and PostgreSQL alike, and the claim is committed before anything is sent.
    claimed: list[int] = []
    with uow:
        session = uow.session
        ids = session.scalars(
            select(EmailMessage.id)
            .where(EmailMessage.status == PENDING, EmailMessage.next_attempt_at <= now)
            .order_by(EmailMessage.next_attempt_at, EmailMessage.id)
            .limit(limit)
        ).all()
        for message_id in ids:
            result = session.execute(
                update(EmailMessage)
                .where(EmailMessage.id == message_id, EmailMessage.status == PENDING)
                .values(
                    status=SENDING,
                    attempts=EmailMessage.attempts + 1,
                    lease_expires_at=now + lease,
                    updated_at=now,
                )
            )
            if result.rowcount:  # type: ignore[attr-defined]
                claimed.append(message_id)
        uow.commit()
    return claimed


@dataclass(frozen=True, slots=True)
class _Prepared:
    message_id: int
    attempts: int
    mime: MimeMessage | None
    skip_reason: str | None


def _prepare(session: Any, message_id: int, policy: SendPolicy, *, now: datetime) -> _Prepared:
    m = session.get(EmailMessage, message_id)
    customer = session.get(Customer, m.customer_id)
    row = _settings_row(session, m.shop_id)
    enabled = emails.DEFAULT_ENABLED if row is None else email_outbox.parse_types(row.enabled_types)

    def skip(reason: str) -> _Prepared:
        return _Prepared(m.id, m.attempts, None, reason)

    if m.type not in enabled:
        return skip("switched off")
    if customer is None or not customer.email:
        return skip("no email address")
    unsubscribed = session.scalar(
        select(EmailUnsubscribe.id).where(
            EmailUnsubscribe.shop_id == m.shop_id, EmailUnsubscribe.customer_id == m.customer_id
        )
    )
    if unsubscribed is not None:
        return skip("unsubscribed")
    shop = _shop(session, m.shop_id)
    locale = emails.pick_locale(row.locale if row else None)
    data = json.loads(m.data)
    variables = {
        **data,
        "customer_name": customer.first_name or "",
        "balance": repositories.balance(session, m.shop_id, m.customer_id, now).spendable,
    }
    template = effective_template(session, m.shop_id, m.type, locale)
    if any(
        "offers" in (source or "")
        for source in (template.subject, template.body_text, template.body_html)
    ):
        # Only templates that show offers pay for computing them.
        variables["offers"] = email_offers(session, shop, customer, locale, now=now)
    link = unsubscribe_url(policy.public_url, policy.secret, m.shop_id, m.customer_id, now=now)
    shop_name = _shop_name(row, shop)
    out = render(
        template,
        variables,
        locale=locale,
        shop_name=shop_name,
        unsubscribe_url=link,
    )
    sender = (row.sender_address if row else None) or policy.default_from
    mime = MimeMessage()
    mime["From"] = formataddr((shop_name, sender))
    mime["To"] = customer.email
    mime["Subject"] = out.subject
    mime["Message-ID"] = make_msgid(idstring=f"email-{m.id}", domain=sender.rpartition("@")[2])
    mime["List-Unsubscribe"] = f"<{link}>"
    mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mime["Auto-Submitted"] = "auto-generated"
    mime.set_content(out.body_text)
    if out.body_html:
        mime.add_alternative(out.body_html, subtype="html")
    m.locale, m.to_address, m.subject = locale, customer.email, out.subject
    return _Prepared(m.id, m.attempts, mime, None)


def email_offers(
    session: Any, shop: Shop, customer: Customer, locale: str, *, now: datetime
) -> list[dict[str, str]]:
    """The `offers` variable: the shopper's offers as names and reasons in `locale`."""
    found = offers.offers_for(session, shop, customer, now=now)
    return [
        {
            "name": o.get("name") or o.get("title") or "",
            "reason": o["reason"].get(locale) or o["reason"]["en"],
        }
        for o in (*found["rewards"], *found["products"])
    ]


def _finish(uow: UnitOfWork, message_id: int, values: Mapping[str, Any]) -> None:
    with uow:
        uow.session.execute(
            update(EmailMessage)
            .where(EmailMessage.id == message_id, EmailMessage.status == SENDING)
            .values(lease_expires_at=None, **values)
        )
        uow.commit()


def send_due(
    uow_factory: Callable[[], UnitOfWork],
    mailer: Mailer | None,
    policy: SendPolicy,
    *,
    clock: Callable[[], datetime],
    limit: int | None = None,
) -> dict[str, int]:
    """Send every due email (at most `limit`); counts by outcome. Without a mailer (no
    SMTP_URL) nothing is claimed or sent: the emails stay pending in the outbox."""
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0, "interrupted": 0}
    if mailer is None:
        return counts
    counts["interrupted"] = _fail_interrupted(uow_factory(), now=clock())
    done = 0
    while limit is None or done < limit:
        batch = CLAIM_BATCH if limit is None else min(CLAIM_BATCH, limit - done)
        ids = _claim(uow_factory(), now=clock(), lease=policy.lease, limit=batch)
        if not ids:
            break
        for message_id in ids:
            done += 1
            now = clock()
            try:
                with uow_factory() as uow:
                    prepared = _prepare(uow.session, message_id, policy, now=now)
                    uow.commit()  # the recipient, language and subject for the log
            except InvalidTemplate as exc:
                _finish(
                    uow_factory(),
                    message_id,
                    {
                        "status": FAILED,
                        "last_error": f"{exc.field}: {exc.message}",
                        "updated_at": now,
                    },
                )
                counts["failed"] += 1
                continue
            except Exception as exc:
                # Nothing was sent: fail this one (visible in the log) and go on.
                logger.exception("email could not be prepared", extra={"email_id": message_id})
                _finish(
                    uow_factory(),
                    message_id,
                    {
                        "status": FAILED,
                        "last_error": f"could not be prepared: {type(exc).__name__}",
                        "updated_at": now,
                    },
                )
                counts["failed"] += 1
                continue
            if prepared.mime is None:
                _finish(
                    uow_factory(),
                    message_id,
                    {"status": SKIPPED, "last_error": prepared.skip_reason, "updated_at": now},
                )
                counts["skipped"] += 1
                continue
            try:
                mailer.send(prepared.mime)
            except PermanentFailure as exc:
                _finish(
                    uow_factory(),
                    message_id,
                    {"status": FAILED, "last_error": str(exc)[:500], "updated_at": clock()},
                )
                counts["failed"] += 1
                continue
            except (smtplib.SMTPException, OSError) as exc:
                now = clock()
                error = f"{type(exc).__name__}: {exc}"[:500]
                if prepared.attempts >= policy.max_attempts:
                    values: dict[str, Any] = {"status": FAILED, "last_error": error}
                    counts["failed"] += 1
                else:
                    delay = outbound.retry_delay(
                        prepared.attempts, base=policy.retry_base, cap=policy.retry_cap
                    )
                    values = {
                        "status": PENDING,
                        "last_error": error,
                        "next_attempt_at": now + delay,
                    }
                    counts["retry"] += 1
                _finish(uow_factory(), message_id, {**values, "updated_at": now})
                logger.warning(
                    "email not sent: %s", type(exc).__name__, extra={"email_id": message_id}
                )
                continue
            now = clock()
            _finish(
                uow_factory(),
                message_id,
                {"status": SENT, "sent_at": now, "last_error": None, "updated_at": now},
            )
            counts["sent"] += 1
    return counts
