"""The `loyalty` command: run the server, workers and scheduler; manage shops and receipts."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click

from plugin_server.bootstrap import Container, bootstrap
from plugin_server.domain.errors import LoyaltyError
from plugin_server.settings import Settings, SettingsError

DEMO_DOMAIN = "demo-store.myshopify.com"


def _container() -> Container:
    try:
        return bootstrap(Settings.from_env())
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
def main(verbose: bool) -> None:
    """Loyalty points and referrals for Shopify and WooCommerce stores."""
    from plugin_server.observability import configure_logging

    # Like logging.basicConfig: an embedding program (or pytest) that set up logging keeps it.
    if not logging.getLogger().handlers:
        configure_logging(
            level=logging.INFO if verbose else logging.WARNING,
            json_lines=Settings.log_json_from_env(),
        )


# --- database -------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations (default: all)."""
    from plugin_server.db import migrate

    migrate.upgrade(_settings().database_url, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' removes everything)."""
    from plugin_server.db import migrate

    migrate.downgrade(_settings().database_url, revision)
    click.echo(f"database at {revision}")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


# --- shops ----------------------------------------------------------------------------


@main.group()
def shops() -> None:
    """Shops (one per store that installed the app)."""


@shops.command("create")
@click.option("--platform", type=click.Choice(["shopify", "woocommerce"]), required=True)
@click.option("--domain", required=True, help="NAME.myshopify.com, or the WooCommerce store URL.")
@click.option("--access-token", help="Shopify Admin API access token.")
@click.option("--webhook-secret", help="WooCommerce webhook secret (required for WooCommerce).")
@click.option("--consumer-key", help="WooCommerce REST consumer key.")
@click.option("--consumer-secret", help="WooCommerce REST consumer secret.")
@click.option("--api-base-url", help="Send this shop's API calls here (a local sandbox).")
def shops_create(
    platform: str,
    domain: str,
    access_token: str | None,
    webhook_secret: str | None,
    consumer_key: str | None,
    consumer_secret: str | None,
    api_base_url: str | None,
) -> None:
    """Register a shop and print it with its admin API key (shown only once)."""
    from plugin_server.services import shops as shop_service

    c = _container()
    try:
        created = shop_service.create_shop(
            c.uow(),
            c.cipher,
            platform=platform,
            domain=domain,
            now=c.clock(),
            access_token=access_token,
            webhook_secret=webhook_secret,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            api_base_url=api_base_url,
        )
    except LoyaltyError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    _echo_json(created.as_dict())


@shops.command("list")
def shops_list() -> None:
    """List shops (without secrets)."""
    from plugin_server.services import shops as shop_service

    _echo_json(shop_service.list_shops(_container().uow()))


@shops.command("rotate-key")
@click.argument("shop_id", type=int)
def shops_rotate_key(shop_id: int) -> None:
    """Issue a new admin API key for a shop; the old one stops working."""
    from plugin_server.services import shops as shop_service

    try:
        key = shop_service.rotate_api_key(_container().uow(), shop_id)
    except LoyaltyError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    _echo_json({"id": shop_id, "api_key": key})


# --- receipts -------------------------------------------------------------------------


@main.group()
def receipts() -> None:
    """Stored webhook deliveries."""


@receipts.command("list")
@click.option("--failed", is_flag=True, help="Only receipts that could not be applied.")
@click.option("--status", type=click.Choice(["pending", "processed", "ignored", "failed"]))
@click.option("--shop-id", type=int)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def receipts_list(failed: bool, status: str | None, shop_id: int | None, limit: int) -> None:
    """List receipts, newest first."""
    from plugin_server.services import webhook_receipts

    _echo_json(
        webhook_receipts.list_receipts(
            _container().uow(), status="failed" if failed else status, shop_id=shop_id, limit=limit
        )
    )


@receipts.command("replay")
@click.argument("receipt_id", type=int)
def receipts_replay(receipt_id: int) -> None:
    """Apply a receipt again (safe: the ledger never applies the same fact twice)."""
    from plugin_server import jobs
    from plugin_server.services import webhook_receipts

    c = _container()
    try:
        webhook_receipts.reset_for_replay(c.uow(), receipt_id, now=c.clock())
    except LoyaltyError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    if c.redis is not None:
        c.dispatcher.wake()
        _echo_json({"receipt_id": receipt_id, "status": "queued"})
    else:
        jobs.drain(c)
        _echo_json(webhook_receipts.receipt_summary(c.uow(), receipt_id))


# --- processes ------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve(host: str, port: int) -> None:
    """Run the web server in this process (embedded default; use gunicorn in production)."""
    from plugin_server import create_app

    c = _container()
    if c.redis is None:
        _start_ticker(c)
    create_app(container=c).run(host=host, port=port, threaded=True)


HEALTH_PORT = click.option(
    "--health-port",
    type=int,
    envvar="LOYALTY_HEALTH_PORT",
    help="Serve /healthz, /readyz and /metrics on this port [env: LOYALTY_HEALTH_PORT].",
)
# RQ beats between jobs every worker_ttl - 15 s (and while a job runs): 60 s makes a
# stalled worker visible to /healthz within minutes instead of RQ's default 7.
WORKER_TTL_S = 60


@main.command()
@click.option("--burst", is_flag=True, help="Exit once the queues are empty.")
@HEALTH_PORT
def worker(burst: bool, health_port: int | None) -> None:
    """Run an RQ worker for the loyalty queues (needs REDIS_URL)."""
    from rq import Queue, SimpleWorker

    from plugin_server import jobs
    from plugin_server.process_server import Heartbeat, serve_in_background

    c = _container()
    if c.redis is None:
        raise click.ClickException(
            "REDIS_URL is not set: without it jobs run inside the web "
            "process and no worker is needed."
        )
    # The jobs run in this process and take this container: jobs.py builds none itself.
    jobs.set_worker_container(c)
    # SimpleWorker runs jobs without forking: each job is one short database transaction,
    # and fork-per-job would cap a worker near 50 jobs/s on a small machine.
    queues = [Queue(name, connection=c.redis) for name in jobs.QUEUES]
    heartbeat = Heartbeat()

    class _Worker(SimpleWorker):
        def heartbeat(self, *args: Any, **kwargs: Any) -> None:
            super().heartbeat(*args, **kwargs)
            heartbeat.beat()

    if health_port is not None:
        serve_in_background(
            c, heartbeat, port=health_port, stale_after_s=WORKER_TTL_S * 3, role="worker"
        )
    _Worker(queues, connection=c.redis, worker_ttl=WORKER_TTL_S).work(
        burst=burst, with_scheduler=True
    )


@main.command()
@click.option("--interval", default=10, show_default=True, help="Seconds between passes.")
@HEALTH_PORT
def scheduler(interval: int, health_port: int | None) -> None:
    """Run due work forever: retries, receipts of crashed drains, lost wake-ups."""
    from plugin_server import jobs
    from plugin_server.process_server import Heartbeat, serve_in_background

    c = _container()
    heartbeat = Heartbeat()
    if health_port is not None:
        # A pass may take minutes at a million members (tiers, expiry): stalled means
        # no pass has started or ended for 15 minutes.
        serve_in_background(c, heartbeat, port=health_port, stale_after_s=900, role="scheduler")
    while True:
        heartbeat.beat()
        try:
            jobs.tick(c)
        except Exception:
            logging.getLogger(__name__).exception("scheduler tick failed")
        heartbeat.beat()
        time.sleep(interval)


@main.command()
def tick() -> None:
    """Run due work once (the embedded default's scheduler)."""
    from plugin_server import jobs

    _echo_json(jobs.tick(_container()))


@main.command()
@click.option("--shop", "shop_id", type=int, help="Only this shop (default: every shop).")
@click.option(
    "--settle-minutes",
    default=15,
    show_default=True,
    help="How long a webhook or a code may still be in flight before it counts as stuck.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check(shop_id: int | None, settle_minutes: int, as_json: bool) -> None:
    """Check the invariants that must hold after any crash or outage; exit 1 if one fails.

    Orders credited once, campaign bonuses credited once, redemptions balanced, referrals
    rewarded once, tiers matching their history; and, after the settle time, no webhook
    unapplied and no code still pending. Read-only: safe on a live database."""
    from datetime import timedelta

    from plugin_server.services import integrity

    c = _container()
    report = integrity.check(
        c.uow(), now=c.clock(), shop_id=shop_id, settle=timedelta(minutes=settle_minutes)
    )
    if as_json:
        _echo_json(report.as_dict())
    else:
        for f in report.findings:
            mark = "ok  " if f.broken == 0 else ("FAIL" if f.severity == "error" else "STUCK")
            click.echo(f"{mark:5} {f.name:<32} {f.checked:>9,} checked  {f.broken:>6,} broken")
            if f.broken:
                click.echo(f"      {f.rule}; e.g. ids {', '.join(map(str, f.examples))}")
        click.echo("all invariants hold" if report.ok else "invariants broken")
    if not report.ok:
        sys.exit(1)


@main.command()
@click.option("--shop", "shop_id", type=int, help="Only this shop (default: every shop).")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]),
    help="Read orders updated since then (UTC unless an offset is given); default: since "
    "the shop's last poll, less an hour's overlap (the last 24 hours on the first).",
)
def reconcile(shop_id: int | None, since: datetime | None) -> None:
    """Find orders the webhooks missed and apply them once; repair missing or disabled webhooks.

    Polls each shop's recently updated orders now, in this process, and prints per shop what
    it found (orders, new order states) and applied (ledger entries: only what no webhook had
    brought), and which webhooks it re-created or re-activated."""
    from plugin_server import jobs
    from plugin_server.platforms.base import PlatformError
    from plugin_server.services import order_sync

    c = _container()
    when = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since
    shop_ids = [shop_id] if shop_id is not None else order_sync.readable_shops(c.uow())
    results: list[dict[str, object]] = []
    failed = False
    for sid in shop_ids:
        try:
            results.append(jobs.run_reconcile(c, sid, since=when))
        except (PlatformError, LoyaltyError) as exc:
            failed = True
            results.append({"shop_id": sid, "error": f"{exc.code}: {exc}"})
    _echo_json(results)
    if failed:
        sys.exit(1)


