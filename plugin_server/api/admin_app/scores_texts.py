"""The texts of a member's scores and predictions (customer list and profile) in English,
Vietnamese and Thai, and how the profile shows the numbers (keys prefixed score_ and seg_).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from plugin_server.domain import segments as rules

EN: dict[str, str] = {
    "score_col_segment": "Segment",
    "score_title": "Scores",
    "score_not_computed": "Scores have not been computed yet.",
    "score_rfm": "Recency · frequency · monetary",
    "score_rfm_value": "R {r} · F {f} · M {m} (of 5)",
    "score_rfm_none": "No counted order yet",
    "score_segment": "Segment",
    "score_tenure": "Tenure",
    "score_tenure_value": "{days} days",
    "score_engagement": "Engagement",
    "score_engagement_value": (
        "{total} ({activities} activities, {redemptions} redemptions, "
        "{widget_days} days using the widget)"
    ),
    "score_advocacy": "Advocacy",
    "score_advocacy_value": "{n} rewarded referrals",
    "score_predictions": "Predictions",
    "score_p_alive": "Chance still a customer",
    "score_expected_30": "Expected purchases, next 30 days",
    "score_expected_90": "Expected purchases, next 90 days",
    "score_value_12": "Predicted value, next 12 months",
    "score_value_none": "Not available: too little spend data",
    "score_not_enough": "Not enough data yet.",
    "score_reason": "Reason: {reason}",
    "score_no_orders": "No counted order yet, so there is nothing to predict from.",
    "score_predictions_pending": "Predictions have not been computed yet.",
    "score_model_note": "Estimated from this shop's orders with the BG/NBD and Gamma-Gamma "
    "models; the value is discounted at 1 % a month.",
    "seg_none": "No segment yet",
    "seg_champions": "Champions",
    "seg_loyal": "Loyal",
    "seg_potential_loyalist": "Potential loyalist",
    "seg_new": "New",
    "seg_promising": "Promising",
    "seg_need_attention": "Needs attention",
    "seg_at_risk": "At risk",
    "seg_cannot_lose": "Cannot lose them",
    "seg_hibernating": "Hibernating",
    "seg_lost": "Lost",
}

VI: dict[str, str] = {
    "score_col_segment": "Phân khúc",
    "score_title": "Điểm đánh giá",
    "score_not_computed": "Điểm đánh giá chưa được tính.",
    "score_rfm": "Gần đây · tần suất · giá trị",
    "score_rfm_value": "R {r} · F {f} · M {m} (trên 5)",
    "score_rfm_none": "Chưa có đơn hàng được tính",
    "score_segment": "Phân khúc",
    "score_tenure": "Thời gian gắn bó",
    "score_tenure_value": "{days} ngày",
    "score_engagement": "Mức độ tương tác",
    "score_engagement_value": (
        "{total} ({activities} hoạt động, {redemptions} lần đổi thưởng, "
        "{widget_days} ngày dùng tiện ích)"
    ),
    "score_advocacy": "Giới thiệu",
    "score_advocacy_value": "{n} lượt giới thiệu được thưởng",
    "score_predictions": "Dự đoán",
    "score_p_alive": "Khả năng vẫn là khách hàng",
    "score_expected_30": "Số lần mua dự kiến, 30 ngày tới",
    "score_expected_90": "Số lần mua dự kiến, 90 ngày tới",
    "score_value_12": "Giá trị dự đoán, 12 tháng tới",
    "score_value_none": "Không có: quá ít dữ liệu chi tiêu",
    "score_not_enough": "Chưa đủ dữ liệu.",
    "score_reason": "Lý do: {reason}",
    "score_no_orders": "Chưa có đơn hàng được tính nên chưa thể dự đoán.",
    "score_predictions_pending": "Dự đoán chưa được tính.",
    "score_model_note": "Ước tính từ các đơn hàng của cửa hàng bằng mô hình BG/NBD và "
    "Gamma-Gamma; giá trị được chiết khấu 1 % mỗi tháng.",
    "seg_none": "Chưa có phân khúc",
    "seg_champions": "Khách hàng xuất sắc",
    "seg_loyal": "Trung thành",
    "seg_potential_loyalist": "Có thể trung thành",
    "seg_new": "Mới",
    "seg_promising": "Triển vọng",
    "seg_need_attention": "Cần chú ý",
    "seg_at_risk": "Có nguy cơ rời bỏ",
    "seg_cannot_lose": "Không thể để mất",
    "seg_hibernating": "Ngủ đông",
    "seg_lost": "Đã mất",
}

TH: dict[str, str] = {
    "score_col_segment": "กลุ่มลูกค้า",
    "score_title": "คะแนนลูกค้า",
    "score_not_computed": "ยังไม่ได้คำนวณคะแนน",
    "score_rfm": "ความใหม่ · ความถี่ · มูลค่า",
    "score_rfm_value": "R {r} · F {f} · M {m} (จาก 5)",
    "score_rfm_none": "ยังไม่มีคำสั่งซื้อที่นับได้",
    "score_segment": "กลุ่มลูกค้า",
    "score_tenure": "ระยะเวลาเป็นลูกค้า",
    "score_tenure_value": "{days} วัน",
    "score_engagement": "การมีส่วนร่วม",
    "score_engagement_value": (
        "{total} ({activities} กิจกรรม, แลกรางวัล {redemptions} ครั้ง, ใช้วิดเจ็ต {widget_days} วัน)"
    ),
    "score_advocacy": "การแนะนำ",
    "score_advocacy_value": "แนะนำที่ได้รับรางวัล {n} ครั้ง",
    "score_predictions": "การคาดการณ์",
    "score_p_alive": "โอกาสที่ยังเป็นลูกค้าอยู่",
    "score_expected_30": "จำนวนการซื้อที่คาดไว้ใน 30 วันข้างหน้า",
    "score_expected_90": "จำนวนการซื้อที่คาดไว้ใน 90 วันข้างหน้า",
    "score_value_12": "มูลค่าที่คาดการณ์ใน 12 เดือนข้างหน้า",
    "score_value_none": "ไม่มีข้อมูล: ข้อมูลการใช้จ่ายน้อยเกินไป",
    "score_not_enough": "ยังมีข้อมูลไม่พอ",
    "score_reason": "เหตุผล: {reason}",
    "score_no_orders": "ยังไม่มีคำสั่งซื้อที่นับได้ จึงยังคาดการณ์ไม่ได้",
    "score_predictions_pending": "ยังไม่ได้คำนวณการคาดการณ์",
    "score_model_note": "ประมาณจากคำสั่งซื้อของร้านด้วยแบบจำลอง BG/NBD และ Gamma-Gamma "
    "มูลค่าคิดส่วนลด 1 % ต่อเดือน",
    "seg_none": "ยังไม่มีกลุ่ม",
    "seg_champions": "ลูกค้าชั้นยอด",
    "seg_loyal": "ลูกค้าภักดี",
    "seg_potential_loyalist": "มีแนวโน้มจะภักดี",
    "seg_new": "ลูกค้าใหม่",
    "seg_promising": "มีแววดี",
    "seg_need_attention": "ต้องให้ความสนใจ",
    "seg_at_risk": "เสี่ยงจะหายไป",
    "seg_cannot_lose": "ห้ามเสียไป",
    "seg_hibernating": "ห่างหายไปนาน",
    "seg_lost": "หายไปแล้ว",
}

TEXTS = {"en": EN, "vi": VI, "th": TH}


def percent(value: str | None) -> str | None:
    """A probability's decimal text as a percentage with one decimal, e.g. "87.3 %"."""
    if value is None:
        return None
    return f"{(Decimal(value) * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)} %"


