"""The admin app's analytics: the figures of GET /api/v1/analytics/* for a date range, read
through the same service functions (and the same range parser, so the same messages), with
each figure's definition as the API serves it, a CSV per figure group (the API's CSV), and
server-drawn SVG charts where a picture reads faster than numbers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import Response, request
from werkzeug.wrappers import Response as BaseResponse

from plugin_server.api.admin import ANALYTICS_VIEWS
from plugin_server.api.admin_app import bp, charts
from plugin_server.api.admin_app.i18n import add_texts
from plugin_server.api.admin_app.views import current_merchant, link, page, t
from plugin_server.api.context import current_container
from plugin_server.api.errors import STATUS_FOR
from plugin_server.domain import errors
from plugin_server.services import analytics

PRESETS = (7, 30, 90, 365)
# The figure groups with a CSV each: the API's own readers, by the API's path names.
READERS: dict[str, analytics.Reader] = {name: fetch for name, fetch, *_ in ANALYTICS_VIEWS}
CSV_GROUPS = ("points", "members-vs-guests", "referrals", "cohorts", "tiers")
RANGE_ERRORS = (
    errors.InvalidDate,
    errors.DateRangeReversed,
    errors.DateInFuture,
    errors.DateRangeTooLong,
)
# Cohort heat-map shades: heat-0 for none, then one class more per step reached (heat-5).
HEAT_STEPS = tuple(Decimal(v) for v in ("0.0001", "0.1", "0.25", "0.5", "0.75"))


def _range_field(exc: errors.LoyaltyError) -> str:
    """Which input a range error is about, for the message beside it."""
    if isinstance(exc, errors.InvalidDate):
        return "to" if exc.message.startswith("to ") else "from"
    return "to" if isinstance(exc, errors.DateInFuture) else "from"


def _requested_range() -> tuple[analytics.DateRange, dict[str, str], int | None]:
    """The range asked for: ?from=&to= (custom) or ?days=7|30|90|365; the last 30 days by
    default. Raises the range errors of `analytics.parse_range`."""
    today = current_container().clock().date()
    raw_from, raw_to = request.args.get("from", ""), request.args.get("to", "")
    form = {"from": raw_from, "to": raw_to}
    if raw_from or raw_to:
        return analytics.parse_range(raw_from, raw_to, today=today), form, None
    days = request.args.get("days", "")
    preset = int(days) if days.isdigit() and int(days) in PRESETS else analytics.DEFAULT_SPAN_DAYS
    first = today - timedelta(days=preset - 1)
    r = analytics.parse_range(first.isoformat(), today.isoformat(), today=today)
    return r, {"from": r.first.isoformat(), "to": r.last.isoformat()}, preset


def _percent(rate: str | None) -> str:
    if rate is None:
        return t("analytics_none")
    return f"{(Decimal(rate) * 100).quantize(Decimal('0.01'), ROUND_HALF_UP)} %"


def _money(value: Mapping[str, Any] | None, amount_key: str = "amount") -> str:
    if value is None:
        return t("analytics_none")
    return f"{value[amount_key]} {value['currency']}"


def _heat(rate: str | None) -> str:
    level = sum(1 for step in HEAT_STEPS if rate is not None and Decimal(rate) >= step)
    return f"heat-{level}"


def _definitions(result: Mapping[str, Any], part: str) -> list[tuple[str, str]]:
    served: Mapping[str, str] = result["definitions"]
    return [(key, served[key]) for key in analytics.PART_DEFINITIONS[part]]


def _charts(
    result: Mapping[str, Any], series: list[dict[str, Any]], tier_names: list[str]
) -> dict[str, Any]:
    orders, funnel = result["orders"], result["referral_funnel"]
    currency = orders["currency"]
    return {
        "points": charts.lines_by_day(
            t("analytics_chart_points"),
            [row["day"] for row in series],
            [
                (t("analytics_series_issued"), [row["points_issued"] for row in series]),
                (t("analytics_series_redeemed"), [row["points_redeemed"] for row in series]),
                (t("analytics_series_expired"), [row["expired"] for row in series]),
            ],
        ),
        "orders": charts.bars(
            t("analytics_chart_orders", currency=currency or t("analytics_none")),
            [
                (t("analytics_col_members"), Decimal(orders["members"]["revenue"])),
                (t("analytics_col_guests"), Decimal(orders["guests"]["revenue"])),
            ],
        ),
        "funnel": charts.bars(
            t("analytics_chart_funnel"),
            [(t(f"analytics_funnel_{step}"), funnel[step]) for step in FUNNEL_STEPS],
        ),
        "tiers": charts.bars(
            t("analytics_chart_tiers"),
            [
                (name, row["members"])
                for name, row in zip(tier_names, result["tiers_now"], strict=True)
            ],
        ),
    }


FUNNEL_STEPS = ("claims", "signed_up", "first_orders", "rewarded")


def _analytics_page(status: int = 200) -> Response:
    c = current_container()
    shop_id = current_merchant().shop_id
    try:
        r, form, preset = _requested_range()
    except RANGE_ERRORS as exc:
        form = {"from": request.args.get("from", ""), "to": request.args.get("to", "")}
        return page(
            "analytics.html",
            STATUS_FOR.get(type(exc), 400),
            nav="analytics",
            form=form,
            preset=None,
            presets=PRESETS,
            error=exc.message,
            field_errors={_range_field(exc): exc.message},
            range_definition=analytics.DEFINITIONS["range"],
        )
    result = analytics.overview(c.uow(), shop_id, r)
    cohorts = analytics.cohorts(c.uow(), shop_id, r)
    series = analytics.points_by_day(c.uow(), shop_id, r)
    tier_names = [row["name"] or t("no_tier") for row in result["tiers_now"]]
    args = {"from": r.first.isoformat(), "to": r.last.isoformat()}
    return page(
        "analytics.html",
        status,
        nav="analytics",
        form=form,
        preset=preset,
        presets=PRESETS,
        error=None,
        field_errors={},
        range_definition=analytics.DEFINITIONS["range"],
        r=r,
        result=result,
        cohorts=[
            {
                **cohort,
                "cells": [
                    {**cell, "percent": _percent(cell["rate"]), "heat": _heat(cell["rate"])}
                    for cell in cohort["retained"]
                ],
            }
            for cohort in cohorts["cohorts"]
        ],
        cohort_width=max((len(c["retained"]) for c in cohorts["cohorts"]), default=0),
        series=series,
        tier_names=tier_names,
        charts=_charts(result, series, tier_names),
        definitions={
            **{part: _definitions(result, part) for part in analytics.OVERVIEW_PARTS},
            "cohorts": _definitions(cohorts, "cohorts"),
        },
        csv={name: link("adminapp.analytics_csv", name=name, **args) for name in CSV_GROUPS},
        funnel_steps=FUNNEL_STEPS,
        percent=_percent,
        money=_money,
        build_minutes=analytics.BUILD_EVERY_MINUTES,
    )


@bp.get("/analytics", endpoint="analytics")  # the endpoint name views.NAV lists
def analytics_page() -> Response:
    return _analytics_page()


@bp.get("/analytics/<any(points, 'members-vs-guests', referrals, cohorts, tiers):name>.csv")
def analytics_csv(name: str) -> BaseResponse:
    """The API's CSV of one figure group (same reader, same range parser, same columns)."""
    c = current_container()
    try:
        r = analytics.parse_range(
            request.args.get("from"), request.args.get("to"), today=c.clock().date()
        )
    except RANGE_ERRORS:
        return _analytics_page()  # the page shows the same message, with its 400
    result = READERS[name](c.uow(), current_merchant().shop_id, r)
    got = result["range"]
    return Response(
        analytics.to_csv(result),
        mimetype="text/csv",
        headers={
            "Content-Disposition": (
                f'attachment; filename="analytics-{name}-{got["from"]}-{got["to"]}.csv"'
            ),
            "Cache-Control": "no-store",
        },
    )