@main.command()
@click.option("--shop", "shop_id", type=int, required=True, help="The shop's id.")
def backfill(shop_id: int) -> None:
    """Read the shop's whole order history into its order history (for scoring), here and
    now: resumes from where an interrupted run got to. Orders placed before the install earn
    nothing; later ones missing from the ledger are applied as their webhooks would be."""
    from plugin_server import jobs
    from plugin_server.platforms.base import PlatformError
    from plugin_server.services import order_sync

    c = _container()
    try:
        order_sync.start_backfill(c.uow(), shop_id, now=c.clock())
        progress = jobs.run_backfill(c, shop_id)
    except (PlatformError, LoyaltyError) as exc:
        _echo_json(order_sync.backfill_progress(c.uow(), shop_id))
        raise click.ClickException(f"{exc.code}: {exc} (run it again to resume)") from exc
    _echo_json(progress)


@main.group()
def points() -> None:
    """Points across members: expiry."""


@points.command("expire")
@click.option("--shop", "shop_id", type=int, help="Only this shop (default: every shop).")
@click.option("--dry-run", is_flag=True, help="Count what would expire; write nothing.")
@click.option("--chunk", default=5000, show_default=True, help="Members per transaction.")
def points_expire(shop_id: int | None, dry_run: bool, chunk: int) -> None:
    """Expire points due under each shop's policy now (the scheduler does this hourly).

    Safe to run at any time and as often as you like: points never expire twice."""
    from plugin_server.services import expiry

    c = _container()
    run = expiry.expire_all(c.uow, now=c.clock(), shop_id=shop_id, chunk=chunk, dry_run=dry_run)
    _echo_json({**run.as_dict(), "dry_run": dry_run})


