"""Emails over TLS, against a real local SMTP server (aiosmtpd) with its own certificate
authority: STARTTLS with a login, implicit TLS (smtps://), and a refusal, never a
fallback to plain text, when the server's certificate is not trusted."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from plugin_server.services.emails import SmtpMailer


@dataclass
class Certs:
    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    folder = tmp_path_factory.mktemp("smtp-tls")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Test SMTP CA"))
        .issuer_name(_name("Test SMTP CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    found = Certs(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    found.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    found.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    found.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return found


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


def _free_port() -> int:
    # aiosmtpd checks its server by connecting to the configured port: it needs a real one.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_context(certs: Certs) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs.cert_file, certs.key_file)
    return context


def _authenticator(inbox: Inbox) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"shop-mailer",
            b"s3cret pass",
        )
        if ok:
            inbox.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)

    return check


@pytest.fixture
def starttls_server(certs: Certs) -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=_server_context(certs),
        require_starttls=True,
        authenticator=_authenticator(inbox),
        auth_require_tls=True,
        server_hostname="localhost",
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def smtps_server(certs: Certs) -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        ssl_context=_server_context(certs),
        server_hostname="localhost",
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def message() -> EmailMessage:
    m = EmailMessage()
    m["From"] = "rewards@shop.example"
    m["To"] = "ann@example.com"
    m["Subject"] = "You earned 59 points"
    m.set_content("Thanks for your order.")
    return m


def test_starttls_with_a_login(
    certs: Certs, starttls_server: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca_file))  # trust the test CA only
    inbox, port = starttls_server
    mailer = SmtpMailer.from_url(f"smtp://shop-mailer:s3cret%20pass@localhost:{port}?starttls=1")
    mailer.send(message())
    assert inbox.logins == ["shop-mailer"]
    [received] = inbox.messages
    assert received.rcpt_tos == ["ann@example.com"]
    assert b"You earned 59 points" in received.content


def test_implicit_tls(
    certs: Certs, smtps_server: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca_file))
    inbox, port = smtps_server
    SmtpMailer.from_url(f"smtps://localhost:{port}").send(message())
    assert len(inbox.messages) == 1


def test_an_untrusted_certificate_is_refused_not_ignored(
    tmp_path: Path, starttls_server: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    other_ca = tmp_path / "other.pem"
    other_ca.write_bytes(b"")  # trusts nothing
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    inbox, port = starttls_server
    mailer = SmtpMailer.from_url(f"smtp://shop-mailer:s3cret%20pass@localhost:{port}?starttls=1")
    with pytest.raises(ssl.SSLCertVerificationError):
        mailer.send(message())
    assert inbox.messages == []
    assert inbox.logins == []  # the password never crossed the wire


def test_without_starttls_the_server_refuses_before_the_password(
    certs: Certs, starttls_server: tuple[Inbox, int]
) -> None:
    """A server that requires TLS answers 530 to a plain login: the mail is not sent."""
    import smtplib

    inbox, port = starttls_server
    mailer = SmtpMailer.from_url(f"smtp://shop-mailer:s3cret%20pass@localhost:{port}")
    with pytest.raises(smtplib.SMTPException):
        mailer.send(message())
    assert inbox.messages == []
