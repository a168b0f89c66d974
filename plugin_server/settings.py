"""Settings read from the environment, with embedded defaults for a first run.

No I/O happens here except in `ensure_instance_secret`, which the embedded default uses to
keep a generated development key on disk.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

logger = logging.getLogger(__name__)


class SettingsError(Exception):
    """The environment does not describe a runnable deployment."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def normalize_database_url(url: str) -> str:
    """Accept the `postgres://` form Heroku-style platforms hand out; use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@dataclass(frozen=True, kw_only=True)
class Settings:
    # repr=False: URLs may hold passwords, and settings can end up in a log or traceback.
    database_url: str = field(repr=False)
    redis_url: str | None = field(default=None, repr=False)
    secret_key: str = field(repr=False)
    shopify_api_key: str = ""
    shopify_api_secret: str = field(default="", repr=False)
    # Accepted as well while a rotated Shopify client secret propagates (up to an hour).
    shopify_old_api_secret: str | None = field(default=None, repr=False)
    instance_path: Path = Path("instance")
    max_webhook_bytes: int = 2 * 1024 * 1024
    # How long a shop lookup on the webhook path may be served from memory.
    shop_cache_seconds: float = 5.0
    # A signed-in shopper's storefront summary is served again from memory for at most this
    # long while nothing it shows changed (services/summary_cache.py); with Redis only.
    summary_cache_seconds: float = 30.0
    public_url: str = "http://127.0.0.1:5000"
    # Seconds between an RQ job's attempts after a failure (database down, deadlock...).
    job_retry_intervals: tuple[int, ...] = (5, 30, 120, 600)
    # Seconds a web process waits before touching Redis again to wake a drain (see jobs).
    wake_debounce_s: float = 0.25
    development: bool = False
    testing: bool = False
    # Scopes asked for at install (Shopify's authorization-code grant).
    shopify_scopes: str = "write_discounts,read_orders,read_customers"
    # Development only: send Shopify OAuth and Admin API calls for installed shops to this
    # local sandbox (`loyalty sandbox`) instead of NAME.myshopify.com.
    sandbox_url: str | None = None
    # Storefront API limits (the `limits` library's notation), counted in Redis when set.
    storefront_rate_per_shopper: str = "120/minute"
    storefront_rate_per_address: str = "600/minute"
    # Outbound webhooks to the merchant's own systems (plugin_server.services.outbound_webhooks).
    # A receiver that does not connect or answer in time fails that attempt.
    webhook_connect_timeout_s: float = 3.0
    webhook_read_timeout_s: float = 10.0
    # Attempts before a delivery is `failed`; retries back off exponentially from the
    # base (with jitter) up to the cap: 30 s, 1, 2, 4 ... min, about 8.5 hours in all.
    webhook_max_attempts: int = 10
    webhook_retry_base_s: float = 30.0
    webhook_retry_cap_s: float = 6 * 3600.0
    # How long a worker's claim on a delivery lasts; a worker that died mid-delivery
    # loses it after this and another worker sends it again.
    webhook_lease_s: float = 120.0
    # After a secret rotation, deliveries are signed with the old secret too for this long.
    webhook_secret_overlap_hours: float = 24.0
    # Finished deliveries (and their attempt logs) are kept this long.
    webhook_log_days: int = 30
    # Endpoints on private, loopback or link-local addresses (None: only in development).
    webhook_allow_private: bool | None = None
    # Shopper emails (plugin_server.services.emails). No SMTP_URL (the embedded default):
    # emails stay in the outbox, listed by `loyalty emails list` and GET /api/v1/emails.
    # smtp://user:pass@host:port (STARTTLS when SMTP_STARTTLS is on) or smtps:// (TLS).
    smtp_url: str | None = field(default=None, repr=False)
    # Bearer token for /metrics; without it the page is served only in development.
    metrics_token: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_timeout_s: float = 10.0
    # The sender when a shop has not set its own address.
    email_from: str = "rewards@localhost"
    email_max_attempts: int = 8
    email_retry_base_s: float = 60.0
    email_retry_cap_s: float = 6 * 3600.0
    # A claim older than this whose send never finished is failed, not sent again.
    email_lease_s: float = 300.0
    # Requests per minute per address to the public unsubscribe page.
    unsubscribe_rate: str = "30/minute"
    # Per client address on the public routes (installs, sign-in links, the API document).
    public_rate: str = "60/minute"
    # Refused webhooks (bad signature, unknown shop) per address and web process; past
    # it, that address gets 429 before any verifying.
    refused_webhook_rate: str = "120/minute"
    # Proxies in front of the app whose X-Forwarded-For/-Proto are trusted (0: none).
    trusted_proxies: int = 0
    # Minutes between polls of each shop's recently updated orders (and checks of its
    # webhook subscriptions), which find what dropped webhooks missed; 0 turns them off.
    reconcile_minutes: int = 60

    def webhook_url(self, platform: str) -> str:
        """Where a store delivers our webhooks: subscribed at install, checked by
        reconciliation, so both must build it the same way."""
        return f"{self.public_url.rstrip('/')}/webhooks/{platform}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def webhooks_allow_private(self) -> bool:
        if self.webhook_allow_private is None:
            return self.development
        return self.webhook_allow_private

    @staticmethod
    def log_json_from_env(environ: Mapping[str, str] | None = None) -> bool:
        """JSON log lines (LOYALTY_LOG_FORMAT=json|text); by default JSON in production
        and text in development, decided as `from_env` decides development. Read on its
        own because logging is set up before the rest of the settings are checked."""
        env = os.environ if environ is None else environ
        chosen = (env.get("LOYALTY_LOG_FORMAT") or "").strip().lower()
        if chosen in ("json", "text"):
            return chosen == "json"
        database_url = env.get("DATABASE_URL") or "sqlite://"
        is_sqlite = normalize_database_url(database_url).startswith("sqlite")
        return not _bool(env.get("LOYALTY_DEVELOPMENT"), default=is_sqlite)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `environ`; raise SettingsError naming what is wrong."""
        env = os.environ if environ is None else environ
        instance = Path(env.get("LOYALTY_INSTANCE_PATH") or "instance").resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'loyalty.db'}"
        database_url = normalize_database_url(database_url)
        is_sqlite = database_url.startswith("sqlite")
        development = _bool(env.get("LOYALTY_DEVELOPMENT"), default=is_sqlite)

        secret_key = env.get("LOYALTY_SECRET_KEY", "")
        shopify_secret = env.get("SHOPIFY_API_SECRET", "")
        if not is_sqlite:
            missing = [n for n, v in (("LOYALTY_SECRET_KEY", secret_key),) if not v]
            if missing:
                raise SettingsError(
                    "LOYALTY_SECRET_KEY is required with PostgreSQL: it encrypts shop "
                    "credentials at rest. Generate one with: python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))'"
                )
        if secret_key and len(secret_key) < 16:
            raise SettingsError("LOYALTY_SECRET_KEY must be at least 16 characters")
        if not secret_key:
            if not (instance / "secret.key").exists():
                logger.warning(
                    "LOYALTY_SECRET_KEY is not set: generated a development key, kept in %s. "
                    "Set LOYALTY_SECRET_KEY for any real deployment.",
                    instance / "secret.key",
                )
            secret_key = ensure_instance_secret(instance, "secret.key")
        if not shopify_secret and development:
            # Lets the embedded demo sign and verify simulated Shopify webhooks.
            shopify_secret = ensure_instance_secret(instance, "shopify-dev-secret")
        try:
            max_bytes = int(env.get("LOYALTY_MAX_WEBHOOK_BYTES") or 2 * 1024 * 1024)
        except ValueError as exc:
            raise SettingsError("LOYALTY_MAX_WEBHOOK_BYTES must be an integer") from exc
        try:
            proxies = int(env.get("LOYALTY_TRUSTED_PROXIES") or 0)
        except ValueError as exc:
            raise SettingsError("LOYALTY_TRUSTED_PROXIES must be a whole number") from exc
        if proxies < 0:
            raise SettingsError("LOYALTY_TRUSTED_PROXIES must be 0 or more")
        try:
            reconcile_minutes = int(env.get("LOYALTY_RECONCILE_MINUTES") or 60)
        except ValueError as exc:
            raise SettingsError("LOYALTY_RECONCILE_MINUTES must be an integer") from exc
        try:
            summary_cache_s = float(env.get("LOYALTY_SUMMARY_CACHE_SECONDS") or 30)
        except ValueError as exc:
            raise SettingsError("LOYALTY_SUMMARY_CACHE_SECONDS must be a number") from exc
        if summary_cache_s < 0:
            raise SettingsError("LOYALTY_SUMMARY_CACHE_SECONDS must be 0 or more")
        return cls(
            database_url=database_url,
            redis_url=env.get("REDIS_URL") or None,
            secret_key=secret_key,
            # Development gets a client id so the demo's app proxy and OAuth work offline.
            shopify_api_key=env.get("SHOPIFY_API_KEY") or ("dev-client-id" if development else ""),
            shopify_api_secret=shopify_secret,
            shopify_old_api_secret=env.get("SHOPIFY_OLD_API_SECRET") or None,
            instance_path=instance,
            max_webhook_bytes=max_bytes,
            reconcile_minutes=max(reconcile_minutes, 0),
            summary_cache_seconds=summary_cache_s,
            public_url=env.get("LOYALTY_PUBLIC_URL") or "http://127.0.0.1:5000",
            shopify_scopes=env.get("SHOPIFY_SCOPES") or Settings.shopify_scopes,
            sandbox_url=(env.get("LOYALTY_SANDBOX_URL") or None) if development else None,
            storefront_rate_per_shopper=env.get("LOYALTY_RATE_PER_SHOPPER")
            or Settings.storefront_rate_per_shopper,
            storefront_rate_per_address=env.get("LOYALTY_RATE_PER_ADDRESS")
            or Settings.storefront_rate_per_address,
            public_rate=env.get("LOYALTY_RATE_PUBLIC") or Settings.public_rate,
            trusted_proxies=proxies,
            development=development,
            smtp_url=env.get("SMTP_URL") or None,
            metrics_token=env.get("LOYALTY_METRICS_TOKEN") or None,
            smtp_starttls=_bool(env.get("SMTP_STARTTLS"), default=False),
            email_from=env.get("LOYALTY_EMAIL_FROM") or Settings.email_from,
            webhook_allow_private=(
                _bool(env.get("LOYALTY_WEBHOOKS_ALLOW_PRIVATE"), default=development)
                if env.get("LOYALTY_WEBHOOKS_ALLOW_PRIVATE") is not None
                else None
            ),
        )

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def ensure_instance_secret(instance: Path, name: str) -> str:
    """Read a generated secret from the instance folder, creating it (mode 0600) if needed."""
    path = instance / name
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value