@main.group()
def emails() -> None:
    """Shopper emails: the outbox, sending what is due, previews."""


@emails.command("list")
@click.option("--shop", "shop_id", type=int, required=True, help="The shop's id.")
@click.option("--status", type=click.Choice(["pending", "sending", "sent", "failed", "skipped"]))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
def emails_list(shop_id: int, status: str | None, limit: int) -> None:
    """The shop's emails, newest first (without SMTP_URL they stay pending here)."""
    from plugin_server.services import emails as service

    c = _container()
    _echo_json(service.list_messages(c.uow(), shop_id, status=status, limit=limit))


@emails.command("send-due")
@click.option("--limit", type=click.IntRange(1, 100_000), help="At most this many.")
def emails_send_due(limit: int | None) -> None:
    """Send the emails that are due through SMTP_URL (retries included)."""
    from plugin_server import jobs
    from plugin_server.services import emails as service

    c = _container()
    if not c.settings.smtp_url:
        pending = service.count_pending(c.uow())
        raise click.ClickException(
            f"SMTP_URL is not set: {pending} pending email(s) kept in the outbox "
            "(see `loyalty emails list --shop ID`)"
        )
    _echo_json(jobs.run_emails(c, limit=limit))


@emails.command("preview")
@click.option("--shop", "shop_id", type=int, required=True, help="The shop's id.")
@click.option("--locale", type=click.Choice(["en", "vi", "th"]), help="Default: the shop's.")
@click.argument(
    "email_type",
    metavar="TYPE",
    type=click.Choice(
        [
            "points_earned",
            "reward_unlocked",
            "tier_changed",
            "referral_rewarded",
            "points_expiring",
            "birthday_bonus",
        ]
    ),
)
def emails_preview(shop_id: int, locale: str | None, email_type: str) -> None:
    """Render a template with sample data."""
    from plugin_server.domain.errors import LoyaltyError
    from plugin_server.services import emails as service

    c = _container()
    try:
        out = service.preview(
            c.uow(),
            shop_id,
            email_type,
            locale=locale,
            draft={},
            unsubscribe_url=c.settings.public_url.rstrip("/") + "/email/unsubscribe?token=preview",
        )
    except LoyaltyError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    click.echo(f"Subject: {out['subject']}\n\n{out['body_text']}")
    if out["body_html"]:
        click.echo(f"\n--- HTML ---\n{out['body_html']}")


@main.group()
def analytics() -> None:
    """Daily aggregates behind the analytics endpoints: rebuild them, or show figures."""


@analytics.command("rebuild")
@click.option("--shop", "shop_id", type=int, help="Only this shop (default: every shop).")
def analytics_rebuild(shop_id: int | None) -> None:
    """Recompute every day's aggregates from the ledger and orders, from scratch. Gives
    the same rows as the scheduler's incremental builds; safe to run at any time."""
    from plugin_server.services import analytics as service

    c = _container()
    try:
        built = service.build_all(c.uow, now=c.clock(), rebuild=True, shop_id=shop_id)
    except LoyaltyError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    _echo_json({"shops": len(built)})


@analytics.command("show")
@click.option("--shop", "shop_id", type=int, required=True, help="The shop's id.")
@click.option(
    "--from", "raw_from", help="First UTC day, YYYY-MM-DD (default: 29 days before --to)."
)
@click.option("--to", "raw_to", help="Last UTC day, YYYY-MM-DD (default: today).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of JSON.")
def analytics_show(shop_id: int, raw_from: str | None, raw_to: str | None, as_csv: bool) -> None:
    """The overview figures (as GET /api/v1/analytics/overview), with their definitions."""
    from plugin_server.services import analytics as service

    c = _container()
    try:
        r = service.parse_range(raw_from, raw_to, today=c.clock().date())
        out = service.overview(c.uow(), shop_id, r)
    except LoyaltyError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    if as_csv:
        click.echo(service.to_csv(out), nl=False)
    else:
        _echo_json(out)


@main.group()
def scores() -> None:
    """Customer scores (RFM) and segments: recompute them, or show one member's."""


@scores.command("rebuild")
@click.option("--shop", "shop_id", type=int, help="Only this shop (default: every active shop).")
def scores_rebuild(shop_id: int | None) -> None:
    """Recompute every member's scores and segment now (the scheduler does it daily);
    safe to run at any time."""
    from plugin_server.services import scores as service

    c = _container()
    try:
        done = service.recompute_all(c.uow, now=c.clock(), shop_id=shop_id)
    except LoyaltyError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    _echo_json({"shops": {str(k): v for k, v in done.items()}})


@scores.command("show")
@click.option("--shop", "shop_id", type=int, required=True, help="The shop's id.")
@click.argument("customer")
def scores_show(shop_id: int, customer: str) -> None:
    """A member's scores as last computed (CUSTOMER: the platform's customer id, or
    guest:<email>); "scores": null until computed."""
    from plugin_server.services import scores as service

    c = _container()
    try:
        out = service.show(c.uow(), shop_id, customer)
    except LoyaltyError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    _echo_json(out)


@main.group()
def referrals() -> None:
    """Review referrals held by the fraud checks, and see how referrals stand."""


SHOP_OPTION = click.option("--shop", "shop_id", type=int, required=True, help="The shop's id.")


