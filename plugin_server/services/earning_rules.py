"""Earning rules: the merchant's catalog of ways to earn besides orders, and their awards;
and the rules about orders (bonus campaigns, products that never earn) that order earning
reads.

An award is a `rule_bonus` ledger entry whose source is the rule's key, so the shopper's
history says which rule paid (a campaign's is a `campaign_bonus` entry on the order, whose
source is the campaign's key too). Activity awards happen under the member's row lock (as
redemptions and adjustments do), so two posts racing for the last one of a limit cannot
both pay.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select, tuple_
from sqlalchemy.orm import Session

from plugin_server.db import repositories
from plugin_server.db.models import Collection, Customer, EarningRule, LedgerEntry, Shop
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain.collections import products_of
from plugin_server.domain.earning_rules import (
    BIRTHDAY_COOLDOWN,
    LimitPeriod,
    RuleKind,
    birthdays_on,
    period_start,
    validate_birthday,
    validate_rule,
)
from plugin_server.domain.errors import (
    ActivityLimitReached,
    CustomerNotFound,
    EarningRuleNotFound,
    ValidationFailed,
)
from plugin_server.domain.ledger import Campaign, EntryKind
from plugin_server.services import collections
from plugin_server.services.customers import entry_view

SOURCE = "rule"
ORDER_RULE_KINDS = (RuleKind.BONUS.value, RuleKind.EXCLUSION.value)


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _normalized(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.normalize()


def _products(rule: EarningRule) -> list[str]:
    return list(json.loads(rule.product_ids)) if rule.product_ids else []


def _collections(rule: EarningRule) -> list[str]:
    return list(json.loads(rule.collection_ids)) if rule.collection_ids else []


def _segments(rule: EarningRule) -> list[str]:
    return list(json.loads(rule.segments)) if rule.segments else []


def _views(session: Session, shop_id: int, rules: list[EarningRule]) -> list[dict[str, Any]]:
    """Rules as the merchant sees them, each collection with its sync state (one query)."""
    states = collections.rows(session, shop_id, {c for r in rules for c in _collections(r)})
    return [view(r, states) for r in rules]


def view(rule: EarningRule, states: Mapping[str, Collection]) -> dict[str, Any]:
    named = _collections(rule)
    return {
        "id": rule.id,
        "kind": rule.kind,
        "key": rule.key,
        "name": rule.name,
        "points": rule.points,
        "limit_count": rule.limit_count,
        "limit_period": rule.limit_period,
        "multiplier": _decimal_text(rule.multiplier),
        "starts_at": rule.starts_at.isoformat() if rule.starts_at else None,
        "ends_at": rule.ends_at.isoformat() if rule.ends_at else None,
        "product_ids": _products(rule),
        "collection_ids": named,
        "collections": [collections.view(ref, states.get(ref)) for ref in named],
        "min_subtotal": _decimal_text(rule.min_subtotal),
        "segments": _segments(rule),
        "status": "archived" if rule.archived_at else "active",
        "created_at": rule.created_at.isoformat(),
        "updated_at": rule.updated_at.isoformat(),
    }


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    """Validated rule values as the table stores them (product and collection ids as JSON)."""
    products, named = values.get("product_ids"), values.get("collection_ids")
    segments = values.get("segments")
    return {
        **values,
        "product_ids": json.dumps(products) if products else None,
        "collection_ids": json.dumps(named) if named else None,
        "segments": json.dumps(segments) if segments else None,
    }


def _rule(session: Session, shop_id: int, rule_id: int, *, lock: bool = False) -> EarningRule:
    query = select(EarningRule).where(EarningRule.shop_id == shop_id, EarningRule.id == rule_id)
    rule = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if rule is None:
        raise EarningRuleNotFound(f"no earning rule {rule_id} in this shop")
    return rule


def _check_one_signup(session: Session, shop_id: int, kind: str, except_id: int | None) -> None:
    if kind in (RuleKind.ACTIVITY.value, *ORDER_RULE_KINDS):
        return
    others = select(func.count()).where(
        EarningRule.shop_id == shop_id,
        EarningRule.kind == kind,
        EarningRule.archived_at.is_(None),
        EarningRule.id != (except_id or 0),
    )
    if session.scalar(others):
        raise ValidationFailed(
            f"the shop already has an active {kind} rule; change or archive it", field="kind"
        )


def create_rule(
    uow: UnitOfWork, shop_id: int, body: dict[str, Any], *, now: datetime
) -> tuple[dict[str, Any], list[str]]:
    """A new rule, and the collections it names that want a sync now (never synced, or
    failing); ValidationFailed naming the field, or a key already used in the shop. A bonus
    campaign without `starts_at` starts now."""
    if body.get("kind") == RuleKind.BONUS.value and body.get("starts_at") is None:
        body = {**body, "starts_at": now}
    values = _columns(validate_rule(body, now=now))
    with uow:
        session = uow.session
        # Serialises rule creation per shop (the shop row), so "one active signup rule"
        # holds under concurrent requests too.
        session.get(Shop, shop_id, with_for_update=True)
        _check_one_signup(session, shop_id, values["kind"], None)
        rule_id = repositories.insert_ignoring_conflict(
            session,
            EarningRule,
            {**values, "shop_id": shop_id, "created_at": now, "updated_at": now},
            ("shop_id", "key"),
        )
        if rule_id is None:
            raise ValidationFailed(
                f"key {values['key']!r} is already used by a rule in this shop", field="key"
            )
        rule = _rule(session, shop_id, rule_id)
        to_sync = collections.register(session, shop_id, _collections(rule), now=now)
        [out] = _views(session, shop_id, [rule])
        uow.commit()
    return out, to_sync


def list_rules(uow: UnitOfWork, shop_id: int, *, status: str = "active") -> list[dict[str, Any]]:
    with uow:
        query = select(EarningRule).where(EarningRule.shop_id == shop_id)
        if status == "active":
            query = query.where(EarningRule.archived_at.is_(None))
        elif status == "archived":
            query = query.where(EarningRule.archived_at.is_not(None))
        found = list(uow.session.scalars(query.order_by(EarningRule.id)))
        return _views(uow.session, shop_id, found)


def get_rule(uow: UnitOfWork, shop_id: int, rule_id: int) -> dict[str, Any]:
    with uow:
        return _views(uow.session, shop_id, [_rule(uow.session, shop_id, rule_id)])[0]


def update_rule(
    uow: UnitOfWork, shop_id: int, rule_id: int, changes: dict[str, Any], *, now: datetime
) -> tuple[dict[str, Any], list[str]]:
    """Change points, name, limit or a campaign's terms (awards already made keep what
    they paid); the rule, and the collections it names that want a sync now."""
    if not changes:
        raise ValidationFailed("send at least one field to change")
    with uow:
        session = uow.session
        rule = _rule(session, shop_id, rule_id, lock=True)
        if rule.archived_at is not None:
            raise ValidationFailed("an archived rule cannot change", field="body")
        current = {k: getattr(rule, k) for k in ("kind", "key", "name", "points")}
        current |= {"limit_count": rule.limit_count, "limit_period": rule.limit_period}
        current |= {
            "starts_at": rule.starts_at,
            "ends_at": rule.ends_at,
            # PostgreSQL gives the stored decimals back with 6 places; validation allows 2.
            "multiplier": _normalized(rule.multiplier),
            "min_subtotal": _normalized(rule.min_subtotal),
            "product_ids": _products(rule),
            "collection_ids": _collections(rule),
            "segments": _segments(rule),
        }
        for column, value in _columns(validate_rule(changes, current, now=now)).items():
            setattr(rule, column, value)
        rule.updated_at = now
        to_sync = collections.register(session, shop_id, _collections(rule), now=now)
        [out] = _views(session, shop_id, [rule])
        uow.commit()
    return out, to_sync


def archive_rule(uow: UnitOfWork, shop_id: int, rule_id: int, *, now: datetime) -> dict[str, Any]:
    """Stop paying for the rule (idempotent)."""
    with uow:
        rule = _rule(uow.session, shop_id, rule_id, lock=True)
        if rule.archived_at is None:
            rule.archived_at = rule.updated_at = now
        [out] = _views(uow.session, shop_id, [rule])
        uow.commit()
    return out


def _active_rule(session: Session, shop_id: int, key: str, kind: RuleKind) -> EarningRule | None:
    return session.scalars(
        select(EarningRule).where(
            EarningRule.shop_id == shop_id,
            EarningRule.key == key,
            EarningRule.kind == kind.value,
            EarningRule.archived_at.is_(None),
        )
    ).one_or_none()


def awards_in_period(
    session: Session, shop_id: int, customer_id: int, rule: EarningRule, *, now: datetime
) -> int:
    """How many times the rule paid this member in its limit's current period."""
    query = select(func.count()).where(
        LedgerEntry.shop_id == shop_id,
        LedgerEntry.customer_id == customer_id,
        LedgerEntry.source_type == SOURCE,
        LedgerEntry.source_ref == rule.key,
    )
    if rule.limit_period is not None:
        start = period_start(now, LimitPeriod(rule.limit_period))
        if start is not None:
            query = query.where(LedgerEntry.created_at >= start)
    return int(session.scalar(query) or 0)


