"""Expiry rules as pure functions: calendar months, FIFO targets, the next expiry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugin_server.domain.errors import ValidationFailed
from plugin_server.domain.expiry import (
    Batch,
    Upcoming,
    expired_target,
    months_after,
    months_before,
    next_batch_expiry,
    to_expire,
    validate_expiry_settings,
)


def at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (at(2026, 3, 31), 1, at(2026, 2, 28)),
        (at(2024, 3, 31), 1, at(2024, 2, 29)),
        (at(2026, 1, 15), 1, at(2025, 12, 15)),
        (at(2026, 12, 3), 12, at(2025, 12, 3)),
        (at(2026, 5, 31), 3, at(2026, 2, 28)),
        (at(2026, 2, 28), -1, at(2026, 3, 28)),
    ],
)
def test_calendar_months(moment: datetime, months: int, expected: datetime) -> None:
    assert months_before(moment, months) == expected
    assert months_before(moment, months).tzinfo is UTC


# Hypothesis takes naive bounds and adds the zone itself.
EARLIEST, LATEST = datetime(2000, 1, 1), datetime(2090, 1, 1)  # noqa: DTZ001


@given(
    st.datetimes(min_value=EARLIEST, max_value=LATEST, timezones=st.just(UTC)),
    st.integers(1, 60),
)
def test_a_moment_is_never_due_before_its_months_have_passed(moment: datetime, months: int) -> None:
    assert months_before(months_after(moment, months), months) <= moment
    assert months_after(moment, months) > moment


def test_a_partly_spent_batch_expires_only_what_is_left() -> None:
    batches = [Batch(100, at(2025, 1, 1)), Batch(50, at(2025, 6, 1))]
    # 30 spent: taken from the oldest batch, so 70 of it is left to expire.
    assert expired_target(batches, 30, cutoff=at(2025, 2, 1)) == 70
    # 120 spent: the whole first batch and 20 of the second.
    assert expired_target(batches, 120, cutoff=at(2025, 2, 1)) == 0
    assert expired_target(batches, 120, cutoff=at(2025, 7, 1)) == 30


def test_expiry_never_exceeds_the_balance_or_repeats() -> None:
    assert to_expire(target=70, already_expired=0, spendable=150) == 70
    assert to_expire(target=70, already_expired=70, spendable=80) == 0  # a repeated run
    assert to_expire(target=70, already_expired=0, spendable=40) == 40
    assert to_expire(target=70, already_expired=0, spendable=-5) == 0  # negative balance
    assert to_expire(target=20, already_expired=70, spendable=80) == 0  # spent since


def test_the_next_expiry_is_the_next_batch_with_points_left() -> None:
    batches = [Batch(100, at(2025, 1, 1)), Batch(50, at(2025, 6, 1)), Batch(10, at(2025, 8, 1))]
    now = at(2025, 3, 1)
    assert next_batch_expiry(batches, 30, 0, months=12, now=now) == Upcoming(70, at(2026, 1, 1))
    # The first batch fully spent: the second is next.
    assert next_batch_expiry(batches, 100, 0, months=12, now=now) == Upcoming(50, at(2026, 6, 1))
    # Everything spent: nothing to expire.
    assert next_batch_expiry(batches, 160, 0, months=12, now=now) is None
    # After the first batch's expiry has run: the second.
    later = at(2026, 2, 1)
    assert next_batch_expiry(batches, 30, 70, months=12, now=later) == Upcoming(50, at(2026, 6, 1))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"expiry_policy": "sometimes"}, "expiry_policy"),
        ({"expiry_months": 0}, "expiry_months"),
        ({"expiry_months": 61}, "expiry_months"),
        ({"expiry_months": True}, "expiry_months"),
        ({"expiry_reminder_days": -1}, "expiry_reminder_days"),
        ({"expiry_reminder_days": 91}, "expiry_reminder_days"),
    ],
)
def test_bad_settings_name_their_field(changes: dict, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        validate_expiry_settings(changes)
    assert refused.value.field == field


def test_good_settings_become_columns() -> None:
    assert validate_expiry_settings(
        {"expiry_policy": "batch", "expiry_months": 6, "expiry_reminder_days": 0}
    ) == {"expiry_policy": "batch", "expiry_months": 6, "expiry_reminder_days": 0}
