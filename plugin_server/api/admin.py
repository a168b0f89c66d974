"""Merchant admin API, authenticated by the shop's API key and scoped to that shop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, g, jsonify, redirect, request, url_for

from plugin_server import jobs, observability, redemption_flow, rule_flow
from plugin_server.api import schemas as s
from plugin_server.api.context import current_container
from plugin_server.api.contract import API_KEY, AUTH_ERRORS, endpoint
from plugin_server.api.errors import ApiError
from plugin_server.crypto import hash_api_key
from plugin_server.db import repositories
from plugin_server.domain.imports import Layout, Mode
from plugin_server.services import (
    adjustments,
    analytics,
    collections,
    customers,
    earning_rules,
    exports,
    imports,
    offers,
    order_sync,
    outbound_webhooks,
    privacy,
    program,
    redemptions,
    referrals,
    rewards,
    scores,
    storefront,
    tiers,
)

bp = Blueprint("admin", __name__, url_prefix="/api/v1")


@bp.before_request
def authenticate() -> None:
    auth = request.headers.get("Authorization", "")
    scheme, _, key = auth.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(
            401, "unauthorized", "Send the shop's API key as 'Authorization: Bearer <key>'."
        )
    container = current_container()
    # Looked up by the key's SHA-256: the database never holds the key itself, and the
    # comparison happens on a digest the caller cannot steer byte by byte.
    with container.session_factory() as session:
        shop = repositories.shop_by_api_key_hash(session, hash_api_key(key.strip()))
        if shop is None:
            raise ApiError(401, "unauthorized", "The API key is not valid.")
        g.shop_id = shop.id
    observability.bind_shop(shop.id)


# Path ids are bounded by the widest id column, so a huge number is a plain 404.
ID = f"int(max={s.MAX_ID})"
CUSTOMER = {"customer_id": "The platform's customer id (or guest:<email>)."}
NO_CUSTOMER = {"HTTP_404": (s.Error, "No such customer in this shop.")}


@bp.get("/customers/<customer_id>")
@endpoint(
    tags=["customers"],
    security=API_KEY,
    path_parameters=CUSTOMER,
    responses={"HTTP_200": (s.Customer, "The customer."), **NO_CUSTOMER, **AUTH_ERRORS},
)
def get_customer(customer_id: str) -> Response:
    """A customer's points"""
    c = current_container()
    return jsonify(customers.customer_summary(c.uow(), g.shop_id, customer_id, now=c.clock()))


@bp.get("/customers/<customer_id>/offers")
@endpoint(
    tags=["customers"],
    security=API_KEY,
    path_parameters=CUSTOMER,
    responses={
        "HTTP_200": (s.Offers, "Rewards within reach and products picked for them."),
        **NO_CUSTOMER,
        **AUTH_ERRORS,
    },
)
def get_customer_offers(customer_id: str) -> Response:
    """Personalised offers for a customer, with the reason for each"""
    c = current_container()
    return jsonify(offers.member_offers(c.uow(), g.shop_id, customer_id, now=c.clock()))


@bp.get("/segments")
@endpoint(
    tags=["segments"],
    security=API_KEY,
    responses={"HTTP_200": (s.SegmentList, "Every segment, even empty ones."), **AUTH_ERRORS},
)
def list_segments() -> Response:
    """Customer segments: definitions, member counts and shares"""
    return jsonify(scores.segments_overview(current_container().uow(), g.shop_id))


@bp.get("/segments/<segment>/members")
@endpoint(
    tags=["segments"],
    security=API_KEY,
    path_parameters={"segment": "A segment name, e.g. at_risk."},
    responses={
        "HTTP_200": (s.SegmentMemberPage, "A page of the segment's members, in id order."),
        "HTTP_400": (s.Error, "unknown_segment, or a bad limit or cursor."),
        "HTTP_404": (s.Error, "not_found: a segment name with a NUL character."),
        **AUTH_ERRORS,
    },
)
def list_segment_members(segment: str, query: s.SegmentMembersQuery) -> Response:
    """Members of a customer segment, with their scores"""
    return jsonify(
        scores.segment_members(
            current_container().uow(),
            g.shop_id,
            segment,
            limit=query.limit,
            after=query.cursor,
        )
    )


@bp.get("/customers")
@endpoint(
    tags=["customers"],
    security=API_KEY,
    responses={
        "HTTP_200": (s.CustomerList, "Matching customers (possibly none)."),
        "HTTP_400": (s.Error, "No or invalid email."),
        **AUTH_ERRORS,
    },
)
def find_customers(query: s.EmailQuery) -> Response:
    """Find customers by email"""
    c = current_container()
    found = customers.customers_by_email(c.uow(), g.shop_id, query.email, now=c.clock())
    return jsonify(customers=found)


@bp.get("/customers/<customer_id>/transactions")
@endpoint(
    tags=["customers"],
    security=API_KEY,
    path_parameters=CUSTOMER,
    responses={
        "HTTP_200": (s.TransactionPage, "A page of entries."),
        "HTTP_400": (s.Error, "Bad limit or cursor."),
        **NO_CUSTOMER,
        **AUTH_ERRORS,
    },
)
def list_transactions(customer_id: str, query: s.TransactionsQuery) -> Response:
    """A customer's ledger entries, newest first"""
    c = current_container()
    return jsonify(
        customers.transactions(
            c.uow(),
            g.shop_id,
            customer_id,
            now=c.clock(),
            limit=query.limit,
            before_id=query.cursor,
        )
    )


@bp.get("/program")
@endpoint(
    tags=["program"],
    security=API_KEY,
    responses={"HTTP_200": (s.Program, "Settings."), **AUTH_ERRORS},
)
def get_program() -> Response:
    """The program's earning settings"""
    return jsonify(program.get_program(current_container().uow(), g.shop_id))


@bp.patch("/program")
@endpoint(
    tags=["program"],
    security=API_KEY,
    json=s.ProgramChanges,
    responses={
        "HTTP_200": (s.Program, "Settings after the change; orders already paid keep theirs."),
        "HTTP_400": (s.Error, "validation_failed or invalid_json."),
        **AUTH_ERRORS,
    },
)
def update_program(json: s.ProgramChanges) -> Response:
    """Change earning settings"""
    c = current_container()
    changes = json.model_dump(exclude_unset=True)
    return jsonify(program.update_program(c.uow(), g.shop_id, changes, now=c.clock()))


@bp.get("/rewards")
@endpoint(
    tags=["rewards"],
    security=API_KEY,
    responses={
        "HTTP_200": (s.RewardList, "Rewards, newest first."),
        "HTTP_400": (s.Error, "Unknown status."),
        **AUTH_ERRORS,
    },
)
def list_rewards(query: s.StatusQuery) -> Response:
    """The rewards catalog"""
    c = current_container()
    return jsonify(rewards=rewards.list_rewards(c.uow(), g.shop_id, status=query.status))


