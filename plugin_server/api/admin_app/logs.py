"""Keep tokens out of access logs.

Shopify puts its session token in the admin app's page URLs (`id_token`), and the
WooCommerce and development sign-in links carry theirs (`token`, `sig`). Werkzeug's and
gunicorn's access logs print request lines with their query strings, so a filter on those
loggers blanks these parameters before anything is written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")
_SECRET_PARAM = re.compile(r"((?:^|[?&\s])(?:id_token|token|sig)=)[^&\s\"]+")


def scrub(text: str) -> str:
    return _SECRET_PARAM.sub(r"\1[redacted]", text)


def _scrub_value(value: Any) -> Any:
    return scrub(value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """Blank token parameters in a record's message and arguments (tuple, or gunicorn's
    mapping of log atoms, changed in place to keep its own lookup rules)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_scrub_value(a) for a in record.args)
        elif isinstance(record.args, MutableMapping):
            for key in list(record.args):
                record.args[key] = _scrub_value(record.args[key])
        return True


def install() -> None:
    """Attach the filter to the access loggers, once per process."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
