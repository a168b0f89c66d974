"""Every endpoint's parameters, bodies and responses, declared once as pydantic models.

The routes name these in `@contract.endpoint(...)`; request validation and the served
OpenAPI document both come from them. Conventions:
- Money and rates are decimal strings in responses; requests take a string or a JSON number
  (parsed as an exact decimal, never a float).
- Points are integers, bounded so that no input can overflow a database column.
- Request models forbid unknown fields; an optional field may be left out but is never null
  unless null means something (then the type says so).
- Business rules (per-kind reward rules, platform-specific statuses) stay in the domain,
  which names the field it refuses.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

MAX_POINTS = 1_000_000_000
MAX_ID = 2**63 - 1  # the widest id column (BIGINT) we look anything up by

Points = Annotated[StrictInt, Field(ge=-MAX_POINTS, le=MAX_POINTS)]
PositivePoints = Annotated[StrictInt, Field(ge=1, le=MAX_POINTS)]
# A decimal as a JSON string or number. Bodies are parsed with exact decimals, so 2.5
# arrives as Decimal("2.5"), never as a binary float.
DecimalInput = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=30)]
DecimalText = Annotated[str, Field(description="A decimal number as a string.")]
Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
Currency = Annotated[StrictStr, Field(pattern="^[A-Za-z]{3}$", description="ISO 4217")]
# The default of a request field that may be left out but is never null: the model's
# type stays exact (null is refused) and handlers read only what was sent
# (`model_dump(exclude_unset=True)`).
OMIT: Any = None
RewardKind = Literal["fixed_amount", "percentage", "free_shipping", "points_for_money"]
ExternalId = Annotated[StrictStr | StrictInt, Field(description="A platform id.")]


def _drop_null_defaults(schema: dict[str, Any]) -> None:
    # An optional request field is left out, not sent as null; `"default": null` would say
    # otherwise to client generators.
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class RequestModel(BaseModel):
    """A JSON body: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_null_defaults)
    # Callers that cannot set Content-Type (the store's own key callback) opt out of the
    # application/json requirement.
    any_content_type: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        # JSON allows \u0000 in strings; PostgreSQL text cannot hold it. Refused here, as
        # bad input, rather than failing at the database as a 500.
        if _has_nul(data):
            raise ValueError("text must not contain NUL (\\u0000) characters")
        return data


class ResponseModel(BaseModel):
    """A response shape: documentation and test-time checks (handlers return dicts)."""

    model_config = ConfigDict(extra="allow")


# --- errors ----------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable, snake_case.")
    message: str = Field(description="For people; may change.")
    fields: dict[str, str] | None = Field(
        default=None,
        description="validation_failed only: each bad field (dotted path inside objects, "
        "with a list index where one applies) and what is wrong with it.",
    )


class Error(BaseModel):
    error: ErrorDetail


# --- headers and query parameters -------------------------------------------------------


class IdempotencyHeaders(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    idempotency_key: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None,
        alias="Idempotency-Key",
        description="Repeating a request with the same key returns the first result instead "
        "of doing it twice.",
    )


class EmailQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    email: str = Field(
        min_length=3,
        max_length=320,
        pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$",
        description="Exact address.",
    )


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=25, ge=1, le=100)


class TransactionsQuery(PageQuery):
    cursor: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="next_cursor of the previous page."
    )


class StatusQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["active", "archived", "all"] = "active"


class ShopifyInstallQuery(BaseModel):
    """Checked by HMAC before anything else, so only documented here."""

    shop: str = Field(description="NAME.myshopify.com")
    timestamp: str = Field(description="Unix seconds; refused when over an hour old.")
    hmac: str = Field(description="Shopify's HMAC-SHA256 of the rest of the query.")


class ShopifyCallbackQuery(ShopifyInstallQuery):
    code: str = Field(description="Authorization code.")
    state: str = Field(description="Our single-use nonce; must match the browser's cookie.")
    host: str | None = Field(default=None, description="Base64 admin host.")


class WooConnectQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    store_url: str = Field(
        min_length=1,
        max_length=2000,
        description="https store URL; private addresses are refused in production.",
    )


class WooReturnQuery(BaseModel):
    success: str | None = Field(default=None, description="1 if the merchant approved.")
    user_id: str | None = Field(default=None, description="Our nonce.")


class BearerHeaders(BaseModel):
    authorization: str = Field(
        alias="Authorization", description="Bearer <session token from App Bridge>."
    )


class WebhookHeaders(BaseModel):
    """Read by the intake itself (verified before anything is parsed)."""

    shopify_hmac: str | None = Field(
        default=None,
        alias="X-Shopify-Hmac-Sha256",
        description="Shopify: base64 HMAC-SHA256 of the raw body with the app secret.",
    )
    shopify_shop: str | None = Field(default=None, alias="X-Shopify-Shop-Domain")
    shopify_topic: str | None = Field(default=None, alias="X-Shopify-Topic")
    shopify_webhook_id: str | None = Field(
        default=None, alias="X-Shopify-Webhook-Id", description="Deduplication key."
    )
    woo_signature: str | None = Field(
        default=None,
        alias="X-WC-Webhook-Signature",
        description="WooCommerce: base64 HMAC-SHA256 of the raw body with the webhook secret.",
    )
    woo_source: str | None = Field(default=None, alias="X-WC-Webhook-Source")
    woo_topic: str | None = Field(default=None, alias="X-WC-Webhook-Topic")
    woo_delivery_id: str | None = Field(
        default=None, alias="X-WC-Webhook-Delivery-ID", description="Deduplication key."
    )


class StorefrontQuery(BaseModel):
    """Read by the storefront's authentication (verified before anything else)."""

    shop: str | None = Field(
        default=None,
        description="App proxy: set by Shopify. Token calls: the store URL (for CORS).",
    )
    signature: str | None = Field(
        default=None,
        description="App proxy signature over the query, with logged_in_customer_id, "
        "path_prefix and timestamp (at most 90 s old).",
    )


# --- webhooks and operations -------------------------------------------------------------


class WebhookPayload(RootModel[dict[str, Any]]):
    """The platform's own order, refund or privacy payload, stored as received."""


class WebhookAck(ResponseModel):
    status: Literal["accepted", "duplicate", "ignored", "ping"]
    receipt_id: int | None = None
    reason: str | None = None


class Health(ResponseModel):
    status: Literal["ok"]


class Readiness(ResponseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, str]


class MetricsText(RootModel[str]):
    """Prometheus text exposition format 0.0.4."""


class OpenApiDocument(RootModel[dict[str, Any]]):
    """This document (OpenAPI 3.1)."""


# --- customers and the ledger ---------------------------------------------------------------


class TierBenefits(ResponseModel):
    id: int
    name: str = Field(description="Merchant text: render as text.")
    threshold: DecimalText = Field(description="Of the shop's measure.")
    multiplier: DecimalText = Field(description="Points earned on orders are multiplied by it.")
    entry_points: int = Field(description="Paid once, the first time a member reaches it.")


class NextTier(TierBenefits):
    remaining: DecimalText = Field(description="How much more of the measure it needs.")


class MemberTierView(ResponseModel):
    measure: TierMeasure
    period: TierPeriod
    value: DecimalText = Field(description="The member's qualifying value now.")
    current: TierBenefits | None = Field(description="null: no tier yet.")
    next: NextTier | None = Field(description="null: the top tier.")


class Birthday(ResponseModel):
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)
    set_at: datetime
    bonus_from: datetime = Field(description="A birthday bonus is paid from this moment on.")


class BirthdayInput(RequestModel):
    month: Annotated[StrictInt, Field(ge=1, le=12)]
    day: Annotated[
        StrictInt, Field(ge=1, le=31, description="29 February is paid on the 28th in other years.")
    ]


class Expiring(ResponseModel):
    points: int
    at: datetime


SegmentName = Literal[
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "promising",
    "need_attention",
    "at_risk",
    "cannot_lose",
    "hibernating",
    "lost",
]
SEGMENTS_DOC = (
    "Segments are computed once a UTC day per shop (or by `loyalty scores rebuild`) from "
    "the order history: members with at least one counted order (paid, not cancelled, not "
    "fully refunded) get recency (R), frequency (F) and monetary (M) scores 1-5 as quintiles "
    "by rank within the shop (score = 1 + floor(5 * members strictly worse / members "
    "scored); equal values share a score), and a segment from R and FM = ceil((F + M) / 2): "
    "see GET /api/v1/segments for each definition. Money counts orders in the shop's "
    "currency only, net of refunds."
)