@bp.post("/rewards")
@endpoint(
    tags=["rewards"],
    security=API_KEY,
    json=s.RewardInput,
    responses={
        "HTTP_201": (s.Reward, "Created."),
        "HTTP_400": (s.Error, "validation_failed (the bad fields named) or invalid_json."),
        **AUTH_ERRORS,
    },
)
def create_reward(json: s.RewardInput) -> tuple[Response, int]:
    """Add a reward to the catalog"""
    c = current_container()
    reward = rewards.create_reward(
        c.uow(), g.shop_id, json.model_dump(exclude_unset=True), now=c.clock()
    )
    return jsonify(reward), 201


REWARD = {"reward_id": "The reward's id."}
NO_REWARD = {"HTTP_404": (s.Error, "No such reward in this shop.")}


@bp.get(f"/rewards/<{ID}:reward_id>")
@endpoint(
    tags=["rewards"],
    security=API_KEY,
    path_parameters=REWARD,
    responses={"HTTP_200": (s.Reward, "The reward."), **NO_REWARD, **AUTH_ERRORS},
)
def get_reward(reward_id: int) -> Response:
    """One reward"""
    return jsonify(rewards.get_reward(current_container().uow(), g.shop_id, reward_id))


@bp.patch(f"/rewards/<{ID}:reward_id>")
@endpoint(
    tags=["rewards"],
    security=API_KEY,
    path_parameters=REWARD,
    json=s.RewardChanges,
    responses={
        "HTTP_200": (s.Reward, "The reward after the change."),
        "HTTP_400": (s.Error, "Invalid change (the kind cannot change)."),
        **NO_REWARD,
        "HTTP_409": (s.Error, "reward_archived."),
        **AUTH_ERRORS,
    },
)
def update_reward(reward_id: int, json: s.RewardChanges) -> Response:
    """Change a reward; codes already issued keep their terms"""
    c = current_container()
    changes = json.model_dump(exclude_unset=True)
    return jsonify(rewards.update_reward(c.uow(), g.shop_id, reward_id, changes, now=c.clock()))


@bp.post(f"/rewards/<{ID}:reward_id>/archive")
@endpoint(
    tags=["rewards"],
    security=API_KEY,
    path_parameters=REWARD,
    responses={"HTTP_200": (s.Reward, "The archived reward."), **NO_REWARD, **AUTH_ERRORS},
)
def archive_reward(reward_id: int) -> Response:
    """Archive a reward (idempotent); shoppers no longer see it"""
    c = current_container()
    return jsonify(rewards.archive_reward(c.uow(), g.shop_id, reward_id, now=c.clock()))


@bp.post("/customers/<customer_id>/adjustments")
@endpoint(
    tags=["customers"],
    security=API_KEY,
    path_parameters=CUSTOMER,
    json=s.AdjustmentInput,
    headers=s.IdempotencyHeaders,
    responses={
        "HTTP_201": (s.Adjustment, "Recorded."),
        "HTTP_200": (s.Adjustment, "Already recorded under this Idempotency-Key."),
        "HTTP_400": (s.Error, "Invalid points, reason or key."),
        **NO_CUSTOMER,
        "HTTP_409": (s.Error, "The Idempotency-Key was used for a different adjustment."),
        **AUTH_ERRORS,
    },
)
def adjust_points(
    customer_id: str, json: s.AdjustmentInput, headers: s.IdempotencyHeaders
) -> tuple[Response, int]:
    """Add or deduct points by hand, with a reason"""
    c = current_container()
    entry, created = adjustments.adjust_points(
        c.uow(),
        g.shop_id,
        customer_id,
        points=json.points,
        reason=json.reason,
        idempotency_key=headers.idempotency_key,
        now=c.clock(),
    )
    return jsonify(entry), 201 if created else 200


@bp.get("/data-exports")
@endpoint(
    tags=["privacy"],
    security=API_KEY,
    responses={
        "HTTP_200": (s.DataExportList, "Exports made for customers' data requests."),
        **AUTH_ERRORS,
    },
)
def list_data_exports() -> Response:
    """Customer data exports (Shopify customers/data_request)"""
    with current_container().session_factory() as session:
        return jsonify(data_exports=privacy.list_exports(session, g.shop_id))


@bp.get(f"/data-exports/<{ID}:export_id>")
@endpoint(
    tags=["privacy"],
    security=API_KEY,
    path_parameters={"export_id": "The export's id."},
    responses={
        "HTTP_200": (s.DataExport, "The export."),
        "HTTP_404": (s.Error, "No such export in this shop."),
        **AUTH_ERRORS,
    },
)
def get_data_export(export_id: int) -> Response:
    """One data export, with everything held on the customer"""
    with current_container().session_factory() as session:
        export = privacy.get_export(session, g.shop_id, export_id)
    if export is None:
        raise ApiError(404, "data_export_not_found", f"no data export {export_id} in this shop")
    return jsonify(export)


@bp.post("/customers/<customer_id>/redemptions")
@endpoint(
    tags=["redemptions"],
    security=API_KEY,
    path_parameters=CUSTOMER,
    json=s.RedemptionInput,
    headers=s.IdempotencyHeaders,
    responses={
        "HTTP_201": (s.Redemption, "Points taken; the code, or pending while the store works."),
        "HTTP_200": (s.Redemption, "Already redeemed under this Idempotency-Key."),
        "HTTP_400": (s.Error, "Invalid reward_id, points or key."),
        "HTTP_404": (s.Error, "No such customer or active reward in this shop."),
        "HTTP_409": (
            s.Error,
            "insufficient_points, idempotency_key_reused, shop_inactive, or tier_required.",
        ),
        "HTTP_422": (s.Error, "Redemptions are not available for this shop's platform."),
        **AUTH_ERRORS,
    },
)
def redeem_points(
    customer_id: str, json: s.RedemptionInput, headers: s.IdempotencyHeaders
) -> tuple[Response, int]:
    """Redeem points for a discount code at the store.

    Takes the points at once, then asks the store for the code."""
    given = json.model_dump(exclude_unset=True)
    c = current_container()
    out, created = redemption_flow.redeem_and_issue(
        c,
        g.shop_id,
        customer_id,
        reward_id=given.get("reward_id"),
        points=given.get("points"),
        idempotency_key=headers.idempotency_key,
    )
    return jsonify(out), 201 if created else 200


REDEMPTION = {"redemption_id": "The redemption's id."}


@bp.get(f"/redemptions/<{ID}:redemption_id>")
@endpoint(
    tags=["redemptions"],
    security=API_KEY,
    path_parameters=REDEMPTION,
    responses={
        "HTTP_200": (s.Redemption, "The redemption."),
        "HTTP_404": (s.Error, "No such redemption in this shop."),
        **AUTH_ERRORS,
    },
)
def get_redemption(redemption_id: int) -> Response:
    """One redemption (poll while pending)"""
    return jsonify(redemptions.get_redemption(current_container().uow(), g.shop_id, redemption_id))


