"""The admin app's settings pages: the widget's look and texts (with a live preview drawn by
the real widget), the program settings, and CSV import and export.

Each form calls the same service as the JSON admin API (PATCH /widget, PATCH /program,
POST /imports, GET /exports/*.csv), so it shows the API's own validation messages.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Response, request, url_for
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse

from plugin_server.api.admin_app import bp
from plugin_server.api.admin_app.i18n import LOCALE_NAMES, LOCALES, add_texts
from plugin_server.api.admin_app.views import (
    NOTICES,
    current_merchant,
    form_errors,
    int_or_text,
    notice_from_args,
    page,
    redirect_to,
    t,
)
from plugin_server.api.context import current_container
from plugin_server.domain import errors
from plugin_server.domain.imports import Layout, Mode
from plugin_server.domain.program import KNOWN_STATUSES
from plugin_server.domain.widget import TEXT_KEYS, THEME_KEYS
from plugin_server.services import earning_rules, exports, imports, privacy, program, storefront
from plugin_server.services import tiers as tier_service

NOTICES.update({"widget_saved", "program_saved", "import_started", "import_resumed"})

# --- widget look ------------------------------------------------------------------------------

PREVIEW_FRAME = "widget-preview.html"
SAMPLE_BALANCE = 1250


def _widget_form(settings: Mapping[str, Any]) -> dict[str, str]:
    """The saved settings as the form's field values (names are the service's field paths)."""
    form = {f"theme.{k}": str(settings["theme"].get(k, "")) for k in THEME_KEYS}
    form["position"] = str(settings["position"])
    for locale in LOCALES:
        for key in TEXT_KEYS:
            form[f"texts.{locale}.{key}"] = settings["texts"].get(locale, {}).get(key, "")
    form["origins"] = "\n".join(settings["origins"])
    form["token_public_key"] = settings.get("token_public_key") or ""
    return form


def _widget_changes(form: Mapping[str, str], saved: Mapping[str, Any]) -> dict[str, Any]:
    """What PATCH /widget would be sent. An empty text keeps the saved one (the service
    merges texts and has no way to remove one), so only typed texts go."""
    texts: dict[str, dict[str, str]] = {}
    for locale in LOCALES:
        typed = {k: form[f"texts.{locale}.{k}"] for k in TEXT_KEYS if form[f"texts.{locale}.{k}"]}
        if typed:
            texts[locale] = typed
    changes: dict[str, Any] = {
        "theme": {k: form[f"theme.{k}"].strip() for k in THEME_KEYS},
        "position": form["position"],
        "origins": [line.strip() for line in form["origins"].splitlines() if line.strip()],
    }
    if texts:
        changes["texts"] = texts
    key = form["token_public_key"].strip()
    if key != (saved.get("token_public_key") or ""):
        changes["token_public_key"] = key or None  # emptied: removed, as null in the API
    return changes


def _sample_member(shop_id: int, shop_program: dict[str, Any]) -> dict[str, Any]:
    """A made-up member (no one's real data) for the preview's signed-in view."""
    now = current_container().clock()
    balance = SAMPLE_BALANCE
    rewards = []
    for r in shop_program["rewards"]:
        cost = r["cost"]
        progress = 0.0 if cost <= 0 else round(min(balance / cost, 1.0), 4)
        rewards.append({**r, "progress": progress, "can_redeem": balance >= cost})
    return {
        "member": {
            "customer_id": "preview",
            "first_name": t("widget_sample_name"),
            "balance": balance,
            "pending": 80,
            "next_pending_available_at": (now + timedelta(days=14)).isoformat(),
            "codes": [
                {
                    "redemption_id": 1,
                    "status": "issued",
                    "code": "PREVIEW-5OFF",
                    "title": t("widget_sample_code"),
                    "expires_at": (now + timedelta(days=30)).isoformat(),
                }
            ],
            "history": [
                {"points": 120, "reason": t("widget_sample_order"), "kind": "earn_order"},
                {"points": -500, "reason": t("widget_sample_code"), "kind": "redeem"},
            ],
            "expiring": None,
            "birthday": None,
            "activities": earning_rules.remaining_for(
                None, shop_id, None, shop_program["ways_to_earn"], now=now
            ),
            "tier": tier_service.member_tier_view(
                None, shop_id, shop_program["tiers"], None, now=now
            ),
            "referral": None,
        },
        "program": {**shop_program, "rewards": rewards},
    }


def _preview_data(shop_id: int, saved: Mapping[str, Any]) -> dict[str, Any]:
    """What the preview frame needs: the shop's own program (as shoppers see it), a sample
    member, the saved settings and where the widget's files are."""
    c = current_container()
    with c.session_factory() as session:
        shop_page = storefront.shop_page(session, shop_id, now=c.clock())
    public = {"theme": saved["theme"], "texts": saved["texts"], "position": saved["position"]}
    return {
        "guest": {"member": None, "program": shop_page["program"], "settings": public},
        "member": {**_sample_member(shop_id, shop_page["program"]), "settings": public},
        "loader": url_for("storefront.asset", name="loader.js"),
        "assets": url_for("storefront.asset", name="x").rsplit("/", 1)[0],
    }


def _widget_page(
    status: int = 200,
    *,
    form: dict[str, str] | None = None,
    field_errors: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    c = current_container()
    shop_id = current_merchant().shop_id
    saved = storefront.get_widget(c.uow(), shop_id)
    preview = _preview_data(shop_id, saved)
    return page(
        "widget_look.html",
        status,
        nav="widget",
        form=form if form is not None else _widget_form(saved),
        field_errors=field_errors or {},
        error=error,
        notice=notice_from_args(),
        theme_keys=THEME_KEYS,
        text_keys=TEXT_KEYS,
        text_locales=LOCALES,
        locale_names=LOCALE_NAMES,
        preview=preview,
        preview_frame=url_for("adminapp.static", filename=PREVIEW_FRAME),
    )


@bp.get("/widget")
def widget_look() -> Response:
    return _widget_page()


@bp.post("/widget")
def widget_save() -> BaseResponse:
    c = current_container()
    shop_id = current_merchant().shop_id
    saved = storefront.get_widget(c.uow(), shop_id)
    form = {name: request.form.get(name, "") for name in _widget_form(saved)}
    try:
        storefront.update_widget(c.uow(), shop_id, _widget_changes(form, saved))
    except errors.ValidationFailed as exc:
        status, fields, message = form_errors(exc)
        return _widget_page(status, form=form, field_errors=_known(fields, form), error=message)
    return redirect_to("adminapp.widget_look", notice="widget_saved")


@bp.before_app_request
def allow_large_imports() -> None:
    """Before the blueprint's CSRF check parses the form: an import's file may be as large
    as the API takes (the app's own limit is sized for webhooks)."""
    if request.endpoint == "adminapp.import_csv":
        request.max_content_length = imports.MAX_FILE_BYTES + 64 * 1024  # and the form fields


@bp.after_app_request
def frameable_preview(response: Response) -> Response:
    """The preview frame (a static page) may be framed by the admin app, embedded in
    Shopify too; its widget sets the progress bars' widths as style attributes, as it does
    on a storefront. Everything else keeps the admin app's policy."""
    if (
        request.endpoint == "adminapp.static"
        and (request.view_args or {}).get("filename") == PREVIEW_FRAME
    ):
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; "
            "style-src-attr 'unsafe-inline'; img-src 'self' data:; connect-src 'none'; "
            "form-action 'none'; base-uri 'none'; object-src 'none'; "
            "frame-ancestors 'self' https://admin.shopify.com https://*.myshopify.com"
        )
    return response


def _known(fields: dict[str, str], form: Mapping[str, Any]) -> dict[str, str]:
    """Field errors for fields the form has (a service may name one it does not show)."""
    return {name: message for name, message in fields.items() if name in form}


# --- program settings -------------------------------------------------------------------------

PROGRAM_CHOICES = {
    "expiry_policy": ("never", "inactivity", "batch"),
    "tier_measure": ("points_earned", "amount_spent", "orders"),
    "tier_period": ("lifetime", "calendar_year", "rolling_12_months"),
    "tier_downgrade": ("never", "period_end"),
}
PROGRAM_BOOLEANS = ("include_shipping", "include_tax", "guests_earn", "return_points_on_expiry")
PROGRAM_INTS = ("pending_days", "expiry_months", "expiry_reminder_days")


def _program_form(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "points_per_unit": settings["points_per_unit"],
        "pending_days": str(settings["pending_days"]),
        "award_statuses": list(settings["award_statuses"]),
        "expiry_policy": settings["expiry"]["policy"],
        "expiry_months": str(settings["expiry"]["months"]),
        "expiry_reminder_days": str(settings["expiry"]["reminder_days"]),
        "tier_measure": settings["tiers"]["measure"],
        "tier_period": settings["tiers"]["period"],
        "tier_downgrade": settings["tiers"]["downgrade"],
        **{name: bool(settings[name]) for name in PROGRAM_BOOLEANS},
    }


def _program_page(
    status: int = 200,
    *,
    form: dict[str, Any] | None = None,
    field_errors: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    c = current_container()
    settings = program.get_program(c.uow(), current_merchant().shop_id)
    return page(
        "program_settings.html",
        status,
        nav="settings",
        form=form if form is not None else _program_form(settings),
        field_errors=field_errors or {},
        error=error,
        notice=notice_from_args(),
        statuses=sorted(KNOWN_STATUSES[settings["platform"]]),
        choices=PROGRAM_CHOICES,
    )


@bp.get("/settings")
def program_settings() -> Response:
    return _program_page()


@bp.post("/settings")
def program_save() -> BaseResponse:
    c = current_container()
    form: dict[str, Any] = {
        "points_per_unit": request.form.get("points_per_unit", "").strip(),
        "award_statuses": request.form.getlist("award_statuses"),
        **{name: request.form.get(name, "") for name in (*PROGRAM_INTS, *PROGRAM_CHOICES)},
        **{name: request.form.get(name) == "on" for name in PROGRAM_BOOLEANS},
    }
    changes = {
        **form,
        **{name: int_or_text(form[name]) for name in PROGRAM_INTS},
    }
    try:
        program.update_program(c.uow(), current_merchant().shop_id, changes, now=c.clock())
    except errors.ValidationFailed as exc:
        status, fields, message = form_errors(exc)
        if "threshold" in fields:  # a tier threshold that does not fit the new measure
            fields = {"tier_measure": fields["threshold"]}
        return _program_page(status, form=form, field_errors=_known(fields, form), error=message)
    return redirect_to("adminapp.program_settings", notice="program_saved")


# --- import and export ------------------------------------------------------------------------

IMPORT_LAYOUTS = ("", *(layout.value for layout in Layout))
IMPORT_MODES = tuple(mode.value for mode in Mode)


def _exports_page(
    status: int = 200,
    *,
    form: dict[str, Any] | None = None,
    field_errors: dict[str, str] | None = None,
    error: str | None = None,
    report: dict[str, Any] | None = None,
    problems: list[dict[str, Any]] | None = None,
    dates: dict[str, str] | None = None,
    date_errors: dict[str, str] | None = None,
) -> Response:
    c = current_container()
    shop_id = current_merchant().shop_id
    with c.session_factory() as session:
        data_exports = privacy.list_exports(session, shop_id)
    return page(
        "exports.html",
        status,
        nav="exports",
        form=form or {"layout": "", "mode": "add", "name": "", "skip_invalid": False},
        field_errors=field_errors or {},
        error=error,
        report=report,
        problems=problems,
        dates=dates or {"since": "", "until": ""},
        date_errors=date_errors or {},
        notice=notice_from_args(),
        imports=imports.list_imports(c.uow(), shop_id),
        data_exports=data_exports,
        layouts=IMPORT_LAYOUTS,
        modes=IMPORT_MODES,
        max_mib=imports.MAX_FILE_BYTES // (1024 * 1024),
    )


@bp.get("/exports", endpoint="exports")  # the endpoint NAV names
def exports_page() -> Response:
    return _exports_page()


def _csv_download(chunks: Iterator[str], filename: str) -> Response:
    """The same body and headers as the API's /exports/*.csv."""
    return Response(
        chunks,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/exports/members.csv")
def export_members() -> Response:
    c = current_container()
    shop_id = current_merchant().shop_id
    return _csv_download(exports.members_csv(c.uow, shop_id, now=c.clock()), "members.csv")


@bp.get("/exports/balances.csv")
def export_balances() -> Response:
    c = current_container()
    chunks = exports.members_csv(
        c.uow, current_merchant().shop_id, now=c.clock(), balances_only=True
    )
    return _csv_download(chunks, "balances.csv")


def _day(value: str, field: str) -> datetime | None:
    """A YYYY-MM-DD date as the start of that day in UTC; ValueError naming the field."""
    if not value.strip():
        return None
    try:
        return datetime.combine(date.fromisoformat(value.strip()), datetime.min.time(), UTC)
    except ValueError:
        raise ValueError(field) from None


@bp.get("/exports/ledger.csv")
def export_ledger() -> Response:
    c = current_container()
    dates = {"since": request.args.get("since", ""), "until": request.args.get("until", "")}
    try:
        since = _day(dates["since"], "since")
        last_day = _day(dates["until"], "until")
    except ValueError as exc:
        field = str(exc)
        message = t("io_bad_date")
        return _exports_page(400, dates=dates, date_errors={field: message}, error=message)
    if since is not None and last_day is not None and last_day < since:
        message = t("io_dates_reversed")
        return _exports_page(400, dates=dates, date_errors={"until": message}, error=message)
    until = last_day + timedelta(days=1) if last_day is not None else None  # to: inclusive
    chunks = exports.ledger_csv(c.uow, current_merchant().shop_id, since=since, until=until)
    return _csv_download(chunks, "ledger.csv")


def _import_form() -> dict[str, Any]:
    return {
        "layout": request.form.get("layout", ""),
        "mode": request.form.get("mode", "add"),
        "name": request.form.get("name", ""),
        "skip_invalid": request.form.get("skip_invalid") == "on",
    }


def _uploaded() -> bytes | None:
    upload = request.files.get("file")
    if not isinstance(upload, FileStorage) or not upload.filename:
        return None
    # The CSRF check may have parsed the form already, before the limit above applied.
    content = upload.read(imports.MAX_FILE_BYTES + 1)
    if len(content) > imports.MAX_FILE_BYTES:
        raise RequestEntityTooLarge()
    return content


@bp.post("/imports")
def import_csv() -> BaseResponse:
    c = current_container()
    shop_id = current_merchant().shop_id
    try:
        content = _uploaded()
    except RequestEntityTooLarge:
        message = t("io_too_large", mib=imports.MAX_FILE_BYTES // (1024 * 1024))
        return _exports_page(413, field_errors={"file": message}, error=message)
    form = _import_form()
    if content is None:
        message = t("io_choose_file")
        return _exports_page(400, form=form, field_errors={"file": message}, error=message)
    if form["layout"] not in IMPORT_LAYOUTS or form["mode"] not in IMPORT_MODES:
        message = t("io_bad_choice")
        return _exports_page(400, form=form, error=message)
    layout = Layout(form["layout"]) if form["layout"] else None
    mode = Mode(form["mode"])
    try:
        if request.form.get("step") == "dry_run":
            report = imports.dry_run(c.uow(), shop_id, content, layout=layout, mode=mode)
            return _exports_page(form=form, report=report)
        out, created = imports.create_import(
            c.uow(),
            shop_id,
            content,
            name=form["name"] or "CSV import",
            layout=layout,
            mode=mode,
            skip_invalid=form["skip_invalid"],
            now=c.clock(),
        )
    except errors.ImportHasProblems as exc:
        status, _, message = form_errors(exc)
        return _exports_page(status, form=form, error=message, problems=list(exc.problems))
    except (
        errors.UnknownLayout,
        errors.MissingColumns,
        errors.InvalidCsv,
        errors.EmptyFile,
        errors.ValidationFailed,
    ) as exc:
        status, _, message = form_errors(exc)
        return _exports_page(status, form=form, field_errors={"file": message}, error=message)
    if created:
        c.dispatcher.run_import(shop_id, out["id"])
    return redirect_to("adminapp.exports", notice="import_started", id=out["id"])


@bp.post("/imports/<int:import_id>/resume")
def import_resume(import_id: int) -> BaseResponse:
    c = current_container()
    shop_id = current_merchant().shop_id
    found = imports.get_import(c.uow(), shop_id, import_id)  # another shop's: 404
    if found["status"] != "completed":
        c.dispatcher.run_import(shop_id, import_id)
    return redirect_to("adminapp.exports", notice="import_resumed", id=import_id)


# --- texts ------------------------------------------------------------------------------------

add_texts(
    {
        "en": {
            "widget_title": "Widget look and texts",
            "widget_intro": (
                "Colours, position and texts of the rewards widget on your store. The "
                "preview shows your changes as you type; shoppers see them once you save."
            ),
            "widget_colours": "Colours and shape",
            "widget_theme_accent": "Accent colour (buttons, launcher)",
            "widget_theme_accent-text": "Text on the accent colour",
            "widget_theme_background": "Panel background",
            "widget_theme_text": "Panel text colour",
            "widget_theme_radius": "Corner radius",
            "widget_colour_hint": "A colour like #1f5f8b (or #1f5).",
            "widget_radius_hint": "In pixels, like 12px (0px to 99px).",
            "widget_position": "Launcher position",
            "widget_position_right": "Bottom right",
            "widget_position_left": "Bottom left",
            "widget_texts": "Texts",
            "widget_texts_hint": (
                "Leave a text empty to use the widget's own text in that language. A text "
                "you have set can be changed but not emptied. Up to 200 characters."
            ),
            "widget_texts_in": "Texts in {language}",
            "widget_text_title": "Panel title",
            "widget_text_launcher": "Launcher button",
            "widget_text_welcome_guest": "Welcome (not signed in)",
            "widget_text_join": "Join button",
            "widget_text_sign_in": "Sign-in link",
            "widget_text_ways_to_earn": "Ways to earn heading",
            "widget_text_earn_rule": "Earning line ({n} is the points)",
            "widget_text_rewards": "Rewards heading",
            "widget_text_redeem": "Redeem button",
            "widget_text_your_codes": "Your codes heading",
            "widget_text_history": "History heading",
            "widget_advanced": "Advanced",
            "widget_origins": "Extra store addresses",
            "widget_origins_hint": (
                "Custom domains the widget runs on, one https origin a line "
                "(like https://shop.example), up to 10."
            ),
            "widget_token_key": "Store signing key (WooCommerce, headless)",
            "widget_token_key_hint": (
                "The Ed25519 public key that checks shopper tokens signed by your store. "
                "Emptying it removes it."
            ),
            "widget_save": "Save widget",
            "widget_saved": "Widget settings saved. Shoppers see them within a minute.",
            "widget_preview": "Preview",
            "widget_preview_frame": "Preview of the rewards widget with your unsaved changes",
            "widget_preview_hint": (
                "The real widget with sample data; nothing in it is saved or sent to a "
                "shopper. It follows what you type."
            ),
            "widget_preview_locale": "Preview language",
            "widget_preview_as": "Preview as",
            "widget_preview_member": "A signed-in member",
            "widget_preview_guest": "A guest",
            "widget_sample_name": "Alex",
            "widget_sample_code": "5.00 off your order",
            "widget_sample_order": "Order #1001",
            "program_title": "Program settings",
            "program_intro": (
                "How members earn and keep points. Orders already paid keep the terms they "
                "earned on."
            ),
            "program_earning": "Earning",
            "program_points_per_unit": "Points per 1.00 spent",
            "program_points_per_unit_hint": (
                "Above 0, at most 1000, up to 4 decimals (0.5 means a point per 2.00). "
                "Earnings round down to whole points."
            ),
            "program_include_shipping": "Shipping earns points",
            "program_include_tax": "Tax earns points",
            "program_guests_earn": "Guest checkouts earn points (kept under their email)",
            "program_award_statuses": "Orders earn when they are",
            "program_award_statuses_hint": "At least one.",
            "program_status_paid": "Paid",
            "program_status_processing": "Processing",
            "program_status_completed": "Completed",
            "program_status_on-hold": "On hold",
            "program_pending_days": "Days points stay pending",
            "program_pending_days_hint": (
                "0 to 365. Pending points can't be spent yet, so a refund in that time "
                "takes them back cleanly."
            ),
            "program_expiry": "Expiry",
            "program_expiry_policy": "Points expire",
            "program_expiry_never": "Never",
            "program_expiry_inactivity": "After months without earning or redeeming (all)",
            "program_expiry_batch": "Each batch, months after it became spendable",
            "program_expiry_months": "Months",
            "program_expiry_months_hint": "1 to 60.",
            "program_expiry_reminder_days": "Reminder email, days before",
            "program_expiry_reminder_days_hint": "0 to 90; 0 sends none.",
            "program_return_points_on_expiry": (
                "A redeemed code that expires unused gives its points back"
            ),
            "program_tiers": "VIP tiers",
            "program_tier_measure": "Members qualify by",
            "program_tier_measure_hint": "Changing it recalculates every member.",
            "program_tier_points_earned": "Points earned on orders",
            "program_tier_amount_spent": "Amount spent (net of refunds)",
            "program_tier_orders": "Number of orders",
            "program_tier_period": "Counted over",
            "program_tier_lifetime": "Their lifetime",
            "program_tier_calendar_year": "This calendar year",
            "program_tier_rolling_12_months": "The last 12 months",
            "program_tier_downgrade": "Downgrades",
            "program_tier_never": "Never: members keep the best tier reached",
            "program_tier_period_end": "At the end of the period it was reached in",
            "program_save": "Save settings",
            "program_saved": "Program settings saved.",
            "io_title": "Import and export",
            "io_export": "Export",
            "io_export_intro": (
                "CSV files (UTF-8, header row first). Cells that a spreadsheet could run "
                "as a formula start with an apostrophe."
            ),
            "io_members_csv": "Members (with balances and tiers)",
            "io_balances_csv": "Balances",
            "io_ledger": "Points ledger",
            "io_since": "From (UTC date)",
            "io_until": "To (UTC date, included)",
            "io_dates_hint": "Leave empty for all entries.",
            "io_download": "Download ledger",
            "io_bad_date": "Enter a date like 2026-01-31.",
            "io_dates_reversed": "The end date is before the start date.",
            "io_import": "Import members and points",
            "io_layouts": "Accepted column layouts",
            "io_layout_loyalty": (
                "Ours: email and/or customer_id, points (or balance), optional first_name, "
                "last_name."
            ),
            "io_layout_smile": "Smile.io points export: exactly the columns email, points.",
            "io_layout_loyaltylion": (
                "LoyaltyLion customer export: email, points_approved, merchant_id, "
                "first_name, last_name."
            ),
            "io_layout_note": (
                "UTF-8 (a BOM is fine), header row first; header names ignore case and "
                "spaces. At most {mib} MiB."
            ),
            "io_file": "CSV file",
            "io_layout": "Layout",
            "io_layout_auto": "Detect from the header row",
            "io_layout_name_loyalty": "Ours (loyalty)",
            "io_layout_name_smile": "Smile.io",
            "io_layout_name_loyaltylion": "LoyaltyLion",
            "io_mode": "Points in the file",
            "io_mode_add": "Are added to each member's balance",
            "io_mode_reset": "Become each member's balance",
            "io_name": "Name (shown in the ledger's reason)",
            "io_skip_invalid": "Leave out rows with problems and import the rest",
            "io_dry_run": "Check the file",
            "io_run": "Import",
            "io_dry_run_hint": "Check first: it lists every problem row and writes nothing.",
            "io_report": "Check result",
            "io_report_ok": "All {n} rows can be imported ({layout} layout).",
            "io_report_problems": (
                "{bad} of {n} rows cannot be imported ({layout} layout). Fix them, or "
                "import with “leave out rows with problems”."
            ),
            "io_report_truncated": "Only the first {n} problems are listed.",
            "io_col_line": "Line",
            "io_col_problem": "Problem",
            "io_choose_file": "Choose a CSV file.",
            "io_bad_choice": "Choose a layout and a mode from the lists.",
            "io_too_large": "The file is over {mib} MiB.",
            "io_past": "Past imports",
            "io_none": "No imports yet.",
            "io_col_id": "No.",
            "io_col_layout": "Layout",
            "io_col_mode": "Mode",
            "io_col_rows": "Rows done",
            "io_col_points": "Points added / removed",
            "io_resume": "Resume",
            "io_status_pending": "Waiting",
            "io_status_running": "Unfinished",
            "io_status_completed": "Completed",
            "import_started": "Import {id} recorded; its rows are being applied.",
            "import_resumed": "Import {id} resumed after its last saved line.",
            "io_data_exports": "Customer data requests",
            "io_data_exports_hint": (
                "Exports made when a customer asked for their data (Shopify "
                "customers/data_request)."
            ),
            "io_no_data_exports": "No data requests yet.",
            "io_col_request": "Request",
        },
        "vi": {
            "widget_title": "Giao diện và nội dung widget",
            "widget_intro": (
                "Màu sắc, vị trí và nội dung của widget ưu đãi trên cửa hàng. Bản xem trước "
                "cập nhật ngay khi bạn nhập; khách hàng chỉ thấy sau khi bạn lưu."
            ),
            "widget_colours": "Màu sắc và hình dạng",
            "widget_theme_accent": "Màu nhấn (nút, nút mở widget)",
            "widget_theme_accent-text": "Màu chữ trên màu nhấn",
            "widget_theme_background": "Nền bảng widget",
            "widget_theme_text": "Màu chữ của bảng widget",
            "widget_theme_radius": "Bo góc",
            "widget_colour_hint": "Mã màu dạng #1f5f8b (hoặc #1f5).",
            "widget_radius_hint": "Tính bằng pixel, ví dụ 12px (từ 0px đến 99px).",
            "widget_position": "Vị trí nút mở widget",
            "widget_position_right": "Góc dưới bên phải",
            "widget_position_left": "Góc dưới bên trái",
            "widget_texts": "Nội dung",
            "widget_texts_hint": (
                "Để trống để dùng nội dung sẵn có của widget trong ngôn ngữ đó. Nội dung bạn "
                "đã đặt có thể sửa nhưng không thể để trống. Tối đa 200 ký tự."
            ),
            "widget_texts_in": "Nội dung bằng {language}",
            "widget_text_title": "Tiêu đề bảng",
            "widget_text_launcher": "Nút mở widget",
            "widget_text_welcome_guest": "Lời chào (chưa đăng nhập)",
            "widget_text_join": "Nút tham gia",
            "widget_text_sign_in": "Liên kết đăng nhập",
            "widget_text_ways_to_earn": "Tiêu đề cách tích điểm",
            "widget_text_earn_rule": "Dòng tích điểm ({n} là số điểm)",
            "widget_text_rewards": "Tiêu đề phần thưởng",
            "widget_text_redeem": "Nút đổi điểm",
            "widget_text_your_codes": "Tiêu đề mã của bạn",
            "widget_text_history": "Tiêu đề lịch sử",
            "widget_advanced": "Nâng cao",
            "widget_origins": "Địa chỉ cửa hàng bổ sung",
            "widget_origins_hint": (
                "Tên miền riêng mà widget chạy trên đó, mỗi dòng một địa chỉ https "
                "(ví dụ https://shop.example), tối đa 10."
            ),
            "widget_token_key": "Khóa ký của cửa hàng (WooCommerce, headless)",
            "widget_token_key_hint": (
                "Khóa công khai Ed25519 dùng để kiểm tra mã khách hàng do cửa hàng ký. "
                "Xóa trống là gỡ khóa."
            ),
            "widget_save": "Lưu widget",
            "widget_saved": "Đã lưu cài đặt widget. Khách hàng sẽ thấy trong vòng một phút.",
            "widget_preview": "Xem trước",
            "widget_preview_frame": "Bản xem trước widget ưu đãi với các thay đổi chưa lưu",
            "widget_preview_hint": (
                "Widget thật với dữ liệu mẫu; không có gì trong đó được lưu hay gửi tới "
                "khách hàng. Bản xem trước thay đổi theo những gì bạn nhập."
            ),
            "widget_preview_locale": "Ngôn ngữ xem trước",
            "widget_preview_as": "Xem dưới dạng",
            "widget_preview_member": "Thành viên đã đăng nhập",
            "widget_preview_guest": "Khách chưa đăng nhập",
            "widget_sample_name": "An",
            "widget_sample_code": "Giảm 5.00 cho đơn hàng",
            "widget_sample_order": "Đơn hàng #1001",
            "program_title": "Cài đặt chương trình",
            "program_intro": (
                "Cách thành viên tích và giữ điểm. Các đơn hàng đã thanh toán giữ nguyên "
                "điều kiện lúc tích điểm."
            ),
            "program_earning": "Tích điểm",
            "program_points_per_unit": "Số điểm cho mỗi 1.00 chi tiêu",
            "program_points_per_unit_hint": (
                "Lớn hơn 0, tối đa 1000, tối đa 4 chữ số thập phân (0.5 là 1 điểm cho mỗi "
                "2.00). Điểm được làm tròn xuống."
            ),
            "program_include_shipping": "Phí vận chuyển được tính điểm",
            "program_include_tax": "Thuế được tính điểm",
            "program_guests_earn": "Đơn của khách vãng lai được tích điểm (theo email)",
            "program_award_statuses": "Đơn hàng được tích điểm khi ở trạng thái",
            "program_award_statuses_hint": "Chọn ít nhất một.",
            "program_status_paid": "Đã thanh toán",
            "program_status_processing": "Đang xử lý",
            "program_status_completed": "Hoàn tất",
            "program_status_on-hold": "Tạm giữ",
            "program_pending_days": "Số ngày điểm ở trạng thái chờ",
            "program_pending_days_hint": (
                "Từ 0 đến 365. Điểm đang chờ chưa dùng được, nên nếu hoàn tiền trong thời "
                "gian đó thì điểm được thu hồi gọn gàng."
            ),
            "program_expiry": "Hết hạn",
            "program_expiry_policy": "Điểm hết hạn",
            "program_expiry_never": "Không bao giờ",
            "program_expiry_inactivity": "Sau số tháng không tích hoặc đổi điểm (toàn bộ)",
            "program_expiry_batch": "Từng đợt, sau số tháng kể từ khi dùng được",
            "program_expiry_months": "Số tháng",
            "program_expiry_months_hint": "Từ 1 đến 60.",
            "program_expiry_reminder_days": "Email nhắc trước (ngày)",
            "program_expiry_reminder_days_hint": "Từ 0 đến 90; 0 là không gửi.",
            "program_return_points_on_expiry": "Mã đã đổi hết hạn mà chưa dùng thì hoàn lại điểm",
            "program_tiers": "Hạng VIP",
            "program_tier_measure": "Xét hạng theo",
            "program_tier_measure_hint": "Thay đổi mục này sẽ tính lại hạng cho mọi thành viên.",
            "program_tier_points_earned": "Điểm tích từ đơn hàng",
            "program_tier_amount_spent": "Số tiền chi tiêu (trừ hoàn tiền)",
            "program_tier_orders": "Số đơn hàng",
            "program_tier_period": "Tính trong",
            "program_tier_lifetime": "Toàn bộ thời gian",
            "program_tier_calendar_year": "Năm dương lịch hiện tại",
            "program_tier_rolling_12_months": "12 tháng gần nhất",
            "program_tier_downgrade": "Hạ hạng",
            "program_tier_never": "Không bao giờ: giữ hạng cao nhất đã đạt",
            "program_tier_period_end": "Vào cuối kỳ mà hạng được đạt",
            "program_save": "Lưu cài đặt",
            "program_saved": "Đã lưu cài đặt chương trình.",
            "io_title": "Nhập và xuất dữ liệu",
            "io_export": "Xuất dữ liệu",
            "io_export_intro": (
                "Tệp CSV (UTF-8, dòng tiêu đề đầu tiên). Ô mà bảng tính có thể chạy như công "
                "thức sẽ bắt đầu bằng dấu nháy đơn."
            ),
            "io_members_csv": "Thành viên (kèm số dư và hạng)",
            "io_balances_csv": "Số dư điểm",
            "io_ledger": "Sổ điểm",
            "io_since": "Từ ngày (UTC)",
            "io_until": "Đến ngày (UTC, tính cả ngày này)",
            "io_dates_hint": "Để trống để lấy tất cả.",
            "io_download": "Tải sổ điểm",
            "io_bad_date": "Nhập ngày dạng 2026-01-31.",
            "io_dates_reversed": "Ngày kết thúc trước ngày bắt đầu.",
            "io_import": "Nhập thành viên và điểm",
            "io_layouts": "Các bố cục cột được chấp nhận",
            "io_layout_loyalty": (
                "Của chúng tôi: email và/hoặc customer_id, points (hoặc balance), có thể "
                "thêm first_name, last_name."
            ),
            "io_layout_smile": "Tệp xuất điểm Smile.io: đúng hai cột email, points.",
            "io_layout_loyaltylion": (
                "Tệp xuất khách hàng LoyaltyLion: email, points_approved, merchant_id, "
                "first_name, last_name."
            ),
            "io_layout_note": (
                "UTF-8 (có BOM cũng được), dòng tiêu đề đầu tiên; tên cột không phân biệt "
                "hoa thường và khoảng trắng. Tối đa {mib} MiB."
            ),
            "io_file": "Tệp CSV",
            "io_layout": "Bố cục",
            "io_layout_auto": "Tự nhận biết từ dòng tiêu đề",
            "io_layout_name_loyalty": "Của chúng tôi (loyalty)",
            "io_layout_name_smile": "Smile.io",
            "io_layout_name_loyaltylion": "LoyaltyLion",
            "io_mode": "Điểm trong tệp",
            "io_mode_add": "Được cộng vào số dư của từng thành viên",
            "io_mode_reset": "Trở thành số dư của từng thành viên",
            "io_name": "Tên (hiển thị trong lý do của sổ điểm)",
            "io_skip_invalid": "Bỏ qua các dòng có lỗi và nhập phần còn lại",
            "io_dry_run": "Kiểm tra tệp",
            "io_run": "Nhập",
            "io_dry_run_hint": "Hãy kiểm tra trước: mọi dòng lỗi được liệt kê và không ghi gì.",
            "io_report": "Kết quả kiểm tra",
            "io_report_ok": "Có thể nhập cả {n} dòng (bố cục {layout}).",
            "io_report_problems": (
                "{bad} trên {n} dòng không nhập được (bố cục {layout}). Hãy sửa, hoặc nhập "
                "với tùy chọn “bỏ qua các dòng có lỗi”."
            ),
            "io_report_truncated": "Chỉ liệt kê {n} lỗi đầu tiên.",
            "io_col_line": "Dòng",
            "io_col_problem": "Lỗi",
            "io_choose_file": "Hãy chọn một tệp CSV.",
            "io_bad_choice": "Hãy chọn bố cục và chế độ trong danh sách.",
            "io_too_large": "Tệp lớn hơn {mib} MiB.",
            "io_past": "Các lần nhập trước",
            "io_none": "Chưa có lần nhập nào.",
            "io_col_id": "Số",
            "io_col_layout": "Bố cục",
            "io_col_mode": "Chế độ",
            "io_col_rows": "Số dòng đã xử lý",
            "io_col_points": "Điểm cộng / trừ",
            "io_resume": "Tiếp tục",
            "io_status_pending": "Đang chờ",
            "io_status_running": "Chưa xong",
            "io_status_completed": "Hoàn tất",
            "import_started": "Đã ghi nhận lần nhập {id}; các dòng đang được áp dụng.",
            "import_resumed": "Lần nhập {id} tiếp tục từ dòng đã lưu cuối cùng.",
            "io_data_exports": "Yêu cầu dữ liệu của khách hàng",
            "io_data_exports_hint": (
                "Dữ liệu được xuất khi khách hàng yêu cầu (Shopify customers/data_request)."
            ),
            "io_no_data_exports": "Chưa có yêu cầu dữ liệu nào.",
            "io_col_request": "Yêu cầu",
        },
        "th": {
            "widget_title": "หน้าตาและข้อความของวิดเจ็ต",
            "widget_intro": (
                "สี ตำแหน่ง และข้อความของวิดเจ็ตรางวัลบนร้านค้าของคุณ ตัวอย่างจะเปลี่ยนตามที่คุณพิมพ์ "
                "ลูกค้าจะเห็นหลังจากคุณบันทึก"
            ),
            "widget_colours": "สีและรูปทรง",
            "widget_theme_accent": "สีหลัก (ปุ่ม ปุ่มเปิดวิดเจ็ต)",
            "widget_theme_accent-text": "สีตัวอักษรบนสีหลัก",
            "widget_theme_background": "พื้นหลังแผง",
            "widget_theme_text": "สีตัวอักษรในแผง",
            "widget_theme_radius": "ความโค้งของมุม",
            "widget_colour_hint": "รหัสสี เช่น #1f5f8b (หรือ #1f5)",
            "widget_radius_hint": "หน่วยพิกเซล เช่น 12px (0px ถึง 99px)",
            "widget_position": "ตำแหน่งปุ่มเปิดวิดเจ็ต",
            "widget_position_right": "มุมขวาล่าง",
            "widget_position_left": "มุมซ้ายล่าง",
            "widget_texts": "ข้อความ",
            "widget_texts_hint": (
                "เว้นว่างไว้เพื่อใช้ข้อความของวิดเจ็ตเองในภาษานั้น ข้อความที่คุณตั้งไว้แก้ไขได้ "
                "แต่ทำให้ว่างไม่ได้ ไม่เกิน 200 ตัวอักษร"
            ),
            "widget_texts_in": "ข้อความภาษา{language}",
            "widget_text_title": "หัวข้อแผง",
            "widget_text_launcher": "ปุ่มเปิดวิดเจ็ต",
            "widget_text_welcome_guest": "คำต้อนรับ (ยังไม่เข้าสู่ระบบ)",
            "widget_text_join": "ปุ่มสมัคร",
            "widget_text_sign_in": "ลิงก์เข้าสู่ระบบ",
            "widget_text_ways_to_earn": "หัวข้อวิธีสะสมคะแนน",
            "widget_text_earn_rule": "บรรทัดการสะสมคะแนน ({n} คือจำนวนคะแนน)",
            "widget_text_rewards": "หัวข้อของรางวัล",
            "widget_text_redeem": "ปุ่มแลก",
            "widget_text_your_codes": "หัวข้อโค้ดของคุณ",
            "widget_text_history": "หัวข้อประวัติ",
            "widget_advanced": "ขั้นสูง",
            "widget_origins": "ที่อยู่ร้านค้าเพิ่มเติม",
            "widget_origins_hint": (
                "โดเมนของคุณเองที่วิดเจ็ตทำงานอยู่ บรรทัดละหนึ่งที่อยู่ https "
                "(เช่น https://shop.example) ไม่เกิน 10 รายการ"
            ),
            "widget_token_key": "กุญแจลงนามของร้าน (WooCommerce, headless)",
            "widget_token_key_hint": (
                "กุญแจสาธารณะ Ed25519 ที่ใช้ตรวจโทเค็นลูกค้าซึ่งร้านของคุณลงนาม การลบให้ว่างคือการนำกุญแจออก"
            ),
            "widget_save": "บันทึกวิดเจ็ต",
            "widget_saved": "บันทึกการตั้งค่าวิดเจ็ตแล้ว ลูกค้าจะเห็นภายในหนึ่งนาที",
            "widget_preview": "ตัวอย่าง",
            "widget_preview_frame": "ตัวอย่างวิดเจ็ตรางวัลพร้อมการเปลี่ยนแปลงที่ยังไม่บันทึก",
            "widget_preview_hint": (
                "วิดเจ็ตจริงพร้อมข้อมูลตัวอย่าง ไม่มีสิ่งใดถูกบันทึกหรือส่งถึงลูกค้า ตัวอย่างจะเปลี่ยนตามที่คุณพิมพ์"
            ),
            "widget_preview_locale": "ภาษาของตัวอย่าง",
            "widget_preview_as": "ดูตัวอย่างในฐานะ",
            "widget_preview_member": "สมาชิกที่เข้าสู่ระบบแล้ว",
            "widget_preview_guest": "ผู้เยี่ยมชม",
            "widget_sample_name": "สมชาย",
            "widget_sample_code": "ส่วนลด 5.00 สำหรับคำสั่งซื้อ",
            "widget_sample_order": "คำสั่งซื้อ #1001",
            "program_title": "การตั้งค่าโปรแกรม",
            "program_intro": "วิธีที่สมาชิกสะสมและเก็บคะแนน คำสั่งซื้อที่ชำระแล้วยังคงใช้เงื่อนไขเดิมที่ได้รับคะแนน",
            "program_earning": "การสะสมคะแนน",
            "program_points_per_unit": "คะแนนต่อการใช้จ่าย 1.00",
            "program_points_per_unit_hint": (
                "มากกว่า 0 ไม่เกิน 1000 ทศนิยมไม่เกิน 4 ตำแหน่ง (0.5 คือ 1 คะแนนต่อ 2.00) คะแนนจะถูกปัดลง"
            ),
            "program_include_shipping": "ค่าจัดส่งได้รับคะแนน",
            "program_include_tax": "ภาษีได้รับคะแนน",
            "program_guests_earn": "การสั่งซื้อแบบผู้เยี่ยมชมได้รับคะแนน (เก็บตามอีเมล)",
            "program_award_statuses": "คำสั่งซื้อได้รับคะแนนเมื่อมีสถานะ",
            "program_award_statuses_hint": "อย่างน้อยหนึ่งสถานะ",
            "program_status_paid": "ชำระแล้ว",
            "program_status_processing": "กำลังดำเนินการ",
            "program_status_completed": "เสร็จสมบูรณ์",
            "program_status_on-hold": "พักไว้",
            "program_pending_days": "จำนวนวันที่คะแนนรอดำเนินการ",
            "program_pending_days_hint": (
                "0 ถึง 365 คะแนนที่รอดำเนินการยังใช้ไม่ได้ หากมีการคืนเงินในช่วงนั้นจึงดึงคะแนนคืนได้เรียบร้อย"
            ),
            "program_expiry": "การหมดอายุ",
            "program_expiry_policy": "คะแนนหมดอายุ",
            "program_expiry_never": "ไม่หมดอายุ",
            "program_expiry_inactivity": "หลังจากไม่มีการสะสมหรือแลกคะแนนตามจำนวนเดือน (ทั้งหมด)",
            "program_expiry_batch": "แต่ละชุด เมื่อครบจำนวนเดือนหลังจากใช้ได้",
            "program_expiry_months": "จำนวนเดือน",
            "program_expiry_months_hint": "1 ถึง 60",
            "program_expiry_reminder_days": "อีเมลเตือนล่วงหน้า (วัน)",
            "program_expiry_reminder_days_hint": "0 ถึง 90 และ 0 คือไม่ส่ง",
            "program_return_points_on_expiry": "โค้ดที่แลกแล้วหมดอายุโดยไม่ได้ใช้ จะคืนคะแนนให้",
            "program_tiers": "ระดับสมาชิก VIP",
            "program_tier_measure": "สมาชิกได้ระดับตาม",
            "program_tier_measure_hint": "การเปลี่ยนค่านี้จะคำนวณระดับของสมาชิกทุกคนใหม่",
            "program_tier_points_earned": "คะแนนที่ได้จากคำสั่งซื้อ",
            "program_tier_amount_spent": "ยอดใช้จ่าย (หักการคืนเงิน)",
            "program_tier_orders": "จำนวนคำสั่งซื้อ",
            "program_tier_period": "นับในช่วง",
            "program_tier_lifetime": "ตลอดการเป็นสมาชิก",
            "program_tier_calendar_year": "ปีปฏิทินนี้",
            "program_tier_rolling_12_months": "12 เดือนที่ผ่านมา",
            "program_tier_downgrade": "การลดระดับ",
            "program_tier_never": "ไม่ลดระดับ: สมาชิกคงระดับสูงสุดที่เคยได้",
            "program_tier_period_end": "เมื่อสิ้นสุดช่วงเวลาที่ได้ระดับนั้น",
            "program_save": "บันทึกการตั้งค่า",
            "program_saved": "บันทึกการตั้งค่าโปรแกรมแล้ว",
            "io_title": "นำเข้าและส่งออก",
            "io_export": "ส่งออก",
            "io_export_intro": (
                "ไฟล์ CSV (UTF-8 แถวหัวตารางอยู่แรกสุด) เซลล์ที่สเปรดชีตอาจรันเป็นสูตรจะขึ้นต้นด้วยเครื่องหมาย '"
            ),
            "io_members_csv": "สมาชิก (พร้อมยอดคะแนนและระดับ)",
            "io_balances_csv": "ยอดคะแนน",
            "io_ledger": "สมุดบัญชีคะแนน",
            "io_since": "ตั้งแต่วันที่ (UTC)",
            "io_until": "ถึงวันที่ (UTC รวมวันนั้น)",
            "io_dates_hint": "เว้นว่างไว้เพื่อเอาทุกรายการ",
            "io_download": "ดาวน์โหลดสมุดบัญชีคะแนน",
            "io_bad_date": "ใส่วันที่ในรูปแบบ 2026-01-31",
            "io_dates_reversed": "วันที่สิ้นสุดอยู่ก่อนวันที่เริ่มต้น",
            "io_import": "นำเข้าสมาชิกและคะแนน",
            "io_layouts": "รูปแบบคอลัมน์ที่รองรับ",
            "io_layout_loyalty": (
                "ของเรา: email และ/หรือ customer_id, points (หรือ balance) "
                "และ first_name, last_name ถ้ามี"
            ),
            "io_layout_smile": "ไฟล์ส่งออกคะแนนของ Smile.io: มีคอลัมน์ email, points เท่านั้น",
            "io_layout_loyaltylion": (
                "ไฟล์ส่งออกลูกค้าของ LoyaltyLion: email, points_approved, merchant_id, "
                "first_name, last_name"
            ),
            "io_layout_note": (
                "UTF-8 (มี BOM ได้) แถวหัวตารางอยู่แรกสุด ชื่อคอลัมน์ไม่สนตัวพิมพ์และช่องว่าง ไม่เกิน {mib} MiB"
            ),
            "io_file": "ไฟล์ CSV",
            "io_layout": "รูปแบบ",
            "io_layout_auto": "ตรวจจากแถวหัวตาราง",
            "io_layout_name_loyalty": "ของเรา (loyalty)",
            "io_layout_name_smile": "Smile.io",
            "io_layout_name_loyaltylion": "LoyaltyLion",
            "io_mode": "คะแนนในไฟล์",
            "io_mode_add": "บวกเพิ่มในยอดของสมาชิกแต่ละคน",
            "io_mode_reset": "กลายเป็นยอดของสมาชิกแต่ละคน",
            "io_name": "ชื่อ (แสดงในเหตุผลของสมุดบัญชี)",
            "io_skip_invalid": "ข้ามแถวที่มีปัญหาและนำเข้าแถวที่เหลือ",
            "io_dry_run": "ตรวจไฟล์",
            "io_run": "นำเข้า",
            "io_dry_run_hint": "ตรวจก่อน: จะแสดงทุกแถวที่มีปัญหาและไม่บันทึกสิ่งใด",
            "io_report": "ผลการตรวจ",
            "io_report_ok": "นำเข้าได้ทั้ง {n} แถว (รูปแบบ {layout})",
            "io_report_problems": (
                "{bad} จาก {n} แถวนำเข้าไม่ได้ (รูปแบบ {layout}) แก้ไขแถวเหล่านั้น "
                "หรือนำเข้าโดยเลือก “ข้ามแถวที่มีปัญหา”"
            ),
            "io_report_truncated": "แสดงเพียง {n} ปัญหาแรก",
            "io_col_line": "บรรทัด",
            "io_col_problem": "ปัญหา",
            "io_choose_file": "เลือกไฟล์ CSV",
            "io_bad_choice": "เลือกรูปแบบและโหมดจากรายการ",
            "io_too_large": "ไฟล์ใหญ่เกิน {mib} MiB",
            "io_past": "การนำเข้าที่ผ่านมา",
            "io_none": "ยังไม่มีการนำเข้า",
            "io_col_id": "ลำดับ",
            "io_col_layout": "รูปแบบ",
            "io_col_mode": "โหมด",
            "io_col_rows": "แถวที่ทำแล้ว",
            "io_col_points": "คะแนนที่เพิ่ม / ลด",
            "io_resume": "ทำต่อ",
            "io_status_pending": "รอดำเนินการ",
            "io_status_running": "ยังไม่เสร็จ",
            "io_status_completed": "เสร็จสมบูรณ์",
            "import_started": "บันทึกการนำเข้า {id} แล้ว กำลังนำแถวไปใช้",
            "import_resumed": "การนำเข้า {id} ทำต่อจากบรรทัดที่บันทึกล่าสุด",
            "io_data_exports": "คำขอข้อมูลของลูกค้า",
            "io_data_exports_hint": (
                "ข้อมูลที่ส่งออกเมื่อลูกค้าขอข้อมูลของตน (Shopify customers/data_request)"
            ),
            "io_no_data_exports": "ยังไม่มีคำขอข้อมูล",
            "io_col_request": "คำขอ",
        },
    }
)