class ScoreEngagement(ResponseModel):
    total: int = Field(description="activities + redemptions + widget_days.")
    activities: int = Field(description="Awards of activity rules (reviews, follows...).")
    redemptions: int = Field(description="Redemptions, failed ones excepted.")
    widget_days: int = Field(
        description="Days in the last 90 on which the member opened the storefront widget."
    )


class ScoreBtyd(ResponseModel):
    """Buy-Till-You-Die model inputs; at most one purchase per UTC day."""

    x: int | None = Field(description="Repeat purchase days (purchase days - 1).")
    t_x: int | None = Field(description="Days from the first to the last purchase day.")
    T: int | None = Field(description="Days from the first purchase day to computed_at's day.")
    mean_repeat_value_minor: int | None = Field(
        description="Mean value of the repeat purchase days, in minor units of currency; "
        "null: no repeat purchase in that currency."
    )


class ScorePrediction(ResponseModel):
    """Buy-Till-You-Die predictions (BG/NBD + Gamma-Gamma fitted per shop; see the segments
    list's `model`), recomputed with the scores."""

    status: Literal["ok", "not_enough_history", "no_orders", "not_computed"] = Field(
        description="ok: predicted. not_enough_history: the shop's history can't support a "
        "model yet (the reason is the model's); every value null. no_orders: the member has "
        "no counted order, where the model starts; values null. not_computed: before the "
        "first prediction pass."
    )
    p_alive: DecimalText | None = Field(
        description="Probability (0-1, 6 places) that the member is still a customer now."
    )
    expected_purchases_30: DecimalText | None = Field(
        description="Expected purchase days in the next 30 days (6 places)."
    )
    expected_purchases_90: DecimalText | None = Field(
        description="Expected purchase days in the next 90 days (6 places)."
    )
    predicted_clv_minor: int | None = Field(
        description="Predicted value of the next 12 months, discounted at 1 % a month, in "
        "minor units of currency; null when not ok or the spend model could not be fitted."
    )


class BgNbdModel(ResponseModel):
    r: float
    alpha: float = Field(description="Per week.")
    a: float
    b: float
    log_likelihood: float = Field(description="Over the members used.")


class GammaGammaModel(ResponseModel):
    p: float
    q: float
    gamma: float = Field(description="In minor units of currency.")
    log_likelihood: float
    frequency_spend_correlation: float | None = Field(
        description="Far from 0 (beyond +-0.3): the model's independence assumption fails."
    )


class SpendModel(ResponseModel):
    status: Literal["ok", "not_enough_history"]
    reason: str | None
    members_used: int = Field(description="Repeat members with spend in the fit.")
    gamma_gamma: GammaGammaModel | None


class PredictionModelView(ResponseModel):
    """The shop's fitted Buy-Till-You-Die model, as the last prediction pass left it."""

    status: Literal["ok", "not_enough_history"]
    reason: str | None = Field(description="Why there is no model (not_enough_history).")
    fitted_at: datetime
    time_unit: Literal["weeks"]
    currency: str | None
    members: int = Field(description="Members with a counted order.")
    members_used: int = Field(
        description="Members in the fit (a seeded sample of 200,000 at most)."
    )
    repeat_members_used: int
    bgnbd: BgNbdModel | None
    spend: SpendModel
    clv_months: int
    monthly_discount_rate: DecimalText


class CustomerScores(ResponseModel):
    computed_at: datetime
    segment: SegmentName | None = Field(description="null: no counted order.")
    r_score: int | None = Field(ge=1, le=5, description="Recency quintile; null: no order.")
    f_score: int | None = Field(ge=1, le=5, description="Frequency quintile.")
    m_score: int | None = Field(ge=1, le=5, description="Monetary quintile.")
    recency_days: int | None = Field(description="UTC days since the last counted order.")
    frequency: int = Field(description="Counted orders.")
    monetary: DecimalText | None = Field(description="Net spend in currency; null: no currency.")
    monetary_minor: int = Field(description="The same in minor units (cents).")
    currency: str | None = Field(description="The shop's currency money is scored in.")
    tenure_days: int = Field(description="UTC days since sign-up or the first order, earlier.")
    engagement: ScoreEngagement
    advocacy: int = Field(description="Referrals that rewarded the member as advocate.")
    first_order_at: datetime | None
    last_order_at: datetime | None
    btyd: ScoreBtyd
    prediction: ScorePrediction


class Customer(ResponseModel):
    customer_id: str = Field(description="The platform's customer id, or guest:<email>.")
    email: str | None
    first_name: str | None = None
    last_name: str | None = None
    balance: int = Field(
        description="Spendable points now; negative after a refund of points already spent."
    )
    pending: int = Field(description="Earned, not yet spendable.")
    lifetime_earned: int
    next_pending_available_at: datetime | None
    can_redeem: bool
    member_since: datetime
    expiring: Expiring | None = Field(
        description="The next points to expire under the shop's policy; null if none."
    )
    tier: MemberTierView | None = Field(description="null when the shop has no tiers.")
    birthday: Birthday | None = Field(default=None, description="null: not given.")
    referral: MemberReferral = Field(description="The member's referral code and link.")
    scores: CustomerScores | None = Field(
        description="RFM scores and segment as last computed; null until computed. " + SEGMENTS_DOC
    )


class CustomerList(ResponseModel):
    customers: list[Customer]


class TransactionSource(ResponseModel):
    type: str
    ref: str


class Transaction(ResponseModel):
    id: int
    points: int = Field(description="Signed.")
    kind: Literal[
        "earn_order",
        "reverse_order",
        "adjustment",
        "redeem",
        "redeem_refund",
        "referral_bonus",
        "expiry",
        "rule_bonus",
        "tier_bonus",
        "campaign_bonus",
        "import",
        "reverse_campaign_bonus",
        "guest_merge_out",
        "guest_merge_in",
    ]
    reason: str
    source: TransactionSource
    status: Literal["available", "pending"]
    created_at: datetime
    available_at: datetime


class TransactionPage(ResponseModel):
    customer_id: str
    transactions: list[Transaction]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page.")


class AdjustmentInput(RequestModel):
    points: Points = Field(description="Signed; not zero.")
    reason: StrictStr = Field(min_length=1, max_length=255)


class Adjustment(Transaction):
    balance: int = Field(description="Spendable points afterwards.")


# --- program and rewards -----------------------------------------------------------------


ExpiryPolicy = Literal["never", "inactivity", "batch"]


class ExpirySettings(ResponseModel):
    policy: ExpiryPolicy = Field(
        description="never; inactivity: no earning or redeeming for `months` expires the "
        "whole balance; batch: each earned batch expires `months` after it became "
        "spendable, and spending uses the oldest points first."
    )
    months: int = Field(ge=1, le=60)
    reminder_days: int = Field(
        ge=0, le=90, description="A points_expiring event this many days before (0: none)."
    )


TierMeasure = Literal["points_earned", "amount_spent", "orders"]
TierPeriod = Literal["lifetime", "calendar_year", "rolling_12_months"]
TierDowngrade = Literal["never", "period_end"]


class TierSettings(ResponseModel):
    measure: TierMeasure = Field(
        description="What qualifies: points earned on orders, amount spent (shop currency, "
        "net of refunds) or number of orders. Pending points and cancelled or fully refunded "
        "orders never count."
    )
    period: TierPeriod = Field(
        description="Over the member's lifetime, this calendar year (UTC), or the last 12 months."
    )
    downgrade: TierDowngrade = Field(
        description="never: members keep the best tier reached. period_end: a tier is kept "
        "until the end of the period it was reached in (the calendar year, or 12 months), "
        "then re-evaluated."
    )


