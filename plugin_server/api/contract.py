"""One declaration per endpoint: `@endpoint(...)` names its parameters, body and responses
as pydantic models (`plugin_server.api.schemas`); spectree validates the request from them
and builds the OpenAPI document from the same declarations.

Why spectree (compared on this codebase with flask-openapi3 and flask-smorest):
- it decorates plain Flask views and blueprints, so the app factory, the blueprints and the
  error handlers stay as they are (flask-openapi3 replaces Flask and Blueprint with its own
  classes; flask-smorest brings its own Blueprint/Api and marshmallow schemas);
- its per-request cost is small and cached (flask-openapi3 re-reads type hints and
  regenerates each query/header model's JSON schema on every request, which the storefront
  and intake routes cannot afford);
- it emits OpenAPI 3.1 from pydantic v2 models, which we already use for typing.

What we add on top: the JSON body is read here with exact decimals and with clear 400/415
answers for bad bodies (spectree reads bodies leniently), validation failures leave in the
project's error shape with every bad field named, and responses are not re-validated in
production (the test client checks every response against the document instead).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from flask import Flask, Request, current_app
from pydantic import BaseModel, ValidationError
from spectree import Response, SpecTree
from spectree.plugins.base import Context
from spectree.plugins.flask_plugin import FlaskPlugin
from spectree.utils import get_multidict_items, get_request_model_hints

from plugin_server.api.errors import VALIDATION_STATUS, ApiError, validation_failed
from plugin_server.api.schemas import Error

F = TypeVar("F", bound=Callable[..., Any])

JSON_MIMETYPES = frozenset({"application/json"})


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Each bad field as a dotted path (list indexes included) and what is wrong with it."""
    fields: dict[str, str] = {}
    for err in exc.errors(include_url=False, include_input=False):
        # A model-level error (no location) is about the body as a whole.
        path = ".".join(str(part) for part in err["loc"]) or "body"
        message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        fields.setdefault(path, message)
    return fields


def read_json_object(request: Request, *, any_content_type: bool = False) -> dict[str, Any]:
    """The body as a JSON object with exact decimals; 415 or 400 (invalid_json) otherwise."""
    if not any_content_type and request.mimetype not in JSON_MIMETYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            "Send the body as JSON with 'Content-Type: application/json'.",
        )
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_json", "The body is not UTF-8 text.") from None
    except ValueError:  # JSONDecodeError, and integers too long to read
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class _Plugin(FlaskPlugin):
    """spectree's Flask plugin, reading bodies strictly and never re-validating responses."""

    def request_validation(
        self,
        request: Request,
        query: type[BaseModel] | None,
        json: type[BaseModel] | None,
        form: Any,
        headers: type[BaseModel] | None,
        cookies: Any,
    ) -> None:
        body = None
        if json is not None:
            strict_type = not getattr(json, "any_content_type", False)
            body = read_json_object(request, any_content_type=not strict_type)
        request.context = Context(  # type: ignore[attr-defined]
            query.model_validate(get_multidict_items(request.args, query)) if query else None,
            json.model_validate(body) if json is not None else None,
            None,
            headers.model_validate(dict(request.headers)) if headers else None,
            None,
        )

    def validate_response(
        self, resp: Any, resp_model: Any, skip_validation: bool, force_resp_serialize: bool
    ) -> Any:
        # Handlers return what Flask accepts; spectree's own path would read (and so break)
        # streamed files. Responses are checked against the document in the tests.
        return current_app.make_response(resp), None


def _refuse_invalid(
    req: Any, resp: Any, req_validation_error: Any, instance: Any, model_adapter: Any = None
) -> None:
    if req_validation_error is not None:
        raise validation_failed(field_errors(req_validation_error))


spec = SpecTree(
    "flask",
    backend=_Plugin,
    mode="strict",  # only declared routes are documented: a test fails on any other
    title="Loyalty API",
    version="1",
    description="Points, refunds, rewards and redemptions for Shopify and WooCommerce stores.",
    page_templates={},  # no doc pages that load scripts from third parties
    validation_error_status=VALIDATION_STATUS,
    validation_error_model=Error,
    before=_refuse_invalid,
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda parent, child: child,
    annotations=True,
)

SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "apiKey": {"type": "http", "scheme": "bearer", "description": "The shop's API key."},
    "appProxy": {
        "type": "apiKey",
        "in": "query",
        "name": "signature",
        "description": "Shopify App Proxy: HMAC of the forwarded query; the shopper is "
        "logged_in_customer_id.",
    },
    "metricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "LOYALTY_METRICS_TOKEN (not needed in development).",
    },
    "shopperToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT (EdDSA), signed by the store: iss = store URL, sub = customer "
        "id, aud = loyalty-storefront, at most 1 hour.",
    },
}
API_KEY: dict[str, list[str]] = {"apiKey": []}
STOREFRONT_AUTH: dict[str, list[str]] = {"appProxy": [], "shopperToken": []}

AUTH_ERRORS: dict[str, Any] = {"HTTP_401": (Error, "Missing or invalid API key.")}
RATE_LIMITED: dict[str, Any] = {
    "HTTP_429": (Error, "rate_limited: too many requests from this address; see Retry-After.")
}
STOREFRONT_ERRORS: dict[str, Any] = {
    "HTTP_401": (
        Error,
        "unauthorized, invalid_signature, stale_request, invalid_token, token_expired, "
        "unknown_shop, or sign_in_required.",
    ),
    "HTTP_429": (Error, "rate_limited (per shopper and per address); see Retry-After."),
}
BODY_ERRORS: dict[str, Any] = {
    "HTTP_415": (Error, "unsupported_media_type: the body is not application/json."),
}


def endpoint(
    *,
    tags: Sequence[str],
    responses: Mapping[str, Any],
    query: type[BaseModel] | None = None,
    json: type[BaseModel] | None = None,
    headers: type[BaseModel] | None = None,
    security: Mapping[str, list[str]] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    validate: bool = True,
    csv_body: str | None = None,
    csv_responses: Sequence[str] = (),
    html_responses: Sequence[str] = (),
    text_responses: Sequence[str] = (),
) -> Callable[[F], F]:
    """Declare a route's contract. Put it under the Flask route decorator.

    `responses` maps "HTTP_200" to a model or (model, description). `validate=False` only
    documents the declared inputs: for routes whose inputs are checked by a signature
    first (webhooks, installs) or that take none on a hot path (storefront reads).
    `csv_body` documents a `text/csv` request body (read by the view itself) and
    `csv_responses` the statuses ("HTTP_200") served as `text/csv` instead of JSON, and
    `html_responses` those served as a `text/html` page, `text_responses` as text/plain.
    """
    csv_doc = {
        "body": csv_body,
        "responses": [c.removeprefix("HTTP_") for c in csv_responses],
        "html": [c.removeprefix("HTTP_") for c in html_responses],
        "text": [c.removeprefix("HTTP_") for c in text_responses],
    }

    def decorator(view: F) -> F:
        # Models may also come from the view's annotations (`query: EmailQuery`).
        hints = get_request_model_hints(view)
        inputs = {
            "query": hints.get("query", query),
            "json": hints.get("json", json),
            "headers": hints.get("headers", headers),
        }
        body = inputs["json"]
        codes = dict(responses)
        if body is not None and not getattr(body, "any_content_type", False):
            codes = {**BODY_ERRORS, **codes}
        wrap = validate and any(model is not None for model in inputs.values())
        declared = spec.validate(
            **inputs,
            resp=Response(**codes),
            tags=tags,
            security=dict(security) if security is not None else None,
            path_parameter_descriptions=path_parameters,
            skip_validation=not wrap,
        )(view)
        if wrap:
            declared._contract_csv = csv_doc
            return declared
        view._contract_csv = csv_doc  # type: ignore[attr-defined]
        # Documented only: Flask serves the plain view, so the request costs nothing extra
        # (spectree's wrapper adds ~10 us even when it validates nothing), and spectree
        # still finds the declaration through __wrapped__ (it stops at the cycle).
        view.__wrapped__ = declared  # type: ignore[attr-defined]
        return view

    return decorator


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of `app`'s declared routes, plus our security schemes."""
    with app.app_context():  # spectree reads the routes from the current app
        generated = spec.spec
    doc: dict[str, Any] = json.loads(json.dumps(generated))  # a copy callers may change
    doc["components"]["securitySchemes"] = SECURITY_SCHEMES
    doc.pop("security", None)  # per operation instead; public routes have none
    _add_csv(app, doc)
    for operations in doc["paths"].values():
        for operation in operations.values():
            _tidy_operation(operation)
    _document_webhooks(doc)
    return doc