@bp.post(f"/redemptions/<{ID}:redemption_id>/cancel")
@endpoint(
    tags=["redemptions"],
    security=API_KEY,
    path_parameters=REDEMPTION,
    responses={
        "HTTP_200": (s.Redemption, "Cancelled: the code is off at the store, the points back."),
        "HTTP_404": (s.Error, "No such redemption in this shop."),
        "HTTP_409": (s.Error, "redemption_not_cancellable: not an issued code."),
        "HTTP_502": (s.Error, "The store refused to deactivate the code."),
        "HTTP_503": (s.Error, "The store is unreachable; nothing changed."),
        **AUTH_ERRORS,
    },
)
def cancel_redemption(redemption_id: int) -> Response:
    """Cancel an issued code and give the points back"""
    c = current_container()
    return jsonify(
        redemptions.cancel(
            c.uow,
            c.platforms,
            g.shop_id,
            redemption_id,
            credentials=lambda shop_id: jobs.shop_credentials(c, shop_id),
            now=c.clock,
        )
    )


@bp.get("/customers/<customer_id>/redemptions")
@endpoint(
    tags=["redemptions"],
    security=API_KEY,
    path_parameters=CUSTOMER,
    responses={
        "HTTP_200": (s.RedemptionList, "The customer's redemptions, newest first."),
        "HTTP_400": (s.Error, "Bad limit."),
        **NO_CUSTOMER,
        **AUTH_ERRORS,
    },
)
def list_customer_redemptions(customer_id: str, query: s.PageQuery) -> Response:
    """A customer's redemptions"""
    found = redemptions.list_redemptions(
        current_container().uow(), g.shop_id, customer_id, limit=query.limit
    )
    return jsonify(redemptions=found)


@bp.get("/widget")
@endpoint(
    tags=["widget"],
    security=API_KEY,
    responses={"HTTP_200": (s.WidgetSettings, "Settings."), **AUTH_ERRORS},
)
def get_widget() -> Response:
    """The storefront widget's settings"""
    return jsonify(storefront.get_widget(current_container().uow(), g.shop_id))


@bp.patch("/widget")
@endpoint(
    tags=["widget"],
    security=API_KEY,
    json=s.WidgetChanges,
    responses={
        "HTTP_200": (s.WidgetSettings, "Settings after the change."),
        "HTTP_400": (s.Error, "Invalid or unknown settings."),
        **AUTH_ERRORS,
    },
)
def update_widget(json: s.WidgetChanges) -> Response:
    """Theme, texts per locale, allowed origins, position, token key"""
    c = current_container()
    changes = json.model_dump(exclude_unset=True)
    return jsonify(storefront.update_widget(c.uow(), g.shop_id, changes))


# --- earning rules and activities -----------------------------------------------------

RULE = {"rule_id": "The earning rule's id."}
NO_RULE = {"HTTP_404": (s.Error, "No such earning rule in this shop.")}


@bp.get("/earning-rules")
@endpoint(
    tags=["earning rules"],
    security=API_KEY,
    responses={
        "HTTP_200": (s.EarningRuleList, "Rules, oldest first."),
        "HTTP_400": (s.Error, "Unknown status."),
        **AUTH_ERRORS,
    },
)
def list_earning_rules(query: s.StatusQuery) -> Response:
    """Earning rules: sign-up, birthday, activities, bonus campaigns, products that never earn"""
    c = current_container()
    found = earning_rules.list_rules(c.uow(), g.shop_id, status=query.status)
    return jsonify(earning_rules=found)


@bp.post("/earning-rules")
@endpoint(
    tags=["earning rules"],
    security=API_KEY,
    json=s.EarningRuleInput,
    responses={
        "HTTP_201": (
            s.EarningRule,
            "Created; its collections synced from the store if that took under ~2 s, else "
            "pending (a background sync follows).",
        ),
        "HTTP_400": (s.Error, "validation_failed (the bad field named; a key already used)."),
        **AUTH_ERRORS,
    },
)
def create_earning_rule(json: s.EarningRuleInput) -> tuple[Response, int]:
    """Add a way to earn"""
    body = json.model_dump(exclude_unset=True)
    return jsonify(rule_flow.create_rule(current_container(), g.shop_id, body)), 201


@bp.get(f"/earning-rules/<{ID}:rule_id>")
@endpoint(
    tags=["earning rules"],
    security=API_KEY,
    path_parameters=RULE,
    responses={"HTTP_200": (s.EarningRule, "The rule."), **NO_RULE, **AUTH_ERRORS},
)
def get_earning_rule(rule_id: int) -> Response:
    """One earning rule"""
    return jsonify(earning_rules.get_rule(current_container().uow(), g.shop_id, rule_id))


@bp.patch(f"/earning-rules/<{ID}:rule_id>")
@endpoint(
    tags=["earning rules"],
    security=API_KEY,
    path_parameters=RULE,
    json=s.EarningRuleChanges,
    responses={
        "HTTP_200": (s.EarningRule, "The rule after the change; past awards keep theirs."),
        "HTTP_400": (s.Error, "Invalid change, or the rule is archived."),
        **NO_RULE,
        **AUTH_ERRORS,
    },
)
def update_earning_rule(rule_id: int, json: s.EarningRuleChanges) -> Response:
    """Change a rule's name, points, limit, or a campaign's terms"""
    changes = json.model_dump(exclude_unset=True)
    return jsonify(rule_flow.update_rule(current_container(), g.shop_id, rule_id, changes))


@bp.get("/collections")
@endpoint(
    tags=["earning rules"],
    security=API_KEY,
    responses={
        "HTTP_200": (s.CollectionList, "Every collection the shop's rules named, oldest first."),
        **AUTH_ERRORS,
    },
)
def list_collections() -> Response:
    """Collections (WooCommerce: categories) in rules, with their sync state"""
    found = collections.list_collections(current_container().uow(), g.shop_id)
    return jsonify(collections=found)


@bp.post("/collections/<collection_id>/sync")
@endpoint(
    tags=["earning rules"],
    security=API_KEY,
    path_parameters={"collection_id": "A collection (category) id a rule of the shop names."},
    responses={
        "HTTP_200": (s.CollectionState, "Synced now, or failed (see status and error)."),
        "HTTP_202": (s.CollectionState, "Not finished within ~2 s: a background sync follows."),
        "HTTP_400": (s.Error, "validation_failed: not a collection id."),
        "HTTP_404": (s.Error, "collection_not_found: no rule of this shop names it."),
        **AUTH_ERRORS,
    },
)
def sync_collection(collection_id: str) -> tuple[Response, int]:
    """Read a collection's products from the store again now"""
    out, finished = rule_flow.sync_now(current_container(), g.shop_id, collection_id)
    return jsonify(out), 200 if finished else 202


