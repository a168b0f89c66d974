"""Every URL a merchant or a store chooses that we then call: outbound webhook endpoints and
WooCommerce store URLs. Private, loopback, link-local and reserved addresses are refused
however they are spelled; the connection goes to the address that was checked (no DNS
rebinding); redirects are never followed."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import requests
import urllib3.util.connection

from plugin_server.platforms import safe_http
from plugin_server.platforms.base import PlatformRejected, ShopCredentials
from plugin_server.platforms.woocommerce import WooCommerceClient
from plugin_server.services import outbound_webhooks
from plugin_server.services.install import StoreUrlNotAllowed, check_store_url

REFUSED = [
    "127.0.0.1",
    "127.1",  # short form
    "2130706433",  # decimal
    "0177.0.0.1",  # octal
    "0x7f.0.0.1",  # hex
    "0",  # 0.0.0.0
    "10.0.0.5",
    "172.16.3.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "224.0.0.1",  # multicast
    "[::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    "[::ffff:a9fe:a9fe]",  # 169.254.169.254, mapped and in hex
    "[fc00::1]",  # unique local
    "[fe80::1]",  # link-local
    "localhost",
]


@pytest.mark.parametrize("host", REFUSED)
def test_private_addresses_are_refused_however_spelled(host: str) -> None:
    with pytest.raises(outbound_webhooks.WebhookUrlNotAllowed):
        outbound_webhooks.check_url(f"http://{host}/hook", allow_private=False)
    with pytest.raises(StoreUrlNotAllowed):
        check_store_url(f"https://{host}", allow_private=False)


def test_a_public_literal_is_accepted() -> None:
    assert safe_http.resolve_public("8.8.8.8", 443) == ["8.8.8.8"]
    assert safe_http.resolve_public("2001:4860:4860::8888", 443) == ["2001:4860:4860::8888"]


class FakeDns:
    """A resolver an attacker controls: public for the first question, loopback after."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.asked: list[str] = []

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.example":
            self.asked.append(host)
            address = "93.184.216.34" if len(self.asked) == 1 else "127.0.0.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return self.real(host, port, *args, **kwargs)


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    dns = FakeDns(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    return dns


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Where urllib3 tried to connect (each attempt refused: no network here)."""
    tried: list[tuple[str, int]] = []

    def refuse(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        tried.append(address)
        raise ConnectionRefusedError("test: not connecting anywhere")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)
    return tried


def test_a_delivery_connects_to_the_address_that_was_checked(
    fake_dns: FakeDns, connections: list[tuple[str, int]]
) -> None:
    policy = outbound_webhooks.DeliveryPolicy(allow_private=False)
    outcome = outbound_webhooks.post(
        "http://rebind.example:8080/hook",
        b"{}",
        {"Content-Type": "application/json"},
        policy=policy,
    )
    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("connection failed")
    # Asked once, and the socket went to that answer: a second question (which the
    # attacker's DNS would answer with 127.0.0.1) was never asked.
    assert fake_dns.asked == ["rebind.example"]
    assert connections == [("93.184.216.34", 8080)]


def test_the_old_way_would_have_been_rebound(
    fake_dns: FakeDns, connections: list[tuple[str, int]]
) -> None:
    """Why pinning matters: check, then let requests resolve again."""
    safe_http.resolve_public("rebind.example", 80)  # the check passes...
    with pytest.raises(requests.ConnectionError):
        requests.post("http://rebind.example/hook", timeout=1)
    # ...but the library connects by name, resolving it again (to 127.0.0.1, this time).
    assert connections == [("rebind.example", 80)]


def test_https_keeps_the_name_for_sni_and_the_certificate() -> None:
    adapter = safe_http.PinnedAddressAdapter()
    request = requests.Request("POST", "https://[2001:db8::1]:8443/x").prepare()
    request._loyalty_tls_name = "hooks.example.com"  # type: ignore[attr-defined]
    host_params, pool_kwargs = adapter.build_connection_pool_key_attributes(request, True)
    assert host_params["host"] == "2001:db8::1"
    assert pool_kwargs["server_hostname"] == "hooks.example.com"
    assert pool_kwargs["assert_hostname"] == "hooks.example.com"


def test_the_host_header_names_the_host_not_the_address(
    fake_dns: FakeDns, connections: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[requests.PreparedRequest] = []
    original = requests.adapters.HTTPAdapter.send

    def record(self: Any, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        sent.append(request)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", record)
    with pytest.raises(requests.ConnectionError):
        safe_http.session(allow_private=False).get("http://rebind.example:81/p?q=1", timeout=1)
    [request] = sent
    assert request.url == "http://93.184.216.34:81/p?q=1"
    assert request.headers["Host"] == "rebind.example:81"


# --- redirects --------------------------------------------------------------------------


class Redirector(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def redirector() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_store_that_redirects_is_not_followed(redirector: str) -> None:
    client = WooCommerceClient(max_retries=0)
    creds = ShopCredentials(
        domain="https://store.example",
        consumer_key="ck_x",
        consumer_secret="cs_x",
        api_base_url=redirector,
    )
    with pytest.raises(PlatformRejected) as raised:
        client.find_discount_code(creds, "LOYAL-ABC")
    assert raised.value.code == "redirected"


def test_a_webhook_endpoint_that_redirects_is_a_failed_delivery(redirector: str) -> None:
    policy = outbound_webhooks.DeliveryPolicy(allow_private=True)  # the local redirector
    outcome = outbound_webhooks.post(f"{redirector}/hook", b"{}", {}, policy=policy)
    assert outcome.status_code == 302
    assert outcome.succeeded is False
