"""The public unsubscribe page a shopper reaches from an email's link.

GET shows a confirm page (link scanners and prefetchers fetch GETs, so a GET changes
nothing); POST unsubscribes. Mail clients that honour `List-Unsubscribe-Post:
List-Unsubscribe=One-Click` (RFC 8058) POST straight to the same URL. The signed token is
the only authority: no cookie, no session, so there is no CSRF surface. Requests are
rate-limited per address, and a bad token is refused before any database read.
"""

from __future__ import annotations

import time

from flask import Blueprint, current_app, render_template_string, request
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from plugin_server.api import schemas as s
from plugin_server.api.context import current_container
from plugin_server.api.contract import endpoint
from plugin_server.domain import emails as rules
from plugin_server.services import emails

bp = Blueprint("email", __name__, url_prefix="/email")

TEXTS = {
    "en": {
        "title": "Unsubscribe",
        "confirm": "Stop receiving rewards emails from {shop}?",
        "button": "Unsubscribe",
        "done": "You are unsubscribed: {shop} will not send you rewards emails any more.",
        "invalid": "This unsubscribe link is not valid.",
        "expired": "This unsubscribe link has expired. Use the link in a more recent email.",
        "slow": "Too many requests; try again in a minute.",
    },
    "vi": {
        "title": "Hủy đăng ký",
        "confirm": "Ngừng nhận email chương trình thành viên từ {shop}?",
        "button": "Hủy đăng ký",
        "done": "Bạn đã hủy đăng ký: {shop} sẽ không gửi email chương trình thành viên "
        "cho bạn nữa.",
        "invalid": "Liên kết hủy đăng ký này không hợp lệ.",
        "expired": "Liên kết hủy đăng ký này đã hết hạn. Hãy dùng liên kết trong email mới hơn.",
        "slow": "Quá nhiều yêu cầu; vui lòng thử lại sau một phút.",
    },
    "th": {
        "title": "ยกเลิกการรับอีเมล",
        "confirm": "หยุดรับอีเมลโปรแกรมสะสมคะแนนจาก {shop} หรือไม่?",
        "button": "ยกเลิกการรับอีเมล",
        "done": "ยกเลิกเรียบร้อยแล้ว {shop} จะไม่ส่งอีเมลโปรแกรมสะสมคะแนนถึงคุณอีก",
        "invalid": "ลิงก์ยกเลิกนี้ไม่ถูกต้อง",
        "expired": "ลิงก์ยกเลิกนี้หมดอายุแล้ว โปรดใช้ลิงก์ในอีเมลฉบับล่าสุด",
        "slow": "มีคำขอมากเกินไป โปรดลองอีกครั้งในอีกหนึ่งนาที",
    },
}

# Autoescaped (Flask's render_template_string escapes {{ }}), so the shop's name is text.
PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ title }}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem">
<h1>{{ title }}</h1><p>{{ message }}</p>
{% if form %}<form method="post"><button type="submit">{{ button }}</button></form>{% endif %}
</body></html>
"""

HTML_RESPONSES = {
    "HTTP_200": (s.CsvText, "An HTML page."),
    "HTTP_400": (s.CsvText, "An HTML page: the link is not valid or has expired."),
    "HTTP_429": (s.CsvText, "An HTML page: too many requests from this address; see Retry-After."),
}


def _page(
    status: int, lang: str, key: str, *, shop: str = "", form: bool = False
) -> tuple[str, int, dict[str, str]]:
    t = TEXTS.get(lang, TEXTS["en"])
    body = render_template_string(
        PAGE,
        lang=lang,
        title=t["title"],
        message=t[key].format(shop=shop),
        button=t["button"],
        form=form,
    )
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
        ),
    }
    return body, status, headers


def _limited() -> tuple[str, int, dict[str, str]] | None:
    limiter = current_app.extensions.get("loyalty_unsubscribe_limits")
    if limiter is None:
        c = current_container()
        storage = storage_from_string(c.settings.redis_url or "memory://")
        limiter = (FixedWindowRateLimiter(storage), parse(c.settings.unsubscribe_rate))
        current_app.extensions["loyalty_unsubscribe_limits"] = limiter
    strategy, item = limiter
    address = request.remote_addr or "unknown"
    if strategy.hit(item, "unsubscribe", address):
        return None
    reset = strategy.get_window_stats(item, "unsubscribe", address).reset_time
    body, status, headers = _page(429, "en", "slow")
    headers["Retry-After"] = str(max(1, int(reset - time.time())))
    return body, status, headers


@bp.get("/unsubscribe")
@endpoint(
    tags=["emails"],
    query=s.UnsubscribeQuery,
    validate=False,
    responses=HTML_RESPONSES,
    html_responses=list(HTML_RESPONSES),
)
def confirm_unsubscribe() -> tuple[str, int, dict[str, str]]:
    """The page a shopper's unsubscribe link opens: asks to confirm (changes nothing)"""
    return _handle(confirm=True)


@bp.post("/unsubscribe")
@endpoint(
    tags=["emails"],
    query=s.UnsubscribeQuery,
    validate=False,
    responses=HTML_RESPONSES,
    html_responses=list(HTML_RESPONSES),
)
def unsubscribe() -> tuple[str, int, dict[str, str]]:
    """Unsubscribe the token's shopper from the shop's emails (RFC 8058 one-click too)"""
    return _handle(confirm=False)


def _handle(*, confirm: bool) -> tuple[str, int, dict[str, str]]:
    limited = _limited()
    if limited is not None:
        return limited
    c = current_container()
    token = request.args.get("token", "")
    try:
        if confirm:
            page = emails.check_unsubscribe(c.uow(), c.settings.secret_key, token, now=c.clock())
        else:
            page = emails.unsubscribe(c.uow(), c.settings.secret_key, token, now=c.clock())
    except rules.ExpiredToken:
        return _page(400, "en", "expired")
    except rules.InvalidToken:
        return _page(400, "en", "invalid")
    if confirm and not page.already:
        return _page(200, page.locale, "confirm", shop=page.shop_name, form=True)
    return _page(200, page.locale, "done", shop=page.shop_name)
