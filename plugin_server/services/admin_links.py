"""Signed links into the admin app from a WooCommerce store's WordPress admin.

The Loyalty Rewards plugin already holds the store's Ed25519 key pair (it signs shopper
tokens with it, and the app fetched the public half when the store connected). An admin
link is a JWT signed with that same key but for another audience, `loyalty-admin`, so a
shopper token (which every storefront visitor can read) never opens the admin app and an
admin link is never a shopper token. Why a signature and not an HMAC with a shared secret:
the app holds no secret the store signs with, so nothing read from the app's database can
forge a link.

A link lives at most `MAX_LINK_LIFETIME_S` and opens the app once: its `jti` is recorded
(primary key per shop) in the same transaction that accepts it.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import delete, select

from plugin_server.db import repositories
from plugin_server.db.models import AdminLinkNonce, Shop
from plugin_server.db.repositories import _insert_for
from plugin_server.db.unit_of_work import UnitOfWork

ADMIN_AUDIENCE = "loyalty-admin"
MAX_LINK_LIFETIME_S = 300
LEEWAY_S = 30
_JTI = re.compile(r"[A-Za-z0-9_-]{16,64}")
_LOCALE = re.compile(r"[a-z]{2}")


class AdminLinkRejected(Exception):
    """The link is not one the store signed for the admin app, or it was used or expired.

    Deliberately one generic reason for the browser; `detail` is for tests and logs."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class AdminLink:
    shop_id: int
    user: str | None
    locale: str | None


def _public_key(encoded: str) -> Ed25519PublicKey:
    raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    return Ed25519PublicKey.from_public_bytes(raw)


def consume_link(uow: UnitOfWork, token: str, *, now: datetime) -> AdminLink:
    """Verify a store-signed admin link and use it up; AdminLinkRejected otherwise."""
    try:
        unverified: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise AdminLinkRejected("not a JWT") from None
    issuer = unverified.get("iss")
    if header.get("alg") != "EdDSA" or not isinstance(issuer, str):
        raise AdminLinkRejected("not EdDSA or no issuer")
    with uow:
        shop = repositories.shop_by_domain(uow.session, "woocommerce", issuer)
        if shop is None or not shop.active or not shop.token_public_key:
            raise AdminLinkRejected("unknown store or no key")
        try:
            claims = jwt.decode(
                token,
                _public_key(shop.token_public_key),
                algorithms=["EdDSA"],
                audience=ADMIN_AUDIENCE,
                issuer=shop.domain,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "aud", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise AdminLinkRejected("expired") from None
        except (jwt.PyJWTError, ValueError):
            raise AdminLinkRejected("bad signature or claims") from None
        exp, iat, jti = claims["exp"], claims["iat"], claims["jti"]
        if not isinstance(exp, int) or not isinstance(iat, int):
            raise AdminLinkRejected("exp/iat are not numbers")
        if exp - iat > MAX_LINK_LIFETIME_S:
            raise AdminLinkRejected("lives too long")
        if iat > now.timestamp() + LEEWAY_S:
            raise AdminLinkRejected("issued in the future")
        if not isinstance(jti, str) or not _JTI.fullmatch(jti):
            raise AdminLinkRejected("bad jti")
        # Nonces past their link's expiry can go: an expired link fails on `exp` anyway.
        uow.session.execute(
            delete(AdminLinkNonce).where(AdminLinkNonce.expires_at < now - timedelta(minutes=5))
        )
        table = AdminLinkNonce.__table__
        # One arbitrated statement: of two requests racing with one link, one inserts.
        inserted = uow.session.execute(
            _insert_for(uow.session)(table)
            .values(
                shop_id=shop.id,
                jti=jti,
                expires_at=datetime.fromtimestamp(exp, UTC),
                used_at=now,
            )
            .on_conflict_do_nothing(index_elements=["shop_id", "jti"])
            .returning(table.c.jti)
        ).scalar_one_or_none()
        if inserted is None:
            raise AdminLinkRejected("already used")
        uow.commit()
    sub = claims.get("sub")
    locale = claims.get("locale")
    return AdminLink(
        shop_id=shop.id,
        user=str(sub) if isinstance(sub, str | int) else None,
        locale=locale if isinstance(locale, str) and _LOCALE.fullmatch(locale) else None,
    )


def shop_for_admin(uow: UnitOfWork, shop_id: int) -> tuple[str, str] | None:
    """(platform, domain) of an active shop, for the admin app's header; None if gone."""
    with uow:
        row = uow.session.execute(
            select(Shop.platform, Shop.domain).where(Shop.id == shop_id, Shop.active.is_(True))
        ).one_or_none()
        return (row[0], row[1]) if row else None
