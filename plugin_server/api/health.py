"""Liveness and readiness probes for the process manager and load balancer."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from plugin_server.api import schemas
from plugin_server.api.context import current_container
from plugin_server.api.contract import endpoint

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@endpoint(tags=["operations"], responses={"HTTP_200": (schemas.Health, "Alive.")})
def healthz() -> Response:
    """The process is alive"""
    return jsonify(status="ok")


@bp.get("/readyz")
@endpoint(
    tags=["operations"],
    responses={
        "HTTP_200": (schemas.Readiness, "Ready."),
        "HTTP_503": (schemas.Readiness, "A dependency is down."),
    },
)
def readyz() -> tuple[Response, int]:
    """The database and Redis are reachable"""
    container = current_container()
    checks: dict[str, str] = {}
    try:
        with container.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    if container.redis is None:
        checks["redis"] = "not_configured"
    else:
        try:
            container.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unavailable: {type(exc).__name__}"
    ready = all(v in ("ok", "not_configured") for v in checks.values())
    return jsonify(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503
