"""Connecting stores: single-use install nonces, saving credentials, fresh tokens, and the
store-URL checks made before we ever call an address a merchant typed in."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from plugin_server.crypto import CredentialCipher
from plugin_server.db.models import InstallState, Shop
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain.errors import InstallRejected, ShopAlreadyExists, StoreUrlNotAllowed
from plugin_server.platforms import safe_http
from plugin_server.platforms.base import ShopCredentials
from plugin_server.platforms.shopify_auth import ShopToken
from plugin_server.services import shops

STATE_TTL = timedelta(minutes=10)
# Refresh an expiring token this long before it runs out, so no call meets an expired one.
REFRESH_AHEAD = timedelta(minutes=5)


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def new_state(uow: UnitOfWork, *, platform: str, shop_domain: str, now: datetime) -> str:
    """A fresh single-use nonce bound to this shop; only its hash is stored."""
    nonce = secrets.token_urlsafe(32)
    with uow:
        uow.session.add(
            InstallState(
                platform=platform,
                nonce_hash=_hash(nonce),
                shop_domain=shop_domain,
                created_at=now,
                expires_at=now + STATE_TTL,
            )
        )
        uow.commit()
    return nonce


def consume_state(
    uow: UnitOfWork, *, platform: str, nonce: str, shop_domain: str | None, now: datetime
) -> str:
    """Use up a nonce; the shop it was issued for. InstallRejected if unknown, used, expired
    or issued for another shop."""
    if not nonce or len(nonce) > 200:
        raise InstallRejected("missing or malformed state")
    with uow:
        state = uow.session.scalars(
            select(InstallState)
            .where(InstallState.nonce_hash == _hash(nonce), InstallState.platform == platform)
            .with_for_update()
        ).one_or_none()
        if state is None or state.used_at is not None:
            raise InstallRejected("unknown or already used state")
        if state.expires_at < now:
            raise InstallRejected("the install took too long; start again")
        if shop_domain is not None and state.shop_domain != shop_domain:
            raise InstallRejected("the state was issued for another shop")
        state.used_at = now
        domain = state.shop_domain
        uow.commit()
    return domain


def state_was_used(uow: UnitOfWork, *, platform: str, nonce: str) -> bool:
    with uow:
        used_at = uow.session.scalar(
            select(InstallState.used_at).where(
                InstallState.nonce_hash == _hash(nonce), InstallState.platform == platform
            )
        )
    return used_at is not None


def check_store_url(url: str, *, allow_private: bool) -> str:
    """The normalised store URL if we may call it: https, and a public address (resolved
    now) unless `allow_private` (development against a local sandbox)."""
    from webhooks.woocommerce import normalize_source

    normalized = normalize_source(url)
    if normalized is None:
        raise StoreUrlNotAllowed(f"{url!r} is not a store URL such as https://store.example")
    parts = urlsplit(normalized)
    if allow_private:
        return normalized
    if parts.scheme != "https":
        raise StoreUrlNotAllowed("the store URL must use https")
    try:
        safe_http.resolve_public(parts.hostname or "", parts.port or 443)
    except safe_http.AddressNotAllowed as exc:
        raise StoreUrlNotAllowed(str(exc)) from None
    return normalized


def _ensure_shop(
    uow_factory: Callable[[], UnitOfWork],
    cipher: CredentialCipher,
    *,
    platform: str,
    domain: str,
    now: datetime,
    **create: str | None,
) -> str | None:
    """Create the shop if it is new; its API key then (shown once), else None."""
    with uow_factory() as uow:
        exists = uow.session.scalar(
            select(Shop.id).where(Shop.platform == platform, Shop.domain == domain)
        )
    if exists is not None:
        return None
    try:
        created = shops.create_shop(
            uow_factory(),
            cipher,
            platform=platform,
            domain=domain,
            now=now,
            **create,
        )
    except ShopAlreadyExists:
        return None  # a concurrent install of the same shop won
    return created.api_key


def _locked_shop(uow: UnitOfWork, platform: str, domain: str) -> Shop:
    return uow.session.scalars(
        select(Shop).where(Shop.platform == platform, Shop.domain == domain).with_for_update()
    ).one()


def save_shopify_install(
    uow_factory: Callable[[], UnitOfWork],
    cipher: CredentialCipher,
    *,
    domain: str,
    token: ShopToken,
    api_base_url: str | None,
    now: datetime,
) -> tuple[int, str | None]:
    """Store the shop's new tokens (encrypted), reactivating it after an uninstall;
    (shop id, API key if the shop is new)."""
    api_key = _ensure_shop(
        uow_factory, cipher, platform="shopify", domain=domain, now=now, api_base_url=api_base_url
    )
    with uow_factory() as uow:
        shop = _locked_shop(uow, "shopify", domain)
        _store_token(shop, cipher, token)
        shop.active, shop.uninstalled_at, shop.installed_at = True, None, now
        if api_base_url:
            shop.api_base_url = api_base_url
        shop_id = shop.id
        uow.commit()
    return shop_id, api_key


def _store_token(shop: Shop, cipher: CredentialCipher, token: ShopToken) -> None:
    shop.access_token_enc = cipher.encrypt(token.access_token)
    shop.access_token_expires_at = token.expires_at
    shop.refresh_token_enc = cipher.encrypt(token.refresh_token)
    shop.refresh_token_expires_at = token.refresh_token_expires_at


def save_woocommerce_install(
    uow_factory: Callable[[], UnitOfWork],
    cipher: CredentialCipher,
    *,
    store_url: str,
    consumer_key: str,
    consumer_secret: str,
    webhook_secret: str,
    now: datetime,
) -> tuple[int, str | None]:
    api_key = _ensure_shop(
        uow_factory,
        cipher,
        platform="woocommerce",
        domain=store_url,
        now=now,
        webhook_secret=webhook_secret,
    )
    with uow_factory() as uow:
        shop = _locked_shop(uow, "woocommerce", store_url)
        shop.consumer_key_enc = cipher.encrypt(consumer_key)
        shop.consumer_secret_enc = cipher.encrypt(consumer_secret)
        shop.webhook_secret_enc = cipher.encrypt(webhook_secret)
        shop.active, shop.uninstalled_at, shop.installed_at = True, None, now
        shop_id = shop.id
        uow.commit()
    return shop_id, api_key


def set_token_key(uow: UnitOfWork, shop_id: int, public_key: str) -> None:
    """Record the key that checks shopper tokens the store signs (ValidationFailed if bad)."""
    from plugin_server.domain.widget import validate_public_key

    key = validate_public_key(public_key)
    with uow:
        shop = uow.session.get(Shop, shop_id, with_for_update=True)
        assert shop is not None
        shop.token_public_key = key
        uow.commit()


def fresh_credentials(
    uow_factory: Callable[[], UnitOfWork],
    cipher: CredentialCipher,
    shop_id: int,
    *,
    refresh: Callable[[Shop, str], ShopToken],
    now: Callable[[], datetime],
) -> ShopCredentials:
    """The shop's credentials, refreshing an expiring Shopify token first when it is close
    to running out. The shop row stays locked across the refresh, so two workers never
    spend the same one-time refresh token."""
    with uow_factory() as uow:
        shop = uow.session.get(Shop, shop_id, with_for_update=True)
        assert shop is not None
        expires = shop.access_token_expires_at
        if expires is not None and expires - REFRESH_AHEAD <= now():
            refresh_token = cipher.decrypt(shop.refresh_token_enc)
            if refresh_token is None:
                raise InstallRejected("the shop's token expired and there is no refresh token")
            _store_token(shop, cipher, refresh(shop, refresh_token))
            uow.commit()
        return ShopCredentials(
            domain=shop.domain,
            access_token=cipher.decrypt(shop.access_token_enc),
            consumer_key=cipher.decrypt(shop.consumer_key_enc),
            consumer_secret=cipher.decrypt(shop.consumer_secret_enc),
            api_base_url=shop.api_base_url,
        )
