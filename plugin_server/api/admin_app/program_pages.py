"""The program's catalogs in the admin app: earning rules and bonus campaigns, VIP tiers,
referral campaigns. Each page lists, creates, edits and archives through the same services
(and, for rules, the same `rule_flow`) as the JSON admin API, so a form shows the API's own
messages.

A form's text becomes the types the JSON API hands the services: whole numbers for counts,
decimal strings for money and rates, UTC date-times (a datetime-local field carries no zone:
the form says its times are UTC), lists of ids split on commas or spaces. What cannot be
converted is passed on as typed, so the service refuses it with its own message.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Response as FlaskResponse
from flask import current_app, request
from werkzeug.wrappers import Response as BaseResponse

from plugin_server import rule_flow
from plugin_server.api.admin_app import bp, program_texts
from plugin_server.api.admin_app.i18n import add_texts
from plugin_server.api.admin_app.views import (
    NOTICES,
    current_merchant,
    form_errors,
    int_or_text,
    notice_from_args,
    page,
    redirect_to,
)
from plugin_server.api.context import current_container
from plugin_server.api.schemas import MAX_ID
from plugin_server.domain import errors
from plugin_server.domain import referrals as referral_rules
from plugin_server.services import earning_rules, program, program_counts, referrals, tiers

ID = f"int(max={MAX_ID})"

RULE_KINDS = ("bonus", "exclusion", "activity", "signup", "birthday")
LIMIT_PERIODS = ("day", "week", "month", "lifetime")
RULE_FILTERS = ("all", "active", "scheduled", "ended", "archived")
RULE_FIELDS = (
    "kind",
    "key",
    "name",
    "multiplier",
    "points",
    "starts_at",
    "ends_at",
    "product_ids",
    "collection_ids",
    "min_subtotal",
    "limit_count",
    "limit_period",
)
# What an edit may change, per kind (the kind and key of a rule never change).
RULE_EDITABLE = {
    "bonus": (
        "name",
        "multiplier",
        "points",
        "starts_at",
        "ends_at",
        "product_ids",
        "collection_ids",
        "min_subtotal",
    ),
    "exclusion": ("name", "product_ids", "collection_ids"),
    "activity": ("name", "points", "limit_count", "limit_period"),
    "signup": ("name", "points"),
    "birthday": ("name", "points"),
}
TIER_FIELDS = ("name", "threshold", "multiplier", "entry_points")
# The referral campaign's terms and choices, as the domain defines them (sorted: the
# form renders fields by name, so the order only has to be stable).
DISCOUNT_KINDS = referral_rules.DISCOUNT_KINDS
ADVOCATE_KINDS = referral_rules.ADVOCATE_KINDS
CAMPAIGN_PERIODS = referral_rules.LIMIT_PERIODS
CAMPAIGN_FIELDS = tuple(sorted(referral_rules.FIELDS))
INT_FIELDS = frozenset(
    {
        "points",
        "limit_count",
        "entry_points",
        "friend_code_valid_days",
        "advocate_points",
        "advocate_limit",
        "advocate_period_limit",
    }
)
TIME_FIELDS = frozenset({"starts_at", "ends_at"})
LIST_FIELDS = frozenset({"product_ids", "collection_ids"})

add_texts(program_texts.TEXTS)
NOTICES.update(
    {
        "earning_created",
        "earning_saved",
        "earning_archived",
        "earning_synced",
        "tiers_created",
        "tiers_saved",
        "tiers_archived",
        "refcamp_created",
        "refcamp_saved",
        "refcamp_archived",
    }
)


# --- form text to service input ---------------------------------------------------------------


def local_time(value: str | None) -> str:
    """An ISO date-time from a service view as a datetime-local field's value (UTC)."""
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def _time(text: str) -> Any:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text  # the service refuses it with the API's message
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _ids(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", text) if part]


def _value(name: str, text: str) -> Any:
    """One field's text as the JSON API would hand it to the service; None when empty."""
    text = text.strip()
    if name in LIST_FIELDS:
        return _ids(text)
    if not text:
        return None
    if name in INT_FIELDS:
        return int_or_text(text)
    if name in TIME_FIELDS:
        return _time(text)
    return text


def _posted(names: Iterable[str]) -> dict[str, str]:
    return {name: request.form.get(name, "") for name in names}


def _input(form: Mapping[str, str], names: Iterable[str]) -> dict[str, Any]:
    """A create body: only the fields given (as the API's exclude_unset)."""
    body: dict[str, Any] = {}
    for name in names:
        value = _value(name, form.get(name, ""))
        if value not in (None, []):
            body[name] = value
    return body


def _changes(
    form: Mapping[str, str], names: Iterable[str], current: Mapping[str, Any]
) -> dict[str, Any]:
    """An edit: every editable field (empty clears it), except times left as they were to
    the minute (a datetime-local field has no seconds; an unchanged end in the past is no
    change)."""
    changes: dict[str, Any] = {}
    for name in names:
        text = form.get(name, "")
        if name in TIME_FIELDS and text.strip() == local_time(current.get(name)):
            continue
        changes[name] = _value(name, text)
    return changes


def _failed(exc: errors.LoyaltyError, fields: Iterable[str]) -> tuple[int, dict[str, str], str]:
    status, by_field, message = form_errors(exc)
    # Only fields the form has get a message beside them (and a link in the summary).
    return status, {k: v for k, v in by_field.items() if k in set(fields)}, message


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-")
    return f"{words or 'rule'}-{secrets.token_hex(2)}"


def _settings_link() -> str | None:
    return (
        "adminapp.program_settings"
        if "adminapp.program_settings" in current_app.view_functions
        else None
    )


def _named_notice(listed: list[dict[str, Any]], prefix: str) -> dict[str, str] | None:
    notice = notice_from_args()
    if notice is None or not notice["code"].startswith(prefix):
        return None
    named = next((item["name"] for item in listed if str(item["id"]) == notice["id"]), None)
    if named is None and notice["code"] != "earning_synced":
        return None
    return {**notice, "name": named or "", "ref": request.args.get("ref", "")}


# --- earning rules and bonus campaigns --------------------------------------------------------


def rule_state(rule: Mapping[str, Any], now: datetime) -> str:
    """active, scheduled (a campaign not started), ended (a campaign over) or archived."""
    if rule["status"] == "archived":
        return "archived"
    if rule["kind"] == "bonus" and rule["starts_at"] and rule["ends_at"]:
        if now < datetime.fromisoformat(rule["starts_at"]):
            return "scheduled"
        if now >= datetime.fromisoformat(rule["ends_at"]):
            return "ended"
    return "active"


def _rule_form(rule: Mapping[str, Any]) -> dict[str, str]:
    def text(value: Any) -> str:
        return "" if value is None else str(value)

    return {
        "kind": rule["kind"],
        "key": rule["key"],
        "name": rule["name"],
        "multiplier": text(rule["multiplier"]),
        "points": text(rule["points"]),
        "starts_at": local_time(rule["starts_at"]),
        "ends_at": local_time(rule["ends_at"]),
        "product_ids": ", ".join(rule["product_ids"]),
        "collection_ids": ", ".join(rule["collection_ids"]),
        "min_subtotal": text(rule["min_subtotal"]),
        "limit_count": text(rule["limit_count"]),
        "limit_period": text(rule["limit_period"]),
    }


def _earning_page(status: int = 200, **form: Any) -> FlaskResponse:
    c = current_container()
    now = c.clock()
    listed = earning_rules.list_rules(c.uow(), current_merchant().shop_id, status="all")
    for rule in listed:
        rule["state"] = rule_state(rule, now)
    shown = request.args.get("status", "all")
    if shown not in RULE_FILTERS:
        shown = "all"
    return page(
        "earning.html",
        status,
        rules=[r for r in listed if shown == "all" or r["state"] == shown],
        shown=shown,
        filters=RULE_FILTERS,
        kinds=RULE_KINDS,
        periods=LIMIT_PERIODS,
        notice=_named_notice(listed, "earning_"),
        nav="earning",
        form=form.get("form", {"kind": "bonus", "multiplier": "2"}),
        field_errors=form.get("field_errors", {}),
        error=form.get("error"),
    )


@bp.get("/earning", endpoint="earning_rules")
def earning_rules_page() -> FlaskResponse:
    return _earning_page()


@bp.post("/earning")
def earning_rule_create() -> BaseResponse:
    c = current_container()
    form = _posted(RULE_FIELDS)
    body = _input(form, RULE_FIELDS)
    if "key" not in body:
        body["key"] = _slug(form["name"])
    try:
        created = rule_flow.create_rule(c, current_merchant().shop_id, body)
    except errors.ValidationFailed as exc:
        status, fields, message = _failed(exc, RULE_FIELDS)
        return _earning_page(status, form=form, field_errors=fields, error=message)
    return redirect_to("adminapp.earning_rules", notice="earning_created", id=created["id"])


def _rule_edit_page(rule: Mapping[str, Any], status: int = 200, **form: Any) -> FlaskResponse:
    c = current_container()
    return page(
        "earning_edit.html",
        status,
        rule=rule,
        state=rule_state(rule, c.clock()),
        editable=RULE_EDITABLE[rule["kind"]],
        periods=LIMIT_PERIODS,
        nav="earning",
        form=form.get("form", _rule_form(rule)),
        field_errors=form.get("field_errors", {}),
        error=form.get("error"),
    )


@bp.get(f"/earning/<{ID}:rule_id>")
def earning_rule_edit(rule_id: int) -> FlaskResponse:
    c = current_container()
    return _rule_edit_page(earning_rules.get_rule(c.uow(), current_merchant().shop_id, rule_id))


@bp.post(f"/earning/<{ID}:rule_id>")
def earning_rule_update(rule_id: int) -> BaseResponse:
    c = current_container()
    shop_id = current_merchant().shop_id
    rule = earning_rules.get_rule(c.uow(), shop_id, rule_id)
    editable = RULE_EDITABLE[rule["kind"]]
    form = {**_rule_form(rule), **_posted(editable)}
    try:
        rule_flow.update_rule(c, shop_id, rule_id, _changes(form, editable, rule))
    except errors.ValidationFailed as exc:
        status, fields, message = _failed(exc, editable)
        return _rule_edit_page(rule, status, form=form, field_errors=fields, error=message)
    return redirect_to("adminapp.earning_rules", notice="earning_saved", id=rule_id)


@bp.post(f"/earning/<{ID}:rule_id>/archive")
def earning_rule_archive(rule_id: int) -> BaseResponse:
    c = current_container()
    earning_rules.archive_rule(c.uow(), current_merchant().shop_id, rule_id, now=c.clock())
    return redirect_to("adminapp.earning_rules", notice="earning_archived", id=rule_id)


@bp.post("/earning/collections/<collection_ref>/sync")
def earning_collection_sync(collection_ref: str) -> BaseResponse:
    """Read a collection's products from the store again (the API's sync route)."""
    c = current_container()
    rule_flow.sync_now(c, current_merchant().shop_id, collection_ref)
    return redirect_to("adminapp.earning_rules", notice="earning_synced", ref=collection_ref)


# --- VIP tiers --------------------------------------------------------------------------------


def _tiers_page(status: int = 200, **form: Any) -> FlaskResponse:
    c = current_container()
    shop_id = current_merchant().shop_id
    listed = tiers.list_tiers(c.uow(), shop_id, status="all")
    members = program_counts.tier_members(c.uow(), shop_id)
    for tier in listed:
        tier["members"] = members.get(tier["id"], 0)
    return page(
        "tiers.html",
        status,
        tiers=listed,
        qualifying=program.get_program(c.uow(), shop_id)["tiers"],
        settings_endpoint=_settings_link(),
        notice=_named_notice(listed, "tiers_"),
        nav="tiers",
        form=form.get("form", {"multiplier": "1", "entry_points": "0"}),
        field_errors=form.get("field_errors", {}),
        error=form.get("error"),
    )


@bp.get("/tiers")
def tier_list() -> FlaskResponse:
    return _tiers_page()


@bp.post("/tiers")
def tier_create() -> BaseResponse:
    c = current_container()
    form = _posted(TIER_FIELDS)
    try:
        created = tiers.create_tier(
            c.uow(), current_merchant().shop_id, _input(form, TIER_FIELDS), now=c.clock()
        )
    except errors.ValidationFailed as exc:
        status, fields, message = _failed(exc, TIER_FIELDS)
        return _tiers_page(status, form=form, field_errors=fields, error=message)
    return redirect_to("adminapp.tier_list", notice="tiers_created", id=created["id"])


def _tier_edit_page(tier: Mapping[str, Any], status: int = 200, **form: Any) -> FlaskResponse:
    c = current_container()
    return page(
        "tier_edit.html",
        status,
        tier=tier,
        qualifying=program.get_program(c.uow(), current_merchant().shop_id)["tiers"],
        nav="tiers",
        form=form.get("form", {name: str(tier[name]) for name in TIER_FIELDS}),
        field_errors=form.get("field_errors", {}),
        error=form.get("error"),
    )


@bp.get(f"/tiers/<{ID}:tier_id>")
def tier_edit(tier_id: int) -> FlaskResponse:
    c = current_container()
    return _tier_edit_page(tiers.get_tier(c.uow(), current_merchant().shop_id, tier_id))


@bp.post(f"/tiers/<{ID}:tier_id>")
def tier_update(tier_id: int) -> BaseResponse:
    c = current_container()
    shop_id = current_merchant().shop_id
    tier = tiers.get_tier(c.uow(), shop_id, tier_id)
    form = _posted(TIER_FIELDS)
    changes = {name: _value(name, form[name]) for name in TIER_FIELDS}
    try:
        tiers.update_tier(c.uow(), shop_id, tier_id, changes, now=c.clock())
    except errors.ValidationFailed as exc:
        status, fields, message = _failed(exc, TIER_FIELDS)
        return _tier_edit_page(tier, status, form=form, field_errors=fields, error=message)
    return redirect_to("adminapp.tier_list", notice="tiers_saved", id=tier_id)


@bp.post(f"/tiers/<{ID}:tier_id>/archive")
def tier_archive(tier_id: int) -> BaseResponse:
    c = current_container()
    tiers.archive_tier(c.uow(), current_merchant().shop_id, tier_id, now=c.clock())
    return redirect_to("adminapp.tier_list", notice="tiers_archived", id=tier_id)


# --- referral campaigns -----------------------------------------------------------------------


def campaign_state(campaign: Mapping[str, Any], now: datetime) -> str:
    """live, scheduled, ended or archived."""
    if campaign["archived"]:
        return "archived"
    if now < datetime.fromisoformat(campaign["starts_at"]):
        return "scheduled"
    if campaign["ends_at"] and now >= datetime.fromisoformat(campaign["ends_at"]):
        return "ended"
    return "live"


def _campaign_form(campaign: Mapping[str, Any]) -> dict[str, str]:
    out = {name: "" if campaign[name] is None else str(campaign[name]) for name in CAMPAIGN_FIELDS}
    out["starts_at"] = local_time(campaign["starts_at"])
    out["ends_at"] = local_time(campaign["ends_at"])
    return out


def _referral_page(status: int = 200, **form: Any) -> FlaskResponse:
    c = current_container()
    now = c.clock()
    shop_id = current_merchant().shop_id
    listed = referrals.list_campaigns(c.uow(), shop_id, status="all", now=now)
    counts = program_counts.campaign_referrals(c.uow(), shop_id)
    for campaign in listed:
        campaign["state"] = campaign_state(campaign, now)
        campaign["counts"] = counts.get(campaign["id"], {})
    default = {
        "starts_at": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"),
        "friend_discount_kind": "percentage",
        "advocate_reward_kind": "points",
        "friend_code_valid_days": "30",
        "min_order_subtotal": "0",
    }
    return page(
        "referral_program.html",
        status,
        campaigns=listed,
        flagged=sum(cnt.get("flagged", 0) for cnt in counts.values()),
        discount_kinds=DISCOUNT_KINDS,
        advocate_kinds=ADVOCATE_KINDS,
        periods=CAMPAIGN_PERIODS,
        notice=_named_notice(listed, "refcamp_"),
        nav="referral_program",
        form=form.get("form", default),
        field_errors=form.get("field_errors", {}),
        error=form.get("error"),
    )


@bp.get("/referral-program")
def referral_program() -> FlaskResponse:
    return _referral_page()


@bp.post("/referral-program")
def referral_campaign_create() -> BaseResponse:
    c = current_container()
    form = _posted(CAMPAIGN_FIELDS)
    try:
        created = referrals.create_campaign(
            c.uow(), current_merchant().shop_id, _input(form, CAMPAIGN_FIELDS), now=c.clock()
        )
    except errors.ValidationFailed as exc:
        status, fields, message = _failed(exc, CAMPAIGN_FIELDS)
        return _referral_page(status, form=form, field_errors=fields, error=message)
    return redirect_to("adminapp.referral_program", notice="refcamp_created", id=created["id"])


def _campaign_edit_page(
    campaign: Mapping[str, Any], status: int = 200, **form: Any
) -> FlaskResponse:
    c = current_container()
    return page(
        "referral_campaign_edit.html",
        status,
        campaign=campaign,
        state=campaign_state(campaign, c.clock()),
        discount_kinds=DISCOUNT_KINDS,
        advocate_kinds=ADVOCATE_KINDS,
        periods=CAMPAIGN_PERIODS,
        nav="referral_program",
        form=form.get("form", _campaign_form(campaign)),
        field_errors=form.get("field_errors", {}),
        error=form.get("error"),
    )


@bp.get(f"/referral-program/<{ID}:campaign_id>")
def referral_campaign_edit(campaign_id: int) -> FlaskResponse:
    c = current_container()
    campaign = referrals.get_campaign(
        c.uow(), current_merchant().shop_id, campaign_id, now=c.clock()
    )
    return _campaign_edit_page(campaign)


@bp.post(f"/referral-program/<{ID}:campaign_id>")
def referral_campaign_update(campaign_id: int) -> BaseResponse:
    c = current_container()
    shop_id = current_merchant().shop_id
    campaign = referrals.get_campaign(c.uow(), shop_id, campaign_id, now=c.clock())
    form = _posted(CAMPAIGN_FIELDS)
    try:
        referrals.update_campaign(
            c.uow(),
            shop_id,
            campaign_id,
            _changes(form, CAMPAIGN_FIELDS, campaign),
            now=c.clock(),
        )
    except errors.ValidationFailed as exc:
        status, fields, message = _failed(exc, CAMPAIGN_FIELDS)
        return _campaign_edit_page(campaign, status, form=form, field_errors=fields, error=message)
    return redirect_to("adminapp.referral_program", notice="refcamp_saved", id=campaign_id)


@bp.post(f"/referral-program/<{ID}:campaign_id>/archive")
def referral_campaign_archive(campaign_id: int) -> BaseResponse:
    c = current_container()
    referrals.archive_campaign(c.uow(), current_merchant().shop_id, campaign_id, now=c.clock())
    return redirect_to("adminapp.referral_program", notice="refcamp_archived", id=campaign_id)