def _remaining(rule: EarningRule, used: int) -> int | None:
    return None if rule.limit_count is None else max(0, rule.limit_count - used)


def record_activity(
    uow: UnitOfWork,
    shop_id: int,
    customer_ref: str,
    *,
    rule_key: str,
    reference: str | None,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """Pay an activity rule to a member; (award, created). The same `reference` (the
    merchant's own id for the activity, e.g. the review's) pays once and answers the first
    award again; ActivityLimitReached once the rule's limit for the period is used up."""
    with uow:
        session = uow.session
        customer = session.scalars(
            select(Customer)
            .where(Customer.shop_id == shop_id, Customer.customer_ref == customer_ref)
            .with_for_update()
        ).one_or_none()
        if customer is None:
            raise CustomerNotFound(f"no customer {customer_ref!r} in this shop")
        rule = _active_rule(session, shop_id, rule_key, RuleKind.ACTIVITY)
        if rule is None:
            raise EarningRuleNotFound(f"no active activity rule {rule_key!r} in this shop")
        key = f"rule:{rule.key}:{customer.id}:{reference or uuid.uuid4().hex}"
        earlier = session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.shop_id == shop_id, LedgerEntry.idempotency_key == key
            )
        ).one_or_none()
        if earlier is None:
            used = awards_in_period(session, shop_id, customer.id, rule, now=now)
            if rule.limit_count is not None and used >= rule.limit_count:
                raise ActivityLimitReached(
                    f"{rule.name} already paid {used} time(s) this {rule.limit_period}"
                    if rule.limit_period != LimitPeriod.LIFETIME.value
                    else f"{rule.name} already paid {used} time(s), its lifetime limit"
                )
            repositories.insert_ignoring_conflict(
                session,
                LedgerEntry,
                _award(shop_id, customer.id, rule, key=key, now=now),
                ("shop_id", "idempotency_key"),
            )
        entry = session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.shop_id == shop_id, LedgerEntry.idempotency_key == key
            )
        ).one()
        out = entry_view(entry, now)
        out["balance"] = repositories.balance(session, shop_id, customer.id, now).spendable
        out["rule"] = rule.key
        out["remaining"] = _remaining(
            rule, awards_in_period(session, shop_id, customer.id, rule, now=now)
        )
        uow.commit()
    return out, earlier is None


