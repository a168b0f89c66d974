"""One transaction per use case: rolled back unless committed; hooks run only after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory
        self._after_commit: list[Callable[[], None]] = []
        self._committed = False

    @property
    def session(self) -> Session:
        return self._session

    def __enter__(self) -> Self:
        self._session = self._session_factory()
        self._after_commit = []
        self._committed = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._committed:
                self._session.rollback()
        finally:
            self._session.close()
        if self._committed and exc is None:
            hooks, self._after_commit = self._after_commit, []
            for hook in hooks:
                hook()

    def commit(self) -> None:
        self._session.commit()
        self._committed = True

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` once the transaction has committed (enqueue jobs here, never before)."""
        self._after_commit.append(fn)
