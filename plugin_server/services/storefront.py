"""What the storefront widget shows: the program for everyone, and a shopper's own points,
rewards within reach, codes and history. Read-only, one shop, one session."""

from __future__ import annotations

import json
import logging
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, and_, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from plugin_server import metrics
from plugin_server.db import repositories
from plugin_server.db.models import (
    Customer,
    LedgerEntry,
    Redemption,
    Reward,
    Shop,
    WidgetUseDay,
)
from plugin_server.db.types import UTCDateTime
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain.errors import ShopNotFound, ValidationFailed
from plugin_server.domain.widget import (
    default_settings,
    validate_public_key,
    validate_widget_settings,
)
from plugin_server.services import earning_rules, expiry, referrals, summary_cache, tiers
from plugin_server.services.customers import entry_view, expiring_view
from plugin_server.services.rewards import view as reward_view
from plugin_server.ttl_cache import TtlCache

logger = logging.getLogger(__name__)

HISTORY = 10
CODES = 5


def widget_settings(shop: Shop) -> dict[str, Any]:
    stored = json.loads(shop.widget_settings) if shop.widget_settings else {}
    return {**default_settings(), **stored}


def allowed_origins(shop: Shop) -> list[str]:
    """The shop's own storefront origins: CORS answers no one else."""
    own = f"https://{shop.domain}" if shop.platform == "shopify" else shop.domain
    parts = urlsplit(own)
    return [f"{parts.scheme}://{parts.netloc}", *widget_settings(shop)["origins"]]


def _reward(r: Reward) -> dict[str, Any]:
    """A reward as the widget shows it; `cost` is the points needed to redeem it at all."""
    out = reward_view(r)
    cost = out["points_cost"] if out["kind"] != "points_for_money" else out["min_points"]
    return {
        "id": out["id"],
        "name": out["name"],
        "kind": out["kind"],
        "points_cost": out["points_cost"],
        "amount": out["amount"],
        "currency": out["currency"],
        "percent": out["percent"],
        "points_per_step": out["points_per_step"],
        "min_points": out["min_points"],
        "max_points": out["max_points"],
        "min_order_subtotal": out["min_order_subtotal"],
        "min_tier_id": out["min_tier_id"],
        "cost": cost,
    }