def _award(
    shop_id: int, customer_id: int, rule: EarningRule, *, key: str, now: datetime
) -> dict[str, Any]:
    assert rule.points is not None  # every rule that awards on its own has points
    return {
        "shop_id": shop_id,
        "customer_id": customer_id,
        "points": rule.points,
        "kind": EntryKind.RULE_BONUS.value,
        "reason": f"Points for {rule.name}",
        "source_type": SOURCE,
        "source_ref": rule.key,
        "order_id": None,
        "idempotency_key": key,
        "created_at": now,
        "available_at": now,
    }


def award_signup(
    session: Session, shop_id: int, customer: Customer, *, now: datetime
) -> int | None:
    """The shop's sign-up bonus for a new account, once per member ever (a rule archived
    and created again never pays the same member twice). Runs in the caller's transaction;
    the new entry's id, or None."""
    if customer.customer_ref.startswith("guest:"):
        return None  # a guest has no account to sign up with
    rule = session.scalars(
        select(EarningRule).where(
            EarningRule.shop_id == shop_id,
            EarningRule.kind == RuleKind.SIGNUP.value,
            EarningRule.archived_at.is_(None),
        )
    ).first()
    if rule is None:
        return None
    return repositories.insert_ignoring_conflict(
        session,
        LedgerEntry,
        _award(shop_id, customer.id, rule, key=f"rule:signup:{customer.id}", now=now),
        ("shop_id", "idempotency_key"),
    )