class Program(ResponseModel):
    platform: Literal["shopify", "woocommerce"]
    points_per_unit: DecimalText = Field(
        description="Points per 1.00 of shop currency, a decimal string; earnings round down."
    )
    include_shipping: bool
    include_tax: bool
    pending_days: int = Field(ge=0, le=365)
    award_statuses: list[str] = Field(description="Order states that award points.")
    guests_earn: bool
    return_points_on_expiry: bool = Field(
        description="A redeemed code that expires unused gives its points back."
    )
    expiry: ExpirySettings
    tiers: TierSettings


class ProgramChanges(RequestModel):
    """Send only what changes, at least one setting."""

    points_per_unit: DecimalInput = Field(
        default=OMIT, description="Above 0, at most 1000, at most 4 decimals."
    )
    include_shipping: StrictBool = Field(default=OMIT)
    include_tax: StrictBool = Field(default=OMIT)
    pending_days: StrictInt = Field(default=OMIT, ge=0, le=365)
    award_statuses: list[Literal["paid", "processing", "completed", "on-hold"]] = Field(
        default=OMIT,
        min_length=1,
        max_length=4,
        description="Shopify: paid. WooCommerce: processing, completed, on-hold.",
    )
    guests_earn: StrictBool = Field(default=OMIT)
    return_points_on_expiry: StrictBool = Field(default=OMIT)
    expiry_policy: ExpiryPolicy = Field(default=OMIT)
    expiry_months: StrictInt = Field(default=OMIT, ge=1, le=60)
    expiry_reminder_days: StrictInt = Field(default=OMIT, ge=0, le=90)
    tier_measure: TierMeasure = Field(
        default=OMIT, description="Changing it recalculates every member."
    )
    tier_period: TierPeriod = Field(default=OMIT)
    tier_downgrade: TierDowngrade = Field(default=OMIT)


class RewardChanges(RequestModel):
    """fixed_amount: points_cost, amount, currency. percentage: points_cost, percent.
    free_shipping: points_cost. points_for_money: points_per_step, amount (per step),
    currency, min_points, max_points. The kind cannot change after creation."""

    name: StrictStr = Field(default=OMIT, min_length=1, max_length=100)
    kind: RewardKind = Field(default=OMIT)
    points_cost: PositivePoints = Field(default=OMIT)
    amount: DecimalInput = Field(default=OMIT, description="Money, at most 2 decimals.")
    percent: DecimalInput = Field(default=OMIT)
    currency: Currency = Field(default=OMIT)
    points_per_step: PositivePoints = Field(default=OMIT)
    min_points: PositivePoints = Field(default=OMIT)
    max_points: PositivePoints = Field(default=OMIT)
    min_order_subtotal: DecimalInput | None = Field(
        default=None, description="null removes the minimum."
    )
    product_ids: list[ExternalId] = Field(default=OMIT, max_length=100)
    collection_ids: list[ExternalId] = Field(default=OMIT, max_length=100)
    code_valid_days: StrictInt = Field(default=OMIT, ge=1, le=365)
    min_tier_id: Id | None = Field(
        default=None, description="Only members at this tier or above may redeem it; null: all."
    )


class RewardInput(RewardChanges):
    name: StrictStr = Field(min_length=1, max_length=100)
    kind: RewardKind


class Reward(ResponseModel):
    id: int
    name: str
    kind: RewardKind
    points_cost: int | None
    amount: DecimalText | None = Field(description="Money as a string.")
    percent: DecimalText | None
    currency: str | None
    points_per_step: int | None
    min_points: int | None
    max_points: int | None
    min_order_subtotal: DecimalText | None
    product_ids: list[str]
    collection_ids: list[str]
    code_valid_days: int
    min_tier_id: int | None
    status: Literal["active", "archived"]
    created_at: datetime
    updated_at: datetime


class RewardList(ResponseModel):
    rewards: list[Reward]


# --- redemptions -----------------------------------------------------------------------------


class RedemptionInput(RequestModel):
    """reward_id, or points alone for the shop's points-for-money reward (a multiple of its
    step, within its minimum and maximum)."""

    reward_id: Id = Field(default=OMIT)
    points: PositivePoints = Field(default=OMIT)


class Discount(ResponseModel):
    kind: Literal["fixed_amount", "percentage", "free_shipping"]
    title: str
    amount: DecimalText | None = Field(description="Money as a string.")
    currency: str | None
    percent: DecimalText | None
    min_subtotal: DecimalText | None
    product_ids: list[str] = []
    collection_ids: list[str] = []


class Redemption(ResponseModel):
    id: int
    customer_id: str
    reward_id: int | None
    points: int = Field(description="Points taken.")
    status: Literal["pending", "issued", "used", "expired", "failed", "cancelled"] = Field(
        description="pending: points taken, the store has not confirmed the code yet (poll "
        "this resource). failed: the store refused; the points came back."
    )
    code: str | None = Field(
        description="The discount code, once the store has created it (hidden again once "
        "failed or cancelled)."
    )
    discount: Discount
    expires_at: datetime
    failure_reason: str | None
    created_at: datetime
    issued_at: datetime | None
    used_at: datetime | None
    used_order_id: str | None = Field(
        description="The platform's id of the order that used the code."
    )


class RedemptionList(ResponseModel):
    redemptions: list[Redemption]


# --- earning rules ----------------------------------------------------------------------

RuleKind = Literal["signup", "activity", "birthday", "bonus", "exclusion"]
LimitPeriod = Literal["day", "week", "month", "lifetime"]
RuleKey = Annotated[
    StrictStr,
    Field(
        pattern="^[a-z0-9][a-z0-9_-]{0,49}$",
        description="Stable id the merchant's systems post activities with, e.g. product_review.",
    ),
]


class EarningRuleChanges(RequestModel):
    """signup: pays `points` once per member when the store reports a new account.
    birthday: pays `points` once a year on the birthday the shopper gave (not within 30
    days of setting or changing it). One active signup and one birthday rule per shop.
    activity: pays `points` each time the merchant's systems post the activity, at most
    `limit_count` times per `limit_period` (UTC calendar day, ISO week, calendar month, or
    lifetime) when a limit is set.
    bonus: a campaign. Orders paid from `starts_at` (default: now) until `ends_at` earn
    `multiplier` times their points (2: double) or `points` more per order, only on the
    lines of `product_ids` and of the products in `collection_ids` when either is given,
    and only when those lines add up to `min_subtotal`.
    The bonus is its own campaign_bonus entry naming the campaign, pending as long as the
    order's points, and refunds take back their share of it. Overlapping campaigns do not
    stack: an order gets the one that gives it the most points.
    exclusion: the lines of `product_ids`, and of the products in `collection_ids`, never
    earn points (nor campaign bonuses), and refunding them takes nothing back.
    Collections (Shopify) or product categories (WooCommerce) are read from the store when
    the rule is saved (within ~2 s, else in the background) and again every few hours;
    `collections` in the rule shows each one's sync state. An order is matched against the
    products known when it is paid; a collection that has never synced matches none."""

    name: StrictStr = Field(default=OMIT, min_length=1, max_length=100)
    points: PositivePoints | None = Field(
        default=None,
        description="signup, birthday, activity: the award. bonus: a fixed bonus per order "
        "(or send multiplier; null removes it).",
    )
    limit_count: Annotated[StrictInt, Field(ge=1, le=1000)] | None = Field(
        default=None, description="null: no limit."
    )
    limit_period: LimitPeriod | None = Field(default=None)
    multiplier: DecimalInput | None = Field(
        default=None,
        description="bonus: above 1, at most 10, 2 decimals (2: double points); null removes it.",
    )
    starts_at: datetime = Field(
        default=OMIT, description="bonus: with a time zone; orders paid from then count."
    )
    ends_at: datetime = Field(
        default=OMIT,
        description="bonus (required): with a time zone; orders paid before then count.",
    )
    product_ids: list[ExternalId] = Field(
        default=OMIT,
        max_length=100,
        description="bonus: only these products' lines (empty, with no collection_ids: all). "
        "exclusion: the products that never earn. Platform product ids.",
    )
    collection_ids: list[ExternalId] = Field(
        default=OMIT,
        max_length=20,
        description="bonus, exclusion: Shopify collection ids (numeric, or "
        "gid://shopify/Collection/N) or WooCommerce product category ids; their products "
        "count as if listed in product_ids.",
    )
    min_subtotal: DecimalInput | None = Field(
        default=None,
        description="bonus: the qualifying lines' subtotal (shop currency) an order needs; "
        "null: none.",
    )
    segments: list[StrictStr] = Field(
        default=OMIT,
        max_length=10,
        description="bonus: only members in these customer segments get the bonus (e.g. "
        '["at_risk"] for double points to lapsing buyers); empty: everyone. The segment is '
        "the one stored when the order is paid (recomputed daily), so a member with no "
        "counted order yet is in none. A name that is not a segment: 400 unknown_segment. "
        "Such a campaign is not listed to shoppers in the storefront.",
    )


