"""Schemathesis against the OpenAPI document the app serves: every merchant API operation
with a valid API key, and every storefront operation signed as Shopify's app proxy signs it
for a signed-in shopper, on schema-valid and on schema-breaking input. No answer may be a 5xx
or differ from what the document says (status, content type, headers, body schema), and
input the document forbids must be refused with a 4xx.

Not checked: that every schema-valid request is accepted. Business rules (a campaign needs a
reward, thresholds are whole numbers, a rule key is unique) refuse some schema-valid bodies
with a 400 and a stable code, as the document's 400 answers say.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from plugin_server.sandbox.storefront import proxy_signature
from tests.conftest import SHOPIFY_SECRET, ShopHandle

# Every request carries the shop's valid key, so "invalid auth accepted" would be a false
# alarm here (test_api_contract.py and test_storefront_api.py cover bad keys and signatures).
NOT_CHECKED = [checks.positive_data_acceptance, checks.ignored_auth]
EXAMPLES = 12  # per operation and mode: ~2,000 requests in all, a few seconds in process


def _signed_by_the_app_proxy(case: schemathesis.Case, shop: ShopHandle) -> None:
    """The generated query, with the app proxy's parameters and a valid signature."""
    generated = {
        k: v
        for k, v in (case.query or {}).items()
        if k not in {"shop", "signature", "logged_in_customer_id", "path_prefix", "timestamp"}
    }
    params = [
        ("shop", shop.domain),
        ("logged_in_customer_id", "42"),
        ("path_prefix", "/apps/loyalty"),
        ("timestamp", str(int(time.time()))),
        *[(k, str(v)) for k, v in generated.items()],
    ]
    params.append(("signature", proxy_signature(params, SHOPIFY_SECRET)))
    case.query = dict(params)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("api", ["/api/v1/", "/storefront/v1/"])
def test_the_api_keeps_its_contract_on_any_input(
    app: Flask, shopify_shop: ShopHandle, mode: GenerationMode, api: str
) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).include(path_regex=f"^{api}")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            if api == "/api/v1/":
                case.headers = {
                    **(case.headers or {}),
                    "Authorization": f"Bearer {shopify_shop.api_key}",
                }
                case.call_and_validate(app=app, excluded_checks=NOT_CHECKED)
            else:
                # The proxy's parameters are replaced by valid ones, which may undo the very
                # thing a negative case broke: there, only no 5xx and documented answers.
                _signed_by_the_app_proxy(case, shopify_shop)
                case.call_and_validate(
                    app=app, excluded_checks=[*NOT_CHECKED, checks.negative_data_rejection]
                )

        try:
            call()
        except Unsatisfiable:
            continue  # nothing in the operation can be made invalid (a free-form path name)
        except BaseException as exc:  # schemathesis raises exception groups
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {exc}")
    assert operations > (50 if api == "/api/v1/" else 6)  # all of it, not a filter gone wrong
    assert not failures, "\n\n".join(failures)