@bp.get("/orders/backfill")
@endpoint(
    tags=["orders"],
    security=API_KEY,
    responses={"HTTP_200": (s.BackfillProgress, "Where the backfill got to."), **AUTH_ERRORS},
)
def get_order_backfill() -> Response:
    """Progress of reading the shop's past orders into its order history"""
    return jsonify(order_sync.backfill_progress(current_container().uow(), g.shop_id))


@bp.post("/orders/backfill")
@endpoint(
    tags=["orders"],
    security=API_KEY,
    responses={
        "HTTP_202": (
            s.BackfillProgress,
            "Started (or resumed from where it stopped, or already running): poll GET.",
        ),
        **AUTH_ERRORS,
    },
)
def start_order_backfill() -> tuple[Response, int]:
    """Read every past order from the store into the order history (for scoring), also
    those placed before the app was installed, which earn no points"""
    c = current_container()
    progress, start = order_sync.start_backfill(c.uow(), g.shop_id, now=c.clock())
    if start:
        c.dispatcher.backfill(g.shop_id)
    return jsonify(progress), 202


@bp.post(f"/earning-rules/<{ID}:rule_id>/archive")
@endpoint(
    tags=["earning rules"],
    security=API_KEY,
    path_parameters=RULE,
    responses={"HTTP_200": (s.EarningRule, "The archived rule."), **NO_RULE, **AUTH_ERRORS},
)
def archive_earning_rule(rule_id: int) -> Response:
    """Stop a rule paying (idempotent); its past awards stay"""
    c = current_container()
    return jsonify(earning_rules.archive_rule(c.uow(), g.shop_id, rule_id, now=c.clock()))


@bp.post("/customers/<customer_id>/activities")
@endpoint(
    tags=["earning rules"],
    security=API_KEY,
    path_parameters=CUSTOMER,
    json=s.ActivityInput,
    responses={
        "HTTP_201": (s.ActivityAward, "Paid."),
        "HTTP_200": (s.ActivityAward, "Already paid for this reference."),
        "HTTP_400": (s.Error, "Invalid rule key or reference."),
        "HTTP_404": (
            s.Error,
            "customer_not_found, or earning_rule_not_found (no such active activity rule).",
        ),
        "HTTP_409": (s.Error, "activity_limit_reached for the current period."),
        **AUTH_ERRORS,
    },
)
def record_activity(customer_id: str, json: s.ActivityInput) -> tuple[Response, int]:
    """Pay a member for an activity your systems saw (a review, a follow)"""
    c = current_container()
    award, created = earning_rules.record_activity(
        c.uow(),
        g.shop_id,
        customer_id,
        rule_key=json.rule,
        reference=json.reference,
        now=c.clock(),
    )
    return jsonify(award), 201 if created else 200


# --- tiers ----------------------------------------------------------------------------

TIER = {"tier_id": "The tier's id."}
NO_TIER = {"HTTP_404": (s.Error, "No such tier in this shop.")}


@bp.get("/tiers")
@endpoint(
    tags=["tiers"],
    security=API_KEY,
    responses={
        "HTTP_200": (s.TierList, "Tiers, lowest threshold first."),
        "HTTP_400": (s.Error, "Unknown status."),
        **AUTH_ERRORS,
    },
)
def list_tiers(query: s.StatusQuery) -> Response:
    """The VIP tiers (how members qualify is in /program)"""
    return jsonify(
        tiers=tiers.list_tiers(current_container().uow(), g.shop_id, status=query.status)
    )


@bp.post("/tiers")
@endpoint(
    tags=["tiers"],
    security=API_KEY,
    json=s.TierInput,
    responses={
        "HTTP_201": (s.TierOut, "Created; members are recalculated within a minute."),
        "HTTP_400": (s.Error, "validation_failed (the bad field named)."),
        **AUTH_ERRORS,
    },
)
def create_tier(json: s.TierInput) -> tuple[Response, int]:
    """Add a tier"""
    c = current_container()
    body = json.model_dump(exclude_unset=True)
    return jsonify(tiers.create_tier(c.uow(), g.shop_id, body, now=c.clock())), 201


@bp.get(f"/tiers/<{ID}:tier_id>")
@endpoint(
    tags=["tiers"],
    security=API_KEY,
    path_parameters=TIER,
    responses={"HTTP_200": (s.TierOut, "The tier."), **NO_TIER, **AUTH_ERRORS},
)
def get_tier(tier_id: int) -> Response:
    """One tier"""
    return jsonify(tiers.get_tier(current_container().uow(), g.shop_id, tier_id))


@bp.patch(f"/tiers/<{ID}:tier_id>")
@endpoint(
    tags=["tiers"],
    security=API_KEY,
    path_parameters=TIER,
    json=s.TierChanges,
    responses={
        "HTTP_200": (s.TierOut, "The tier after the change; members recalculated shortly."),
        "HTTP_400": (s.Error, "Invalid change, or the tier is archived."),
        **NO_TIER,
        **AUTH_ERRORS,
    },
)
def update_tier(tier_id: int, json: s.TierChanges) -> Response:
    """Change a tier's name, threshold, multiplier or entry points"""
    c = current_container()
    changes = json.model_dump(exclude_unset=True)
    return jsonify(tiers.update_tier(c.uow(), g.shop_id, tier_id, changes, now=c.clock()))


@bp.post(f"/tiers/<{ID}:tier_id>/archive")
@endpoint(
    tags=["tiers"],
    security=API_KEY,
    path_parameters=TIER,
    responses={"HTTP_200": (s.TierOut, "The archived tier."), **NO_TIER, **AUTH_ERRORS},
)
def archive_tier(tier_id: int) -> Response:
    """Retire a tier (idempotent); its members are recalculated shortly"""
    c = current_container()
    return jsonify(tiers.archive_tier(c.uow(), g.shop_id, tier_id, now=c.clock()))


# --- referrals ------------------------------------------------------------------------

CAMPAIGN = {"campaign_id": "The referral campaign's id."}
NO_CAMPAIGN = {"HTTP_404": (s.Error, "No such referral campaign in this shop.")}
REFERRAL = {"referral_id": "The referral's id."}
NO_REFERRAL = {"HTTP_404": (s.Error, "No such referral in this shop.")}


@bp.get("/referral-campaigns")
@endpoint(
    tags=["referrals"],
    security=API_KEY,
    responses={
        "HTTP_200": (s.ReferralCampaignList, "Campaigns, latest start first."),
        "HTTP_400": (s.Error, "Unknown status."),
        **AUTH_ERRORS,
    },
)
def list_referral_campaigns(query: s.StatusQuery) -> Response:
    """Referral campaigns (the live one is the latest started, unarchived and not ended)"""
    c = current_container()
    found = referrals.list_campaigns(c.uow(), g.shop_id, status=query.status, now=c.clock())
    return jsonify(referral_campaigns=found)


