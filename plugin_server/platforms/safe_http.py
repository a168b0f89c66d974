"""HTTP to addresses a merchant chose, without letting them point us inside our network.

Checking a host's addresses and then letting the HTTP library resolve it again leaves a
window: a DNS server under the merchant's control can answer a public address to the check
and 127.0.0.1 or 169.254.169.254 to the connection (DNS rebinding). So the address is
resolved once, every address checked, and the connection made to the checked address;
the Host header, TLS SNI and certificate check still use the name.

`resolve_public` also refuses what a URL can spell in other ways: IPv6 literals,
IPv4-mapped IPv6, and the decimal, octal and hex forms (`http://2130706433/`,
`http://0177.0.0.1/`, `http://0x7f.1/`) that the C resolver reads as 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter


class AddressNotAllowed(Exception):
    """The host does not resolve, or resolves to an address we never call."""


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve_public(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, if all of them are public; else AddressNotAllowed."""
    if not host:
        raise AddressNotAllowed("the URL has no host")
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise AddressNotAllowed(f"{host} does not resolve") from None
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone
        if not _allowed(ipaddress.ip_address(text)):
            raise AddressNotAllowed(f"{host} resolves to a private or reserved address")
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise AddressNotAllowed(f"{host} does not resolve")
    return addresses


class PinnedAddressAdapter(HTTPAdapter):
    """Connects to the address `resolve_public` checked, never to a second resolution."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(request.url or "")
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = resolve_public(host, port)[0]
        literal = f"[{address}]" if ":" in address else address
        netloc = f"{literal}:{parts.port}" if parts.port else literal
        request.headers["Host"] = parts.netloc.rsplit("@", 1)[-1]
        request.url = urlunsplit(parts._replace(netloc=netloc))
        request._loyalty_tls_name = host  # type: ignore[attr-defined]
        return super().send(request, *args, **kwargs)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        name = getattr(request, "_loyalty_tls_name", None)
        if name and host_params.get("scheme") == "https":
            # TLS to the pinned address, but SNI and the certificate for the name.
            pool_kwargs["server_hostname"] = name
            pool_kwargs["assert_hostname"] = name
        return host_params, pool_kwargs


def session(*, allow_private: bool) -> requests.Session:
    """A session for merchant-chosen URLs: pinned to checked public addresses (unless
    `allow_private`, for development against local servers)."""
    s = requests.Session()
    if not allow_private:
        adapter = PinnedAddressAdapter()
        s.mount("http://", adapter)
        s.mount("https://", adapter)
    return s
