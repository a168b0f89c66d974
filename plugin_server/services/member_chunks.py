"""Passes over every member of a shop (tier recalculation, expiry): consecutive ranges of
member ids, one transaction each, taken by one or more workers on their own connections.

A pass that writes for most members is bound by writing, and one connection keeps one core
busy; a second one writes while the first waits. Chunks hold different members, so two
workers never wait on each other's row locks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session

from plugin_server.db import repositories
from plugin_server.db.unit_of_work import UnitOfWork

# Workers per pass on PostgreSQL (measured on 2 cores, 1,000,000 members: benchmarks/).
CONNECTIONS = 2


class MemberChunks:
    """The shop's members, `size` at a time in id order, handed out to whichever worker
    asks next."""

    def __init__(self, shop_id: int, size: int) -> None:
        self.shop_id = shop_id
        self.size = size
        self._after = 0
        self._lock = threading.Lock()

    def next(self, session: Session) -> tuple[int, int, int] | None:
        """(how many, first id, last id) of the next chunk; None when none is left."""
        with self._lock:
            bounds = repositories.member_id_range_after(
                session, self.shop_id, self._after, self.size
            )
            if bounds is not None:
                self._after = bounds[2]
            return bounds


def workers(uow_factory: Callable[[], UnitOfWork], connections: int) -> int:
    """How many workers a pass may use: `connections` on PostgreSQL; one elsewhere (SQLite
    has one writer at a time)."""
    with uow_factory() as uow:
        in_sql = uow.session.get_bind().dialect.name == "postgresql"
    return connections if in_sql else 1


def on_connections(work: Callable[[], dict[str, int]], connections: int) -> list[dict[str, int]]:
    """`work` run by `connections` threads at once (each opening its own transactions), and
    what each returned. Every worker is waited for; the first failure is raised."""
    if connections <= 1:
        return [work()]
    with ThreadPoolExecutor(connections, thread_name_prefix="member-chunks") as pool:
        parts = [pool.submit(work) for _ in range(connections)]
        return [part.result() for part in parts]


def summed(parts: Iterable[dict[str, int]], keys: Iterable[str]) -> dict[str, int]:
    parts = list(parts)
    return {key: sum(part.get(key, 0) for part in parts) for key in keys}