def _with_progress(
    program: dict[str, Any], balance: int, tier: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The shop's rewards with how far this shopper's balance goes toward each, and
    whether their tier lets them redeem it."""
    thresholds = {
        t["id"]: Decimal(t["threshold"]) for t in (program.get("tiers") or {}).get("tiers", [])
    }
    held = tier["current"] if tier is not None else None
    held_threshold = Decimal(held["threshold"]) if held is not None else None
    rewards = []
    for r in program["rewards"]:
        cost = r["cost"]
        progress = 0.0 if cost <= 0 else round(min(max(balance, 0) / cost, 1.0), 4)
        required = r.get("min_tier_id")
        tier_ok = required is None or (
            held_threshold is not None
            and required in thresholds
            and held_threshold >= thresholds[required]
        )
        rewards.append({**r, "progress": progress, "can_redeem": balance >= cost and tier_ok})
    return {**program, "rewards": rewards}


def _shop(session: Session, shop_id: int) -> Shop:
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise ShopNotFound()
    return shop


def _utc_now() -> datetime:
    return datetime.now(UTC)


def shop_page(session: Session, shop_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """The parts of the widget that are the same for every shopper of the shop: program,
    rewards and display settings (cacheable for a few seconds)."""
    shop = _shop(session, shop_id)
    campaign = referrals.live_campaign(session, shop.id, now or _utc_now())
    rewards = session.scalars(
        select(Reward)
        .where(Reward.shop_id == shop.id, Reward.archived_at.is_(None))
        .order_by(Reward.id)
    )
    return {
        "program": {
            "platform": shop.platform,
            "points_per_unit": str(shop.points_per_unit.normalize()),
            "pending_days": shop.pending_days,
            "guests_earn": shop.guests_earn,
            "expiry": {"policy": shop.expiry_policy, "months": shop.expiry_months},
            # Bonus campaigns are listed while they run (the page is cached seconds only).
            "ways_to_earn": earning_rules.running_ways(
                earning_rules.public_rules(session, shop.id), now or _utc_now()
            ),
            "never_earn": earning_rules.public_exclusions(session, shop.id),
            "tiers": tiers.public_tiers(session, shop),
            "referral": referrals.offer_view(campaign) if campaign is not None else None,
            "rewards": [_reward(r) for r in rewards],
        },
        "settings": _public_settings(shop),
        "domain": shop.domain,
    }


@dataclass(frozen=True, slots=True)
class StorefrontShop:
    """What every storefront request needs to know about its shop."""

    id: int
    platform: str
    domain: str
    token_public_key: str | None
    origins: tuple[str, ...]


class StorefrontShops:
    """Storefront lookups held in memory for `ttl_s` seconds (0: not at all).

    Every widget request needs its shop (to verify it) and the shop's program; with the
    cache a signed-in summary costs only the shopper's own queries. A merchant's change
    (rewards, settings, a new token key, uninstalling) shows within `ttl_s`.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        ttl_s: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._shops: TtlCache[tuple[str | None, str], StorefrontShop | None] = TtlCache(
            ttl_s, monotonic=monotonic
        )
        self._pages: TtlCache[int, dict[str, Any]] = TtlCache(ttl_s, monotonic=monotonic)
        self._last_pages: dict[int, dict[str, Any]] = {}

    def active(self, platform: str | None, domain: str) -> StorefrontShop | None:
        """The installed, active shop at `domain` (of `platform` if given), or None."""
        return self._shops.get((platform, domain), lambda: self._load_shop(platform, domain))

    def page(self, shop_id: int) -> dict[str, Any]:
        return self._pages.get(shop_id, lambda: self._load_page(shop_id))

    def _load_shop(self, platform: str | None, domain: str) -> StorefrontShop | None:
        with self._session_factory() as session:
            stmt = select(Shop).where(Shop.domain == domain)
            if platform:
                stmt = stmt.where(Shop.platform == platform)
            shop = session.scalars(stmt).first()
            if shop is None or not shop.active:
                return None
            return StorefrontShop(
                shop.id,
                shop.platform,
                shop.domain,
                shop.token_public_key,
                tuple(allowed_origins(shop)),
            )

    def _load_page(self, shop_id: int) -> dict[str, Any]:
        """The shop's page; the same object as last time while it is equal, so what was
        built from it (the summary cache's entries) can tell it is unchanged."""
        with self._session_factory() as session:
            page = shop_page(session, shop_id, now=self._clock())
        last = self._last_pages.get(shop_id)
        if last is not None and last == page:
            return last
        if len(self._last_pages) >= 10_000:
            self._last_pages.clear()
        self._last_pages[shop_id] = page
        return page


def program(shops: StorefrontShops, shop_id: int) -> dict[str, Any]:
    """For guests: how to earn and what there is to redeem."""
    page = shops.page(shop_id)
    return {"member": None, "program": page["program"], "settings": page["settings"]}


# The signed-in summary's three queries, built once (see `summary`).
_MEMBER = (
    select(
        Customer.id,
        Customer.first_name,
        Customer.birth_month,
        Customer.birth_day,
        Customer.birthday_set_at,
        Customer.referral_code,
        *repositories.balance_columns(bindparam("now", type_=UTCDateTime())),
    )
    .select_from(Customer)
    .outerjoin(
        LedgerEntry,
        and_(LedgerEntry.shop_id == Customer.shop_id, LedgerEntry.customer_id == Customer.id),
    )
    .where(Customer.shop_id == bindparam("shop_id"), Customer.customer_ref == bindparam("ref"))
    .group_by(
        Customer.id,
        Customer.first_name,
        Customer.birth_month,
        Customer.birth_day,
        Customer.birthday_set_at,
        Customer.referral_code,
    )
)
_CODES = (
    select(
        Redemption.id,
        Redemption.status,
        Redemption.code,
        Redemption.discount,
        Redemption.expires_at,
    )
    .where(
        Redemption.shop_id == bindparam("shop_id"),
        Redemption.customer_id == bindparam("customer_id"),
        Redemption.status.in_(["issued", "pending", "used"]),
    )
    .order_by(Redemption.id.desc())
    .limit(CODES)
)
_HISTORY = (
    select(
        LedgerEntry.id,
        LedgerEntry.points,
        LedgerEntry.kind,
        LedgerEntry.reason,
        LedgerEntry.source_type,
        LedgerEntry.source_ref,
        LedgerEntry.created_at,
        LedgerEntry.available_at,
    )
    .where(
        LedgerEntry.shop_id == bindparam("shop_id"),
        LedgerEntry.customer_id == bindparam("customer_id"),
    )
    .order_by(LedgerEntry.id.desc())
    .limit(HISTORY)
)


# Per engine, the members whose widget use is already written today (by this process):
# the summary is the widget's busiest read, so it writes at most once per member and day.
_WIDGET_SEEN: weakref.WeakKeyDictionary[Engine, dict[tuple[int, int], date]] = (
    weakref.WeakKeyDictionary()
)
_WIDGET_SEEN_MAX = 100_000


def note_widget_use_once(engine: Engine, shop_id: int, customer_id: int, day: date) -> None:
    """`note_widget_use` without a connection when this process noted it today already."""
    if _WIDGET_SEEN.get(engine, {}).get((shop_id, customer_id)) != day:
        with engine.connect() as conn:
            note_widget_use(conn, shop_id, customer_id, day)


def note_widget_use(conn: Connection, shop_id: int, customer_id: int, day: date) -> None:
    """Record that the member opened the widget on `day` (engagement in their scores)."""
    seen = _WIDGET_SEEN.setdefault(conn.engine, {})
    key = (shop_id, customer_id)
    if seen.get(key) == day:
        return
    if len(seen) >= _WIDGET_SEEN_MAX:
        seen.clear()  # yesterday's members mostly; a repeat costs one INSERT that does nothing
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        insert(WidgetUseDay)
        .values(shop_id=shop_id, customer_id=customer_id, day=day)
        .on_conflict_do_nothing()
    )
    conn.commit()
    seen[key] = day


