"""Email texts: every type renders in English, Vietnamese and Thai with real words and
English plurals; merchants' templates are sandboxed and autoescaped; tokens are signed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from plugin_server.domain import emails
from plugin_server.domain.errors import InvalidTemplate
from plugin_server.services.emails import check_template, render

LINK = "https://loyalty.example/email/unsubscribe?token=t"

# (type, locale) -> words the rendered subject + text must contain with the sample data.
EXPECTED = {
    ("points_earned", "en"): ["You earned 120 points at Ann's", "balance is now 1250 points"],
    ("points_earned", "vi"): ["Bạn vừa nhận được 120 điểm", "Số dư hiện tại của bạn là 1250 điểm"],
    ("points_earned", "th"): ["คุณได้รับ 120 คะแนน", "ยอดคะแนนคงเหลือของคุณคือ 1250 คะแนน"],
    ("reward_unlocked", "en"): ["You can now redeem 10% off", "(1000 points)"],
    ("reward_unlocked", "vi"): ["Bạn đã đủ điểm để đổi 10% off", "(1000 điểm)"],
    ("reward_unlocked", "th"): ["คุณแลก 10% off ได้แล้ว", "(1000 คะแนน)"],
    ("tier_changed", "en"): ["Welcome to Gold", "(before: Silver)"],
    ("tier_changed", "vi"): ["Chào mừng bạn đến với hạng Gold", "(trước đây: Silver)"],
    ("tier_changed", "th"): ["ยินดีต้อนรับสู่ระดับ Gold", "(เดิม: Silver)"],
    ("referral_rewarded", "en"): ["Thanks for referring a friend", "referral reward is ready"],
    ("referral_rewarded", "vi"): ["Cảm ơn bạn đã giới thiệu bạn bè", "phần thưởng giới thiệu"],
    ("referral_rewarded", "th"): ["ขอบคุณที่แนะนำเพื่อน", "รางวัลการแนะนำ"],
    ("points_expiring", "en"): ["120 points expire on 2027-01-31", "Use them before then"],
    ("points_expiring", "vi"): ["120 điểm sẽ hết hạn vào 2027-01-31", "Hãy sử dụng trước"],
    ("points_expiring", "th"): ["120 คะแนนจะหมดอายุในวันที่ 2027-01-31", "โปรดใช้ก่อน"],
    ("birthday_bonus", "en"): ["Happy birthday! 120 points for you", "Happy birthday from Ann's"],
    ("birthday_bonus", "vi"): ["Chúc mừng sinh nhật! Tặng bạn 120 điểm", "sinh nhật vui vẻ"],
    ("birthday_bonus", "th"): ["สุขสันต์วันเกิด! รับ 120 คะแนน", "ขออวยพรวันเกิด"],
}
FOOTER_WORD = {"en": "Unsubscribe:", "vi": "Hủy đăng ký:", "th": "ยกเลิกการรับอีเมล:"}
GREETING = {"en": "Hi Linh,", "vi": "Xin chào Linh,", "th": "สวัสดี Linh"}


def test_every_type_has_a_text_in_every_language() -> None:
    assert set(EXPECTED) == {(t, loc) for t in emails.TYPES for loc in emails.LOCALES}
    assert set(emails.DEFAULTS) == set(EXPECTED)


@pytest.mark.parametrize(("type_", "locale"), sorted(EXPECTED))
def test_each_type_renders_in_each_language(type_: str, locale: str) -> None:
    out = render(
        emails.default_template(type_, locale),
        emails.SAMPLE,
        locale=locale,
        shop_name="Ann's",
        unsubscribe_url=LINK,
    )
    whole = out.subject + "\n" + out.body_text
    for words in EXPECTED[(type_, locale)]:
        assert words in whole
    assert GREETING[locale] in out.body_text
    assert out.body_text.rstrip().endswith(LINK)
    assert FOOTER_WORD[locale] in out.body_text
    assert "\n" not in out.subject


@pytest.mark.parametrize(
    ("points", "subject"),
    [(1, "You earned 1 point at Ann's"), (2, "You earned 2 points at Ann's")],
)
def test_english_has_plural_forms(points: int, subject: str) -> None:
    out = render(
        emails.default_template("points_earned", "en"),
        {"points": points, "balance": 1},
        locale="en",
        shop_name="Ann's",
        unsubscribe_url=LINK,
    )
    assert out.subject == subject
    assert "Your balance is now 1 point." in out.body_text
    expiring = render(
        emails.default_template("points_expiring", "en"),
        {"points": 1, "expires_on": "2027-01-31"},
        locale="en",
        shop_name="Ann's",
        unsubscribe_url=LINK,
    )
    assert "Your 1 point at Ann's expires on 2027-01-31. Use it before" in expiring.body_text


def test_vietnamese_and_thai_do_not_inflect() -> None:
    for locale, word in (("vi", "1 điểm"), ("th", "1 คะแนน")):
        out = render(
            emails.default_template("points_earned", locale),
            {"points": 1, "balance": 1},
            locale=locale,
            shop_name="S",
            unsubscribe_url=LINK,
        )
        assert word in out.subject


def test_html_escapes_what_merchants_and_shoppers_type() -> None:
    template = emails.Template(
        "Hi {{ customer_name }}",
        "Hi {{ customer_name }}",
        "<html><body><p>Hi {{ customer_name }}, {{ reward_name }} at {{ shop_name }}</p>"
        "</body></html>",
    )
    out = render(
        template,
        {"customer_name": "<script>alert(1)</script>", "reward_name": '"><img src=x onerror=y>'},
        locale="en",
        shop_name="<b>Shop</b>",
        unsubscribe_url=LINK + '"><script>',
    )
    assert out.body_html is not None
    assert "<script>" not in out.body_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out.body_html
    assert "&#34;&gt;&lt;img src=x onerror=y&gt;" in out.body_html
    assert "&lt;b&gt;Shop&lt;/b&gt;" in out.body_html
    assert "member of &lt;b&gt;Shop&lt;/b&gt;&#39;s rewards program." in out.body_html
    assert "{shop}" not in out.body_html
    # The footer link sits inside the body and is escaped too.
    assert out.body_html.index("Unsubscribe</a>") < out.body_html.index("</body>")
    assert 'token=t&#34;&gt;&lt;script&gt;"' in out.body_html
    # The text part is plain text: nothing to escape, nothing interpreted.
    assert out.body_text.startswith("Hi <script>alert(1)</script>")


def test_a_subject_cannot_inject_headers() -> None:
    out = render(
        emails.Template("Hello {{ customer_name }}", "x"),
        {"customer_name": "Ann\r\nBcc: victim@example.com"},
        locale="en",
        shop_name="S",
        unsubscribe_url=LINK,
    )
    assert out.subject == "Hello Ann Bcc: victim@example.com"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ customer_name.__class__.__base__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ lipsum.__globals__ }}",
        "{{ self.__init__.__globals__ }}",
        "{% set x = customer_name.upper.__self__ %}{{ x.__class__ }}",
        "{{ plural.__globals__ }}",
    ],
)
def test_templates_cannot_reach_python(source: str) -> None:
    with pytest.raises(InvalidTemplate) as caught:
        check_template(emails.Template(source, "body"), "en")
    assert caught.value.field == "subject"


def test_a_syntax_error_names_the_field_and_line() -> None:
    with pytest.raises(InvalidTemplate) as caught:
        check_template(emails.Template("ok", "line one\n{% if points %}\nno end"), "en")
    assert caught.value.field == "body_text"
    assert caught.value.message.startswith("line ")
    with pytest.raises(InvalidTemplate) as unknown:
        check_template(emails.Template("{{ nope }}", "x"), "en")
    assert "nope" in unknown.value.message


NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


def test_unsubscribe_tokens_are_signed_and_expire() -> None:
    token = emails.unsubscribe_token("k" * 20, 3, 42, expires_at=NOW + timedelta(days=1))
    assert emails.verify_unsubscribe_token("k" * 20, token, now=NOW) == (3, 42)
    with pytest.raises(emails.InvalidToken):
        emails.verify_unsubscribe_token("other-secret-xxxxx", token, now=NOW)
    forged = token.replace("3.42.", "4.42.", 1)
    with pytest.raises(emails.InvalidToken):
        emails.verify_unsubscribe_token("k" * 20, forged, now=NOW)
    with pytest.raises(emails.InvalidToken):
        emails.verify_unsubscribe_token("k" * 20, "garbage", now=NOW)
    with pytest.raises(emails.ExpiredToken):
        emails.verify_unsubscribe_token("k" * 20, token, now=NOW + timedelta(days=2))


def test_locales_fall_back_to_english() -> None:
    assert emails.pick_locale("vi-VN") == "vi"
    assert emails.pick_locale(None, "th_TH") == "th"
    assert emails.pick_locale("fr") == "en"


def test_smtp_url_and_starttls_settings(tmp_path: Path) -> None:
    from plugin_server.services.emails import SmtpMailer, mailer_from_settings
    from plugin_server.settings import Settings

    m = SmtpMailer.from_url("smtp://us%40er:p%3Ass@mail.example:2525", starttls=True)
    assert (m.host, m.port, m.username, m.password, m.tls, m.starttls) == (
        "mail.example",
        2525,
        "us@er",
        "p:ss",
        False,
        True,
    )
    assert SmtpMailer.from_url("smtp://mail.example?starttls=1").starttls is True
    tls = SmtpMailer.from_url("smtps://mail.example")
    assert (tls.port, tls.tls, tls.username) == (465, True, None)
    with pytest.raises(ValueError, match="SMTP_URL"):
        SmtpMailer.from_url("http://mail.example")
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "LOYALTY_SECRET_KEY": "s" * 20,
        "LOYALTY_INSTANCE_PATH": str(tmp_path),
    }
    s = Settings.from_env({**env, "SMTP_URL": "smtp://u:p@h:587", "SMTP_STARTTLS": "1"})
    mailer = mailer_from_settings(s)
    assert mailer is not None
    assert (mailer.host, mailer.port, mailer.starttls) == ("h", 587, True)
    assert mailer_from_settings(Settings.from_env(env)) is None