def amount(value: str | None) -> str | None:
    """An expectation's decimal text to two places."""
    if value is None:
        return None
    return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def money(minor: int | None, currency: str | None) -> str | None:
    """Minor units of a currency as "123.45 USD"."""
    if minor is None or currency is None:
        return None
    exp = rules.minor_exponent(currency)
    return f"{Decimal(minor).scaleb(-exp).quantize(Decimal(1).scaleb(-exp))} {currency}"


def profile_view(scores: dict[str, Any] | None, model: dict[str, Any] | None) -> dict[str, Any]:
    """What the profile shows of the member's scores and predictions."""
    if scores is None:
        return {"computed": False}
    p = scores["prediction"]
    return {
        "computed": True,
        "segment": scores["segment"],
        "rfm": (scores["r_score"], scores["f_score"], scores["m_score"]),
        "tenure_days": scores["tenure_days"],
        "engagement": scores["engagement"],
        "advocacy": scores["advocacy"],
        "status": p["status"],
        "p_alive": percent(p["p_alive"]),
        "expected_30": amount(p["expected_purchases_30"]),
        "expected_90": amount(p["expected_purchases_90"]),
        "value_12": money(p["predicted_clv_minor"], scores["currency"]),
        "reason": (model or {}).get("reason"),
    }
