"""The signed-in storefront summary, kept per member in each web process and served again
until something that member's summary is built from changes.

A summary is valid while three version numbers held in Redis are unchanged: the cache's
epoch (new whenever Redis starts empty), the shop's version and the member's. Every write
that goes through the app's engine to a table the summary reads bumps them once its
transaction has committed: the member's version when the statement names the shop and the
member, the shop's when it names only the shop, and the epoch when it names neither (a
bulk UPDATE, say). So no write path needs to remember to invalidate anything, and a write
the tracker cannot place invalidates more, never less.

Why this is safe to serve:
- The versions are read before the summary is built from the database, and bumped only
  after the writing transaction has committed. A summary stored under versions V was read
  after the commits that produced V, so it is never older than V says.
- Time alone changes a summary too (pending points becoming spendable, the day turning):
  an entry is kept at most `ttl_s` seconds and never past the next such moment.
- A write the app does not make (someone editing the database by hand) or a bump lost to a
  Redis outage shows within `ttl_s`. Without Redis nothing is cached: the embedded default
  runs CLI commands in other processes that could not tell the web process.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, inspect

logger = logging.getLogger(__name__)

# The tables a member's summary is built from. Shop-wide settings (rewards, rules, tiers,
# texts) come from the storefront shop cache, which an entry is tied to by identity.
MEMBER_TABLES = frozenset(
    {"customers", "ledger_entries", "redemptions", "member_tiers", "tier_changes", "referrals"}
)
# Columns naming the member a row belongs to (a referral belongs to both of its members).
_MEMBER_COLUMNS = ("customer_id", "advocate_id", "friend_id")
_WRITTEN = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)
_PREFIX = "loyalty:summary"
EPOCH_KEY = f"{_PREFIX}:epoch"
_SEQUENCE_KEY = f"{_PREFIX}:seq"
# A member's version outlives any entry by far; values come from one increasing sequence,
# so a key that expired and came back can never repeat a value an entry was stored under.
_VERSION_KEY_SECONDS = 86_400

_BUMP = """
local v = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], ARGV[2], 'NX')
for i = 3, #KEYS do redis.call('SET', KEYS[i], v, 'EX', ARGV[1]) end
return v
"""


def member_models() -> list[type]:
    """The mapped classes of MEMBER_TABLES."""
    from plugin_server.db.models import Base

    models = [m.class_ for m in Base.registry.mappers if m.persist_selectable.name in MEMBER_TABLES]  # type: ignore[attr-defined]
    assert len(models) == len(MEMBER_TABLES), "a member table has no model"
    return models


def shop_key(shop_id: int) -> str:
    return f"{_PREFIX}:s:{shop_id}"


def member_key(shop_id: int, customer_id: int) -> str:
    return f"{_PREFIX}:m:{shop_id}:{customer_id}"


def ref_key(shop_id: int, customer_ref: str) -> str:
    return f"{_PREFIX}:r:{shop_id}:{customer_ref}"


@dataclass
class _Changes:
    """What one transaction wrote, as far as summaries are concerned."""

    members: set[tuple[int, int]]
    shops: set[int]
    everything: bool = False
    # Customers are upserted by the store's id for them (every order does): those name
    # the member by (shop, customer_ref).
    refs: set[tuple[int, str]] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.members or self.shops or self.everything or self.refs)


def _values(row: Mapping[str, Any], column: str) -> set[int]:
    """The values bound for `column`: as itself (INSERT, SET) or as `column_1`, `column_1_2`
    (WHERE, IN)."""
    return {
        v
        for k, v in row.items()
        if (k == column or k.startswith(column + "_")) and isinstance(v, int)
    }


def _changes(statement: str, parameters: Any, found: _Changes) -> None:
    written = {t for t in _WRITTEN.findall(statement) if t in MEMBER_TABLES}
    if not written:
        return
    rows: Sequence[Any] = parameters if isinstance(parameters, list | tuple) else [parameters]
    for row in rows:
        if not isinstance(row, Mapping):
            found.everything = True
            return
        shops = _values(row, "shop_id")
        if len(shops) != 1:
            found.everything = True  # no shop, or several: cannot say whose
            return
        (shop,) = shops
        ref = row.get("customer_ref")
        if written == {"customers"} and isinstance(ref, str):
            found.refs.add((shop, ref))
            continue
        members = set().union(*(_values(row, c) for c in _MEMBER_COLUMNS))
        if members and "referrals" not in written:
            found.members |= {(shop, c) for c in members}
        else:
            # No member named (a bulk pass), or a referral row reached through one of its
            # two members while its other member's summary shows it too.
            found.shops.add(shop)


class Versions:
    """Bumps and reads the versions in Redis."""

    def __init__(self, redis: Any) -> None:
        self._redis = redis
        self._bump = redis.register_script(_BUMP)

    def bump(self, changes: _Changes) -> None:
        keys = [_SEQUENCE_KEY, EPOCH_KEY]
        if changes.everything:
            # A new epoch: every entry in every process is stale at once.
            self._redis.set(EPOCH_KEY, uuid.uuid4().hex)
            return
        keys += [shop_key(s) for s in sorted(changes.shops)]
        keys += [member_key(s, c) for s, c in sorted(changes.members)]
        keys += [ref_key(s, r) for s, r in sorted(changes.refs)]
        self._bump(keys=keys, args=[_VERSION_KEY_SECONDS, uuid.uuid4().hex])


def track_writes(engine: Engine, versions: Versions) -> None:
    """Bump versions after each committed transaction on `engine` that wrote summary data.

    Statements are noted as they run; a commit moves them to `committed` (SQLAlchemy's
    commit event comes just before the database commits), and the bump happens once the
    database has committed: when the connection begins its next transaction or goes back to
    the pool. A rollback forgets them.
    """

    def pending(info: dict[str, Any]) -> _Changes:
        found: _Changes | None = info.get("summary_pending")
        if found is None:
            found = info["summary_pending"] = _Changes(set(), set())
        return found

    @event.listens_for(engine, "after_cursor_execute")
    def _noted(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement[:6].upper() in ("SELECT", "BEGIN ", "SAVEPO", "RELEAS", "ROLLBA"):
            return
        if conn.info.get(_IN_FLUSH):
            return  # the ORM's own statements: their objects were noted by `_orm_row`
        # The parameters by name (the driver's may be positional, as SQLite's are).
        named = context.compiled_parameters if context.compiled is not None else parameters
        _changes(statement, named, pending(conn.info))

    @event.listens_for(engine, "commit")
    def _committing(conn) -> None:  # type: ignore[no-untyped-def]
        found = conn.info.pop("summary_pending", None)
        if found:
            conn.info.setdefault("summary_committed", []).append(found)
        conn.info.pop(_IN_FLUSH, None)

    @event.listens_for(engine, "rollback")
    def _rolled_back(conn) -> None:  # type: ignore[no-untyped-def]
        conn.info.pop("summary_pending", None)
        conn.info.pop(_IN_FLUSH, None)

    def publish(info: dict[str, Any]) -> None:
        committed: list[_Changes] | None = info.pop("summary_committed", None)
        if not committed:
            return
        merged = _Changes(set(), set())
        for found in committed:
            merged.members |= found.members
            merged.shops |= found.shops
            merged.refs |= found.refs
            merged.everything |= found.everything
        try:
            versions.bump(merged)
        except Exception:
            # Committed already; the entries this should have ended expire within their
            # time to live.
            logger.warning("could not bump storefront summary versions", exc_info=True)

    @event.listens_for(engine, "begin")
    def _next_transaction(conn) -> None:  # type: ignore[no-untyped-def]
        publish(conn.info)

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        record.info.pop("summary_pending", None)  # rolled back by the pool's reset
        publish(record.info)


_IN_FLUSH = "summary_orm_flush"


def track_orm_writes(session_factory: Any, models: Iterable[type]) -> None:
    """The ORM updates and deletes rows by primary key alone, which would read as "some
    member of some shop": its objects name their member precisely, so a flush notes those
    and the statements it runs are not looked at again (`_IN_FLUSH`, until the flush ends
    or the transaction does)."""

    def _orm_row(mapper: Any, connection: Any, target: Any) -> None:
        connection.info[_IN_FLUSH] = True
        found: _Changes | None = connection.info.get("summary_pending")
        if found is None:
            found = connection.info["summary_pending"] = _Changes(set(), set())
        if mapper.local_table.name == "customers":
            if target.id is not None:  # a new customer has no summary to change yet
                found.members.add((target.shop_id, target.id))
            if target.customer_ref is not None:
                found.refs.add((target.shop_id, target.customer_ref))
            return
        state = inspect(target)
        for column in _MEMBER_COLUMNS:
            if column in state.attrs:
                history = state.attrs[column].history  # a moved row: its old member too
                for value in (*history.sum(), getattr(target, column)):
                    if isinstance(value, int):
                        found.members.add((target.shop_id, value))

    for model in models:
        for name in ("before_insert", "before_update", "before_delete"):
            event.listen(model, name, _orm_row)

    @event.listens_for(session_factory, "after_flush")
    def _flushed(session: Any, _context: Any) -> None:
        session.connection().info.pop(_IN_FLUSH, None)


@dataclass(frozen=True, slots=True)
class Entry:
    customer_id: int
    versions: tuple[Any, ...] | None  # None: not servable yet (the id was just learnt)
    page: object  # the shop page it was built with (the storefront shop cache's object)
    valid_until: datetime
    body: bytes


class SummaryCache:
    """Entries per (shop, customer ref) in this process, least recently used dropped."""

    def __init__(self, ttl_s: float, max_entries: int = 50_000) -> None:
        self.ttl = timedelta(seconds=ttl_s)
        self._max = max_entries
        self._entries: OrderedDict[tuple[int, str], Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0  # served from memory, in this process (also in /metrics)

    @staticmethod
    def keys_for(shop_id: int, customer_id: int, customer_ref: str) -> list[str]:
        return [
            EPOCH_KEY,
            shop_key(shop_id),
            member_key(shop_id, customer_id),
            ref_key(shop_id, customer_ref),
        ]

    def known(self, shop_id: int, ref: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get((shop_id, ref))
            if entry is not None:
                self._entries.move_to_end((shop_id, ref))
            return entry

    def hit(
        self, entry: Entry | None, versions: Sequence[Any] | None, page: object, now: datetime
    ) -> bytes | None:
        if entry is None or versions is None or entry.versions is None:
            return None
        if versions[0] is None:  # no epoch yet: nothing was ever bumped or stored safely
            return None
        if tuple(versions) != entry.versions or entry.page is not page:
            return None
        if now >= entry.valid_until:
            return None
        self.hits += 1
        return entry.body

    def store(
        self,
        shop_id: int,
        ref: str,
        customer_id: int,
        versions: Sequence[Any] | None,
        page: object,
        valid_until: datetime,
        body: bytes,
    ) -> None:
        usable = None if versions is None or versions[0] is None else tuple(versions)
        entry = Entry(customer_id, usable, page, valid_until, body)
        with self._lock:
            self._entries[(shop_id, ref)] = entry
            self._entries.move_to_end((shop_id, ref))
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def valid_until(self, now: datetime, moments: Iterable[datetime | None]) -> datetime:
        """`ttl_s` from now, or the next moment the summary changes by time alone."""
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        ends = [now + self.ttl, midnight.astimezone(UTC)]
        ends += [m for m in moments if m is not None and m > now]
        return min(ends)


def ensure_epoch(redis: Any) -> None:
    """Give the cache an epoch if Redis has none (first start, or Redis came back empty)."""
    redis.set(EPOCH_KEY, uuid.uuid4().hex, nx=True)
