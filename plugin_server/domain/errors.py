"""Domain errors, each with a stable machine-readable `code`.

HTTP status codes for them live in `plugin_server.api.errors`, not here.
"""

from __future__ import annotations

from typing import ClassVar


class LoyaltyError(Exception):
    code: ClassVar[str] = "loyalty_error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)

    @property
    def message(self) -> str:
        return str(self)


class ValidationFailed(LoyaltyError):
    """The request is not valid."""

    code = "validation_failed"

    def __init__(self, message: str | None = None, *, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


class ShopNotFound(LoyaltyError):
    """No such shop."""

    code = "shop_not_found"


class ShopAlreadyExists(LoyaltyError):
    """A shop with this platform and domain already exists."""

    code = "shop_already_exists"


class CustomerNotFound(LoyaltyError):
    """No such customer in this shop."""

    code = "customer_not_found"


class ReceiptNotFound(LoyaltyError):
    """No such webhook receipt."""

    code = "receipt_not_found"


class MalformedPayload(LoyaltyError):
    """The webhook payload could not be understood."""

    code = "malformed_payload"


class RewardNotFound(LoyaltyError):
    """No such reward in this shop."""

    code = "reward_not_found"


class RewardArchived(LoyaltyError):
    """The reward is archived and can no longer change."""

    code = "reward_archived"


class IdempotencyKeyReused(LoyaltyError):
    """This Idempotency-Key was already used for a different request."""

    code = "idempotency_key_reused"


class InsufficientPoints(LoyaltyError):
    """Not enough spendable points for this redemption."""

    code = "insufficient_points"


class RedemptionNotFound(LoyaltyError):
    """No such redemption in this shop."""

    code = "redemption_not_found"


class PlatformNotSupported(LoyaltyError):
    """Redemption is not available for this shop's platform yet."""

    code = "platform_not_supported"


class ShopInactive(LoyaltyError):
    """The shop uninstalled the app: nothing new can happen there."""

    code = "shop_inactive"


class InstallRejected(LoyaltyError):
    """The install or connect request failed a check (state, shop, keys)."""

    code = "install_rejected"


class StoreUrlNotAllowed(LoyaltyError):
    """The store URL is not one we will call (not https, or a private address)."""

    code = "store_url_not_allowed"


class RedemptionNotCancellable(LoyaltyError):
    """Only an issued, unused code can be cancelled."""

    code = "redemption_not_cancellable"


class EarningRuleNotFound(LoyaltyError):
    """No such earning rule in this shop."""

    code = "earning_rule_not_found"


class CollectionNotFound(LoyaltyError):
    """No rule of this shop names that collection (or category)."""

    code = "collection_not_found"


class ActivityLimitReached(LoyaltyError):
    """The rule already paid this member as often as its limit allows for now."""

    code = "activity_limit_reached"


class TierNotFound(LoyaltyError):
    """No such tier in this shop."""

    code = "tier_not_found"


class TierRequired(LoyaltyError):
    """The reward is only for members of a higher tier."""

    code = "tier_required"


class ReferralCampaignNotFound(LoyaltyError):
    """No such referral campaign in this shop."""

    code = "referral_campaign_not_found"


class ReferralCodeNotFound(LoyaltyError):
    """No member of this shop has this referral code."""

    code = "referral_code_not_found"


class NoReferralCampaign(LoyaltyError):
    """The shop has no referral campaign running."""

    code = "no_referral_campaign"


class OwnReferralCode(LoyaltyError):
    """A member cannot claim their own referral code."""

    code = "own_referral_code"


class AlreadyReferred(LoyaltyError):
    """This friend has already been referred by another member."""

    code = "already_referred"


class NotNewCustomer(LoyaltyError):
    """Referral offers are for customers who have not ordered before."""

    code = "not_new_customer"


class ReferralNotFound(LoyaltyError):
    """No such referral in this shop."""

    code = "referral_not_found"


class ReferralNotReviewable(LoyaltyError):
    """The referral is not waiting for this decision."""

    code = "referral_not_reviewable"


class UnknownLayout(LoyaltyError):
    """The CSV header matches no supported import layout."""

    code = "unknown_layout"


class MissingColumns(LoyaltyError):
    """The CSV lacks a column its layout needs."""

    code = "missing_columns"


class InvalidCsv(LoyaltyError):
    """The file is not readable CSV (encoding, quoting, repeated header names)."""

    code = "invalid_csv"


class EmptyFile(LoyaltyError):
    """The file has no header row."""

    code = "empty_file"


class ImportHasProblems(LoyaltyError):
    """Some rows cannot be imported; nothing was written."""

    code = "import_has_problems"

    def __init__(self, message: str, *, problems: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.problems = problems


class ImportNotFound(LoyaltyError):
    """No such import in this shop."""

    code = "import_not_found"


class InvalidWebhookUrl(ValidationFailed):
    """Not an absolute http(s) URL."""

    code = "invalid_url"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, field="url")


class WebhookUrlNotAllowed(ValidationFailed):
    """The URL's host does not resolve, or resolves to a private or reserved address."""

    code = "url_not_allowed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, field="url")


class UnknownTopic(ValidationFailed):
    """A topic that cannot be subscribed to."""

    code = "unknown_topic"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, field="topics")


class WebhookEndpointNotFound(LoyaltyError):
    """No such webhook endpoint in this shop."""

    code = "webhook_endpoint_not_found"


class WebhookEndpointInactive(LoyaltyError):
    """The webhook endpoint is disabled."""

    code = "webhook_endpoint_inactive"


class WebhookDeliveryNotFound(LoyaltyError):
    """No such webhook delivery in this shop."""

    code = "webhook_delivery_not_found"


class WebhookDeliveryInProgress(LoyaltyError):
    """The delivery is still pending or being delivered; replay it once it has finished."""

    code = "webhook_delivery_in_progress"


class WebhookEndpointLimit(LoyaltyError):
    """The shop has as many webhook endpoints as it may; delete one first."""

    code = "webhook_endpoint_limit"


class InvalidTemplate(ValidationFailed):
    """An email template that does not compile or render (its field and line named)."""

    code = "invalid_template"


class UnknownEmailType(LoyaltyError):
    """No such kind of email."""

    code = "email_type_not_found"


class EmailNotFound(LoyaltyError):
    """No such email in this shop."""

    code = "email_not_found"


class InvalidDate(LoyaltyError):
    """from/to must be calendar dates written YYYY-MM-DD."""

    code = "invalid_date"


class DateRangeReversed(LoyaltyError):
    """from must not be after to."""

    code = "date_range_reversed"


class DateRangeTooLong(LoyaltyError):
    """The date range is longer than analytics answer for at once."""

    code = "date_range_too_long"


class DateInFuture(LoyaltyError):
    """The date range must end today (UTC) or earlier."""

    code = "date_in_future"


class UnknownSegment(ValidationFailed):
    """A segment name that is not one of the customer segments."""

    code = "unknown_segment"


class SuggestionNotFound(LoyaltyError):
    """No such suggestion (kind, key or action) in this shop."""

    code = "suggestion_not_found"


class SuggestionNotApplicable(LoyaltyError):
    """The suggestion's condition no longer holds (it was acted on, or things changed)."""

    code = "suggestion_not_applicable"