def summary(
    engine: Engine,
    shops: StorefrontShops,
    shop_id: int,
    customer_ref: str,
    *,
    now: datetime,
) -> dict[str, Any]:
    """A signed-in shopper's view. Someone who has not earned yet is a member with 0.

    The widget's busiest request, so it is three Core queries built once, on one pooled
    connection with no ORM session: the member with their balance, their recent codes,
    their recent entries. The shop's part comes from `shops` (cached).
    """
    return _summary(engine, shops.page(shop_id), shop_id, customer_ref, now=now)[0]


def cached_summary(
    engine: Engine,
    shops: StorefrontShops,
    cache: summary_cache.SummaryCache,
    shop_id: int,
    customer_ref: str,
    *,
    entry: summary_cache.Entry | None,
    versions: Sequence[Any] | None,
    redis: Any,
    now: datetime,
) -> bytes:
    """`summary` as JSON, from this process's cache while it is valid (`summary_cache`).

    `entry` is what the cache knew of this member before the request and `versions` the
    versions read for it then, before anything here reads the database.
    """
    page = shops.page(shop_id)
    body = cache.hit(entry, versions, page, now)
    if body is not None and entry is not None:
        metrics.SUMMARY_CACHE.labels("hit").inc()
        note_widget_use_once(engine, shop_id, entry.customer_id, now.date())
        return body
    metrics.SUMMARY_CACHE.labels("miss").inc()
    if versions is not None and versions[0] is None:
        try:
            summary_cache.ensure_epoch(redis)
        except Exception:
            logger.warning("could not start the summary cache's epoch", exc_info=True)
    view, customer_id = _summary(engine, page, shop_id, customer_ref, now=now)
    body = (json.dumps(view, separators=(",", ":")) + "\n").encode()
    if customer_id is not None:
        member = view["member"]
        moments = [member["next_pending_available_at"]]
        moments += [code["expires_at"] for code in member["codes"]]
        valid_until = cache.valid_until(
            now, (datetime.fromisoformat(m) for m in moments if m is not None)
        )
        same_member = entry is not None and entry.customer_id == customer_id
        cache.store(
            shop_id,
            customer_ref,
            customer_id,
            versions if same_member else None,
            page,
            valid_until,
            body,
        )
    return body


