"""The fault harness's own logic (benchmarks/faults.py): its retries and its arithmetic.
The harness itself runs real processes and is not part of the suite."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from benchmarks.faults import (
    OUTAGE_GRACE_S,
    Answer,
    Outcome,
    Send,
    deliver,
    make_plan,
    unexpected_5xx,
)


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def test_deliver_retries_no_answer_and_5xx_with_the_same_send_until_2xx() -> None:
    answers: list[int | Exception] = [
        requests.ConnectionError("refused"),
        503,
        requests.ReadTimeout("no answer"),
        200,
    ]

    def post() -> tuple[int, None]:
        got = answers.pop(0)
        if isinstance(got, Exception):
            raise got
        return got, None

    clock = FakeClock()
    out = deliver(
        post, Outcome(Send("webhook", "k")), give_up_after_s=60, clock=clock, sleep=clock.sleep
    )
    assert [a.status for a in out.answers] == [None, 503, None, 200]
    assert out.accepted
    assert clock.t == pytest.approx(0.2 + 0.4 + 0.8)  # backing off, doubling


@pytest.mark.parametrize(("status", "attempts"), [(401, 1), (409, 1), (429, 99)])
def test_deliver_stops_at_a_client_error_but_retries_429(status: int, attempts: int) -> None:
    clock = FakeClock()
    out = deliver(
        lambda: (status, None),
        Outcome(Send("webhook", "k")),
        give_up_after_s=120,
        clock=clock,
        sleep=clock.sleep,
    )
    assert not out.accepted
    assert (len(out.answers) == 1) == (attempts == 1)
    assert clock.t <= 120


def test_5xx_count_only_outside_the_outage_windows() -> None:
    o = Outcome(Send("webhook", "k"))
    o.answers = [
        Answer(10.0, 503),
        Answer(20.0 + OUTAGE_GRACE_S - 0.1, 500),
        Answer(40.0, 502),
        Answer(41.0, 200),
        Answer(42.0, None),
    ]
    assert unexpected_5xx([o], [(9.0, 20.0)]) == 1
    assert unexpected_5xx([o], []) == 3


def test_plan_expects_refunds_and_cancellations_and_is_the_same_for_a_seed() -> None:
    plan = make_plan(seed=3, tag="t", orders=200, customers=10, redeemers=4, redemptions_each=2)
    again = make_plan(seed=3, tag="t", orders=200, customers=10, redeemers=4, redemptions_each=2)
    # (bodies carry the time they were made; what is sent, and in what order, is the same)
    assert [(s.key, s.topic, s.order_id) for s in plan.sends] == [
        (s.key, s.topic, s.order_id) for s in again.sends
    ]
    topics = Counter(s.topic for s in plan.sends if s.kind == "webhook")
    assert {"orders/paid", "refunds/create", "orders/cancelled"} <= set(topics)
    for s in plan.sends:
        if s.topic == "orders/cancelled":
            assert plan.expected_order_points[s.order_id] == 0
        if s.topic == "refunds/create":
            refunded = int(float(s.payload["transactions"][0]["amount"]))
            assert plan.expected_order_points[s.order_id] == plan.earned[s.order_id] - refunded
    # Duplicates under the same webhook id, and the same facts under a new one.
    keys = Counter(s.key for s in plan.sends)
    assert max(keys.values()) > 1
    assert any(k.endswith("-again") for k in keys)
    assert len([s for s in plan.sends if s.kind == "redeem"]) == 8
    # A refund can arrive before its payment.
    first_seen: dict[int, str] = {}
    for s in plan.sends:
        first_seen.setdefault(s.order_id, s.topic)
    assert "refunds/create" in first_seen.values()
    # Balances: orders' net points + adjustments - what was spent.
    total = sum(plan.expected_order_points.values()) + sum(plan.adjustments.values())
    assert sum(plan.expected_balance({plan.customers[0]: 50}).values()) == total - 50


def test_a_storm_sends_everything_several_times() -> None:
    one = make_plan(seed=1, tag="t", orders=20, customers=5, redeemers=2, redemptions_each=1)
    storm = make_plan(
        seed=1, tag="t", orders=20, customers=5, redeemers=2, redemptions_each=1, copies=3
    )
    sent = Counter(s.key for s in storm.sends)
    assert sent == Counter({k: 3 * n for k, n in Counter(s.key for s in one.sends).items()})
    assert storm.expected_order_points == one.expected_order_points
