"""What an engineer on call reads: structured logs that say which request, shop and job a
line belongs to.

Every log line carries `request_id`, `shop_id` and `job_id` (empty when not known). They
live in context variables, so they follow the work without being passed around:
- a web request gets its id from a sane `X-Request-Id` (a load balancer's or the caller's)
  or a new one, and answers with it in `X-Request-Id`;
- the code that authenticates a request calls `bind_shop` once it knows the shop;
- an RQ job's id comes from RQ itself (`get_current_job`).

`configure_logging` installs one handler on the root logger: JSON lines (python-json-logger,
a kept library, rather than a hand-written formatter that would have to get escaping right)
in production, readable text in development. Messages never hold secrets or tokens; a test
scans a whole run's logs for them (tests/integration/test_no_secrets_in_logs.py).
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar, Token
from typing import IO, Any

from flask import Flask, Response, g, request

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
shop_id: ContextVar[int | None] = ContextVar("shop_id", default=None)
job_id: ContextVar[str | None] = ContextVar("job_id", default=None)

TEXT_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s shop=%(shop_id)s "
    "job=%(job_id)s]: %(message)s"
)
_HANDLER_NAME = "loyalty"


def bind_shop(value: int) -> None:
    """The shop the current request or job works for (logged with each line after it)."""
    shop_id.set(value)


def _current_job_id() -> str | None:
    found = job_id.get()
    if found is not None:
        return found
    try:
        from rq import get_current_job

        job = get_current_job()
    except Exception:  # no RQ context (the embedded default, a CLI command)
        return None
    return job.id if job is not None else None


class ContextFilter(logging.Filter):
    """Puts the request, shop and job ids on every record that passes the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or ""
        shop = shop_id.get()
        record.shop_id = shop if shop is not None else ""
        record.job_id = _current_job_id() or ""
        return True


def configure_logging(*, level: int, json_lines: bool, stream: IO[str] | None = None) -> None:
    """One handler on the root logger (replacing an earlier one of ours), writing JSON
    lines or text to `stream` (stderr)."""
    from pythonjsonlogger.json import JsonFormatter

    root = logging.getLogger()
    for existing in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(existing)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(ContextFilter())
    formatter: logging.Formatter
    if json_lines:
        formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(shop_id)s %(job_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    else:
        formatter = logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level)


def request_id_from(given: str | None) -> str:
    if given and _SANE_REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def init_app(app: Flask) -> None:
    """Give every request an id (kept from a sane X-Request-Id, else new), answer with it,
    and forget the request's ids afterwards."""

    @app.before_request
    def _start() -> None:
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.log_tokens = bind_request(g.request_id)

    @app.after_request
    def _answer(response: Response) -> Response:
        if g.get("request_id"):
            response.headers[REQUEST_ID_HEADER] = g.request_id
        return response

    @app.teardown_request
    def _forget(_exc: BaseException | None) -> None:
        tokens: Any = g.pop("log_tokens", None)
        if tokens is not None:
            unbind_request(tokens)


RequestTokens = tuple[Token[str | None], Token[int | None]]


def bind_request(value: str) -> RequestTokens:
    """Name this request (and no shop yet) on every log record until `unbind_request`."""
    return request_id.set(value), shop_id.set(None)


def unbind_request(tokens: RequestTokens) -> None:
    request_id.reset(tokens[0])
    shop_id.reset(tokens[1])