class EarningRuleInput(EarningRuleChanges):
    kind: RuleKind
    key: RuleKey
    name: StrictStr = Field(min_length=1, max_length=100)


class CollectionState(ResponseModel):
    """The shop's copy of a collection (WooCommerce: category) a rule names."""

    id: str = Field(description="The platform's collection or category id.")
    title: str | None = Field(description="From the store; null until the first sync.")
    status: Literal["pending", "synced", "failed"] = Field(
        description="pending: never synced, matches no products yet. synced: the last sync "
        "worked. failed: the last sync failed (see error); the products of the last "
        "successful one still count."
    )
    product_count: int = Field(description="Products as of the last successful sync.")
    synced_at: datetime | None = Field(description="The last successful sync.")
    last_attempt_at: datetime | None
    error: str | None = Field(
        description="The last attempt's error, e.g. collection_not_found: ...; null: it worked."
    )


class CollectionList(ResponseModel):
    collections: list[CollectionState]


class EarningRule(ResponseModel):
    id: int
    kind: RuleKind
    key: str
    name: str
    points: int | None = Field(description="null: a multiplier campaign, or an exclusion.")
    limit_count: int | None
    limit_period: LimitPeriod | None
    multiplier: DecimalText | None = Field(description="bonus: e.g. 2 (double); else null.")
    starts_at: datetime | None = Field(description="bonus only.")
    ends_at: datetime | None = Field(description="bonus only (exclusive).")
    product_ids: list[str] = Field(description="bonus, exclusion: platform product ids.")
    collection_ids: list[str] = Field(description="bonus, exclusion: collection/category ids.")
    collections: list[CollectionState] = Field(description="collection_ids, with sync states.")
    min_subtotal: DecimalText | None
    segments: list[SegmentName] = Field(description="bonus: only these segments; []: all.")
    status: Literal["active", "archived"]
    created_at: datetime
    updated_at: datetime


class EarningRuleList(ResponseModel):
    earning_rules: list[EarningRule]


class ActivityInput(RequestModel):
    rule: RuleKey = Field(description="The activity rule's key.")
    reference: Annotated[StrictStr, Field(min_length=1, max_length=100)] | None = Field(
        default=None,
        description="Your own id for this activity (e.g. the review's): posting it again "
        "pays nothing more and answers the first award.",
    )


class ActivityAward(Transaction):
    balance: int = Field(description="Spendable points afterwards.")
    rule: str
    remaining: int | None = Field(
        description="How many more times the rule pays this member in the current period "
        "(null: no limit)."
    )


class MemberActivity(ResponseModel):
    key: str
    name: str
    points: int
    limit_count: int | None
    limit_period: LimitPeriod | None
    remaining: int | None


# --- tiers ------------------------------------------------------------------------------


class TierChanges(RequestModel):
    """Changing a tier after launch recalculates every member (tier changes are recorded
    as events); orders already paid keep the multiplier they earned with."""

    name: StrictStr = Field(default=OMIT, min_length=1, max_length=50)
    threshold: DecimalInput = Field(
        default=OMIT,
        description="Of the shop's measure (tier_measure in /program); whole for points "
        "and orders, at most 2 decimals for an amount.",
    )
    multiplier: DecimalInput = Field(
        default=OMIT, description="1 to 10, at most 2 decimals (default 1)."
    )
    entry_points: Annotated[StrictInt, Field(ge=0, le=1_000_000)] = Field(
        default=OMIT, description="Paid once, the first time a member reaches the tier."
    )


class TierInput(TierChanges):
    name: StrictStr = Field(min_length=1, max_length=50)
    threshold: DecimalInput


class TierOut(ResponseModel):
    id: int
    name: str
    threshold: DecimalText
    multiplier: DecimalText
    entry_points: int
    status: Literal["active", "archived"]
    created_at: datetime
    updated_at: datetime


class TierList(ResponseModel):
    tiers: list[TierOut]


# --- privacy -----------------------------------------------------------------------------------


class DataExportSummary(ResponseModel):
    id: int
    request_id: str = Field(description="Shopify's data_request id.")
    customer_id: str
    created_at: datetime


class DataExportList(ResponseModel):
    data_exports: list[DataExportSummary]


class DataExportContents(ResponseModel):
    """Everything held on the customer when the request came."""

    shop: Any
    generated_at: Any
    customers: Any
    orders: Any
    ledger: Any
    redemptions: Any
    emails: Any = Field(default=None, description="The emails we sent or queued to them.")


class DataExport(DataExportSummary):
    data: DataExportContents


# --- installs ------------------------------------------------------------------------------------


class Installed(ResponseModel):
    status: Literal["installed"]
    platform: Literal["shopify"]
    shop: str
    shop_id: int
    api_key: str | None = Field(
        description="The admin API key, shown once when the shop is new; null on a reinstall "
        "(the existing key stays valid)."
    )
    token_expires_at: datetime | None
    webhooks_subscribed: int
    webhook_error: str | None


class WooKeys(RequestModel):
    """What WooCommerce POSTs after the merchant approves (unsigned: it counts only with
    our nonce, and only once a call with the keys succeeds)."""

    model_config = ConfigDict(extra="ignore")
    any_content_type: ClassVar[bool] = True

    key_id: StrictInt | None = None
    user_id: StrictStr = Field(min_length=1, max_length=200, description="Our single-use nonce.")
    consumer_key: StrictStr = Field(min_length=1, max_length=200)
    consumer_secret: StrictStr = Field(min_length=1, max_length=200)
    key_permissions: Literal["read_write"]


class WooConnected(ResponseModel):
    status: Literal["connected"]
    shop_id: int
    webhooks_created: int


class WooReturn(ResponseModel):
    status: Literal["connected", "not_connected"]
    next: str


# --- the storefront widget --------------------------------------------------------------------


Position = Literal["left", "right"]


class WidgetSettings(ResponseModel):
    theme: dict[str, str] = Field(
        description="accent, accent-text, background, text (#rgb/#rrggbb), radius (px)."
    )
    texts: dict[str, dict[str, str]] = Field(
        description="Overrides per locale (en, vi, th) of the widget's texts."
    )
    origins: list[str] = Field(description="Extra https origins (custom domains) for CORS.")
    position: Position
    token_public_key: str | None = Field(
        description="Ed25519 public key (base64url) that checks store-signed shopper tokens."
    )


class WidgetChanges(RequestModel):
    """Send only what changes, at least one setting."""

    theme: dict[str, StrictStr] = Field(
        default=OMIT, description="Any of accent, accent-text, background, text, radius."
    )
    texts: dict[str, dict[str, StrictStr]] = Field(
        default=OMIT, description="Per locale (en, vi, th): text key to text."
    )
    origins: list[StrictStr] = Field(default=OMIT, max_length=10)
    position: Position = Field(default=OMIT)
    token_public_key: StrictStr | None = Field(default=None, description="null removes it.")


class StorefrontReward(ResponseModel):
    id: int
    name: str = Field(description="Merchant text: render as text.")
    kind: RewardKind
    cost: int = Field(description="Points (the minimum for points_for_money).")
    points_cost: int | None = None
    amount: DecimalText | None = None
    currency: str | None = None
    percent: DecimalText | None = None
    points_per_step: int | None = None
    min_points: int | None = None
    max_points: int | None = None
    min_order_subtotal: DecimalText | None = None
    min_tier_id: int | None = Field(
        default=None, description="Only members at this tier (see program.tiers) or above."
    )
    progress: float | None = Field(default=None, ge=0, le=1)
    can_redeem: bool | None = None