@bp.post("/referral-campaigns")
@endpoint(
    tags=["referrals"],
    security=API_KEY,
    json=s.ReferralCampaignInput,
    responses={
        "HTTP_201": (s.ReferralCampaign, "Created."),
        "HTTP_400": (s.Error, "validation_failed, naming the field."),
        **AUTH_ERRORS,
    },
)
def create_referral_campaign(json: s.ReferralCampaignInput) -> tuple[Response, int]:
    """Start a referral campaign: the friend's discount, the advocate's reward, limits"""
    c = current_container()
    body = json.model_dump(exclude_unset=True)
    return jsonify(referrals.create_campaign(c.uow(), g.shop_id, body, now=c.clock())), 201


@bp.get(f"/referral-campaigns/<{ID}:campaign_id>")
@endpoint(
    tags=["referrals"],
    security=API_KEY,
    path_parameters=CAMPAIGN,
    responses={"HTTP_200": (s.ReferralCampaign, "The campaign."), **NO_CAMPAIGN, **AUTH_ERRORS},
)
def get_referral_campaign(campaign_id: int) -> Response:
    """One referral campaign"""
    c = current_container()
    return jsonify(referrals.get_campaign(c.uow(), g.shop_id, campaign_id, now=c.clock()))


@bp.patch(f"/referral-campaigns/<{ID}:campaign_id>")
@endpoint(
    tags=["referrals"],
    security=API_KEY,
    path_parameters=CAMPAIGN,
    json=s.ReferralCampaignChanges,
    responses={
        "HTTP_200": (s.ReferralCampaign, "The campaign after the change."),
        "HTTP_400": (s.Error, "validation_failed, naming the field."),
        **NO_CAMPAIGN,
        **AUTH_ERRORS,
    },
)
def update_referral_campaign(campaign_id: int, json: s.ReferralCampaignChanges) -> Response:
    """Change a campaign's terms or window"""
    c = current_container()
    changes = json.model_dump(exclude_unset=True)
    return jsonify(
        referrals.update_campaign(c.uow(), g.shop_id, campaign_id, changes, now=c.clock())
    )


@bp.post(f"/referral-campaigns/<{ID}:campaign_id>/archive")
@endpoint(
    tags=["referrals"],
    security=API_KEY,
    path_parameters=CAMPAIGN,
    responses={
        "HTTP_200": (s.ReferralCampaign, "Archived; referrals already claimed complete."),
        **NO_CAMPAIGN,
        **AUTH_ERRORS,
    },
)
def archive_referral_campaign(campaign_id: int) -> Response:
    """Stop new claims (idempotent)"""
    c = current_container()
    return jsonify(referrals.archive_campaign(c.uow(), g.shop_id, campaign_id, now=c.clock()))


@bp.get("/referrals")
@endpoint(
    tags=["referrals"],
    security=API_KEY,
    responses={
        "HTTP_200": (s.ReferralList, "Newest first."),
        "HTTP_400": (s.Error, "Bad status, limit or before."),
        "HTTP_404": (s.Error, "No such advocate."),
        **AUTH_ERRORS,
    },
)
def list_referrals(query: s.ReferralQuery) -> Response:
    """Referrals, e.g. `?status=flagged` for those waiting for your review"""
    c = current_container()
    found = referrals.list_referrals(
        c.uow(),
        g.shop_id,
        status=query.status,
        advocate_ref=query.advocate,
        before=query.before,
        limit=query.limit,
    )
    next_before = found[-1]["id"] if len(found) == query.limit else None
    return jsonify(referrals=found, next_before=next_before)


@bp.get("/referrals/report")
@endpoint(
    tags=["referrals"],
    security=API_KEY,
    responses={
        "HTTP_200": (s.ReferralReport, "Counts for referrals begun in the window."),
        "HTTP_400": (s.Error, "since/until are not date-times with a time zone."),
        **AUTH_ERRORS,
    },
)
def referral_report(query: s.ReportQuery) -> Response:
    """How many referrals were flagged, approved, rejected; what advocates were paid"""
    c = current_container()
    return jsonify(referrals.report(c.uow(), g.shop_id, since=query.since, until=query.until))


@bp.get(f"/referrals/<{ID}:referral_id>")
@endpoint(
    tags=["referrals"],
    security=API_KEY,
    path_parameters=REFERRAL,
    responses={"HTTP_200": (s.Referral, "The referral."), **NO_REFERRAL, **AUTH_ERRORS},
)
def get_referral(referral_id: int) -> Response:
    """One referral, with why it was held"""
    return jsonify(referrals.get_referral(current_container().uow(), g.shop_id, referral_id))


def _review(referral_id: int, body: s.ReviewInput, *, approve: bool) -> Response:
    note = body.model_dump(exclude_unset=True).get("note")
    return jsonify(
        redemption_flow.review_referral(
            current_container(), g.shop_id, referral_id, approve=approve, note=note
        )
    )


@bp.post(f"/referrals/<{ID}:referral_id>/approve")
@endpoint(
    tags=["referrals"],
    security=API_KEY,
    path_parameters=REFERRAL,
    json=s.ReviewInput,
    responses={
        "HTTP_200": (s.Referral, "Approved: rewarded now if the pending period has passed."),
        "HTTP_400": (s.Error, "Invalid body."),
        "HTTP_409": (s.Error, "referral_not_reviewable: only flagged referrals."),
        **NO_REFERRAL,
        **AUTH_ERRORS,
    },
)
def approve_referral(referral_id: int, json: s.ReviewInput) -> Response:
    """Release a held referral"""
    return _review(referral_id, json, approve=True)


@bp.post(f"/referrals/<{ID}:referral_id>/reject")
@endpoint(
    tags=["referrals"],
    security=API_KEY,
    path_parameters=REFERRAL,
    json=s.ReviewInput,
    responses={
        "HTTP_200": (s.Referral, "Rejected: the advocate is not rewarded."),
        "HTTP_400": (s.Error, "Invalid body."),
        "HTTP_409": (s.Error, "referral_not_reviewable: already rewarded or closed."),
        **NO_REFERRAL,
        **AUTH_ERRORS,
    },
)
def reject_referral(referral_id: int, json: s.ReviewInput) -> Response:
    """Refuse a referral that has not been rewarded yet"""
    return _review(referral_id, json, approve=False)


# --- CSV imports and exports ----------------------------------------------------------------

