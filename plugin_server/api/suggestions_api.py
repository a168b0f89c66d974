"""Merchant admin API for suggestions: what to do next, with the evidence, and acting on
one. Routes live on the admin blueprint (same API-key authentication and shop scoping)."""

from __future__ import annotations

from flask import Response, g, jsonify

from plugin_server.api import schemas as s
from plugin_server.api.admin import bp
from plugin_server.api.context import current_container
from plugin_server.api.contract import API_KEY, AUTH_ERRORS, endpoint
from plugin_server.services import suggestions

ACTION_PATH = {
    "kind": "The suggestion's kind: " + ", ".join(suggestions.KINDS),
    "key": "The suggestion's key, as listed (a reward id, 30d, points_per_unit, a product).",
    "action": "One of the suggestion's actions, by name.",
}


@bp.get("/suggestions")
@endpoint(
    tags=["suggestions"],
    security=API_KEY,
    responses={
        "HTTP_200": (s.SuggestionList, "What holds now, each with its evidence."),
        **AUTH_ERRORS,
    },
)
def list_suggestions() -> Response:
    """Suggestions for the shop now, with the evidence behind each and its actions"""
    c = current_container()
    found = suggestions.list_suggestions(c.uow(), g.shop_id, now=c.clock())
    return jsonify({"suggestions": found})


@bp.post("/suggestions/<kind>/<key>/actions/<action>")
@endpoint(
    tags=["suggestions"],
    security=API_KEY,
    path_parameters=ACTION_PATH,
    responses={
        "HTTP_200": (s.SuggestionApplied, "Done, through the API's own service."),
        "HTTP_400": (s.Error, "The service refused the change (validation_failed)."),
        "HTTP_404": (s.Error, "suggestion_not_found: no such kind, key or action here."),
        "HTTP_409": (
            s.Error,
            "suggestion_not_applicable: its condition no longer holds (already done).",
        ),
        **AUTH_ERRORS,
    },
)
def apply_suggestion(kind: str, key: str, action: str) -> Response:
    """Act on a suggestion (once: a second time answers 409)"""
    c = current_container()
    return jsonify(suggestions.apply(c.uow(), g.shop_id, kind, key, action, now=c.clock()))
