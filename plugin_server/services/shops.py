"""Shops (tenants): creation, credentials at rest, earning rules, webhook-path lookups."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugin_server.crypto import CredentialCipher, hash_api_key
from plugin_server.db import repositories
from plugin_server.db.models import Shop
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain.errors import ShopAlreadyExists, ShopNotFound, ValidationFailed
from plugin_server.domain.ledger import DEFAULT_AWARD_STATUSES, EarningRules
from plugin_server.domain.orders import Platform
from plugin_server.ttl_cache import TtlCache
from webhooks import shopify as shopify_webhooks
from webhooks import woocommerce as woo_webhooks


@dataclass(frozen=True, slots=True)
class ShopCreated:
    id: int
    platform: str
    domain: str
    api_key: str  # shown once; only its hash is stored

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "platform": self.platform,
            "domain": self.domain,
            "api_key": self.api_key,
        }


def new_api_key() -> str:
    return "lk_" + secrets.token_urlsafe(32)


def normalize_domain(platform: Platform, domain: str) -> str:
    """The canonical shop domain (Shopify) or store URL (WooCommerce); ValidationFailed if bad."""
    if platform is Platform.SHOPIFY:
        normalized = shopify_webhooks.normalize_shop_domain(domain)
        if normalized is None:
            raise ValidationFailed(f"{domain!r} is not a NAME.myshopify.com domain")
        return normalized
    normalized = woo_webhooks.normalize_source(domain)
    if normalized is None:
        raise ValidationFailed(f"{domain!r} is not a store URL such as https://store.example")
    return normalized


def create_shop(
    uow: UnitOfWork,
    cipher: CredentialCipher,
    *,
    platform: str,
    domain: str,
    now: datetime,
    access_token: str | None = None,
    webhook_secret: str | None = None,
    consumer_key: str | None = None,
    consumer_secret: str | None = None,
    api_base_url: str | None = None,
) -> ShopCreated:
    """Register a shop with default program settings; credentials are stored encrypted."""
    try:
        plat = Platform(platform)
    except ValueError as exc:
        raise ValidationFailed("platform must be 'shopify' or 'woocommerce'") from exc
    canonical = normalize_domain(plat, domain)
    if plat is Platform.WOOCOMMERCE and not webhook_secret:
        raise ValidationFailed("a WooCommerce shop needs --webhook-secret to verify webhooks")
    if bool(consumer_key) != bool(consumer_secret):
        raise ValidationFailed("give both --consumer-key and --consumer-secret, or neither")
    if api_base_url is not None and not api_base_url.startswith(("http://", "https://")):
        raise ValidationFailed("--api-base-url must be an http(s) URL")
    api_key = new_api_key()
    with uow:
        if repositories.shop_by_domain(uow.session, plat.value, canonical) is not None:
            raise ShopAlreadyExists(f"a {plat.value} shop {canonical} already exists")
        shop = Shop(
            platform=plat.value,
            domain=canonical,
            api_key_hash=hash_api_key(api_key),
            access_token_enc=cipher.encrypt(access_token),
            webhook_secret_enc=cipher.encrypt(webhook_secret),
            consumer_key_enc=cipher.encrypt(consumer_key),
            consumer_secret_enc=cipher.encrypt(consumer_secret),
            api_base_url=api_base_url,
            active=True,
            points_per_unit=Decimal("1"),
            include_shipping=False,
            include_tax=False,
            pending_days=0,
            award_statuses=",".join(sorted(DEFAULT_AWARD_STATUSES[plat.value])),
            guests_earn=False,
            return_points_on_expiry=True,
            created_at=now,
        )
        uow.session.add(shop)
        uow.session.flush()
        created = ShopCreated(
            id=shop.id, platform=shop.platform, domain=shop.domain, api_key=api_key
        )
        uow.commit()
    return created


def rotate_api_key(uow: UnitOfWork, shop_id: int) -> str:
    """Issue a new admin API key; the old one stops working at once."""
    api_key = new_api_key()
    with uow:
        shop = uow.session.get(Shop, shop_id)
        if shop is None:
            raise ShopNotFound()
        shop.api_key_hash = hash_api_key(api_key)
        uow.commit()
    return api_key


def set_api_access(
    uow: UnitOfWork,
    cipher: CredentialCipher,
    shop_id: int,
    *,
    access_token: str,
    api_base_url: str | None,
) -> None:
    """Replace a shop's Admin API token (non-expiring) and where its calls go."""
    with uow:
        shop = uow.session.get(Shop, shop_id, with_for_update=True)
        if shop is None:
            raise ShopNotFound()
        shop.access_token_enc = cipher.encrypt(access_token)
        shop.access_token_expires_at = None
        shop.refresh_token_enc = shop.refresh_token_expires_at = None
        shop.api_base_url = api_base_url
        uow.commit()


def list_shops(uow: UnitOfWork) -> list[dict[str, object]]:
    with uow:
        shops = uow.session.scalars(select(Shop).order_by(Shop.id)).all()
        return [
            {
                "id": s.id,
                "platform": s.platform,
                "domain": s.domain,
                "active": s.active,
                "api_base_url": s.api_base_url,
            }
            for s in shops
        ]


def earning_rules(shop: Shop) -> EarningRules:
    return EarningRules(
        points_per_unit=shop.points_per_unit,
        include_shipping=shop.include_shipping,
        include_tax=shop.include_tax,
        pending_days=shop.pending_days,
        award_statuses=frozenset(s for s in shop.award_statuses.split(",") if s),
        guests_earn=shop.guests_earn,
    )


@dataclass(frozen=True, slots=True)
class WebhookShop:
    """What the webhook path needs to know about a shop; never exposed beyond it."""

    id: int
    active: bool
    webhook_secret: str | None


class ShopDirectory:
    """Shop lookups for the webhook hot path, held in memory for a few seconds.

    Each delivery would otherwise cost a query and a decryption before the one INSERT that
    matters. A shop created or deactivated is seen by every web process within `ttl_s`.
    """

    def __init__(
        self, session_factory: sessionmaker[Session], cipher: CredentialCipher, ttl_s: float
    ) -> None:
        self._session_factory = session_factory
        self._cipher = cipher
        self._cache: TtlCache[tuple[str, str], WebhookShop | None] = TtlCache(ttl_s)

    def get(self, platform: str, domain: str) -> WebhookShop | None:
        return self._cache.get((platform, domain), lambda: self._load(platform, domain))

    def _load(self, platform: str, domain: str) -> WebhookShop | None:
        with self._session_factory() as session:
            shop = repositories.shop_by_domain(session, platform, domain)
            if shop is None:
                return None
            return WebhookShop(
                id=shop.id,
                active=shop.active,
                webhook_secret=self._cipher.decrypt(shop.webhook_secret_enc),
            )

    def forget(self) -> None:
        self._cache.clear()