class StorefrontCode(ResponseModel):
    redemption_id: int
    status: str
    code: str | None
    title: str
    expires_at: datetime


class StorefrontMember(ResponseModel):
    customer_id: str
    first_name: str | None = None
    balance: int
    pending: int
    next_pending_available_at: datetime | None
    codes: list[StorefrontCode]
    history: list[dict[str, Any]]
    expiring: Expiring | None = Field(
        default=None, description="The next points to expire; null if none."
    )
    birthday: Birthday | None = Field(default=None, description="null: not given.")
    activities: list[MemberActivity] = Field(
        default=[], description="Activity rules and how many more times each pays now."
    )
    tier: MemberTierView | None = Field(description="null when the shop has no tiers.")
    referral: StorefrontReferral | None = Field(
        description="The member's code and link; null when no referral campaign is live."
    )


class StorefrontExpiry(ResponseModel):
    policy: ExpiryPolicy
    months: int


class PublicCollection(ResponseModel):
    id: str = Field(description="The platform's collection or category id.")
    title: str | None = Field(description="Store text: render as text; null until synced.")


class WayToEarn(ResponseModel):
    """signup, birthday, activity: `points` per award. bonus: a campaign running now (only
    those are listed) with its window, and either `multiplier` (e.g. "2": double points
    on orders) or `points` (more per order), only on `product_ids` and the products of
    `collections` when either is given, for orders whose qualifying lines add up to
    `min_subtotal`."""

    kind: Literal["signup", "activity", "birthday", "bonus"]
    key: str
    name: str = Field(description="Merchant text: render as text.")
    points: int | None
    limit_count: int | None
    limit_period: LimitPeriod | None
    multiplier: DecimalText | None = Field(default=None, description="bonus only.")
    starts_at: datetime | None = Field(default=None, description="bonus only.")
    ends_at: datetime | None = Field(default=None, description="bonus only (exclusive).")
    product_ids: list[str] | None = Field(
        default=None, description="bonus only; [] and no collections: every product."
    )
    collections: list[PublicCollection] | None = Field(
        default=None, description="bonus only: left out when the campaign names none."
    )
    min_subtotal: DecimalText | None = Field(default=None, description="bonus only.")


class NeverEarns(ResponseModel):
    key: str
    name: str = Field(description="Merchant text, e.g. Gift cards: render as text.")
    product_ids: list[str]
    collections: list[PublicCollection] | None = Field(
        default=None, description="Left out when the rule names none."
    )


class ShopTiers(ResponseModel):
    measure: TierMeasure
    period: TierPeriod
    tiers: list[TierBenefits]


class StorefrontProgram(ResponseModel):
    platform: str
    points_per_unit: DecimalText
    pending_days: int
    guests_earn: bool | None = None
    expiry: StorefrontExpiry | None = None
    ways_to_earn: list[WayToEarn] = []
    never_earn: list[NeverEarns] = Field(
        default=[], description="Products whose purchase earns no points."
    )
    tiers: ShopTiers | None = Field(default=None, description="null: no tiers.")
    referral: ReferralOffer | None = Field(
        default=None, description="The live referral campaign's offer; null: none."
    )
    rewards: list[StorefrontReward]


class StorefrontSettings(ResponseModel):
    theme: dict[str, str]
    texts: dict[str, Any]
    position: Position


class StorefrontSummary(ResponseModel):
    member: StorefrontMember | None = Field(description="null for a guest.")
    program: StorefrontProgram
    settings: StorefrontSettings


# --- offers ------------------------------------------------------------------------------

OfferLocale = Literal["en", "vi", "th"]


class OfferReason(ResponseModel):
    """Why it is offered, in plain words, in each of the widget's languages. Product and
    collection names inside are the merchant's own text: show them as text."""

    en: str
    vi: str
    th: str


class RewardOffer(ResponseModel):
    reward_id: int
    name: str
    cost: int = Field(description="Points it takes.")
    reason_code: Literal["afford_now", "birthday", "next_order", "expected_orders"]
    reason: OfferReason


class ProductOffer(ResponseModel):
    product_ref: str = Field(description="The platform's product id.")
    title: str = Field(description="The product's name as it was last ordered.")
    reason_code: Literal["also_bought", "buy_again", "collection", "popular"]
    reason: OfferReason


class Offers(ResponseModel):
    """At most 3 rewards and 3 products, best first (the same data gives the same order)."""

    customer_id: str
    balance: int
    rewards: list[RewardOffer] = Field(max_length=3)
    products: list[ProductOffer] = Field(max_length=3)


# --- referrals ---------------------------------------------------------------------------

DiscountKind = Literal["percentage", "fixed_amount"]
LimitPeriodName = Literal["week", "month", "year"]
ReferralStatus = Literal["claimed", "pending", "flagged", "rewarded", "voided", "rejected"]
ReferralFlag = Literal["self_referral", "friend_not_new", "claim_velocity", "advocate_limit"]


class ReferralCampaignChanges(RequestModel):
    """Changing a campaign applies to referrals not yet rewarded; codes already issued to
    friends keep what they give."""

    name: StrictStr = Field(default=OMIT, min_length=1, max_length=100)
    starts_at: AwareDatetime = Field(default=OMIT)
    ends_at: AwareDatetime | None = Field(default=OMIT, description="null: open-ended.")
    friend_discount_kind: DiscountKind = Field(default=OMIT)
    friend_discount_value: DecimalInput = Field(
        default=OMIT, description="Percent (0-100] or an amount in `currency`."
    )
    currency: Currency | None = Field(
        default=OMIT, description="Required when either discount is a fixed amount."
    )
    friend_code_valid_days: Annotated[StrictInt, Field(ge=1, le=365)] = Field(default=OMIT)
    advocate_reward_kind: Literal["points", "discount"] = Field(default=OMIT)
    advocate_points: PositivePoints = Field(default=OMIT)
    advocate_discount_kind: DiscountKind | None = Field(default=OMIT)
    advocate_discount_value: DecimalInput | None = Field(default=OMIT)
    min_order_subtotal: DecimalInput = Field(
        default=OMIT, description="The friend's first order must reach this subtotal."
    )
    advocate_limit: Annotated[StrictInt, Field(ge=1, le=100_000)] | None = Field(
        default=OMIT, description="Rewarded referrals per advocate, ever; null: no limit."
    )
    advocate_period_limit: Annotated[StrictInt, Field(ge=1, le=100_000)] | None = Field(
        default=OMIT, description="Per advocate per advocate_limit_period."
    )
    advocate_limit_period: LimitPeriodName | None = Field(default=OMIT)


class ReferralCampaignInput(ReferralCampaignChanges):
    name: StrictStr = Field(min_length=1, max_length=100)
    starts_at: AwareDatetime
    friend_discount_kind: DiscountKind
    friend_discount_value: DecimalInput
    advocate_reward_kind: Literal["points", "discount"]


class ReferralCampaign(ResponseModel):
    id: int
    name: str
    starts_at: datetime
    ends_at: datetime | None
    friend_discount_kind: DiscountKind
    friend_discount_value: DecimalText
    currency: str | None
    friend_code_valid_days: int
    advocate_reward_kind: Literal["points", "discount"]
    advocate_points: int | None
    advocate_discount_kind: DiscountKind | None
    advocate_discount_value: DecimalText | None
    min_order_subtotal: DecimalText
    advocate_limit: int | None
    advocate_period_limit: int | None
    advocate_limit_period: LimitPeriodName | None
    archived: bool
    live: bool = Field(description="Friends can claim it now.")
    created_at: datetime
    updated_at: datetime


class ReferralCampaignList(ResponseModel):
    referral_campaigns: list[ReferralCampaign]


class Referral(ResponseModel):
    id: int
    campaign_id: int
    advocate_id: str = Field(description="The advocate's customer id.")
    friend_id: str | None
    status: ReferralStatus
    flags: list[ReferralFlag] = Field(description="Why it was held for review.")
    attributed_by: Literal["discount_code", "order_attribute", "email"] | None
    order_id: str | None = Field(description="The friend's qualifying order.")
    order_subtotal: DecimalText | None
    qualifies_at: datetime | None = Field(
        description="When the order's pending period ends and the advocate is rewarded."
    )
    friend_code_redemption_id: int | None
    advocate_redemption_id: int | None = Field(description="An advocate discount code.")
    reviewed_at: datetime | None
    review_note: str | None
    rewarded_at: datetime | None
    void_reason: str | None
    created_at: datetime
    updated_at: datetime