def order_rules(
    session: Session, shop_id: int, product_refs: Iterable[str] = ()
) -> tuple[frozenset[str], list[Campaign]]:
    """What the shop's active order rules say about an order of `product_refs`: which of
    its products never earn, and the bonus campaigns (whatever their window; the order's
    paid time picks), their collections resolved through the shop's copy as it is now."""
    excluded: set[str] = set()
    campaigns: list[Campaign] = []
    rules = list(
        session.scalars(
            select(EarningRule).where(
                EarningRule.shop_id == shop_id,
                EarningRule.kind.in_(ORDER_RULE_KINDS),
                EarningRule.archived_at.is_(None),
            )
        )
    )
    named = {ref for rule in rules for ref in _collections(rule)}
    held = collections.members(session, shop_id, named, product_refs) if named else {}
    for rule in rules:
        if rule.kind == RuleKind.EXCLUSION.value:
            excluded.update(_products(rule))
            excluded.update(products_of(_collections(rule), held))
            continue
        assert rule.starts_at is not None
        assert rule.ends_at is not None
        campaigns.append(
            Campaign(
                rule_id=rule.id,
                key=rule.key,
                name=rule.name,
                starts_at=rule.starts_at,
                ends_at=rule.ends_at,
                multiplier=rule.multiplier,
                points=rule.points,
                product_ids=frozenset(_products(rule)),
                min_subtotal=rule.min_subtotal,
                collection_ids=frozenset(_collections(rule)),
                collection_products=products_of(_collections(rule), held),
                segments=frozenset(_segments(rule)),
            )
        )
    return frozenset(excluded), campaigns


def _public_collections(ref_states: Mapping[str, Collection], rule: EarningRule) -> list[dict]:
    """A rule's collections as shoppers see them: id and title (null until synced)."""
    return [
        {"id": ref, "title": ref_states[ref].title if ref in ref_states else None}
        for ref in _collections(rule)
    ]


def public_rules(session: Session, shop_id: int) -> list[dict[str, Any]]:
    """The shop's active ways to earn as shoppers see them (cacheable with the shop).
    Bonus campaigns are listed whatever their window: `running_ways` picks the ones
    running at the time of a request. A campaign on collections lists them with their
    titles, so it never reads as a campaign on every product. A campaign limited to
    customer segments is left out: shoppers outside them would read it as theirs."""
    rules = list(
        session.scalars(
            select(EarningRule)
            .where(
                EarningRule.shop_id == shop_id,
                EarningRule.archived_at.is_(None),
                EarningRule.kind != RuleKind.EXCLUSION.value,
                EarningRule.segments.is_(None),
            )
            .order_by(EarningRule.id)
        )
    )
    states = collections.rows(session, shop_id, {c for r in rules for c in _collections(r)})
    out = []
    for r in rules:
        way: dict[str, Any] = {
            "kind": r.kind,
            "key": r.key,
            "name": r.name,
            "points": r.points,
            "limit_count": r.limit_count,
            "limit_period": r.limit_period,
        }
        if r.kind == RuleKind.BONUS.value:
            assert r.starts_at is not None
            assert r.ends_at is not None
            way |= {
                "multiplier": _decimal_text(r.multiplier),
                "starts_at": r.starts_at.isoformat(),
                "ends_at": r.ends_at.isoformat(),
                "product_ids": _products(r),
                "min_subtotal": _decimal_text(r.min_subtotal),
            }
            if r.collection_ids:
                way["collections"] = _public_collections(states, r)
        out.append(way)
    return out


def public_exclusions(session: Session, shop_id: int) -> list[dict[str, Any]]:
    """Products that never earn points, as shoppers see them (cacheable with the shop):
    the rule's products, and its collections with their titles."""
    rules = list(
        session.scalars(
            select(EarningRule)
            .where(
                EarningRule.shop_id == shop_id,
                EarningRule.archived_at.is_(None),
                EarningRule.kind == RuleKind.EXCLUSION.value,
            )
            .order_by(EarningRule.id)
        )
    )
    states = collections.rows(session, shop_id, {c for r in rules for c in _collections(r)})
    out = []
    for r in rules:
        item: dict[str, Any] = {"key": r.key, "name": r.name, "product_ids": _products(r)}
        if r.collection_ids:
            item["collections"] = _public_collections(states, r)
        out.append(item)
    return out


