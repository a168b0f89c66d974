"""Signature helpers against the platforms' published known-answer vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from webhooks.signing import hmac_sha256_base64, hmac_sha256_hex, signatures_match

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "hmac_test_vectors.json").read_text()
)


@pytest.mark.parametrize("vector", VECTORS["shopify_webhook"])
def test_shopify_webhook_vectors(vector: dict) -> None:
    digest = hmac_sha256_base64(vector["secret"], vector["raw_body"].encode())
    assert digest == vector["expected_header"]
    assert signatures_match(digest, vector["expected_header"])


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS["shopify_oauth_query_hmac"] if "message" in v]
)
def test_shopify_query_hmac_vectors(vector: dict) -> None:
    assert hmac_sha256_hex(vector["secret"], vector["message"]) == vector["expected_hmac"]


@pytest.mark.parametrize("vector", VECTORS["shopify_app_proxy_signature"])
def test_shopify_app_proxy_vectors(vector: dict) -> None:
    assert hmac_sha256_hex(vector["secret"], vector["message"]) == vector["expected_signature"]


@pytest.mark.parametrize("given", [None, "", "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7", "x"])
def test_mismatches(given: str | None) -> None:
    assert not signatures_match("B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=", given)