@referrals.command("list")
@SHOP_OPTION
@click.option(
    "--status",
    type=click.Choice(["claimed", "pending", "flagged", "rewarded", "voided", "rejected"]),
    help="e.g. flagged: waiting for your review.",
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
def referrals_list(shop_id: int, status: str | None, limit: int) -> None:
    """Referrals, newest first."""
    from plugin_server.services import referrals as service

    c = _container()
    _echo_json(
        service.list_referrals(
            c.uow(), shop_id, status=status, advocate_ref=None, before=None, limit=limit
        )
    )


def _review_command(shop_id: int, referral_id: int, note: str | None, *, approve: bool) -> None:
    from plugin_server import redemption_flow

    c = _container()
    try:
        out = redemption_flow.review_referral(c, shop_id, referral_id, approve=approve, note=note)
    except LoyaltyError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    _echo_json(out)


@referrals.command("approve")
@SHOP_OPTION
@click.argument("referral_id", type=int)
@click.option("--note", help="Why (kept with the referral).")
def referrals_approve(shop_id: int, referral_id: int, note: str | None) -> None:
    """Release a flagged referral (the advocate is paid once its period has passed)."""
    _review_command(shop_id, referral_id, note, approve=True)


@referrals.command("reject")
@SHOP_OPTION
@click.argument("referral_id", type=int)
@click.option("--note", help="Why (kept with the referral).")
def referrals_reject(shop_id: int, referral_id: int, note: str | None) -> None:
    """Refuse a referral that has not been rewarded: the advocate is not paid."""
    _review_command(shop_id, referral_id, note, approve=False)


@main.group()
def collections() -> None:
    """Collections (Shopify) and categories (WooCommerce) that campaigns and exclusions name."""


@collections.command("list")
@SHOP_OPTION
def collections_list(shop_id: int) -> None:
    """Each collection the shop's rules named, with its sync state and product count."""
    from plugin_server.services import collections as service

    _echo_json(service.list_collections(_container().uow(), shop_id))


@collections.command("sync")
@SHOP_OPTION
@click.option(
    "--collection",
    "refs",
    multiple=True,
    help="Only this collection/category id (repeatable; default: every one live rules name).",
)
def collections_sync(shop_id: int, refs: tuple[str, ...]) -> None:
    """Read collections' products from the store now, page by page, and print their state.

    Safe to run at any time: a failure keeps the products of the last successful sync and
    records its error; the scheduler also refreshes them every few hours."""
    from plugin_server.platforms.base import PlatformError
    from plugin_server.services import collections as service

    c = _container()
    wanted = list(refs) or service.live_refs(c.uow(), shop_id, now=c.clock())
    out = []
    try:
        for ref in wanted:
            out.append(
                service.sync_collection(
                    c.uow,
                    c.platform_clients(),
                    shop_id,
                    ref,
                    credentials=lambda shop_id: _credentials(c, shop_id),
                    now=c.clock,
                )
            )
    except (LoyaltyError, PlatformError) as exc:
        raise click.ClickException(f"{exc.code}: {exc}") from exc
    _echo_json(out)
    if any(item is None or item["status"] != "synced" for item in out):
        sys.exit(1)


def _credentials(c: Container, shop_id: int) -> Any:
    from plugin_server import jobs

    return jobs.shop_credentials(c, shop_id)


@referrals.command("report")
@SHOP_OPTION
def referrals_report(shop_id: int) -> None:
    """Counts by status, flagged/approved/rejected, and what advocates were paid."""
    from plugin_server.services import referrals as service

    c = _container()
    _echo_json(service.report(c.uow(), shop_id, since=None, until=None))


@main.command("import")
@click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False
)
@SHOP_OPTION
@click.option("--dry-run", is_flag=True, help="Check every row and list problems; write nothing.")
@click.option(
    "--layout",
    type=click.Choice(["loyalty", "smile", "loyaltylion"]),
    help="Default: detected from the header row.",
)
@click.option(
    "--mode",
    type=click.Choice(["add", "reset"]),
    default="add",
    show_default=True,
    help="add points, or reset each member's spendable balance to the file's value.",
)
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows, leave problem rows out.")
@click.option("--name", help="Named in the ledger entries (default: the file's name).")
@click.option("--resume", "resume_id", type=int, help="Resume this import instead (no FILE).")
@click.option("--batch", default=1000, show_default=True, help="Rows per transaction.")
def import_command(
    file: Path | None,
    shop_id: int,
    dry_run: bool,
    layout: str | None,
    mode: str,
    skip_invalid: bool,
    name: str | None,
    resume_id: int | None,
    batch: int,
) -> None:
    """Import members and points from a CSV FILE (runs here, committed in batches).

    Re-running the same file credits nothing twice; a stopped import resumes with
    --resume ID from its last committed line."""
    from plugin_server.domain.imports import Layout, Mode
    from plugin_server.services import imports

    c = _container()
    try:
        if resume_id is not None:
            _echo_json(
                imports.run_import(c.uow, shop_id, resume_id, clock=c.clock, batch_size=batch)
            )
            return
        if file is None:
            raise click.UsageError("give a FILE, or --resume ID")
        content = file.read_bytes()
        chosen = Layout(layout) if layout else None
        if dry_run:
            _echo_json(imports.dry_run(c.uow(), shop_id, content, layout=chosen, mode=Mode(mode)))
            return
        out, _ = imports.create_import(
            c.uow(),
            shop_id,
            content,
            name=name or file.name,
            layout=chosen,
            mode=Mode(mode),
            skip_invalid=skip_invalid,
            now=c.clock(),
        )
        _echo_json(imports.run_import(c.uow, shop_id, out["id"], clock=c.clock, batch_size=batch))
    except LoyaltyError as exc:
        problems = getattr(exc, "problems", [])
        for p in problems:
            click.echo(f"line {p['line']}: {p['code']}: {p['message']}", err=True)
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc


@main.command("export")
@click.argument("what", type=click.Choice(["members", "balances", "ledger"]))
@SHOP_OPTION
@click.option("--since", type=click.DateTime(), help="Ledger: entries created at or after (UTC).")
@click.option("--until", type=click.DateTime(), help="Ledger: entries created before (UTC).")
def export_command(what: str, shop_id: int, since: datetime | None, until: datetime | None) -> None:
    """Write members, balances or the ledger as CSV to standard output."""
    from plugin_server.services import exports

    c = _container()
    if what == "ledger":
        chunks = exports.ledger_csv(
            c.uow,
            shop_id,
            since=since.replace(tzinfo=UTC) if since else None,
            until=until.replace(tzinfo=UTC) if until else None,
        )
    else:
        chunks = exports.members_csv(
            c.uow, shop_id, now=c.clock(), balances_only=what == "balances"
        )
    for chunk in chunks:
        sys.stdout.write(chunk)
    sys.stdout.flush()


# --- outbound webhooks ------------------------------------------------------------------


@main.group()
def webhooks() -> None:
    """Signed webhooks to merchants' own systems: endpoints, the delivery log, replays."""


@webhooks.command("list")
@SHOP_OPTION
def webhooks_list(shop_id: int) -> None:
    """The shop's webhook endpoints (secrets are never shown)."""
    from plugin_server.services import outbound_webhooks

    c = _container()
    _echo_json(outbound_webhooks.list_endpoints(c.uow(), shop_id, now=c.clock()))


@webhooks.command("deliveries")
@SHOP_OPTION
@click.option("--endpoint", "endpoint_id", type=int, help="Only this endpoint's.")
@click.option("--status", type=click.Choice(["pending", "delivering", "succeeded", "failed"]))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
def webhooks_deliveries(
    shop_id: int, endpoint_id: int | None, status: str | None, limit: int
) -> None:
    """The delivery log, newest first."""
    from plugin_server.services import outbound_webhooks

    c = _container()
    _echo_json(
        outbound_webhooks.list_deliveries(
            c.uow(), shop_id, endpoint_id=endpoint_id, status=status, limit=limit
        )
    )


def _await_delivery(c: Container, shop_id: int, delivery_id: int, wait: float) -> None:
    """Print the delivery once it has left `pending` (or after `wait` seconds)."""
    from plugin_server import jobs
    from plugin_server.services import outbound_webhooks

    deadline = time.monotonic() + wait
    while True:
        if isinstance(c.dispatcher, jobs.InlineDispatcher):
            c.dispatcher.join_webhooks(max(0.0, deadline - time.monotonic()))
        found = outbound_webhooks.get_delivery(c.uow(), shop_id, delivery_id)
        if found["status"] not in ("pending", "delivering") or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    found.pop("payload", None)
    _echo_json(found)
    if found["status"] == "failed":
        sys.exit(1)


@webhooks.command("ping")
@SHOP_OPTION
@click.argument("endpoint_id", type=int)
@click.option("--wait", default=15.0, show_default=True, help="Seconds to wait for the answer.")
def webhooks_ping(shop_id: int, endpoint_id: int, wait: float) -> None:
    """Send a test event to an endpoint and print how it went."""
    from plugin_server.services import outbound_webhooks

    c = _container()
    try:
        queued = outbound_webhooks.ping(c.uow(), shop_id, endpoint_id, now=c.clock())
    except LoyaltyError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    _await_delivery(c, shop_id, queued["id"], wait)


@webhooks.command("replay")
@SHOP_OPTION
@click.argument("delivery_id", type=int)
@click.option("--wait", default=15.0, show_default=True, help="Seconds to wait for the answer.")
def webhooks_replay(shop_id: int, delivery_id: int, wait: float) -> None:
    """Send a delivery again (same body and delivery id, marked as a redelivery)."""
    from plugin_server.services import outbound_webhooks

    c = _container()
    try:
        outbound_webhooks.replay(c.uow(), shop_id, delivery_id, now=c.clock())
    except LoyaltyError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    _await_delivery(c, shop_id, delivery_id, wait)