IMPORT = {"import_id": "The import's id."}
NO_IMPORT = {"HTTP_404": (s.Error, "No such import in this shop.")}
CSV_BODY = (
    "The file, UTF-8 (a BOM is fine), header row first. Layouts: loyalty "
    "(email and/or customer_id, points or balance, first_name, last_name), smile "
    "(exactly email,points) and loyaltylion (a customer export: email, points_approved, "
    "merchant_id, first_name, last_name). Header names ignore case and spaces."
)


def _csv_body() -> bytes:
    if request.mimetype != "text/csv":
        raise ApiError(415, "unsupported_media_type", "Send the file as 'Content-Type: text/csv'.")
    request.max_content_length = imports.MAX_FILE_BYTES
    return request.get_data(cache=False)  # 413 payload_too_large past the limit


@bp.post("/imports")
@endpoint(
    tags=["imports"],
    security=API_KEY,
    query=s.ImportQuery,
    csv_body=CSV_BODY,
    responses={
        "HTTP_200": (
            s.ImportResult,
            "dry_run: the report of every problem row; or this file was already imported in "
            "this mode: that import (nothing is credited twice).",
        ),
        "HTTP_202": (
            s.ImportOut,
            "Recorded and started: in the background with a worker (poll GET "
            "/imports/{id}), already completed without one.",
        ),
        "HTTP_400": (
            s.Error,
            "unknown_layout, missing_columns, invalid_csv (not UTF-8, bad quoting, repeated "
            "header names), empty_file, or validation_failed (query).",
        ),
        "HTTP_413": (s.Error, "payload_too_large: the file is over 64 MiB."),
        "HTTP_415": (s.Error, "unsupported_media_type: send text/csv."),
        "HTTP_422": (
            s.Error,
            "import_has_problems: rows that cannot be imported, each in `fields` as "
            "'line N' (the first 100); nothing was written.",
        ),
        **AUTH_ERRORS,
    },
)
def create_import(query: s.ImportQuery) -> tuple[Response, int]:
    """Import members and points from CSV (add, or reset balances)"""
    c = current_container()
    layout = Layout(query.layout) if query.layout else None
    mode = Mode(query.mode)
    if query.dry_run:
        report = imports.dry_run(c.uow(), g.shop_id, _csv_body(), layout=layout, mode=mode)
        return jsonify(report), 200
    # The body is not kept in a local: an import run here reads its own copy back.
    out, created = imports.create_import(
        c.uow(),
        g.shop_id,
        _csv_body(),
        name=query.name or "CSV import",
        layout=layout,
        mode=mode,
        skip_invalid=query.skip_invalid,
        now=c.clock(),
    )
    if not created:
        return jsonify(out), 200
    c.dispatcher.run_import(g.shop_id, out["id"])
    return jsonify(imports.get_import(c.uow(), g.shop_id, out["id"])), 202


@bp.get("/imports")
@endpoint(
    tags=["imports"],
    security=API_KEY,
    responses={"HTTP_200": (s.ImportList, "The latest 50, newest first."), **AUTH_ERRORS},
)
def list_imports() -> Response:
    """CSV imports"""
    return jsonify(imports=imports.list_imports(current_container().uow(), g.shop_id))


@bp.get(f"/imports/<{ID}:import_id>")
@endpoint(
    tags=["imports"],
    security=API_KEY,
    path_parameters=IMPORT,
    responses={
        "HTTP_200": (s.ImportOut, "The import and its progress."),
        **NO_IMPORT,
        **AUTH_ERRORS,
    },
)
def get_import(import_id: int) -> Response:
    """One CSV import and its progress"""
    return jsonify(imports.get_import(current_container().uow(), g.shop_id, import_id))


@bp.post(f"/imports/<{ID}:import_id>/resume")
@endpoint(
    tags=["imports"],
    security=API_KEY,
    path_parameters=IMPORT,
    responses={
        "HTTP_202": (
            s.ImportOut,
            "Resumed after its last committed line (a completed import is returned as is).",
        ),
        **NO_IMPORT,
        **AUTH_ERRORS,
    },
)
def resume_import(import_id: int) -> tuple[Response, int]:
    """Resume a stopped import"""
    c = current_container()
    out = imports.get_import(c.uow(), g.shop_id, import_id)
    if out["status"] != "completed":
        c.dispatcher.run_import(g.shop_id, import_id)
        out = imports.get_import(c.uow(), g.shop_id, import_id)
    return jsonify(out), 202


def _csv_response(chunks: Iterator[str], filename: str) -> Response:
    return Response(
        chunks,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",  # members' emails
        },
    )


CSV_NOTE = (
    "Streamed. Text cells starting with = + - @, a tab or CR get a leading apostrophe so "
    "spreadsheets never run them (imports strip it again)."
)


@bp.get("/exports/members.csv")
@endpoint(
    tags=["exports"],
    security=API_KEY,
    csv_responses=["HTTP_200"],
    responses={
        "HTTP_200": (
            s.CsvText,
            "customer_id, email, first_name, last_name, balance, pending, lifetime_earned, "
            "tier, member_since; one row per member. " + CSV_NOTE,
        ),
        **AUTH_ERRORS,
    },
)
def export_members() -> Response:
    """Members with balances and tiers, as CSV"""
    c = current_container()
    return _csv_response(exports.members_csv(c.uow, g.shop_id, now=c.clock()), "members.csv")


@bp.get("/exports/balances.csv")
@endpoint(
    tags=["exports"],
    security=API_KEY,
    csv_responses=["HTTP_200"],
    responses={
        "HTTP_200": (s.CsvText, "customer_id, email, balance, pending. " + CSV_NOTE),
        **AUTH_ERRORS,
    },
)
def export_balances() -> Response:
    """Balances, as CSV"""
    c = current_container()
    chunks = exports.members_csv(c.uow, g.shop_id, now=c.clock(), balances_only=True)
    return _csv_response(chunks, "balances.csv")


@bp.get("/exports/ledger.csv")
@endpoint(
    tags=["exports"],
    security=API_KEY,
    query=s.LedgerExportQuery,
    csv_responses=["HTTP_200"],
    responses={
        "HTTP_200": (
            s.CsvText,
            "entry_id, created_at, available_at, customer_id, email, points, kind, reason, "
            "source_type, source_ref; oldest first. " + CSV_NOTE,
        ),
        "HTTP_400": (s.Error, "since/until not a date-time with a time zone."),
        **AUTH_ERRORS,
    },
)
def export_ledger(query: s.LedgerExportQuery) -> Response:
    """Ledger entries created in [since, until), as CSV"""
    c = current_container()
    chunks = exports.ledger_csv(c.uow, g.shop_id, since=query.since, until=query.until)
    return _csv_response(chunks, "ledger.csv")


# --- outbound webhooks ----------------------------------------------------------------