add_texts(
    {
        "en": {
            "analytics_title": "Analytics",
            "analytics_built": "Figures from daily aggregates, rebuilt every {minutes} "
            "minutes; last built {when} UTC.",
            "analytics_not_built": "The figures have not been built yet: they appear after "
            "the next build (every {minutes} minutes).",
            "analytics_range": "Date range",
            "analytics_presets": "Quick ranges",
            "analytics_last_days": "Last {n} days",
            "analytics_custom": "Custom range",
            "analytics_from": "From (UTC)",
            "analytics_to": "To (UTC)",
            "analytics_date_hint": "YYYY-MM-DD",
            "analytics_show": "Show",
            "analytics_showing": "{first} to {last}, UTC days, both included ({days} days).",
            "analytics_definitions": "Definitions (as the API gives them, in English)",
            "analytics_as_table": "The numbers as a table",
            "analytics_none": "n/a",
            "analytics_csv_link": "Download as CSV: {what}",
            "analytics_points_h": "Members and points",
            "analytics_orders_h": "Members vs guests",
            "analytics_referrals_h": "Referral funnel",
            "analytics_cohorts_h": "Retention by month of joining",
            "analytics_tiers_h": "Tiers",
            "analytics_f_range": "Date range",
            "analytics_f_members": "Members",
            "analytics_f_new_members": "New members",
            "analytics_f_active_members": "Active members",
            "analytics_f_redeemers": "Members who redeemed",
            "analytics_f_redeemer_share": "Share of members who redeemed",
            "analytics_f_points_issued": "Points issued",
            "analytics_f_points_reversed": "Points reversed (refunds)",
            "analytics_f_points_redeemed": "Points redeemed",
            "analytics_f_points_expired": "Points expired",
            "analytics_f_points_removed": "Points removed by adjustments",
            "analytics_f_points_outstanding": "Points outstanding",
            "analytics_f_points_spendable": "Spendable points",
            "analytics_f_points_pending": "Pending points",
            "analytics_f_point_value": "Value of a point",
            "analytics_f_liability": "Liability (value of outstanding points)",
            "analytics_f_redemption_rate": "Redemption rate",
            "analytics_f_tier_moves": "Tier moves",
            "analytics_f_shop_currency": "Shop currency",
            "analytics_f_orders": "Orders",
            "analytics_f_member_orders": "Member and guest orders",
            "analytics_f_buyers": "Buyers",
            "analytics_f_repeat_purchase_rate": "Repeat-purchase rate",
            "analytics_f_purchase_frequency": "Orders per buyer",
            "analytics_f_revenue": "Revenue",
            "analytics_f_average_order_value": "Average order value",
            "analytics_f_reward_revenue": "Revenue from reward-code orders",
            "analytics_f_referred_revenue": "Revenue from referred friends",
            "analytics_f_referral_funnel": "Referral funnel",
            "analytics_f_cohorts": "Cohorts",
            "analytics_f_tiers_now": "Members per tier now",
            "analytics_repeat_buyers": "Repeat buyers",
            "analytics_shop_currency_orders": "Orders in the shop currency",
            "analytics_gross": "Gross sales",
            "analytics_refunded": "Refunded",
            "analytics_col_figure": "Figure",
            "analytics_col_members": "Members",
            "analytics_col_guests": "Guests",
            "analytics_col_currency": "Currency",
            "analytics_col_count": "Referrals",
            "analytics_col_step": "Step",
            "analytics_col_day": "Day (UTC)",
            "analytics_col_cohort": "Joined",
            "analytics_col_value": "Value",
            "analytics_reward_orders": "Reward-code orders",
            "analytics_referred_orders": "Orders of referred friends",
            "analytics_other_currencies": "Orders in other currencies (never converted)",
            "analytics_funnel_claims": "Claimed",
            "analytics_funnel_signed_up": "Signed up",
            "analytics_funnel_first_orders": "First order",
            "analytics_funnel_rewarded": "Rewarded",
            "analytics_funnel_flagged": "Held for review",
            "analytics_funnel_approved": "Approved on review",
            "analytics_funnel_rejected": "Rejected",
            "analytics_by_status": "By current status",
            "analytics_month_k": "Month {k}",
            "analytics_cohort_note": "Share of each month's new members active in each "
            "month after joining (month 0: the month they joined); darker: more of them.",
            "analytics_no_cohorts": "No members joined in this range.",
            "analytics_tier_up": "Moved up",
            "analytics_tier_down": "Moved down",
            "analytics_chart_points": "Points per day: issued, redeemed and expired",
            "analytics_series_issued": "Issued",
            "analytics_series_redeemed": "Redeemed",
            "analytics_series_expired": "Expired",
            "analytics_chart_orders": "Revenue in {currency}: members and guests",
            "analytics_chart_funnel": "Referral funnel: claimed, signed up, first order, rewarded",
            "analytics_chart_tiers": "Members per tier now",
        },
        "vi": {
            "analytics_title": "Phân tích",
            "analytics_built": "Số liệu từ bảng tổng hợp theo ngày, cập nhật mỗi {minutes} "
            "phút; lần cập nhật gần nhất {when} UTC.",
            "analytics_not_built": "Số liệu chưa được tổng hợp: chúng sẽ xuất hiện sau lần "
            "tổng hợp tới (mỗi {minutes} phút).",
            "analytics_range": "Khoảng thời gian",
            "analytics_presets": "Chọn nhanh",
            "analytics_last_days": "{n} ngày qua",
            "analytics_custom": "Khoảng tùy chọn",
            "analytics_from": "Từ ngày (UTC)",
            "analytics_to": "Đến ngày (UTC)",
            "analytics_date_hint": "YYYY-MM-DD (năm-tháng-ngày)",
            "analytics_show": "Xem",
            "analytics_showing": "Từ {first} đến {last}, ngày theo UTC, tính cả hai ngày "
            "({days} ngày).",
            "analytics_definitions": "Định nghĩa (như API cung cấp, bằng tiếng Anh)",
            "analytics_as_table": "Số liệu dạng bảng",
            "analytics_none": "không có",
            "analytics_csv_link": "Tải về CSV: {what}",
            "analytics_points_h": "Thành viên và điểm",
            "analytics_orders_h": "Thành viên và khách vãng lai",
            "analytics_referrals_h": "Phễu giới thiệu",
            "analytics_cohorts_h": "Tỷ lệ quay lại theo tháng tham gia",
            "analytics_tiers_h": "Hạng thành viên",
            "analytics_f_range": "Khoảng thời gian",
            "analytics_f_members": "Thành viên",
            "analytics_f_new_members": "Thành viên mới",
            "analytics_f_active_members": "Thành viên hoạt động",
            "analytics_f_redeemers": "Thành viên đã đổi điểm",
            "analytics_f_redeemer_share": "Tỷ lệ thành viên đã đổi điểm",
            "analytics_f_points_issued": "Điểm đã phát",
            "analytics_f_points_reversed": "Điểm bị thu hồi (hoàn tiền)",
            "analytics_f_points_redeemed": "Điểm đã đổi",
            "analytics_f_points_expired": "Điểm hết hạn",
            "analytics_f_points_removed": "Điểm bị trừ khi điều chỉnh",
            "analytics_f_points_outstanding": "Điểm còn lại",
            "analytics_f_points_spendable": "Điểm có thể dùng",
            "analytics_f_points_pending": "Điểm đang chờ",
            "analytics_f_point_value": "Giá trị một điểm",
            "analytics_f_liability": "Nghĩa vụ nợ (giá trị điểm còn lại)",
            "analytics_f_redemption_rate": "Tỷ lệ đổi điểm",
            "analytics_f_tier_moves": "Thay đổi hạng",
            "analytics_f_shop_currency": "Tiền tệ của cửa hàng",
            "analytics_f_orders": "Đơn hàng",
            "analytics_f_member_orders": "Đơn của thành viên và của khách",
            "analytics_f_buyers": "Người mua",
            "analytics_f_repeat_purchase_rate": "Tỷ lệ mua lại",
            "analytics_f_purchase_frequency": "Số đơn mỗi người mua",
            "analytics_f_revenue": "Doanh thu",
            "analytics_f_average_order_value": "Giá trị đơn hàng trung bình",
            "analytics_f_reward_revenue": "Doanh thu từ đơn dùng mã thưởng",
            "analytics_f_referred_revenue": "Doanh thu từ bạn bè được giới thiệu",
            "analytics_f_referral_funnel": "Phễu giới thiệu",
            "analytics_f_cohorts": "Nhóm theo tháng tham gia",
            "analytics_f_tiers_now": "Số thành viên mỗi hạng hiện nay",
            "analytics_repeat_buyers": "Người mua lại",
            "analytics_shop_currency_orders": "Đơn bằng tiền tệ của cửa hàng",
            "analytics_gross": "Doanh số gộp",
            "analytics_refunded": "Đã hoàn tiền",
            "analytics_col_figure": "Chỉ số",
            "analytics_col_members": "Thành viên",
            "analytics_col_guests": "Khách vãng lai",
            "analytics_col_currency": "Tiền tệ",
            "analytics_col_count": "Lượt giới thiệu",
            "analytics_col_step": "Bước",
            "analytics_col_day": "Ngày (UTC)",
            "analytics_col_cohort": "Tháng tham gia",
            "analytics_col_value": "Giá trị",
            "analytics_reward_orders": "Đơn dùng mã thưởng",
            "analytics_referred_orders": "Đơn của bạn bè được giới thiệu",
            "analytics_other_currencies": "Đơn bằng tiền tệ khác (không quy đổi)",
            "analytics_funnel_claims": "Đã nhận lời mời",
            "analytics_funnel_signed_up": "Đã đăng ký",
            "analytics_funnel_first_orders": "Đơn đầu tiên",
            "analytics_funnel_rewarded": "Đã thưởng",
            "analytics_funnel_flagged": "Bị giữ lại để xem xét",
            "analytics_funnel_approved": "Được duyệt sau xem xét",
            "analytics_funnel_rejected": "Bị từ chối",
            "analytics_by_status": "Theo trạng thái hiện tại",
            "analytics_month_k": "Tháng {k}",
            "analytics_cohort_note": "Tỷ lệ thành viên mới của mỗi tháng còn hoạt động ở "
            "từng tháng sau khi tham gia (tháng 0: tháng tham gia); ô càng đậm, tỷ lệ càng cao.",
            "analytics_no_cohorts": "Không có thành viên nào tham gia trong khoảng này.",
            "analytics_tier_up": "Lên hạng",
            "analytics_tier_down": "Xuống hạng",
            "analytics_chart_points": "Điểm mỗi ngày: đã phát, đã đổi và hết hạn",
            "analytics_series_issued": "Đã phát",
            "analytics_series_redeemed": "Đã đổi",
            "analytics_series_expired": "Hết hạn",
            "analytics_chart_orders": "Doanh thu bằng {currency}: thành viên và khách vãng lai",
            "analytics_chart_funnel": "Phễu giới thiệu: nhận lời mời, đăng ký, đơn đầu tiên, "
            "được thưởng",
            "analytics_chart_tiers": "Số thành viên mỗi hạng hiện nay",
        },
        "th": {
            "analytics_title": "การวิเคราะห์",
            "analytics_built": "ตัวเลขจากข้อมูลสรุปรายวัน ซึ่งคำนวณใหม่ทุก {minutes} นาที "
            "คำนวณล่าสุดเมื่อ {when} UTC",
            "analytics_not_built": "ยังไม่ได้คำนวณตัวเลข: ตัวเลขจะแสดงหลังการคำนวณครั้งถัดไป "
            "(ทุก {minutes} นาที)",
            "analytics_range": "ช่วงวันที่",
            "analytics_presets": "ช่วงด่วน",
            "analytics_last_days": "{n} วันล่าสุด",
            "analytics_custom": "กำหนดช่วงเอง",
            "analytics_from": "ตั้งแต่ (UTC)",
            "analytics_to": "ถึง (UTC)",
            "analytics_date_hint": "YYYY-MM-DD (ปี-เดือน-วัน)",
            "analytics_show": "แสดง",
            "analytics_showing": "{first} ถึง {last} ตามวันแบบ UTC รวมทั้งสองวัน ({days} วัน)",
            "analytics_definitions": "คำนิยาม (ตามที่ API ให้ไว้ เป็นภาษาอังกฤษ)",
            "analytics_as_table": "ตัวเลขในรูปแบบตาราง",
            "analytics_none": "ไม่มี",
            "analytics_csv_link": "ดาวน์โหลดเป็น CSV: {what}",
            "analytics_points_h": "สมาชิกและคะแนน",
            "analytics_orders_h": "สมาชิกเทียบกับลูกค้าทั่วไป",
            "analytics_referrals_h": "กรวยการแนะนำ",
            "analytics_cohorts_h": "การกลับมาตามเดือนที่เข้าร่วม",
            "analytics_tiers_h": "ระดับสมาชิก",
            "analytics_f_range": "ช่วงวันที่",
            "analytics_f_members": "สมาชิก",
            "analytics_f_new_members": "สมาชิกใหม่",
            "analytics_f_active_members": "สมาชิกที่มีความเคลื่อนไหว",
            "analytics_f_redeemers": "สมาชิกที่แลกคะแนน",
            "analytics_f_redeemer_share": "สัดส่วนสมาชิกที่แลกคะแนน",
            "analytics_f_points_issued": "คะแนนที่มอบให้",
            "analytics_f_points_reversed": "คะแนนที่ถูกหักคืน (การคืนเงิน)",
            "analytics_f_points_redeemed": "คะแนนที่แลกแล้ว",
            "analytics_f_points_expired": "คะแนนที่หมดอายุ",
            "analytics_f_points_removed": "คะแนนที่ถูกหักจากการปรับ",
            "analytics_f_points_outstanding": "คะแนนคงค้าง",
            "analytics_f_points_spendable": "คะแนนที่ใช้ได้",
            "analytics_f_points_pending": "คะแนนที่รอดำเนินการ",
            "analytics_f_point_value": "มูลค่าต่อคะแนน",
            "analytics_f_liability": "ภาระหนี้สิน (มูลค่าคะแนนคงค้าง)",
            "analytics_f_redemption_rate": "อัตราการแลกคะแนน",
            "analytics_f_tier_moves": "การเปลี่ยนระดับ",
            "analytics_f_shop_currency": "สกุลเงินของร้าน",
            "analytics_f_orders": "คำสั่งซื้อ",
            "analytics_f_member_orders": "คำสั่งซื้อของสมาชิกและลูกค้าทั่วไป",
            "analytics_f_buyers": "ผู้ซื้อ",
            "analytics_f_repeat_purchase_rate": "อัตราการซื้อซ้ำ",
            "analytics_f_purchase_frequency": "คำสั่งซื้อต่อผู้ซื้อ",
            "analytics_f_revenue": "รายได้",
            "analytics_f_average_order_value": "มูลค่าคำสั่งซื้อเฉลี่ย",
            "analytics_f_reward_revenue": "รายได้จากคำสั่งซื้อที่ใช้โค้ดรางวัล",
            "analytics_f_referred_revenue": "รายได้จากเพื่อนที่ได้รับการแนะนำ",
            "analytics_f_referral_funnel": "กรวยการแนะนำ",
            "analytics_f_cohorts": "กลุ่มตามเดือนที่เข้าร่วม",
            "analytics_f_tiers_now": "จำนวนสมาชิกในแต่ละระดับตอนนี้",
            "analytics_repeat_buyers": "ผู้ซื้อซ้ำ",
            "analytics_shop_currency_orders": "คำสั่งซื้อในสกุลเงินของร้าน",
            "analytics_gross": "ยอดขายรวม",
            "analytics_refunded": "คืนเงินแล้ว",
            "analytics_col_figure": "ตัวชี้วัด",
            "analytics_col_members": "สมาชิก",
            "analytics_col_guests": "ลูกค้าทั่วไป",
            "analytics_col_currency": "สกุลเงิน",
            "analytics_col_count": "การแนะนำ",
            "analytics_col_step": "ขั้นตอน",
            "analytics_col_day": "วันที่ (UTC)",
            "analytics_col_cohort": "เดือนที่เข้าร่วม",
            "analytics_col_value": "ค่า",
            "analytics_reward_orders": "คำสั่งซื้อที่ใช้โค้ดรางวัล",
            "analytics_referred_orders": "คำสั่งซื้อของเพื่อนที่ได้รับการแนะนำ",
            "analytics_other_currencies": "คำสั่งซื้อในสกุลเงินอื่น (ไม่แปลงค่า)",
            "analytics_funnel_claims": "รับคำเชิญแล้ว",
            "analytics_funnel_signed_up": "สมัครแล้ว",
            "analytics_funnel_first_orders": "คำสั่งซื้อแรก",
            "analytics_funnel_rewarded": "ได้รับรางวัลแล้ว",
            "analytics_funnel_flagged": "ถูกระงับเพื่อตรวจสอบ",
            "analytics_funnel_approved": "อนุมัติหลังตรวจสอบ",
            "analytics_funnel_rejected": "ถูกปฏิเสธ",
            "analytics_by_status": "ตามสถานะปัจจุบัน",
            "analytics_month_k": "เดือนที่ {k}",
            "analytics_cohort_note": "สัดส่วนของสมาชิกใหม่แต่ละเดือนที่มีความเคลื่อนไหวในแต่ละ"
            "เดือนหลังเข้าร่วม (เดือนที่ 0: เดือนที่เข้าร่วม) สีเข้มกว่าหมายถึงสัดส่วนสูงกว่า",
            "analytics_no_cohorts": "ไม่มีสมาชิกเข้าร่วมในช่วงนี้",
            "analytics_tier_up": "เลื่อนขึ้น",
            "analytics_tier_down": "ลดลง",
            "analytics_chart_points": "คะแนนต่อวัน: ที่มอบให้ ที่แลก และที่หมดอายุ",
            "analytics_series_issued": "มอบให้",
            "analytics_series_redeemed": "แลกแล้ว",
            "analytics_series_expired": "หมดอายุ",
            "analytics_chart_orders": "รายได้เป็น {currency}: สมาชิกและลูกค้าทั่วไป",
            "analytics_chart_funnel": "กรวยการแนะนำ: รับคำเชิญ สมัคร คำสั่งซื้อแรก ได้รับรางวัล",
            "analytics_chart_tiers": "จำนวนสมาชิกในแต่ละระดับตอนนี้",
        },
    }
)
