"""Points expiry: the rules, as pure functions.

A shop picks one policy:
- never: points do not expire;
- inactivity: no earning or redeeming for N months expires the whole spendable balance;
- batch: each earned batch expires N months after it became spendable, and spending
  uses the oldest points first (FIFO).

Under FIFO the total that should have expired by a moment has a closed form: the points
of every batch due by then, less everything spent (spending takes the oldest batches
first, and the due batches are the oldest), never below zero. Expiring "that target minus
what already expired" is therefore idempotent: a second or late run finds nothing left to
do, and a run that was missed catches up in one entry.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from plugin_server.domain.errors import ValidationFailed


class ExpiryPolicy(StrEnum):
    NEVER = "never"
    INACTIVITY = "inactivity"
    BATCH = "batch"


MAX_MONTHS = 60
MAX_REMINDER_DAYS = 90


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall-clock moment `months` calendar months earlier (31 March minus one
    month is 28 or 29 February: the end of the shorter month)."""
    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def months_after(moment: datetime, months: int) -> datetime:
    return months_before(moment, -months)


@dataclass(frozen=True, slots=True)
class Batch:
    """Points that became spendable together (an order's award net of its reversals, a
    bonus, a manual credit, points given back)."""

    points: int
    available_at: datetime


def expired_target(batches: Iterable[Batch], spent: int, *, cutoff: datetime) -> int:
    """How many points should have expired in total once every batch that became spendable
    at or before `cutoff` has expired, given `spent` points used so far (oldest first)."""
    due = sum(b.points for b in batches if b.available_at <= cutoff)
    return max(0, due - spent)


def to_expire(target: int, already_expired: int, spendable: int) -> int:
    """The next expiry entry's size: never negative, never more than can be spent."""
    return max(0, min(target - already_expired, spendable))


@dataclass(frozen=True, slots=True)
class Upcoming:
    points: int
    expires_at: datetime


def next_batch_expiry(
    batches: Iterable[Batch], spent: int, already_expired: int, *, months: int, now: datetime
) -> Upcoming | None:
    """The next batch that will expire with points left in it, and how many."""
    ordered = sorted(batches, key=lambda b: b.available_at)
    cutoff = months_before(now, months)
    before = expired_target(ordered, spent, cutoff=cutoff)
    for batch in ordered:
        if batch.available_at <= cutoff or batch.points <= 0:
            continue
        after = expired_target(ordered, spent, cutoff=batch.available_at)
        if after > max(before, already_expired):
            return Upcoming(
                after - max(before, already_expired), months_after(batch.available_at, months)
            )
    return None


def remaining_batches(batches: Iterable[Batch], used: int) -> list[Batch]:
    """What is left of each batch once `used` points (spent and expired) are taken oldest
    first, as the expiry rules take them; batches with nothing left are left out."""
    left: list[Batch] = []
    take = used
    for batch in sorted(batches, key=lambda b: b.available_at):
        rest = batch.points - take
        if rest > 0:
            left.append(Batch(rest, batch.available_at))
            take = 0
        else:
            take = -rest
    return left


def validate_expiry_settings(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The expiry settings among `changes`, as column values; ValidationFailed otherwise."""
    values: dict[str, Any] = {}
    if "expiry_policy" in changes:
        try:
            values["expiry_policy"] = ExpiryPolicy(changes["expiry_policy"]).value
        except ValueError:
            raise ValidationFailed(
                f"expiry_policy must be one of {[p.value for p in ExpiryPolicy]}",
                field="expiry_policy",
            ) from None
    if "expiry_months" in changes:
        months = changes["expiry_months"]
        if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= MAX_MONTHS:
            raise ValidationFailed(
                f"expiry_months must be a whole number from 1 to {MAX_MONTHS}",
                field="expiry_months",
            )
        values["expiry_months"] = months
    if "expiry_reminder_days" in changes:
        days = changes["expiry_reminder_days"]
        if (
            isinstance(days, bool)
            or not isinstance(days, int)
            or not 0 <= days <= MAX_REMINDER_DAYS
        ):
            raise ValidationFailed(
                f"expiry_reminder_days must be a whole number from 0 to {MAX_REMINDER_DAYS}",
                field="expiry_reminder_days",
            )
        values["expiry_reminder_days"] = days
    return values