class ReferralList(ResponseModel):
    referrals: list[Referral]
    next_before: int | None = Field(description="Pass as `before` for the next page.")


class ReferralQuery(PageQuery):
    status: ReferralStatus | None = None
    advocate: str | None = Field(default=None, max_length=400, description="A customer id.")
    before: int | None = Field(default=None, ge=1, le=MAX_ID)


class ReviewInput(RequestModel):
    note: StrictStr = Field(default=OMIT, max_length=500)


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class FlaggedReport(ResponseModel):
    total: int = Field(description="Referrals that tripped a check.")
    awaiting_review: int
    approved: int
    rejected: int
    voided: int
    by_flag: dict[ReferralFlag, int]


class ReferralReport(ResponseModel):
    since: datetime | None
    until: datetime | None
    by_status: dict[ReferralStatus, int]
    flagged: FlaggedReport
    advocate_points: int = Field(description="Points paid to advocates in the window.")
    rewarded_order_subtotal: DecimalText = Field(
        description="Friends' qualifying orders whose referral was rewarded."
    )


class MemberReferral(ResponseModel):
    code: str
    link: str
    referred: dict[ReferralStatus, int]


class ReferralOfferFriend(ResponseModel):
    kind: DiscountKind
    value: DecimalText
    currency: str | None
    valid_days: int


class ReferralOfferAdvocate(ResponseModel):
    kind: Literal["points", "discount"]
    points: int | None
    discount_kind: DiscountKind | None
    discount_value: DecimalText | None
    currency: str | None


class ReferralOffer(ResponseModel):
    campaign_id: int
    friend: ReferralOfferFriend
    advocate: ReferralOfferAdvocate
    min_order_subtotal: DecimalText
    ends_at: datetime | None


class StorefrontReferral(ResponseModel):
    code: str
    link: str = Field(description="The store's address with ?ref=<code>.")
    friends_joined: int
    friends_pending: int = Field(description="Waiting for an order's pending period or review.")
    friends_rewarded: int


class ReferralLanding(ResponseModel):
    code: str
    advocate_first_name: str | None = Field(description="Merchant data: render as text.")
    offer: ReferralOffer


class ClaimInput(RequestModel):
    code: StrictStr = Field(min_length=1, max_length=40, description="The advocate's code.")
    email: StrictStr = Field(
        default=OMIT, max_length=320, description="Guests: where the store knows them by."
    )
    device_id: StrictStr = Field(
        default=OMIT,
        max_length=100,
        description="A random id the widget keeps on this device (only its digest is kept).",
    )


class ReferralClaim(ResponseModel):
    referral_id: int
    status: Literal["pending", "issued", "used", "expired", "failed", "cancelled"] = Field(
        description="Of the friend's code: pending until the store has created it."
    )
    code: str | None
    title: str | None
    expires_at: datetime | None


# --- CSV imports and exports ----------------------------------------------------------------


class ImportQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    layout: Literal["loyalty", "smile", "loyaltylion"] | None = Field(
        default=None, description="Detected from the header row when left out."
    )
    mode: Literal["add", "reset"] = Field(
        default="add",
        description="add: each row's points are added; reset: the member's spendable "
        "balance becomes the row's points (a correction entry of the difference).",
    )
    dry_run: bool = Field(
        default=False, description="Check every row and report problems; write nothing."
    )
    skip_invalid: bool = Field(
        default=False,
        description="Import the valid rows and leave problem rows out (counted). Without it "
        "a file with any problem row is refused (422 import_has_problems).",
    )
    name: Annotated[str, Field(max_length=255)] | None = Field(
        default=None, description="Named in the ledger entries' reason."
    )


class ImportProblem(ResponseModel):
    line: int = Field(description="The file line the row starts on (the header is line 1).")
    code: Literal[
        "wrong_column_count",
        "missing_identity",
        "bad_email",
        "bad_points",
        "negative_points",
        "points_too_large",
        "field_too_long",
        "duplicate_row",
        "unknown_customer",
    ]
    message: str


class ImportReport(ResponseModel):
    dry_run: Literal[True]
    layout: Literal["loyalty", "smile", "loyaltylion"]
    mode: Literal["add", "reset"]
    total_rows: int
    valid_rows: int
    problem_count: int
    problems: list[ImportProblem] = Field(description="Every problem row (up to 10,000).")
    problems_truncated: bool


class ImportOut(ResponseModel):
    id: int
    name: str
    layout: Literal["loyalty", "smile", "loyaltylion"]
    mode: Literal["add", "reset"]
    skip_invalid: bool
    status: Literal["pending", "running", "completed"] = Field(
        description="running after a stop or crash too: resume it."
    )
    size_bytes: int
    total_rows: int
    last_line: int = Field(description="Rows up to this file line are committed.")
    rows_imported: int = Field(description="Rows that wrote a ledger entry.")
    rows_unchanged: int = Field(description="0 points to add, or already at the reset value.")
    rows_skipped: int = Field(description="Problem rows left out (skip_invalid).")
    members_created: int
    points_added: int
    points_removed: int
    problem_count: int
    problems: list[ImportProblem] = Field(description="The first 100 problem rows.")
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class ImportList(ResponseModel):
    imports: list[ImportOut]


class LedgerExportQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    since: AwareDatetime | None = Field(default=None, description="Entries created at or after.")
    until: AwareDatetime | None = Field(default=None, description="Entries created before.")


class CsvText(RootModel[str]):
    """CSV text (RFC 4180, header row first); served as text/csv."""


class ImportResult(RootModel[ImportReport | ImportOut]):
    """A dry run's report, or (for a file imported before in this mode) that import."""


# --- outbound webhooks ------------------------------------------------------------------

WebhookTopic = Literal[
    "points.earned",
    "points.redeemed",
    "points.expired",
    "points.expiring",
    "tier.changed",
    "referral.completed",
    "referral.flagged",
]
TOPICS_TEXT = (
    "Topics to receive: points.earned, points.redeemed, points.expired, points.expiring, "
    "tier.changed, referral.completed, referral.flagged."
)
WebhookUrl = Annotated[
    StrictStr,
    Field(
        min_length=1,
        max_length=2048,
        description="http(s) URL the events are POSTed to. Private, loopback and link-local "
        "addresses are refused unless the server allows them (development).",
    ),
]


class WebhookEndpointChanges(RequestModel):
    url: WebhookUrl = OMIT
    # Plain strings here, so an unknown topic is answered `unknown_topic` (naming it)
    # rather than a generic validation error; the documented values are WebhookTopic's.
    topics: list[Annotated[StrictStr, Field(max_length=40)]] = Field(
        default=OMIT,
        min_length=1,
        max_length=20,
        description=TOPICS_TEXT,
    )
    description: Annotated[StrictStr, Field(max_length=255)] | None = OMIT
    active: StrictBool = Field(default=OMIT, description="false: nothing is sent to it.")


class WebhookEndpointInput(WebhookEndpointChanges):
    url: WebhookUrl
    topics: list[Annotated[StrictStr, Field(max_length=40)]] = Field(
        min_length=1,
        max_length=20,
        description=TOPICS_TEXT,
    )


class RotateSecretInput(RequestModel):
    previous_valid_hours: Annotated[StrictInt, Field(ge=0, le=168)] = Field(
        default=OMIT,
        description="How long deliveries are also signed with the old secret (default 24; "
        "0 stops it at once).",
    )


class WebhookEndpoint(ResponseModel):
    id: int
    url: str
    description: str | None
    topics: list[WebhookTopic]
    active: bool
    previous_secret_valid_until: datetime | None = Field(
        description="Until then each delivery carries a signature with the previous secret too."
    )
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpoint):
    secret: str = Field(
        description="The signing secret. Shown only now: store it (it cannot be read again, "
        "only rotated)."
    )


class WebhookEndpointList(ResponseModel):
    webhook_endpoints: list[WebhookEndpoint]


