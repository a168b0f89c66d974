"""Every response the test client sees is checked against the served OpenAPI document: its
status must be documented for that route and method, and a JSON body must match the schema
documented for that status. A handler that drifts from its declaration fails the test that
exercised it."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
from flask import Flask
from flask.testing import FlaskClient
from jsonschema.validators import Draft202012Validator
from werkzeug.exceptions import HTTPException
from werkzeug.test import TestResponse

from plugin_server.api import contract


def openapi_path(rule: str) -> str:
    """/rewards/<int(max=...):reward_id> -> /rewards/{reward_id}"""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


_document: dict[str, Any] = {}


def document(app: Flask) -> dict[str, Any]:
    """The served document; every app in the test run has the same routes."""
    if not _document:
        _document.update(contract.document(app))
    return _document


def check_response(app: Flask, method: str, rule: str, response: TestResponse) -> None:
    doc = document(app)
    operation = doc["paths"].get(openapi_path(rule), {}).get(method.lower())
    assert operation is not None, f"{method} {rule} is not in the OpenAPI document"
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, (
        f"{method} {rule} answered {response.status_code}, which its declaration does not "
        f"list ({sorted(operation['responses'])}): {response.get_data(as_text=True)[:300]}"
    )
    schema = documented.get("content", {}).get("application/json", {}).get("schema")
    if schema is None or response.mimetype != "application/json":
        return
    jsonschema.validate(
        response.get_json(),
        {**schema, "components": doc["components"]},
        cls=Draft202012Validator,
    )


class ContractClient(FlaskClient):
    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response = super().open(*args, **kwargs)
        request = response.request
        if request.method in ("OPTIONS", "HEAD"):
            return response
        adapter = self.application.url_map.bind("localhost")
        try:
            rule, _ = adapter.match(request.path, method=request.method, return_rule=True)
        except HTTPException:
            return response  # no such route: nothing was declared to compare with
        if rule.endpoint.startswith("adminapp."):
            return response  # the admin app's HTML pages are not in the JSON API document
        check_response(self.application, request.method, rule.rule, response)
        return response
