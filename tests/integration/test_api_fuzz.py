"""Schemathesis against the OpenAPI document the app serves: every merchant API operation,
with a valid API key, on schema-valid and on schema-breaking input. No answer may be a 5xx
or differ from what the document says (status, content type, headers, body schema), and
input the document forbids must be refused with a 4xx.

Not checked: that every schema-valid request is accepted. Business rules (a campaign needs a
reward, thresholds are whole numbers, a rule key is unique) refuse some schema-valid bodies
with a 400 and a stable code, as the document's 400 answers say.
"""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from tests.conftest import ShopHandle

# Every request carries the shop's valid key, so "invalid auth accepted" would be a false
# alarm here (tests/integration/test_shops.py covers bad keys).
NOT_CHECKED = [checks.positive_data_acceptance, checks.ignored_auth]
EXAMPLES = 12  # per operation and mode: ~2,000 requests in all, a few seconds in process


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_merchant_api_keeps_its_contract_on_any_input(
    app: Flask, shopify_shop: ShopHandle, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).include(path_regex="^/api/v1/")
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
            case.headers = {
                **(case.headers or {}),
                "Authorization": f"Bearer {shopify_shop.api_key}",
            }
            case.call_and_validate(app=app, excluded_checks=NOT_CHECKED)

        try:
            call()
        except BaseException as exc:  # schemathesis raises exception groups
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {exc}")
    assert operations > 50  # the whole merchant API, not a filter gone wrong
    assert not failures, "\n\n".join(failures)