WebhookStatus = Literal["pending", "delivering", "succeeded", "failed"]


class WebhookAttemptOut(ResponseModel):
    attempt: int
    redelivery: bool
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    succeeded: bool


class WebhookDelivery(ResponseModel):
    id: int
    endpoint_id: int
    event_id: str = Field(description="The envelope's `id` (the same for every endpoint).")
    delivery_key: str = Field(description="Sent as X-Loyalty-Delivery; kept across retries.")
    topic: str
    status: WebhookStatus
    attempts: int = Field(description="HTTP attempts made so far (replays included).")
    redelivery: bool = Field(description="Replayed by the merchant.")
    next_attempt_at: datetime | None = Field(description="While pending.")
    last_status_code: int | None
    last_error: str | None
    last_duration_ms: int | None
    created_at: datetime
    delivered_at: datetime | None


class WebhookDeliveryDetail(WebhookDelivery):
    payload: str = Field(description="The exact body that is signed and sent.")
    attempt_log: list[WebhookAttemptOut]


class WebhookDeliveryList(ResponseModel):
    webhook_deliveries: list[WebhookDelivery]
    next_before: int | None = Field(description="Pass as `before` for the next page.")


class WebhookDeliveryQuery(PageQuery):
    endpoint_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    status: WebhookStatus | None = None
    before: int | None = Field(default=None, ge=1, le=MAX_ID, description="next_before.")


# The bodies we send (documented under the document's top-level `webhooks`).


class WebhookShop(BaseModel):
    id: int
    platform: Literal["shopify", "woocommerce"]
    domain: str


class PointsEntryData(BaseModel):
    customer_id: str | None = Field(description="The platform's customer id (or guest:<email>).")
    entry_id: int = Field(description="The ledger entry (append-only; never changes).")
    points: int = Field(ge=0, description="How many points were earned, spent or expired.")
    kind: str = Field(description="The ledger entry's kind, e.g. earn_order, redeem, expiry.")
    reason: str
    source: dict[str, str] = Field(
        description="What it came from: {type, ref}, e.g. order / redemption."
    )
    available_at: datetime = Field(description="When earned points become spendable.")


class PointsExpiringData(BaseModel):
    customer_id: str | None
    points: int = Field(description="Points that expire at expires_at unless the member acts.")
    expires_at: datetime


class TierChangedData(BaseModel):
    customer_id: str | None
    model_config = ConfigDict(populate_by_name=True)
    from_: str | None = Field(alias="from", description="The tier left (null: none).")
    to: str | None = Field(description="The tier reached (null: none).")
    direction: Literal["up", "down"]


class ReferralCompletedData(BaseModel):
    customer_id: str | None = Field(description="The advocate who was rewarded.")
    referral_id: int


class ReferralFlaggedData(BaseModel):
    customer_id: str | None = Field(description="The advocate.")
    referral_id: int
    flags: list[str] = Field(description="Why it is held for your review.")


class PingData(BaseModel):
    message: str
    endpoint_id: int


def _envelope(name: str, topic: str, data: type[BaseModel], doc: str) -> type[BaseModel]:
    from pydantic import create_model

    return create_model(
        name,
        __doc__=doc,
        id=(str, Field(description="The event's id: dedupe on it (or X-Loyalty-Delivery).")),
        topic=(Literal[topic], ...),  # type: ignore[arg-type]
        created_at=(datetime, Field(description="When the event happened (UTC).")),
        shop=(WebhookShop, ...),
        data=(data, ...),
    )


WEBHOOK_PAYLOADS: dict[str, type[BaseModel]] = {
    "points.earned": _envelope(
        "PointsEarnedEvent", "points.earned", PointsEntryData, "Points credited."
    ),
    "points.redeemed": _envelope(
        "PointsRedeemedEvent",
        "points.redeemed",
        PointsEntryData,
        "Points spent on a reward (source.ref is the redemption id; its code follows).",
    ),
    "points.expired": _envelope(
        "PointsExpiredEvent", "points.expired", PointsEntryData, "Points expired."
    ),
    "points.expiring": _envelope(
        "PointsExpiringEvent",
        "points.expiring",
        PointsExpiringData,
        "An expiry reminder: points will expire soon.",
    ),
    "tier.changed": _envelope(
        "TierChangedEvent", "tier.changed", TierChangedData, "A member moved tier."
    ),
    "referral.completed": _envelope(
        "ReferralCompletedEvent",
        "referral.completed",
        ReferralCompletedData,
        "An advocate was rewarded for a referral.",
    ),
    "referral.flagged": _envelope(
        "ReferralFlaggedEvent",
        "referral.flagged",
        ReferralFlaggedData,
        "A referral was held for review.",
    ),
    "ping": _envelope("PingEvent", "ping", PingData, "A test sent on request."),
}


# --- shopper emails ---------------------------------------------------------------------

EmailTypeName = Literal[
    "points_earned",
    "reward_unlocked",
    "tier_changed",
    "referral_rewarded",
    "points_expiring",
    "birthday_bonus",
]
EmailLocale = Literal["en", "vi", "th"]
EmailStatus = Literal["pending", "sending", "sent", "failed", "skipped"]
TEMPLATE_TEXT = (
    "A Jinja2 template (sandboxed; no code runs). Variables: shop_name, customer_name, "
    "points, balance, reward_name, reward_cost, tier_name, previous_tier, direction, "
    "expires_on, unsubscribe_url; plural(n, one, other) picks a word form."
)


class EmailTemplateOut(ResponseModel):
    type: EmailTypeName
    locale: EmailLocale
    enabled: bool = Field(description="Whether the shop sends this type (email-settings).")
    customized: bool = Field(description="false: the shipped default text.")
    subject: str
    body_text: str
    body_html: str | None = Field(description="Optional HTML part (autoescaped).")
    updated_at: str | None


class EmailTemplateList(ResponseModel):
    email_templates: list[EmailTemplateOut]


class EmailTemplateChanges(RequestModel):
    subject: Annotated[StrictStr, Field(min_length=1, max_length=1000)] = Field(
        default=OMIT, description=TEMPLATE_TEXT
    )
    body_text: Annotated[StrictStr, Field(min_length=1, max_length=20_000)] = Field(
        default=OMIT, description=TEMPLATE_TEXT
    )
    body_html: Annotated[StrictStr, Field(max_length=20_000)] | None = Field(
        default=OMIT, description="HTML template, autoescaped; null or empty: text only."
    )


class EmailLocaleQuery(BaseModel):
    locale: EmailLocale | None = Field(
        default=None, description="Default: the shop's email language."
    )


class EmailPreviewOut(ResponseModel):
    type: EmailTypeName
    locale: EmailLocale
    subject: str
    body_text: str
    body_html: str | None


class EmailSettingsOut(ResponseModel):
    sender_name: str | None = Field(description="Shown as the sender; default: the shop domain.")
    sender_address: str | None = Field(description="From address; default: the server's.")
    locale: EmailLocale = Field(description="The language emails are written in.")
    types: dict[str, bool] = Field(description="Each email type, on or off.")
    smtp_configured: bool = Field(
        description="false: emails are kept in the outbox (GET /emails), not sent."
    )


class EmailSettingsChanges(RequestModel):
    sender_name: Annotated[StrictStr, Field(max_length=100)] | None = OMIT
    sender_address: Annotated[StrictStr, Field(max_length=320)] | None = OMIT
    locale: EmailLocale = OMIT
    types: dict[EmailTypeName, StrictBool] = Field(
        default=OMIT, description="Switch types on (true) or off (false); others stay."
    )


class EmailOut(ResponseModel):
    id: int
    type: EmailTypeName
    customer_id: str | None = Field(description="The platform's customer id (or guest:<email>).")
    status: EmailStatus
    locale: str | None
    to: str | None = Field(description="Filled when it is rendered for sending.")
    subject: str | None
    attempts: int
    last_error: str | None
    next_attempt_at: str | None
    created_at: str
    sent_at: str | None


class EmailList(ResponseModel):
    emails: list[EmailOut]
    next_before: int | None = Field(description="Pass as `before` for the next page.")


class EmailLogQuery(PageQuery):
    status: EmailStatus | None = None
    before: int | None = Field(default=None, ge=1, le=MAX_ID, description="next_before.")


