"""Outbound webhook rules in plain Python: the retry schedule, signatures, URLs, topics."""

from __future__ import annotations

import hashlib
import hmac
import typing
from datetime import UTC, datetime, timedelta

import pytest

from plugin_server.api import schemas
from plugin_server.db import outbox
from plugin_server.domain import outbound

BASE = timedelta(seconds=30)
CAP = timedelta(hours=6)
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def highest(_low: float, high: float) -> float:
    return high


def lowest(low: float, _high: float) -> float:
    return low


def test_the_retry_schedule_doubles_from_the_base_up_to_the_cap() -> None:
    delays = [
        outbound.retry_delay(n, base=BASE, cap=CAP, rand=highest).total_seconds()
        for n in range(1, 13)
    ]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600]


def test_jitter_stays_between_half_and_all_of_the_step() -> None:
    for n in range(1, 20):
        low = outbound.retry_delay(n, base=BASE, cap=CAP, rand=lowest)
        high = outbound.retry_delay(n, base=BASE, cap=CAP, rand=highest)
        assert low * 2 == high
        drawn = outbound.retry_delay(n, base=BASE, cap=CAP)
        assert low <= drawn <= high


def test_jitter_spreads_receivers_that_failed_together() -> None:
    draws = {outbound.retry_delay(5, base=BASE, cap=CAP) for _ in range(50)}
    assert len(draws) > 40


def test_a_huge_attempt_number_does_not_overflow() -> None:
    assert outbound.retry_delay(10_000, base=BASE, cap=CAP, rand=highest) == CAP


def test_attempts_are_numbered_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        outbound.retry_delay(0, base=BASE, cap=CAP)


def test_the_signature_is_hmac_sha256_hex_over_timestamp_dot_body() -> None:
    body = b'{"id":"e1","topic":"ping"}'
    expected = hmac.new(b"whsec_k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert outbound.sign("whsec_k", 1700000000, body) == f"sha256={expected}"


def test_a_receiver_verifies_within_the_tolerance_only() -> None:
    body = b'{"a":1}'
    ts = int(NOW.timestamp())
    header = outbound.signature_header(["new", "old"], ts, body)
    assert header.count("sha256=") == 2
    assert outbound.verify("new", body, header, str(ts), now=NOW)
    assert outbound.verify("old", body, header, str(ts), now=NOW)
    assert not outbound.verify("other", body, header, str(ts), now=NOW)
    assert not outbound.verify("new", body + b" ", header, str(ts), now=NOW)
    # A captured delivery replayed later is refused: the timestamp is signed too.
    assert not outbound.verify("new", body, header, str(ts), now=NOW + timedelta(minutes=6))
    assert not outbound.verify("new", body, header, str(ts + 1), now=NOW)
    assert not outbound.verify("new", body, header, "soon", now=NOW)


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com/loyalty", "http://127.0.0.1:8765/x?y=1", "https://[::1]:8443/"],
)
def test_http_and_https_urls_are_accepted(url: str) -> None:
    assert outbound.check_url_syntax(f"  {url} ") == url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "example.com/hook",
        "https://",
        "https://user:pass@example.com/",
        "https://example.com/#frag",
        "https://example.com:notaport/",
        "javascript:alert(1)",
        "https://example.com/" + "a" * 2048,
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(outbound.InvalidEndpointUrl):
        outbound.check_url_syntax(url)


def test_unknown_topics_are_named_in_order() -> None:
    assert outbound.unknown_topics(["points.earned", "x", "tier.changed", "ping"]) == ["x", "ping"]


def test_the_documented_topics_are_the_subscribable_ones() -> None:
    assert typing.get_args(schemas.WebhookTopic) == outbound.TOPICS
    assert set(schemas.WEBHOOK_PAYLOADS) == {*outbound.TOPICS, outbound.PING}
    assert set(outbox.EVENT_TOPICS.values()) | outbox.LEDGER_TOPICS == set(outbound.TOPICS)


@pytest.mark.parametrize(
    ("kind", "points", "topic"),
    [
        ("earn_order", 10, "points.earned"),
        ("referral_bonus", 5, "points.earned"),
        ("tier_bonus", 5, "points.earned"),
        ("adjustment", 5, "points.earned"),
        ("adjustment", -5, None),
        ("reverse_order", -10, None),
        ("redeem", -100, "points.redeemed"),
        ("redeem_refund", 100, None),
        ("expiry", -7, "points.expired"),
    ],
)
def test_ledger_entries_map_to_topics(kind: str, points: int, topic: str | None) -> None:
    assert outbox.ledger_topic(kind, points) == topic


def test_the_envelope_is_compact_json_with_a_stable_shape() -> None:
    body = outbound.envelope(
        event_id="e1",
        topic="ping",
        shop={"id": 1, "platform": "shopify", "domain": "s.myshopify.com"},
        created_at=NOW,
        data={"message": "hi"},
    )
    assert body == (
        '{"id":"e1","topic":"ping","created_at":"2026-12-03T12:00:00+00:00",'
        '"shop":{"id":1,"platform":"shopify","domain":"s.myshopify.com"},'
        '"data":{"message":"hi"}}'
    )