def _add_csv(app: Flask, doc: dict[str, Any]) -> None:
    """CSV request and response bodies, which spectree documents only as JSON."""
    text = {"schema": {"type": "string"}}
    for rule in app.url_map.iter_rules():
        csv = getattr(app.view_functions.get(rule.endpoint), "_contract_csv", None)
        if not csv or not (csv["body"] or csv["responses"] or csv.get("html") or csv.get("text")):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            operation = doc["paths"][path][method.lower()]
            if csv["body"]:
                operation["requestBody"] = {
                    "required": True,
                    "description": csv["body"],
                    "content": {"text/csv": text},
                }
            for status in csv["responses"]:
                operation["responses"][status]["content"] = {"text/csv": text}
            for status in csv.get("html", ()):
                operation["responses"][status]["content"] = {"text/html": text}
            for status in csv.get("text", ()):
                operation["responses"][status]["content"] = {"text/plain": text}


SIGNATURE_DOC = (
    "Each delivery is an HTTP POST of a JSON envelope. Verify it before trusting it: "
    "compute HMAC-SHA256 with the endpoint's secret over the bytes "
    "`<X-Loyalty-Timestamp>.<raw body>`, hex-encode it, and compare `sha256=<hex>` with "
    "each comma-separated value of X-Loyalty-Signature using a constant-time comparison "
    "(e.g. Python's hmac.compare_digest); refuse timestamps more than 5 minutes from your "
    "clock. Answer 2xx within 10 seconds; anything else (or no answer) is retried with "
    "exponential backoff. Delivery is at least once: dedupe on X-Loyalty-Delivery."
)
_WEBHOOK_HEADERS = (
    ("X-Loyalty-Signature", "sha256=<hex>[, sha256=<hex>] (one per secret in use)."),
    ("X-Loyalty-Timestamp", "Unix seconds; part of the signed content."),
    ("X-Loyalty-Delivery", "This delivery's id: the same on every retry and replay."),
    ("X-Loyalty-Event", "The event's id (the envelope's id)."),
    ("X-Loyalty-Topic", "The topic."),
    ("X-Loyalty-Attempt", "1 for the first attempt, then 2, 3..."),
)


def _document_webhooks(doc: dict[str, Any]) -> None:
    """The bodies we POST to merchants' endpoints, as OpenAPI 3.1 `webhooks`."""
    from plugin_server.api.schemas import WEBHOOK_PAYLOADS

    components = doc["components"]["schemas"]
    hooks: dict[str, Any] = {}
    for topic, model in WEBHOOK_PAYLOADS.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            components.setdefault(name, sub)
        components[model.__name__] = schema
        parameters = [
            {
                "name": name,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": text,
            }
            for name, text in _WEBHOOK_HEADERS
        ]
        parameters.append(
            {
                "name": "X-Loyalty-Redelivery",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "enum": ["true"]},
                "description": "Present when the merchant replayed the delivery.",
            }
        )
        hooks[topic] = {
            "post": {
                "summary": model.__doc__,
                "description": SIGNATURE_DOC,
                "tags": ["webhook endpoints"],
                "parameters": parameters,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{model.__name__}"}
                        }
                    },
                },
                "responses": {"2XX": {"description": "Received. Anything else is retried."}},
            }
        }
    doc["webhooks"] = hooks


def _tidy_operation(operation: dict[str, Any]) -> None:
    takes_input = "requestBody" in operation or any(
        p.get("in") in ("query", "header") for p in operation.get("parameters", [])
    )
    responses = operation["responses"]
    # spectree adds the validation error to every route; a route with nothing to validate
    # cannot answer it, unless it declared its own 400.
    auto = responses.get(str(VALIDATION_STATUS), {})
    if not takes_input and auto.get("description") == "Bad Request":
        del responses[str(VALIDATION_STATUS)]
    for parameter in operation.get("parameters", []):
        if not parameter.get("description"):
            parameter.pop("description", None)
        parameter["schema"] = _parameter_schema(parameter["schema"])


def _parameter_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A query, header or path value is absent or a string: never JSON null."""
    schema = {k: v for k, v in schema.items() if k not in ("title", "description")}
    if schema.get("default", ...) is None:
        del schema["default"]
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        del schema["anyOf"]
        schema.update(options[0])
    if schema.get("type") == "integer" and schema.get("maximum", 0) > 2**31 - 1:
        schema["format"] = "int64"  # ids bounded by BIGINT (spectree says int32)
    return schema