@webhooks.command("receive")
@click.option("--secret", envvar="LOYALTY_WEBHOOK_SECRET", required=True, help="whsec_...")
@click.option("--port", default=8765, show_default=True)
def webhooks_receive(secret: str, port: int) -> None:
    """A tiny receiver on 127.0.0.1 that verifies signatures and prints what arrives (to
    try endpoints out; see README)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from plugin_server.bootstrap import utc_now
    from plugin_server.domain import outbound

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ok = outbound.verify(
                secret,
                body,
                self.headers.get(outbound.SIGNATURE_HEADER, ""),
                self.headers.get(outbound.TIMESTAMP_HEADER, ""),
                now=utc_now(),
            )
            self.send_response(204 if ok else 401)
            self.end_headers()
            verdict = "verified" if ok else "BAD SIGNATURE"
            click.echo(
                f"{verdict} {self.headers.get(outbound.TOPIC_HEADER)} "
                f"delivery={self.headers.get(outbound.DELIVERY_HEADER)} "
                f"attempt={self.headers.get(outbound.ATTEMPT_HEADER)} "
                f"redelivery={self.headers.get(outbound.REDELIVERY_HEADER) or 'no'}"
            )
            click.echo(body.decode(errors="replace"))

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the lines above say what matters."""

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    click.echo(f"listening on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _start_ticker(c: Container, interval: float = 30) -> None:
    """The embedded default has no scheduler process: tick from a thread of the server."""
    import threading

    from plugin_server import jobs

    def loop() -> None:
        while True:
            time.sleep(interval)
            try:
                jobs.tick(c)
            except Exception:
                logging.getLogger(__name__).exception("tick failed")

    threading.Thread(target=loop, name="loyalty-ticker", daemon=True).start()


@main.command()
@click.option("--port", default=8787, show_default=True)
@click.option(
    "--shopify-shop",
    "shops",
    multiple=True,
    metavar="DOMAIN=TOKEN",
    help="Serve this shop's Admin API, accepting this access token (repeatable).",
)
@click.option(
    "--shopify-app",
    "apps",
    multiple=True,
    metavar="CLIENT_ID=SECRET",
    help="Accept OAuth for this app (repeatable); defaults to SHOPIFY_API_KEY/SECRET.",
)
@click.option(
    "--woo-store",
    "woo_stores",
    multiple=True,
    metavar="HOST=CONSUMER_KEY:SECRET",
    help="Serve a WooCommerce store at /woo/HOST accepting these REST keys (repeatable).",
)
@click.option(
    "--smtp-port",
    default=8025,
    show_default=True,
    help="Also run an SMTP sink on 127.0.0.1 that keeps every email (0: none); set "
    "SMTP_URL=smtp://127.0.0.1:PORT for the server and read them at /_sandbox/emails.",
)
def sandbox(
    port: int,
    shops: tuple[str, ...],
    apps: tuple[str, ...],
    woo_stores: tuple[str, ...],
    smtp_port: int,
) -> None:
    """Run the local platform sandbox on 127.0.0.1 (development and tests only)."""
    from plugin_server.sandbox.server import Sandbox, create_sandbox_app
    from plugin_server.sandbox.smtp_sink import SmtpSink

    state = Sandbox()
    if smtp_port:
        state.smtp = SmtpSink(smtp_port).start()
    for spec in shops:
        domain, _, token = spec.partition("=")
        if not domain or not token:
            raise click.BadParameter("use DOMAIN=TOKEN", param_hint="--shopify-shop")
        state.shopify_shop(domain, access_token=token)
    for spec in apps:
        client_id, _, secret = spec.partition("=")
        if not client_id or not secret:
            raise click.BadParameter("use CLIENT_ID=SECRET", param_hint="--shopify-app")
        state.shopify_apps[client_id] = secret
    settings = _settings()
    if not apps and settings.shopify_api_key and settings.shopify_api_secret:
        state.shopify_apps[settings.shopify_api_key] = settings.shopify_api_secret
    for spec in woo_stores:
        host, _, keys = spec.partition("=")
        key, _, secret = keys.partition(":")
        if not host or not key or not secret:
            raise click.BadParameter("use HOST=CONSUMER_KEY:SECRET", param_hint="--woo-store")
        state.woo_store(host).add_key(key, secret)
    base = f"http://127.0.0.1:{port}"
    click.echo(f"sandbox on {base}")
    for domain in state.shopify:
        click.echo(f"  Shopify shop {domain}: --api-base-url {base}")
    for host in state.woocommerce:
        click.echo(f"  WooCommerce store: {base}/woo/{host}")
    if state.smtp is not None:
        click.echo(f"  SMTP sink: SMTP_URL={state.smtp.url}  (emails at {base}/_sandbox/emails)")
    try:
        create_sandbox_app(state).run(host="127.0.0.1", port=port, threaded=True)
    finally:
        if state.smtp is not None:
            state.smtp.stop()


@main.command("shopify-config")
@click.option(
    "--app-url", required=True, help="Where this app is served, e.g. https://loyalty.example.com"
)
@click.option("--client-id", envvar="SHOPIFY_API_KEY", required=True, help="The app's client id.")
def shopify_config(app_url: str, client_id: str) -> None:
    """Print shopify.app.toml for this deployment (app proxy, webhooks, privacy topics)."""
    from plugin_server.platforms.templates import render_shopify_app_toml

    if not app_url.startswith("https://"):
        raise click.BadParameter("Shopify requires an https app URL", param_hint="--app-url")
    click.echo(render_shopify_app_toml(app_url=app_url, client_id=client_id), nl=False)


# --- widget ---------------------------------------------------------------------------


@main.group()
def widget() -> None:
    """The storefront widget's files."""


@widget.command("build-extension")
@click.option(
    "--extension-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The theme app extension to write into, e.g. your Shopify app's "
    "extensions/loyalty-widget (default: storefront_widget/shopify_extension/loyalty-widget).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; fail listing the served files or assets that are stale.",
)
def widget_build_extension(extension_dir: Path | None, check: bool) -> None:
    """Minify storefront_widget/src into static/ (what the app serves), and copy those into
    the Shopify theme app extension's assets/. Edit only src/."""
    from storefront_widget import extension

    target = extension_dir or extension.EXTENSION
    if not target.is_dir():
        # An installed (non-editable) package has the widget files but not the extension.
        raise click.ClickException(f"no extension at {target}: pass --extension-dir")
    if check:
        stale = extension.stale_static() + extension.stale_assets(target)
        if stale:
            listing = "\n".join(f"  {path}" for path in stale)
            raise click.ClickException(
                f"{len(stale)} widget file(s) differ from what storefront_widget/src builds; "
                f"run `{extension.BUILD_COMMAND}`:\n{listing}"
            )
        click.echo(f"{target / 'assets'} matches storefront_widget/static")
        return
    written = extension.build_static() + extension.build_assets(target)
    for path in written:
        click.echo(f"wrote {path}")
    if not written:
        click.echo(f"{target / 'assets'} already matches storefront_widget/static")


# --- demo -----------------------------------------------------------------------------


@main.command()
@click.option("--port", default=5000, show_default=True)
@click.option("--no-serve", is_flag=True, help="Set up only; do not start the server.")
@click.option("--sandbox-port", default=8787, show_default=True, help="The platform sandbox.")
def demo(port: int, no_serve: bool, sandbox_port: int) -> None:
    """Set up the embedded default with a demo shop and shopper, print what to try, and
    serve, with the platform sandbox as the shop's Shopify (Admin API and storefront)."""
    from plugin_server import demo as demo_shop
    from plugin_server.db import migrate

    settings = _settings()
    migrate.upgrade(settings.database_url)
    c = bootstrap(settings)
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    shop = demo_shop.set_up(c, sandbox_url=sandbox_url)
    base = f"http://127.0.0.1:{port}"
    url_opt = "" if port == 5000 else f" --url {base}"
    auth = f"-H 'Authorization: Bearer {shop.api_key}'"
    from plugin_server.api.admin_app.auth import dev_sign_in_path

    admin = base + dev_sign_in_path(settings.secret_key, demo_shop.DEMO_DOMAIN)
    click.echo(f"""
Loyalty is set up on the embedded default (SQLite in {settings.instance_path}).
Demo shop: {demo_shop.DEMO_DOMAIN}   admin API key: {shop.api_key}

Admin: {admin}
  The merchant's admin app, signed in as the demo shop (this link works in development
  only): analytics and suggestions, customers (search "ann", adjust her points), rewards,
  earning rules, tiers, referrals, the widget's look with a live preview, emails, webhooks
  and CSV import/export.

Open the demo storefront: {sandbox_url}/
  You are signed in as Ann, who has 179 points and is Silver (121 points from Gold).
  Open "Rewards" at the bottom right: see when her points expire, her tier and the ways to
  earn; redeem a reward, copy the code or apply it. Sign out to see what guests see.

Or use the API, in another terminal (same folder):
  .venv/bin/loyalty simulate order --email ann@example.com --total 59.90{url_opt}
      # 74 points (Silver earns 1.25x), pending for the shop's 14 days
  .venv/bin/loyalty simulate friend --email bao@example.com{url_opt}
      # Bao claims Ann's referral offer (10% off), then orders 80.00 with the code
  .venv/bin/loyalty simulate advance --days 15
      # the demo's clock moves on: the points are spendable, Ann is paid 200 for Bao
  .venv/bin/loyalty referrals list --shop {shop.shop_id}
  curl {auth} '{base}/api/v1/customers/{shop.customer_id}'
  curl {auth} -H 'Content-Type: application/json' -d '{{"reward_id": 1}}' \\
      {base}/api/v1/customers/{shop.customer_id}/redemptions
  curl {sandbox_url}/_sandbox/shopify/{demo_shop.DEMO_DOMAIN}/discounts   # codes at the store
  curl {auth} -H 'Content-Type: application/json' \
      -d '{{"rule": "product_review", "reference": "review-1"}}' \
      {base}/api/v1/customers/{shop.customer_id}/activities      # 20 points for a review
API description: {base}/openapi.json
""")
    if not no_serve:
        from plugin_server import create_app
        from plugin_server.sandbox.server import RunningSandbox, Sandbox
        from plugin_server.sandbox.storefront import StorefrontDemo

        state = Sandbox(
            storefront=StorefrontDemo(
                shop=demo_shop.DEMO_DOMAIN,
                app_url=base,
                client_secret=settings.shopify_api_secret,
                demo_customer_id=shop.customer_id,
            )
        )
        state.shopify_shop(demo_shop.DEMO_DOMAIN, access_token=shop.access_token)
        with RunningSandbox(state, port=sandbox_port):
            demo_shop.subscribe_webhooks(c, shop, sandbox_url=sandbox_url)
            if c.redis is None:
                _start_ticker(c)
            create_app(container=c).run(host="127.0.0.1", port=port, threaded=True)


@main.group()
def simulate() -> None:
    """Send realistic signed webhooks to a running server."""


def _decimal(value: str, name: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise click.BadParameter(f"{value!r} is not an amount", param_hint=name) from exc
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise click.BadParameter("use a positive amount with at most 2 decimals", param_hint=name)
    return amount


def _post(url: str, delivery: Any) -> dict[str, Any]:
    import requests

    try:
        response = requests.post(
            url.rstrip("/") + delivery.path,
            data=delivery.body,
            headers=delivery.headers,
            timeout=10,
        )
    except requests.ConnectionError as exc:
        raise click.ClickException(
            f"no server at {url}: start it with `loyalty demo` (or `loyalty serve`)"
        ) from exc
    if response.status_code != 200:
        raise click.ClickException(f"server answered {response.status_code}: {response.text}")
    result: dict[str, Any] = response.json()
    return result


def _demo_shop_id(c: Container) -> int:
    from plugin_server.db.repositories import shop_by_domain

    with c.session_factory() as session:
        shop = shop_by_domain(session, "shopify", DEMO_DOMAIN)
        if shop is None:
            raise click.ClickException(
                "no demo shop here: start it with `./scripts/demo` (or `loyalty demo`)"
            )
        return shop.id


def _wait_for_order(c: Container, shop_id: int, order_ref: str) -> None:
    """A worker may still be applying the delivery; give it a moment."""
    from sqlalchemy import select

    from plugin_server.db.models import Order

    for _ in range(50):
        with c.session_factory() as session:
            applied = session.scalar(
                select(Order.earned_points).where(
                    Order.shop_id == shop_id, Order.order_ref == order_ref
                )
            )
        if applied is not None:
            return
        time.sleep(0.1)


def _member_view(c: Container, email: str) -> list[dict[str, object]]:
    from plugin_server.services import customers

    return customers.customers_by_email(c.uow(), _demo_shop_id(c), email, now=c.clock())


def _customer_for(c: Container, shop_id: int, email: str) -> tuple[int, str | None, str | None]:
    """The demo store's customer for an email: the existing member (so an order for
    ann@example.com goes to Ann, customer 1001, under her name), else a stable new id."""
    from plugin_server import simulate as sim
    from plugin_server.db.repositories import customers_by_email

    with c.session_factory() as session:
        for member in customers_by_email(session, shop_id, email.strip().lower()):
            if member.customer_ref.isdigit():
                return int(member.customer_ref), member.first_name, member.last_name
    return sim.customer_id_for(email), None, None


def _send_order(
    c: Container,
    url: str,
    *,
    email: str,
    amount: Decimal,
    currency: str = "USD",
    codes: tuple[str, ...] = (),
    first_name: str | None = None,
    product: int = 1,
) -> tuple[int, dict[str, Any]]:
    from plugin_server import simulate as sim

    shop_id = _demo_shop_id(c)
    order_id = int(time.time() * 1000)
    customer_id, known_first, known_last = _customer_for(c, shop_id, email)
    payload = sim.shopify_order(
        order_id=order_id,
        email=email.lower(),
        subtotal=amount,
        currency=currency.upper(),
        customer_id=customer_id,
        discount_codes=codes,
    )
    payload["line_items"][0]["product_id"] = product
    payload["customer"]["first_name"] = known_first or first_name or "Demo"
    payload["customer"]["last_name"] = known_last or ("Shopper" if not first_name else None)
    ack = _post(
        url,
        sim.sign_shopify(
            payload,
            topic="orders/paid",
            shop_domain=DEMO_DOMAIN,
            secret=c.settings.shopify_api_secret,
        ),
    )
    _wait_for_order(c, shop_id, str(order_id))
    return order_id, ack


@simulate.command("order")
@click.option("--email", required=True)
@click.option("--total", required=True, help="Order subtotal, e.g. 59.90")
@click.option("--currency", default="USD", show_default=True)
@click.option(
    "--product",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="The product bought (demo: 2 is on a bonus campaign, 3 never earns).",
)
@click.option("--url", default="http://127.0.0.1:5000", show_default=True)
def simulate_order(email: str, total: str, currency: str, product: int, url: str) -> None:
    """Send a signed Shopify orders/paid webhook for the demo shop (to the member with this
    email if there is one)."""
    c = _container()
    order_id, ack = _send_order(
        c, url, email=email, amount=_decimal(total, "--total"), currency=currency, product=product
    )
    _echo_json({"order_id": order_id, "webhook": ack, "customers": _member_view(c, email)})


@simulate.command("friend")
@click.option("--advocate", "advocate_email", default="ann@example.com", show_default=True)
@click.option("--email", required=True, help="The friend's email (new to the shop).")
@click.option("--total", default="80.00", show_default=True, help="The first order's subtotal.")
@click.option("--name", default="Bao", show_default=True, help="The friend's first name.")
@click.option("--url", default="http://127.0.0.1:5000", show_default=True)
def simulate_friend(advocate_email: str, email: str, total: str, name: str, url: str) -> None:
    """Play a referred friend: claim the advocate's offer (a real code at the store), then
    place a first order with that code, as if from another device."""
    from plugin_server import redemption_flow
    from plugin_server.services import referrals

    c = _container()
    shop_id = _demo_shop_id(c)
    advocates = [m for m in _member_view(c, advocate_email) if m.get("referral")]
    if not advocates:
        raise click.ClickException(f"no member with the email {advocate_email}")
    code = str(advocates[0]["referral"]["code"])  # type: ignore[index]
    try:
        claimed, _ = redemption_flow.claim_referral(
            c, shop_id, code, customer_ref=None, email=email, address="cli", device=None
        )
    except LoyaltyError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    friend_code = claimed["code"]
    if friend_code is None:
        raise click.ClickException("the store has not confirmed the friend's code yet; retry")
    order_id, _ = _send_order(
        c,
        url,
        email=email,
        amount=_decimal(total, "--total"),
        codes=(friend_code,),
        first_name=name,
    )
    [referral] = referrals.list_referrals(
        c.uow(), shop_id, status=None, advocate_ref=None, before=None, limit=1
    )
    _echo_json({"friend_code": friend_code, "order_id": order_id, "referral": referral})


@simulate.command("advance")
@click.option("--days", type=click.FloatRange(min=0, max=3650), required=True)
def simulate_advance(days: float) -> None:
    """Move the demo's clock forward (server, scheduler and CLI), then run the scheduler's
    duties once: pending points become spendable, referrals are paid, points expire."""
    from datetime import timedelta

    from plugin_server import jobs
    from plugin_server.bootstrap import DemoClock

    c = _container()
    if not isinstance(c.clock, DemoClock):
        raise click.ClickException("the clock only moves on the embedded demo (development)")
    moved = c.clock.advance(timedelta(days=days))
    _echo_json(
        {
            "clock": c.clock().isoformat(),
            "ahead_by_days": moved / timedelta(days=1),
            "tick": jobs.tick(c),
        }
    )


@simulate.command("refund")
@click.option("--order", "order_id", required=True, type=int)
@click.option("--amount", required=True, help="Refunded line subtotal, e.g. 20.00")
@click.option("--email", help="Show this customer's balance afterwards.")
@click.option("--url", default="http://127.0.0.1:5000", show_default=True)
def simulate_refund(order_id: int, amount: str, email: str | None, url: str) -> None:
    """Send a signed Shopify refunds/create webhook for an order sent with `simulate order`."""
    from plugin_server import simulate as sim

    c = _container()
    value = _decimal(amount, "--amount")
    payload = sim.shopify_refund(
        refund_id=int(time.time() * 1000),
        order_id=order_id,
        line_item_id=order_id * 10 + 1,
        subtotal=value,
    )
    ack = _post(
        url,
        sim.sign_shopify(
            payload,
            topic="refunds/create",
            shop_domain=DEMO_DOMAIN,
            secret=c.settings.shopify_api_secret,
        ),
    )
    result: dict[str, Any] = {"webhook": ack}
    if email:
        result["customers"] = _member_view(c, email)
    _echo_json(result)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