class UnsubscribeQuery(BaseModel):
    token: Annotated[str, Field(max_length=200)] = Field(
        description="The signed token from the email's link."
    )


# --- analytics ------------------------------------------------------------------------

AnalyticsRatio = Annotated[
    str | None, Field(description="A decimal ratio as a string (4 places); null when undefined.")
]


class AnalyticsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    from_: str | None = Field(
        default=None,
        alias="from",
        description="First UTC day, YYYY-MM-DD (included). Default: 29 days before `to`.",
    )
    to: str | None = Field(
        default=None, description="Last UTC day, YYYY-MM-DD (included), not after today."
    )
    format: Literal["json", "csv"] | None = Field(
        default=None, description="csv: the same figures as CSV (as the .csv sibling)."
    )


class AnalyticsCsvQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    from_: str | None = Field(default=None, alias="from", description="As for the JSON form.")
    to: str | None = Field(default=None, description="As for the JSON form.")


class AnalyticsRange(ResponseModel):
    from_: str = Field(alias="from")
    to: str


class AnalyticsMoney(ResponseModel):
    amount: DecimalText
    currency: str


class AnalyticsPointValue(AnalyticsMoney):
    reward_id: int


class AnalyticsBase(ResponseModel):
    range: AnalyticsRange
    built_at: str | None = Field(description="When the aggregates were last built (ISO 8601).")
    definitions: dict[str, str] = Field(description="Each figure's definition, by name.")


class AnalyticsPointFigures(BaseModel):
    members: int
    new_members: int
    active_members: int
    redeemers: int
    redeemer_share: AnalyticsRatio
    points_issued: int
    points_reversed: int
    points_redeemed: int
    points_expired: int
    points_removed: int
    points_outstanding: int
    points_spendable: int
    points_pending: int
    point_value: AnalyticsPointValue | None
    liability: AnalyticsMoney | None
    redemption_rate: AnalyticsRatio
    tier_ups: int
    tier_downs: int


class AnalyticsOrderGroup(ResponseModel):
    buyers: int
    orders: int
    repeat_buyers: int
    repeat_purchase_rate: AnalyticsRatio
    purchase_frequency: AnalyticsRatio
    shop_currency_orders: int
    gross: DecimalText
    refunded: DecimalText
    revenue: DecimalText
    average_order_value: DecimalText | None


class AnalyticsOtherCurrency(ResponseModel):
    currency: str
    orders: int
    revenue: DecimalText


class AnalyticsOrders(ResponseModel):
    currency: str | None = Field(description="The shop's currency; money figures use it only.")
    members: AnalyticsOrderGroup
    guests: AnalyticsOrderGroup
    reward_orders: int
    reward_revenue: DecimalText
    referred_orders: int
    referred_revenue: DecimalText
    other_currencies: list[AnalyticsOtherCurrency]


class AnalyticsFunnel(ResponseModel):
    claims: int
    signed_up: int
    first_orders: int
    rewarded: int
    flagged: int
    approved: int
    rejected: int
    by_status: dict[str, int]


class AnalyticsTierCount(ResponseModel):
    tier_id: int | None
    name: str | None
    members: int


class AnalyticsTierMoves(ResponseModel):
    up: int
    down: int


class AnalyticsCohortMonth(ResponseModel):
    offset: int
    month: str
    members: int
    rate: AnalyticsRatio


class AnalyticsCohort(ResponseModel):
    month: str
    members: int
    retained: list[AnalyticsCohortMonth]


class AnalyticsPoints(AnalyticsBase, AnalyticsPointFigures):
    pass


class AnalyticsMembersVsGuests(AnalyticsBase):
    shop_currency: str | None
    orders: AnalyticsOrders


class AnalyticsReferrals(AnalyticsBase):
    referral_funnel: AnalyticsFunnel


class AnalyticsTiers(AnalyticsBase):
    tiers_now: list[AnalyticsTierCount]
    tier_moves: AnalyticsTierMoves


class AnalyticsCohorts(AnalyticsBase):
    cohorts: list[AnalyticsCohort]


class AnalyticsOverview(AnalyticsBase, AnalyticsPointFigures):
    shop_currency: str | None
    orders: AnalyticsOrders
    referral_funnel: AnalyticsFunnel
    tiers_now: list[AnalyticsTierCount]
    tier_moves: AnalyticsTierMoves


# --- order history ---------------------------------------------------------------------


class BackfillProgress(ResponseModel):
    """The shop's order-history backfill: every past order read from the store (paged,
    resumable), kept for scoring. Orders placed before the install earn no points."""

    status: Literal["idle", "running", "completed", "failed"] = Field(
        description="idle: never started. running: reading pages (or queued). completed: "
        "every page read. failed: stopped by the store (see error); it resumes from the "
        "page it got to when started again, or by itself a few minutes later."
    )
    pages: int = Field(description="Pages read by this run.")
    orders_read: int
    before_install: int = Field(description="Orders read that were placed before the install.")
    new_order_states: int = Field(
        description="Orders placed since the install that were handed to the webhook path "
        "(each applied once: those the webhooks brought already change nothing)."
    )
    resumable: bool = Field(description="A stopped run goes on from its cursor.")
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime | None
    error: str | None
    history_orders: int = Field(description="Orders the shop's history holds in all.")
    history_before_install: int


# --- segments ---------------------------------------------------------------------------


class SegmentSummary(ResponseModel):
    segment: SegmentName
    definition: str
    count: int = Field(description="Members in it now.")
    share: DecimalText | None = Field(
        description="count / scored_members, 4 places; null when no member is scored."
    )


class SegmentList(ResponseModel):
    computed_at: datetime | None = Field(description="The last computation; null: never.")
    scored_members: int = Field(description="Members with a segment (a counted order).")
    unscored_members: int = Field(description="Members computed without a counted order.")
    model: PredictionModelView | None = Field(
        description="The fitted prediction model; null before the first computation."
    )
    segments: list[SegmentSummary]


class SegmentMember(ResponseModel):
    customer_id: str = Field(description="The platform's customer id, or guest:<email>.")
    email: str | None
    scores: CustomerScores


class SegmentMemberPage(ResponseModel):
    segment: SegmentName
    members: list[SegmentMember]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class SegmentMembersQuery(PageQuery):
    cursor: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="next_cursor of the previous page."
    )


# --- suggestions ---------------------------------------------------------------------------

SuggestionKind = Literal[
    "tier_at_risk", "points_expiring", "unredeemed_reward", "earn_rate", "product_bonus"
]
SuggestionActionName = Literal[
    "create_campaign", "send_reminders", "lower_cost", "archive", "lower_earn_rate", "boost_product"
]


class SuggestionAction(ResponseModel):
    name: SuggestionActionName = Field(
        description="POST /suggestions/{kind}/{key}/actions/{name} does it."
    )
    description: str
    service: str = Field(description="The service function (and API endpoint) it goes through.")
    changes: dict[str, Any] = Field(description="What it sends to that service.")


class SuggestionEvidence(ResponseModel):
    method: str = Field(description="How the figures were computed.")
    period_from: datetime | None = Field(description="Start of the period looked at.")
    period_to: datetime | None = Field(description="End of the period looked at.")
    figures: dict[str, int | str | bool | None] = Field(
        description="The numbers behind the suggestion; money and decimals as strings."
    )
    members: list[dict[str, Any]] = Field(
        description="Up to 50 members involved (customer_id is the platform's id), with "
        "their own figures."
    )
    members_total: int = Field(description="How many members are involved in all.")
    rewards: list[dict[str, Any]] = Field(description="The rewards involved.")


class Suggestion(ResponseModel):
    kind: SuggestionKind
    key: str = Field(
        description="Stable while the suggestion holds: a reward id, 30d, a product id..."
    )
    title: str
    evidence: SuggestionEvidence
    actions: list[SuggestionAction]


class SuggestionList(ResponseModel):
    suggestions: list[Suggestion]


class SuggestionApplied(ResponseModel):
    kind: SuggestionKind
    key: str
    action: SuggestionActionName
    result: dict[str, Any] = Field(
        description="What the service returned: the campaign, reward or program after the "
        "change, or the reminders written."
    )
