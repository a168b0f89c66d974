"""GET /openapi.json: the OpenAPI 3.1 document, built from the routes' declarations."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, jsonify

from plugin_server.api import contract, rate_limits, schemas
from plugin_server.api.context import current_container

# Not "openapi": spectree leaves endpoints named openapi* out of the document.
bp = Blueprint("api_document", __name__)


@bp.get("/openapi.json")
@contract.endpoint(
    tags=["operations"],
    responses={"HTTP_200": (schemas.OpenApiDocument, "OpenAPI 3.1."), **contract.RATE_LIMITED},
)
def openapi_json() -> Response:
    """This document"""
    rate_limits.enforce("document", current_container().settings.public_rate)
    doc = current_app.extensions.get("loyalty_openapi")
    if doc is None:  # built once per process: the routes do not change after start-up
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        doc = current_app.extensions["loyalty_openapi"] = contract.document(app)
    return jsonify(doc)