def _summary(
    engine: Engine, page: dict[str, Any], shop_id: int, customer_ref: str, *, now: datetime
) -> tuple[dict[str, Any], int | None]:
    """The summary, and the member's id (None: not a member yet)."""
    member: dict[str, Any] = {
        "customer_id": customer_ref,
        "first_name": None,
        "balance": 0,
        "pending": 0,
        "next_pending_available_at": None,
        "codes": [],
        "history": [],
        "expiring": None,
        "birthday": None,
        "tier": tiers.member_tier_view(None, shop_id, page["program"]["tiers"], None, now=now),
        "activities": earning_rules.remaining_for(
            None, shop_id, None, page["program"]["ways_to_earn"], now=now
        ),
        "referral": None,
    }
    with engine.connect() as conn:
        row = conn.execute(
            _MEMBER, {"shop_id": shop_id, "ref": customer_ref, "now": now}
        ).one_or_none()
        if row is not None:
            customer_id, member["first_name"] = row[0], row[1]
            note_widget_use(conn, shop_id, customer_id, now.date())
            member["birthday"] = earning_rules.birthday_view(row[2], row[3], row[4])
            bal = repositories.balance_from_row(*row[6:])
            member["balance"], member["pending"] = bal.spendable, bal.pending
            if bal.next_available_at:
                member["next_pending_available_at"] = bal.next_available_at.isoformat()
            ids = {"shop_id": shop_id, "customer_id": customer_id}
            member["codes"] = [
                {
                    "redemption_id": rid,
                    "status": status,
                    "code": code if status in ("issued", "used") else None,
                    "title": json.loads(discount)["title"],
                    "expires_at": expires.isoformat(),
                }
                for rid, status, code, discount, expires in conn.execute(_CODES, ids)
            ]
            member["history"] = [
                {k: v for k, v in entry_view(entry, now).items() if k != "source"}
                for entry in conn.execute(_HISTORY, ids)
            ]
            member["activities"] = earning_rules.remaining_for(
                conn, shop_id, customer_id, page["program"]["ways_to_earn"], now=now
            )
            member["tier"] = tiers.member_tier_view(
                conn, shop_id, page["program"]["tiers"], customer_id, now=now
            )
            rule = page["program"]["expiry"]
            if rule["policy"] != "never" and bal.spendable > 0:
                upcoming = expiry.upcoming_for(
                    conn,
                    shop_id,
                    customer_id,
                    policy=rule["policy"],
                    months=rule["months"],
                    spendable=bal.spendable,
                    now=now,
                )
                member["expiring"] = expiring_view(upcoming)
            if page["program"]["referral"] is not None and row[5] is not None:
                member["referral"] = referrals.storefront_referral(
                    conn, shop_id, page["domain"], customer_id, row[5]
                )
    if row is not None and page["program"]["referral"] is not None and row[5] is None:
        # Once per member: their code is given (a write) the first time it is shown.
        with engine.begin() as conn:
            code = referrals.assign_code(conn, shop_id, customer_id, row[1])
            member["referral"] = referrals.storefront_referral(
                conn, shop_id, page["domain"], customer_id, code
            )
    view = {
        "member": member,
        "program": _with_progress(page["program"], member["balance"], member["tier"]),
        "settings": page["settings"],
    }
    return view, (row[0] if row is not None else None)


def _public_settings(shop: Shop) -> dict[str, Any]:
    s = widget_settings(shop)
    return {"theme": s["theme"], "texts": s["texts"], "position": s["position"]}


# --- merchant side ----------------------------------------------------------------------


def get_widget(uow: UnitOfWork, shop_id: int) -> dict[str, Any]:
    with uow:
        shop = _shop(uow.session, shop_id)
        return {**widget_settings(shop), "token_public_key": shop.token_public_key}


def update_widget(uow: UnitOfWork, shop_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    if not changes:
        raise ValidationFailed("send at least one setting to change")
    key_given = "token_public_key" in changes
    key = changes.pop("token_public_key", None)
    with uow:
        shop = uow.session.get(Shop, shop_id, with_for_update=True)
        if shop is None:
            raise ShopNotFound()
        settings = validate_widget_settings(changes, widget_settings(shop))
        if key_given:
            shop.token_public_key = None if key is None else validate_public_key(key)
        shop.widget_settings = json.dumps(settings)
        out = {**settings, "token_public_key": shop.token_public_key}
        uow.commit()
    return out
