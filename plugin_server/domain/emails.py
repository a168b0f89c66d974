"""Emails to shoppers: the kinds, the languages, the default texts, and the signed
unsubscribe token. Pure: no I/O and no template engine (the service renders these texts
in Jinja2's sandbox).

The default texts are Jinja2 templates over the variables in `VARIABLES`; `plural(n,
one, other)` picks a word form (English needs it; Vietnamese and Thai do not inflect).
Every email also gets a footer with the unsubscribe link, added outside the template so
a merchant's edit can never drop it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class EmailType(StrEnum):
    POINTS_EARNED = "points_earned"
    REWARD_UNLOCKED = "reward_unlocked"
    TIER_CHANGED = "tier_changed"
    REFERRAL_REWARDED = "referral_rewarded"
    POINTS_EXPIRING = "points_expiring"
    BIRTHDAY_BONUS = "birthday_bonus"


TYPES: tuple[str, ...] = tuple(t.value for t in EmailType)
LOCALES: tuple[str, ...] = ("en", "vi", "th")
# Every order would mail "points earned": off until the merchant wants it.
DEFAULT_ENABLED: frozenset[str] = frozenset(TYPES) - {EmailType.POINTS_EARNED.value}
# loyalty_events.kind -> email type
EVENT_TYPES: Mapping[str, str] = {
    "tier_changed": EmailType.TIER_CHANGED.value,
    "referral_rewarded": EmailType.REFERRAL_REWARDED.value,
    "points_expiring": EmailType.POINTS_EXPIRING.value,
}
MAX_SUBJECT = 200
UNSUBSCRIBE_VALID = timedelta(days=365)

VARIABLES: Mapping[str, str] = {
    "shop_name": "The sender name (or the shop's domain).",
    "customer_name": "The shopper's first name; empty when not known.",
    "points": "Points of this event (earned, bonus, or about to expire).",
    "balance": "The shopper's spendable balance when the email is sent.",
    "reward_name": "reward_unlocked: the reward now within reach.",
    "reward_cost": "reward_unlocked: its points cost.",
    "tier_name": "tier_changed: the new tier.",
    "previous_tier": "tier_changed: the tier before (empty when none).",
    "direction": "tier_changed: up or down.",
    "expires_on": "points_expiring: the date (YYYY-MM-DD) the points expire.",
    "unsubscribe_url": "The shopper's unsubscribe link (also added in the footer).",
    "offers": "Up to 3 rewards then 3 products picked for the shopper, best first; each has "
    "`name` and `reason` (in the email's language), e.g. "
    "{% for o in offers %}{{ o.name }}: {{ o.reason }}{% endfor %}. Empty when none.",
}


@dataclass(frozen=True, slots=True)
class Template:
    subject: str
    body_text: str
    body_html: str | None = None


_P = "{{ plural(points, 'point', 'points') }}"
_B = "{{ plural(balance, 'point', 'points') }}"

DEFAULTS: Mapping[tuple[str, str], Template] = {
    ("points_earned", "en"): Template(
        f"You earned {{{{ points }}}} {_P} at {{{{ shop_name }}}}",
        "Hi {{ customer_name or 'there' }},\n\n"
        f"You just earned {{{{ points }}}} {_P} at {{{{ shop_name }}}}. "
        f"Your balance is now {{{{ balance }}}} {_B}.\n",
    ),
    ("points_earned", "vi"): Template(
        "Bạn vừa nhận được {{ points }} điểm tại {{ shop_name }}",
        "Xin chào {{ customer_name or 'bạn' }},\n\n"
        "Bạn vừa nhận được {{ points }} điểm tại {{ shop_name }}. "
        "Số dư hiện tại của bạn là {{ balance }} điểm.\n",
    ),
    ("points_earned", "th"): Template(
        "คุณได้รับ {{ points }} คะแนนจาก {{ shop_name }}",
        "สวัสดี {{ customer_name or 'ลูกค้า' }}\n\n"
        "คุณได้รับ {{ points }} คะแนนจาก {{ shop_name }} "
        "ยอดคะแนนคงเหลือของคุณคือ {{ balance }} คะแนน\n",
    ),
    ("reward_unlocked", "en"): Template(
        "You can now redeem {{ reward_name }}",
        "Hi {{ customer_name or 'there' }},\n\n"
        f"You have {{{{ balance }}}} {_B} at {{{{ shop_name }}}}: enough for "
        "{{ reward_name }} ({{ reward_cost }} {{ plural(reward_cost, 'point', 'points') }}).\n",
    ),
    ("reward_unlocked", "vi"): Template(
        "Bạn đã đủ điểm để đổi {{ reward_name }}",
        "Xin chào {{ customer_name or 'bạn' }},\n\n"
        "Bạn có {{ balance }} điểm tại {{ shop_name }}, đủ để đổi {{ reward_name }} "
        "({{ reward_cost }} điểm).\n",
    ),
    ("reward_unlocked", "th"): Template(
        "คุณแลก {{ reward_name }} ได้แล้ว",
        "สวัสดี {{ customer_name or 'ลูกค้า' }}\n\n"
        "คุณมี {{ balance }} คะแนนที่ {{ shop_name }} เพียงพอสำหรับแลก {{ reward_name }} "
        "({{ reward_cost }} คะแนน)\n",
    ),
    ("tier_changed", "en"): Template(
        "{% if direction == 'up' %}Welcome to {{ tier_name }}"
        "{% else %}Your tier is now {{ tier_name }}{% endif %}",
        "Hi {{ customer_name or 'there' }},\n\n"
        "Your membership tier at {{ shop_name }} is now {{ tier_name }}"
        "{% if previous_tier %} (before: {{ previous_tier }}){% endif %}.\n",
    ),
    ("tier_changed", "vi"): Template(
        "{% if direction == 'up' %}Chào mừng bạn đến với hạng {{ tier_name }}"
        "{% else %}Hạng thành viên của bạn giờ là {{ tier_name }}{% endif %}",
        "Xin chào {{ customer_name or 'bạn' }},\n\n"
        "Hạng thành viên của bạn tại {{ shop_name }} giờ là {{ tier_name }}"
        "{% if previous_tier %} (trước đây: {{ previous_tier }}){% endif %}.\n",
    ),
    ("tier_changed", "th"): Template(
        "{% if direction == 'up' %}ยินดีต้อนรับสู่ระดับ {{ tier_name }}"
        "{% else %}ระดับสมาชิกของคุณตอนนี้คือ {{ tier_name }}{% endif %}",
        "สวัสดี {{ customer_name or 'ลูกค้า' }}\n\n"
        "ระดับสมาชิกของคุณที่ {{ shop_name }} ตอนนี้คือ {{ tier_name }}"
        "{% if previous_tier %} (เดิม: {{ previous_tier }}){% endif %}\n",
    ),
    ("referral_rewarded", "en"): Template(
        "Thanks for referring a friend to {{ shop_name }}",
        "Hi {{ customer_name or 'there' }},\n\n"
        "Your friend placed an order at {{ shop_name }}, so your referral reward is ready "
        "in your account.\n",
    ),
    ("referral_rewarded", "vi"): Template(
        "Cảm ơn bạn đã giới thiệu bạn bè đến {{ shop_name }}",
        "Xin chào {{ customer_name or 'bạn' }},\n\n"
        "Bạn của bạn đã đặt hàng tại {{ shop_name }}, phần thưởng giới thiệu đã có trong "
        "tài khoản của bạn.\n",
    ),
    ("referral_rewarded", "th"): Template(
        "ขอบคุณที่แนะนำเพื่อนมาที่ {{ shop_name }}",
        "สวัสดี {{ customer_name or 'ลูกค้า' }}\n\n"
        "เพื่อนของคุณสั่งซื้อที่ {{ shop_name }} แล้ว รางวัลการแนะนำอยู่ในบัญชีของคุณแล้ว\n",
    ),
    ("points_expiring", "en"): Template(
        f"{{{{ points }}}} {_P} expire on {{{{ expires_on }}}}",
        "Hi {{ customer_name or 'there' }},\n\n"
        f"Your {{{{ points }}}} {_P} at {{{{ shop_name }}}} "
        "{{ plural(points, 'expires', 'expire') }} on {{ expires_on }}. "
        "Use {{ plural(points, 'it', 'them') }} before then.\n",
    ),
    ("points_expiring", "vi"): Template(
        "{{ points }} điểm sẽ hết hạn vào {{ expires_on }}",
        "Xin chào {{ customer_name or 'bạn' }},\n\n"
        "{{ points }} điểm của bạn tại {{ shop_name }} sẽ hết hạn vào ngày {{ expires_on }}. "
        "Hãy sử dụng trước ngày đó.\n",
    ),
    ("points_expiring", "th"): Template(
        "{{ points }} คะแนนจะหมดอายุในวันที่ {{ expires_on }}",
        "สวัสดี {{ customer_name or 'ลูกค้า' }}\n\n"
        "คะแนน {{ points }} คะแนนของคุณที่ {{ shop_name }} จะหมดอายุในวันที่ {{ expires_on }} "
        "โปรดใช้ก่อนวันดังกล่าว\n",
    ),
    ("birthday_bonus", "en"): Template(
        f"Happy birthday! {{{{ points }}}} {_P} for you",
        "Hi {{ customer_name or 'there' }},\n\n"
        f"Happy birthday from {{{{ shop_name }}}}! We added {{{{ points }}}} {_P} to your "
        f"account; your balance is {{{{ balance }}}} {_B}.\n",
    ),
    ("birthday_bonus", "vi"): Template(
        "Chúc mừng sinh nhật! Tặng bạn {{ points }} điểm",
        "Xin chào {{ customer_name or 'bạn' }},\n\n"
        "{{ shop_name }} chúc bạn sinh nhật vui vẻ! Chúng tôi đã cộng {{ points }} điểm vào "
        "tài khoản của bạn; số dư của bạn là {{ balance }} điểm.\n",
    ),
    ("birthday_bonus", "th"): Template(
        "สุขสันต์วันเกิด! รับ {{ points }} คะแนน",
        "สวัสดี {{ customer_name or 'ลูกค้า' }}\n\n"
        "{{ shop_name }} ขออวยพรวันเกิดให้คุณ! เราได้เพิ่ม {{ points }} คะแนนเข้าบัญชีของคุณ "
        "ยอดคงเหลือของคุณคือ {{ balance }} คะแนน\n",
    ),
}

# The footer every email ends with: this note, then the unsubscribe link.
FOOTER_NOTE: Mapping[str, str] = {
    "en": "You receive this email as a member of {shop}'s rewards program.",
    "vi": "Bạn nhận email này vì là thành viên chương trình khách hàng thân thiết của {shop}.",
    "th": "คุณได้รับอีเมลนี้เพราะเป็นสมาชิกโปรแกรมสะสมคะแนนของ {shop}",
}
UNSUBSCRIBE_LINK_TEXT: Mapping[str, str] = {
    "en": "Unsubscribe",
    "vi": "Hủy đăng ký",
    "th": "ยกเลิกการรับอีเมล",
}


def footer_text(locale: str, shop: str, url: str) -> str:
    """The plain-text footer: the note and `<label>: <url>`."""
    note = FOOTER_NOTE.get(locale, FOOTER_NOTE["en"]).format(shop=shop)
    return f"{note} {UNSUBSCRIBE_LINK_TEXT.get(locale, 'Unsubscribe')}: {url}"


# What a preview renders with.
SAMPLE: Mapping[str, object] = {
    "customer_name": "Linh",
    "points": 120,
    "balance": 1250,
    "reward_name": "10% off",
    "reward_cost": 1000,
    "tier_name": "Gold",
    "previous_tier": "Silver",
    "direction": "up",
    "expires_on": "2027-01-31",
    "offers": [
        {"name": "10% off", "reason": "You can afford this now"},
        {"name": "Green tea", "reason": "Customers who bought Jasmine tea also bought this"},
    ],
}


def plural(n: object, one: str, other: str) -> str:
    """`one` for exactly 1, `other` otherwise (English's two forms)."""
    return one if n == 1 else other


def default_template(type_: str, locale: str) -> Template:
    """The shipped text of one email (English when the language is not one we ship)."""
    return DEFAULTS.get((type_, locale)) or DEFAULTS[(type_, "en")]


def pick_locale(*candidates: str | None) -> str:
    """The first candidate we have texts for (e.g. "vi-VN" -> "vi"), else English."""
    for c in candidates:
        if c:
            short = c.strip().lower().replace("_", "-").split("-")[0]
            if short in LOCALES:
                return short
    return "en"


# --- unsubscribe tokens ------------------------------------------------------------------


class InvalidToken(ValueError):
    """Not a token we signed (forged, altered or malformed)."""


class ExpiredToken(ValueError):
    """A token we signed, past its validity."""


def _key(secret: str) -> bytes:
    # A key of its own, so a token for this purpose can never pass for another.
    return hashlib.sha256(b"loyalty-email-unsubscribe:" + secret.encode()).digest()


def _mac(secret: str, message: str) -> str:
    digest = hmac.new(_key(secret), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def unsubscribe_token(secret: str, shop_id: int, customer_id: int, *, expires_at: datetime) -> str:
    """`<shop>.<customer>.<expiry>.<HMAC-SHA256>`, URL-safe."""
    body = f"{shop_id}.{customer_id}.{int(expires_at.timestamp())}"
    return f"{body}.{_mac(secret, body)}"


def verify_unsubscribe_token(secret: str, token: str, *, now: datetime) -> tuple[int, int]:
    """(shop id, customer id) of a token we signed that has not expired. The MAC is
    compared in constant time; the expiry is checked only after the MAC matched."""
    parts = token.strip().split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]) or len(token) > 200:
        raise InvalidToken("malformed token")
    body = ".".join(parts[:3])
    if not hmac.compare_digest(parts[3].encode(), _mac(secret, body).encode()):
        raise InvalidToken("bad signature")
    if int(parts[2]) < now.timestamp():
        raise ExpiredToken("token expired")
    return int(parts[0]), int(parts[1])