WEBHOOK_ENDPOINT = {"endpoint_id": "The webhook endpoint's id."}
NO_WEBHOOK_ENDPOINT = {"HTTP_404": (s.Error, "webhook_endpoint_not_found in this shop.")}
BAD_ENDPOINT = (
    s.Error,
    "invalid_url (not http(s)), url_not_allowed (private/reserved address or does not "
    "resolve), unknown_topic, validation_failed or invalid_json.",
)


def _delivery_policy() -> outbound_webhooks.DeliveryPolicy:
    return outbound_webhooks.DeliveryPolicy.from_settings(current_container().settings)


@bp.post("/webhook-endpoints")
@endpoint(
    tags=["webhook endpoints"],
    security=API_KEY,
    json=s.WebhookEndpointInput,
    responses={
        "HTTP_201": (s.WebhookEndpointWithSecret, "Created; the secret is shown only now."),
        "HTTP_400": BAD_ENDPOINT,
        "HTTP_409": (s.Error, "webhook_endpoint_limit: 10 per shop; delete one first."),
        **AUTH_ERRORS,
    },
)
def create_webhook_endpoint(json: s.WebhookEndpointInput) -> tuple[Response, int]:
    """Register a URL of your systems to receive signed events"""
    c = current_container()
    body = json.model_dump(exclude_unset=True)
    created = outbound_webhooks.create_endpoint(
        c.uow(),
        c.cipher,
        g.shop_id,
        url=body["url"],
        topics=body["topics"],
        description=body.get("description"),
        active=body.get("active", True),
        allow_private=_delivery_policy().allow_private,
        now=c.clock(),
    )
    return jsonify(created), 201


@bp.get("/webhook-endpoints")
@endpoint(
    tags=["webhook endpoints"],
    security=API_KEY,
    responses={"HTTP_200": (s.WebhookEndpointList, "Endpoints, oldest first."), **AUTH_ERRORS},
)
def list_webhook_endpoints() -> Response:
    """Your webhook endpoints (secrets are never shown again)"""
    c = current_container()
    found = outbound_webhooks.list_endpoints(c.uow(), g.shop_id, now=c.clock())
    return jsonify(webhook_endpoints=found)


@bp.get(f"/webhook-endpoints/<{ID}:endpoint_id>")
@endpoint(
    tags=["webhook endpoints"],
    security=API_KEY,
    path_parameters=WEBHOOK_ENDPOINT,
    responses={
        "HTTP_200": (s.WebhookEndpoint, "The endpoint."),
        **NO_WEBHOOK_ENDPOINT,
        **AUTH_ERRORS,
    },
)
def get_webhook_endpoint(endpoint_id: int) -> Response:
    """One webhook endpoint"""
    c = current_container()
    return jsonify(outbound_webhooks.get_endpoint(c.uow(), g.shop_id, endpoint_id, now=c.clock()))


@bp.patch(f"/webhook-endpoints/<{ID}:endpoint_id>")
@endpoint(
    tags=["webhook endpoints"],
    security=API_KEY,
    path_parameters=WEBHOOK_ENDPOINT,
    json=s.WebhookEndpointChanges,
    responses={
        "HTTP_200": (s.WebhookEndpoint, "The endpoint after the change."),
        "HTTP_400": BAD_ENDPOINT,
        **NO_WEBHOOK_ENDPOINT,
        **AUTH_ERRORS,
    },
)
def update_webhook_endpoint(endpoint_id: int, json: s.WebhookEndpointChanges) -> Response:
    """Change an endpoint's URL, topics, description, or switch it off and on"""
    c = current_container()
    return jsonify(
        outbound_webhooks.update_endpoint(
            c.uow(),
            g.shop_id,
            endpoint_id,
            json.model_dump(exclude_unset=True),
            allow_private=_delivery_policy().allow_private,
            now=c.clock(),
        )
    )


@bp.delete(f"/webhook-endpoints/<{ID}:endpoint_id>")
@endpoint(
    tags=["webhook endpoints"],
    security=API_KEY,
    path_parameters=WEBHOOK_ENDPOINT,
    responses={"HTTP_204": None, **NO_WEBHOOK_ENDPOINT, **AUTH_ERRORS},
)
def delete_webhook_endpoint(endpoint_id: int) -> tuple[str, int]:
    """Delete an endpoint: nothing more is sent; queued deliveries fail; the log stays"""
    c = current_container()
    outbound_webhooks.delete_endpoint(c.uow(), g.shop_id, endpoint_id, now=c.clock())
    return "", 204


@bp.post(f"/webhook-endpoints/<{ID}:endpoint_id>/rotate-secret")
@endpoint(
    tags=["webhook endpoints"],
    security=API_KEY,
    path_parameters=WEBHOOK_ENDPOINT,
    json=s.RotateSecretInput,
    responses={
        "HTTP_200": (s.WebhookEndpointWithSecret, "The new secret, shown only now."),
        "HTTP_400": (s.Error, "validation_failed or invalid_json."),
        **NO_WEBHOOK_ENDPOINT,
        **AUTH_ERRORS,
    },
)
def rotate_webhook_secret(endpoint_id: int, json: s.RotateSecretInput) -> Response:
    """Replace the signing secret; the old one keeps signing too for a while (default 24 h)"""
    c = current_container()
    hours = json.model_dump(exclude_unset=True).get("previous_valid_hours")
    overlap = timedelta(hours=hours) if hours is not None else _delivery_policy().secret_overlap
    return jsonify(
        outbound_webhooks.rotate_secret(
            c.uow(), c.cipher, g.shop_id, endpoint_id, overlap=overlap, now=c.clock()
        )
    )


@bp.post(f"/webhook-endpoints/<{ID}:endpoint_id>/ping")
@endpoint(
    tags=["webhook endpoints"],
    security=API_KEY,
    path_parameters=WEBHOOK_ENDPOINT,
    responses={
        "HTTP_202": (s.WebhookDelivery, "A `ping` delivery queued; follow it in the log."),
        **NO_WEBHOOK_ENDPOINT,
        "HTTP_409": (s.Error, "webhook_endpoint_inactive."),
        **AUTH_ERRORS,
    },
)
def ping_webhook_endpoint(endpoint_id: int) -> tuple[Response, int]:
    """Send a test event to an endpoint"""
    c = current_container()
    return jsonify(outbound_webhooks.ping(c.uow(), g.shop_id, endpoint_id, now=c.clock())), 202


WEBHOOK_DELIVERY = {"delivery_id": "The delivery's id."}
NO_WEBHOOK_DELIVERY = {"HTTP_404": (s.Error, "webhook_delivery_not_found in this shop.")}