def running_ways(ways: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The ways to earn that apply at `now`: campaigns outside their window left out."""
    return [
        way
        for way in ways
        if way["kind"] != RuleKind.BONUS.value
        or datetime.fromisoformat(way["starts_at"]) <= now < datetime.fromisoformat(way["ends_at"])
    ]


def remaining_for(
    conn: Connection | Session | None,
    shop_id: int,
    customer_id: int | None,
    rules: list[dict[str, Any]],
    *,
    now: datetime,
) -> list[dict[str, Any]]:
    """Each activity rule with how many more times it pays this member now (null: no
    limit), from one query over the member's rule awards."""
    activities = [r for r in rules if r["kind"] == RuleKind.ACTIVITY.value]
    limited = [r for r in activities if r["limit_count"] is not None]
    awards: list[tuple[str, datetime]] = []
    if limited and customer_id is not None and conn is not None:
        awards = [
            (ref, at)
            for ref, at in conn.execute(
                select(LedgerEntry.source_ref, LedgerEntry.created_at).where(
                    LedgerEntry.shop_id == shop_id,
                    LedgerEntry.customer_id == customer_id,
                    LedgerEntry.source_type == SOURCE,
                    LedgerEntry.source_ref.in_([r["key"] for r in limited]),
                )
            )
        ]
    out = []
    for rule in activities:
        remaining = None
        if rule["limit_count"] is not None:
            start = period_start(now, LimitPeriod(rule["limit_period"]))
            used = sum(
                1 for ref, at in awards if ref == rule["key"] and (start is None or at >= start)
            )
            remaining = max(0, rule["limit_count"] - used)
        out.append({**rule, "remaining": remaining})
    return out


# --- birthdays -----------------------------------------------------------------------------


def birthday_view(
    month: int | None, day: int | None, set_at: datetime | None
) -> dict[str, Any] | None:
    if month is None or day is None or set_at is None:
        return None
    return {
        "month": month,
        "day": day,
        "set_at": set_at.isoformat(),
        "bonus_from": (set_at + BIRTHDAY_COOLDOWN).isoformat(),
    }


def set_birthday(
    uow: UnitOfWork, shop_id: int, customer_ref: str, *, month: Any, day: Any, now: datetime
) -> dict[str, Any]:
    """The shopper's birthday (month and day). Setting the same date again changes
    nothing; a new date waits 30 days before it pays (no bonus by editing the date)."""
    month, day = validate_birthday(month, day)
    with uow:
        member: Customer = repositories.upsert_locked(
            uow.session,
            Customer,
            {
                "shop_id": shop_id,
                "customer_ref": customer_ref,
                "created_at": now,
                "updated_at": now,
            },
            ("shop_id", "customer_ref"),
        )
        if (member.birth_month, member.birth_day) != (month, day):
            member.birth_month, member.birth_day, member.birthday_set_at = month, day, now
        out = birthday_view(member.birth_month, member.birth_day, member.birthday_set_at)
        uow.commit()
    assert out is not None
    return out


def award_birthdays(uow_factory: Callable[[], UnitOfWork], *, now: datetime) -> int:
    """Pay today's birthdays in every active shop with a birthday rule; how many were paid.
    Once per member and year, whatever the number of runs."""
    paid = 0
    with uow_factory() as uow:
        rules = list(
            uow.session.execute(
                select(EarningRule.shop_id, EarningRule.id)
                .join(Shop, Shop.id == EarningRule.shop_id)
                .where(
                    Shop.active.is_(True),
                    EarningRule.kind == RuleKind.BIRTHDAY.value,
                    EarningRule.archived_at.is_(None),
                )
            )
        )
    for shop_id, rule_id in rules:
        with uow_factory() as uow:
            session = uow.session
            rule = _rule(session, shop_id, rule_id)
            members = session.scalars(
                select(Customer.id).where(
                    Customer.shop_id == shop_id,
                    tuple_(Customer.birth_month, Customer.birth_day).in_(birthdays_on(now)),
                    Customer.birthday_set_at <= now - BIRTHDAY_COOLDOWN,
                )
            ).all()
            paid += repositories.insert_many_ignoring_conflict(
                session,
                LedgerEntry,
                [
                    _award(
                        shop_id,
                        customer_id,
                        rule,
                        key=f"rule:birthday:{customer_id}:{now.year}",
                        now=now,
                    )
                    for customer_id in members
                ],
                ("shop_id", "idempotency_key"),
            )
            uow.commit()
    return paid
