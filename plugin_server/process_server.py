"""Health, readiness and metrics for the processes that serve no web pages: the RQ worker
and the scheduler (`loyalty worker --health-port`, `loyalty scheduler --health-port`).

- `/healthz`: 200 while the process's main loop is alive (its heartbeat is fresh), 503 once
  it has stalled: a process manager restarts it. The worker beats whenever RQ does (between
  jobs and while a job runs); the scheduler at the start and end of every pass.
- `/readyz`: 200 when the database and Redis answer, 503 otherwise (same checks as the web).
- `/metrics`: this process's counters (store API calls, receipt failures, redemption
  outcomes) and the waiting work, with the web's token rule.

A plain WSGI app on a daemon thread: probes are rare, so one thread is plenty, and it adds
no dependency.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from plugin_server import metrics

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class Heartbeat:
    """When the process's loop last showed it is alive (monotonic seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()

    def beat(self) -> None:
        self._last = self._clock()

    def age_s(self) -> float:
        return self._clock() - self._last


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # probes every few seconds would drown the process's own log


def app(container: Any, heartbeat: Heartbeat, *, stale_after_s: float, role: str) -> Any:
    from plugin_server.api.health import readiness_checks

    def respond(
        start: StartResponse, status: str, body: bytes, content_type: str = "application/json"
    ) -> Iterable[bytes]:
        start(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    def as_json(value: dict[str, Any]) -> bytes:
        return json.dumps(value).encode()

    def wsgi(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            age = heartbeat.age_s()
            alive = age < stale_after_s
            body: dict[str, Any] = {
                "status": "ok" if alive else "stalled",
                "process": role,
                "seconds_since_heartbeat": round(age, 1),
            }
            return respond(start, "200 OK" if alive else "503 Service Unavailable", as_json(body))
        if path == "/readyz":
            checks = readiness_checks(container)
            ready = all(v in ("ok", "not_configured") for v in checks.values())
            status = "200 OK" if ready else "503 Service Unavailable"
            body = {"status": "ready" if ready else "unavailable", "checks": checks}
            return respond(start, status, as_json(body))
        if path == "/metrics":
            allowed = metrics.access(container.settings, environ.get("HTTP_AUTHORIZATION", ""))
            if allowed == "off":
                return respond(start, "404 Not Found", as_json({"error": "metrics are off"}))
            if allowed == "unauthorized":
                return respond(start, "401 Unauthorized", as_json({"error": "unauthorized"}))
            return respond(start, "200 OK", metrics.exposition(container), metrics.CONTENT_TYPE)
        return respond(start, "404 Not Found", as_json({"error": "not_found"}))

    return wsgi


def serve_in_background(
    container: Any,
    heartbeat: Heartbeat,
    *,
    port: int,
    host: str = "0.0.0.0",
    stale_after_s: float,
    role: str,
) -> WSGIServer:
    """Start the probe server on a daemon thread; the server (its `server_port` is the
    port actually bound, for port 0)."""
    server = make_server(
        host,
        port,
        app(container, heartbeat, stale_after_s=stale_after_s, role=role),
        handler_class=_Quiet,
    )
    threading.Thread(target=server.serve_forever, name=f"{role}-probes", daemon=True).start()
    return server