@bp.get("/webhook-deliveries")
@endpoint(
    tags=["webhook endpoints"],
    security=API_KEY,
    responses={
        "HTTP_200": (s.WebhookDeliveryList, "Deliveries, newest first."),
        "HTTP_400": (s.Error, "Bad endpoint_id, status, before or limit."),
        **AUTH_ERRORS,
    },
)
def list_webhook_deliveries(query: s.WebhookDeliveryQuery) -> Response:
    """The delivery log: status, attempts, last status code, error and duration"""
    c = current_container()
    found = outbound_webhooks.list_deliveries(
        c.uow(),
        g.shop_id,
        endpoint_id=query.endpoint_id,
        status=query.status,
        before=query.before,
        limit=query.limit,
    )
    next_before = found[-1]["id"] if len(found) == query.limit else None
    return jsonify(webhook_deliveries=found, next_before=next_before)


@bp.get(f"/webhook-deliveries/<{ID}:delivery_id>")
@endpoint(
    tags=["webhook endpoints"],
    security=API_KEY,
    path_parameters=WEBHOOK_DELIVERY,
    responses={
        "HTTP_200": (s.WebhookDeliveryDetail, "The delivery, its payload and every attempt."),
        **NO_WEBHOOK_DELIVERY,
        **AUTH_ERRORS,
    },
)
def get_webhook_delivery(delivery_id: int) -> Response:
    """One delivery with its attempt log"""
    return jsonify(
        outbound_webhooks.get_delivery(current_container().uow(), g.shop_id, delivery_id)
    )


@bp.post(f"/webhook-deliveries/<{ID}:delivery_id>/replay")
@endpoint(
    tags=["webhook endpoints"],
    security=API_KEY,
    path_parameters=WEBHOOK_DELIVERY,
    responses={
        "HTTP_202": (
            s.WebhookDelivery,
            "Queued again: same body and X-Loyalty-Delivery, with X-Loyalty-Redelivery.",
        ),
        "HTTP_404": (s.Error, "webhook_delivery_not_found, or its endpoint was deleted."),
        "HTTP_409": (
            s.Error,
            "webhook_delivery_in_progress (still pending), or webhook_endpoint_inactive.",
        ),
        **AUTH_ERRORS,
    },
)
def replay_webhook_delivery(delivery_id: int) -> tuple[Response, int]:
    """Send a delivery again (e.g. after fixing your receiver)"""
    c = current_container()
    return jsonify(outbound_webhooks.replay(c.uow(), g.shop_id, delivery_id, now=c.clock())), 202


# --- analytics ------------------------------------------------------------------------

ANALYTICS_RANGE_ERRORS = {
    "HTTP_400": (
        s.Error,
        "invalid_date (from/to not YYYY-MM-DD), date_range_reversed (from after to), "
        "date_in_future (to after today, UTC) or date_range_too_long "
        f"(more than {analytics.MAX_SPAN_DAYS} days).",
    ),
}
ANALYTICS_NOTE = (
    " Figures come from daily aggregates the scheduler builds every "
    f"{analytics.BUILD_EVERY_MINUTES} minutes (`built_at`); `definitions` says exactly what "
    "each one counts. Range: `from`/`to` are UTC days, both included; default the last "
    f"{analytics.DEFAULT_SPAN_DAYS} days; at most {analytics.MAX_SPAN_DAYS}."
)
ANALYTICS_VIEWS = (
    (
        "overview",
        analytics.overview,
        analytics.OVERVIEW_PARTS,
        s.AnalyticsOverview,
        "Members, points and liability, redemption, members vs guests, reward and "
        "referral revenue, the referral funnel and tiers, over a date range",
    ),
    (
        "points",
        analytics.points,
        ("points",),
        s.AnalyticsPoints,
        "Members and points over a date range",
    ),
    (
        "members-vs-guests",
        analytics.members_vs_guests,
        ("orders",),
        s.AnalyticsMembersVsGuests,
        "Orders of members and of guests over a date range",
    ),
    (
        "referrals",
        analytics.referrals,
        ("referrals",),
        s.AnalyticsReferrals,
        "The referral funnel of referrals claimed in a date range",
    ),
    (
        "cohorts",
        analytics.cohorts,
        ("cohorts",),
        s.AnalyticsCohorts,
        "Retention by month of joining, for members who joined in a date range",
    ),
    (
        "tiers",
        analytics.tiers,
        ("tiers",),
        s.AnalyticsTiers,
        "Members per tier now, and tier moves in a range",
    ),
)


def _analytics(fetch: analytics.Reader, raw_from: str | None, raw_to: str | None) -> dict[str, Any]:
    c = current_container()
    r = analytics.parse_range(raw_from, raw_to, today=c.clock().date())
    return fetch(c.uow(), g.shop_id, r)


def _add_analytics_views(
    name: str,
    fetch: analytics.Reader,
    parts: tuple[str, ...],
    model: type[s.AnalyticsBase],
    summary: str,
) -> None:
    endpoint_name = "analytics_" + name.replace("-", "_")

    def as_json(query: s.AnalyticsQuery) -> Any:  # a JSON response or a redirect
        if query.format == "csv":
            args: dict[str, Any] = {k: v for k, v in (("from", query.from_), ("to", query.to)) if v}
            return redirect(url_for(f"admin.{endpoint_name}_csv", **args), 303)
        return jsonify(_analytics(fetch, query.from_, query.to))

    def as_csv(query: s.AnalyticsCsvQuery) -> Response:
        result = _analytics(fetch, query.from_, query.to)
        r = result["range"]
        return _csv_response(
            iter([analytics.to_csv(result)]), f"analytics-{name}-{r['from']}-{r['to']}.csv"
        )

    as_json.__name__, as_csv.__name__ = endpoint_name, endpoint_name + "_csv"
    as_json.__doc__ = summary
    as_csv.__doc__ = summary + ", as CSV"
    csv_shape = (
        "cohort, cohort_members, offset, month, members, rate: one row per cohort and month."
        if name == "cohorts"
        else "figure, value, currency, definition: one row per figure (dotted path)."
    )
    bp.get(f"/analytics/{name}")(
        endpoint(
            tags=["analytics"],
            security=API_KEY,
            responses={
                "HTTP_200": (
                    model,
                    "The figures." + ANALYTICS_NOTE + "\n\n" + analytics.describe(parts),
                ),
                "HTTP_303": (None, "format=csv: to the .csv sibling, same from/to."),
                **ANALYTICS_RANGE_ERRORS,
                **AUTH_ERRORS,
            },
        )(as_json)
    )
    bp.get(f"/analytics/{name}.csv")(
        endpoint(
            tags=["analytics"],
            security=API_KEY,
            csv_responses=["HTTP_200"],
            responses={
                "HTTP_200": (
                    s.CsvText,
                    csv_shape + ANALYTICS_NOTE + "\n\n" + analytics.describe(parts),
                ),
                **ANALYTICS_RANGE_ERRORS,
                **AUTH_ERRORS,
            },
        )(as_csv)
    )


for _name, _fetch, _parts, _model, _summary in ANALYTICS_VIEWS:
    _add_analytics_views(_name, _fetch, _parts, _model, _summary)
