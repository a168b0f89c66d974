"""RFM scores and segments as plain rules (plugin_server.domain.segments)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from plugin_server.domain import segments as rules
from plugin_server.domain.errors import UnknownSegment, ValidationFailed
from plugin_server.domain.ledger import Campaign, EarningSnapshot, plan_campaign_bonus
from plugin_server.domain.orders import OrderLine


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], []),
        ([7], [1]),
        ([1, 2], [1, 3]),
        (list(range(10)), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]),
        ([9, 8, 7, 6, 5, 4, 3, 2, 1, 0], [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]),
        ([0, 0, 0, 5, 5, 7, 9, 9, 9, 9], [1, 1, 1, 2, 2, 3, 4, 4, 4, 4]),
        ([3] * 6, [1] * 6),
        (list(range(5)), [1, 2, 3, 4, 5]),
    ],
)
def test_quintile_scores_by_rank_with_shared_ties(values: list[int], expected: list[int]) -> None:
    assert rules.scores_of(values) == expected


def test_scores_do_not_depend_on_the_order_of_members() -> None:
    values = [4, 1, 1, 9, 3, 3, 3, 0, 12, 7, 7]
    by_value = dict(zip(values, rules.scores_of(values), strict=True))
    shuffled = list(reversed(values))
    assert dict(zip(shuffled, rules.scores_of(shuffled), strict=True)) == by_value


def test_cut_ranks() -> None:
    assert rules.cut_ranks(10) == [2, 4, 6, 8]
    assert rules.cut_ranks(7) == [2, 3, 5, 6]
    assert rules.cut_ranks(1) == [1, 1, 1, 1]
    assert rules.cut_ranks(0) == []


@pytest.mark.parametrize(
    ("r", "f", "m", "segment"),
    [
        (5, 5, 5, "champions"),
        (5, 4, 3, "champions"),  # FM rounds 3.5 up to 4
        (4, 5, 5, "champions"),
        (4, 4, 4, "loyal"),
        (3, 5, 5, "loyal"),
        (5, 2, 3, "potential_loyalist"),
        (4, 3, 2, "potential_loyalist"),
        (5, 1, 1, "new"),
        (4, 1, 1, "promising"),
        (3, 1, 1, "need_attention"),
        (3, 3, 3, "need_attention"),
        (2, 4, 3, "at_risk"),
        (1, 3, 3, "at_risk"),
        (2, 5, 5, "cannot_lose"),
        (1, 5, 4, "cannot_lose"),
        (2, 2, 1, "hibernating"),
        (1, 1, 2, "lost"),
    ],
)
def test_segment_for(r: int, f: int, m: int, segment: str) -> None:
    assert rules.segment_for(r, f, m) == segment


def test_every_score_combination_has_a_segment_and_every_segment_is_reachable() -> None:
    found = {
        rules.segment_for(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)
    }
    assert found == set(rules.Segment)
    assert set(rules.DEFINITIONS) == set(rules.Segment)
    assert len(rules.segment_grid()) == 25


def test_scores_outside_1_to_5_are_refused() -> None:
    with pytest.raises(ValueError, match="r score"):
        rules.segment_for(0, 1, 1)
    with pytest.raises(ValueError, match="m score"):
        rules.segment_for(1, 1, 6)


def test_validate_segments() -> None:
    assert rules.validate_segments(["at_risk", " lost", "at_risk"]) == ["at_risk", "lost"]
    assert rules.validate_segments([]) == []
    with pytest.raises(UnknownSegment) as exc:
        rules.validate_segments(["vips"])
    assert (exc.value.code, exc.value.field) == ("unknown_segment", "segments")
    with pytest.raises(ValidationFailed):
        rules.validate_segments("at_risk")


def test_minor_exponent() -> None:
    assert [rules.minor_exponent(c) for c in ("USD", "eur", "JPY", "KWD", "CLF")] == [2, 2, 0, 3, 4]


PAID = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _snapshot() -> EarningSnapshot:
    return EarningSnapshot(
        base=D(10), rate=D(1), points=10, includes_shipping=False, includes_tax=False,
        taxes_included=False, currency="USD", total=D(10), presentment_currency=None,
        presentment_total=None, available_at=PAID,
    )  # fmt: skip


def test_a_segment_campaign_applies_only_to_its_segments() -> None:
    only = Campaign(
        rule_id=1, key="k", name="n", starts_at=PAID - timedelta(days=1),
        ends_at=PAID + timedelta(days=1), multiplier=D(2), segments=frozenset({"at_risk"}),
    )  # fmt: skip
    everyone = Campaign(
        rule_id=2, key="e", name="e", starts_at=PAID - timedelta(days=1),
        ends_at=PAID + timedelta(days=1), points=1,
    )  # fmt: skip
    snap = _snapshot()
    lines = [OrderLine(line_ref="1", title="t", quantity=1, subtotal=D(10))]
    won = plan_campaign_bonus([only, everyone], snap, lines, paid_at=PAID, segment="at_risk")
    assert won is not None
    assert (won.campaign.rule_id, won.snapshot.points) == (1, 10)
    for segment in ("loyal", None):
        other = plan_campaign_bonus([only, everyone], snap, lines, paid_at=PAID, segment=segment)
        assert other is not None
        assert other.campaign.rule_id == 2
    assert plan_campaign_bonus([only], snap, lines, paid_at=PAID) is None
