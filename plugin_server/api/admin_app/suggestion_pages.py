"""The admin app's suggestions: what GET /api/v1/suggestions lists, with its evidence, and
one button per action that calls the same service as POST
/api/v1/suggestions/{kind}/{key}/actions/{action} (CSRF-checked like every POST)."""

from __future__ import annotations

from flask import Response
from werkzeug.wrappers import Response as BaseResponse

from plugin_server.api.admin_app import bp
from plugin_server.api.admin_app.i18n import add_texts
from plugin_server.api.admin_app.views import (
    NOTICES,
    current_merchant,
    notice_from_args,
    page,
    redirect_to,
)
from plugin_server.api.context import current_container
from plugin_server.domain import errors
from plugin_server.services import suggestions

NOTICES.update({"suggestion_applied", "suggestion_gone"})


@bp.get("/suggestions", endpoint="suggestions")
def suggestions_page() -> Response:
    c = current_container()
    found = suggestions.list_suggestions(c.uow(), current_merchant().shop_id, now=c.clock())
    return page(
        "suggestions.html",
        found=found,
        notice=notice_from_args(),
        nav="suggestions",
        labels={f"sg_f_{key}" for key in EVIDENCE_LABELS} | PRODUCT_LABELS,
    )


@bp.post("/suggestions/<kind>/<key>/<action>")
def apply_suggestion(kind: str, key: str, action: str) -> BaseResponse:
    c = current_container()
    try:
        suggestions.apply(c.uow(), current_merchant().shop_id, kind, key, action, now=c.clock())
    except errors.SuggestionNotApplicable:
        return redirect_to("adminapp.suggestions", notice="suggestion_gone")
    return redirect_to("adminapp.suggestions", notice="suggestion_applied")


add_texts(
    {
        "en": {
            "nav_suggestions": "Suggestions",
            "sg_title": "Suggestions",
            "sg_intro": "What your program's data says is worth doing now. Each suggestion "
            "shows the figures behind it; a button does it once, the same way the API would.",
            "sg_none": "Nothing to suggest right now.",
            "sg_how": "How this was computed",
            "sg_period": "Period: {start} to {end}",
            "sg_members": "Members involved ({n} in all, up to 50 shown)",
            "sg_figure": "Figure",
            "sg_value": "Value",
            "sg_col_member": "Member",
            "sg_col_details": "Details",
            "sg_kind_tier_at_risk": "Members about to lose their tier",
            "sg_kind_points_expiring": "Points expiring within 30 days",
            "sg_kind_unredeemed_reward": "A reward nobody redeems",
            "sg_kind_earn_rate": "Points outstanding grow faster than member revenue",
            "sg_how_tier_at_risk": "Each member's qualifying measure now and 30 days from "
            "now with no new orders, against the tier rules. Campaigns can only be limited "
            "to customer segments, so the campaign reaches everyone in the segments these "
            "members are in.",
            "sg_how_points_expiring": "The shop's expiry policy applied to each member's "
            "points, looking 30 days ahead; members already reminded are left out.",
            "sg_how_unredeemed_reward": "No redemptions in the last 90 days, its terms "
            "unchanged, while members had enough points for it.",
            "sg_how_earn_rate": "Net points added against member revenue, last 90 complete "
            "days compared with the 90 days before, from the daily analytics.",
            "sg_action_create_campaign": "Start a double-points campaign for 30 days",
            "sg_action_send_reminders": "Send the points-expiring reminder now",
            "sg_action_lower_cost": "Lower the cost to {cost} points",
            "sg_action_archive": "Archive the reward",
            "sg_action_lower_earn_rate": "Lower the earn rate to {rate} points per unit",
            "suggestion_applied": "Done.",
            "suggestion_gone": "That suggestion no longer applies: nothing was changed.",
        },
        "vi": {
            "nav_suggestions": "Gợi ý",
            "sg_title": "Gợi ý",
            "sg_intro": "Những việc dữ liệu chương trình cho thấy nên làm ngay. Mỗi gợi ý "
            "kèm số liệu làm căn cứ; một nút bấm thực hiện một lần, giống như qua API.",
            "sg_none": "Hiện chưa có gợi ý nào.",
            "sg_how": "Cách tính",
            "sg_period": "Khoảng thời gian: {start} đến {end}",
            "sg_members": "Thành viên liên quan (tổng {n}, hiển thị tối đa 50)",
            "sg_figure": "Chỉ số",
            "sg_value": "Giá trị",
            "sg_col_member": "Thành viên",
            "sg_col_details": "Chi tiết",
            "sg_kind_tier_at_risk": "Thành viên sắp mất hạng",
            "sg_kind_points_expiring": "Điểm hết hạn trong 30 ngày tới",
            "sg_kind_unredeemed_reward": "Phần thưởng không ai đổi",
            "sg_kind_earn_rate": "Điểm tồn đọng tăng nhanh hơn doanh thu từ thành viên",
            "sg_how_tier_at_risk": "Chỉ số xét hạng của từng thành viên hiện tại và sau 30 "
            "ngày nếu không có đơn mới, so với quy tắc hạng. Chiến dịch chỉ giới hạn được "
            "theo phân khúc khách hàng, nên chiến dịch đến mọi người trong các phân khúc của "
            "những thành viên này.",
            "sg_how_points_expiring": "Áp dụng chính sách hết hạn của cửa hàng cho điểm của "
            "từng thành viên, nhìn trước 30 ngày; bỏ qua thành viên đã được nhắc.",
            "sg_how_unredeemed_reward": "Không có lượt đổi nào trong 90 ngày qua, điều kiện "
            "không đổi, trong khi thành viên đủ điểm để đổi.",
            "sg_how_earn_rate": "Điểm ròng được cộng so với doanh thu từ thành viên, 90 ngày "
            "trọn vẹn gần nhất so với 90 ngày trước đó, từ số liệu phân tích hằng ngày.",
            "sg_action_create_campaign": "Chạy chiến dịch nhân đôi điểm trong 30 ngày",
            "sg_action_send_reminders": "Gửi nhắc nhở điểm sắp hết hạn ngay",
            "sg_action_lower_cost": "Giảm giá đổi còn {cost} điểm",
            "sg_action_archive": "Lưu trữ phần thưởng",
            "sg_action_lower_earn_rate": "Giảm tỷ lệ tích điểm còn {rate} điểm mỗi đơn vị",
            "suggestion_applied": "Đã thực hiện.",
            "suggestion_gone": "Gợi ý này không còn áp dụng: không có gì thay đổi.",
        },
        "th": {
            "nav_suggestions": "คำแนะนำ",
            "sg_title": "คำแนะนำ",
            "sg_intro": "สิ่งที่ข้อมูลของโปรแกรมบอกว่าควรทำตอนนี้ แต่ละคำแนะนำแสดงตัวเลขที่เป็น"
            "หลักฐาน ปุ่มจะดำเนินการหนึ่งครั้ง เหมือนผ่าน API",
            "sg_none": "ยังไม่มีคำแนะนำในตอนนี้",
            "sg_how": "วิธีคำนวณ",
            "sg_period": "ช่วงเวลา: {start} ถึง {end}",
            "sg_members": "สมาชิกที่เกี่ยวข้อง (ทั้งหมด {n} คน แสดงไม่เกิน 50)",
            "sg_figure": "ตัวเลข",
            "sg_value": "ค่า",
            "sg_col_member": "สมาชิก",
            "sg_col_details": "รายละเอียด",
            "sg_kind_tier_at_risk": "สมาชิกที่กำลังจะเสียระดับ",
            "sg_kind_points_expiring": "คะแนนที่จะหมดอายุภายใน 30 วัน",
            "sg_kind_unredeemed_reward": "รางวัลที่ไม่มีใครแลก",
            "sg_kind_earn_rate": "คะแนนคงค้างเพิ่มเร็วกว่ารายได้จากสมาชิก",
            "sg_how_tier_at_risk": "ค่าที่ใช้จัดระดับของสมาชิกแต่ละคนตอนนี้และอีก 30 วันหาก"
            "ไม่มีคำสั่งซื้อใหม่ เทียบกับกฎระดับ แคมเปญจำกัดได้เฉพาะกลุ่มลูกค้า แคมเปญจึงถึง"
            "ทุกคนในกลุ่มที่สมาชิกเหล่านี้อยู่",
            "sg_how_points_expiring": "ใช้นโยบายการหมดอายุของร้านกับคะแนนของสมาชิกแต่ละคน "
            "มองล่วงหน้า 30 วัน ไม่รวมสมาชิกที่ได้รับการเตือนแล้ว",
            "sg_how_unredeemed_reward": "ไม่มีการแลกใน 90 วันที่ผ่านมา เงื่อนไขไม่เปลี่ยน "
            "ขณะที่สมาชิกมีคะแนนพอแลก",
            "sg_how_earn_rate": "คะแนนสุทธิที่เพิ่มขึ้นเทียบกับรายได้จากสมาชิก 90 วันเต็มล่าสุด"
            "เทียบกับ 90 วันก่อนหน้า จากข้อมูลวิเคราะห์รายวัน",
            "sg_action_create_campaign": "เริ่มแคมเปญคะแนนสองเท่า 30 วัน",
            "sg_action_send_reminders": "ส่งการเตือนคะแนนใกล้หมดอายุตอนนี้",
            "sg_action_lower_cost": "ลดราคาแลกเหลือ {cost} คะแนน",
            "sg_action_archive": "เก็บรางวัลเข้าคลัง",
            "sg_action_lower_earn_rate": "ลดอัตราสะสมเหลือ {rate} คะแนนต่อหน่วย",
            "suggestion_applied": "เรียบร้อยแล้ว",
            "suggestion_gone": "คำแนะนำนี้ใช้ไม่ได้แล้ว ไม่มีการเปลี่ยนแปลงใด",
        },
    }
)


# The evidence's figure and member-detail names (the API's keys), as people read them.
EVIDENCE_LABELS: dict[str, tuple[str, str, str]] = {
    # key: (en, vi, th)
    "members_at_risk": ("Members at risk", "Thành viên có nguy cơ", "สมาชิกที่เสี่ยง"),
    "measure": ("Qualifying measure", "Tiêu chí xét hạng", "เกณฑ์การจัดระดับ"),
    "period": ("Qualifying period", "Kỳ xét hạng", "ช่วงเวลาที่ใช้จัดระดับ"),
    "downgrade": ("Downgrade policy", "Chính sách hạ hạng", "นโยบายการลดระดับ"),
    "segments": ("Segments targeted", "Nhóm khách nhắm tới", "กลุ่มลูกค้าเป้าหมาย"),
    "members_reached": ("Members reached", "Thành viên tiếp cận được", "สมาชิกที่เข้าถึงได้"),
    "members_unreachable": (
        "Members not reachable",
        "Thành viên không tiếp cận được",
        "สมาชิกที่เข้าถึงไม่ได้",
    ),
    "campaign_audience": ("Campaign audience", "Đối tượng chiến dịch", "กลุ่มเป้าหมายของแคมเปญ"),
    "members": ("Members", "Thành viên", "สมาชิก"),
    "points": ("Points", "Điểm", "คะแนน"),
    "first_expiry": ("First expiry", "Lần hết hạn đầu tiên", "วันหมดอายุแรก"),
    "policy": ("Expiry policy", "Chính sách hết hạn", "นโยบายการหมดอายุ"),
    "email_enabled": ("Reminder email on", "Bật email nhắc", "เปิดอีเมลแจ้งเตือน"),
    "redemptions": ("Redemptions", "Lượt đổi", "จำนวนการแลก"),
    "points_cost": ("Points cost", "Số điểm cần", "คะแนนที่ใช้"),
    "members_able": (
        "Members who could afford it",
        "Thành viên đủ điểm đổi",
        "สมาชิกที่มีคะแนนพอแลก",
    ),
    "proposed_cost": ("Proposed cost", "Số điểm đề xuất", "คะแนนที่เสนอ"),
    "points_added_before": (
        "Points added, previous 90 days",
        "Điểm cộng thêm, 90 ngày trước đó",
        "คะแนนที่เพิ่ม 90 วันก่อนหน้า",
    ),
    "points_added_last": (
        "Points added, last 90 days",
        "Điểm cộng thêm, 90 ngày qua",
        "คะแนนที่เพิ่ม 90 วันล่าสุด",
    ),
    "revenue_before": (
        "Member revenue, previous 90 days",
        "Doanh thu thành viên, 90 ngày trước đó",
        "รายได้จากสมาชิก 90 วันก่อนหน้า",
    ),
    "revenue_last": (
        "Member revenue, last 90 days",
        "Doanh thu thành viên, 90 ngày qua",
        "รายได้จากสมาชิก 90 วันล่าสุด",
    ),
    "currency": ("Currency", "Tiền tệ", "สกุลเงิน"),
    "points_growth": ("Points growth", "Tăng trưởng điểm", "การเติบโตของคะแนน"),
    "revenue_growth": ("Revenue growth", "Tăng trưởng doanh thu", "การเติบโตของรายได้"),
    "points_per_unit": (
        "Points per unit spent",
        "Điểm trên mỗi đơn vị chi tiêu",
        "คะแนนต่อหน่วยที่ใช้จ่าย",
    ),
    "proposed_points_per_unit": (
        "Proposed points per unit",
        "Điểm trên mỗi đơn vị đề xuất",
        "คะแนนต่อหน่วยที่เสนอ",
    ),
    "tier": ("Tier", "Hạng", "ระดับ"),
    "threshold": ("Threshold", "Ngưỡng", "เกณฑ์"),
    "value_now": ("Now", "Hiện tại", "ตอนนี้"),
    "value_at_window_end": ("In 30 days", "Sau 30 ngày", "ใน 30 วัน"),
    "short_by": ("Short by", "Còn thiếu", "ขาดอีก"),
    "tier_after": ("Tier after", "Hạng sau đó", "ระดับหลังจากนั้น"),
    "segment": ("Segment", "Nhóm khách", "กลุ่มลูกค้า"),
    "expires_at": ("Expires", "Hết hạn", "หมดอายุ"),
}
add_texts(
    {
        locale: {f"sg_f_{key}": names[i] for key, names in EVIDENCE_LABELS.items()}
        for i, locale in enumerate(("en", "vi", "th"))
    }
)

add_texts(
    {
        "en": {
            "sg_kind_product_bonus": "A product that sells little but loyal members buy",
            "sg_how_product_bonus": "Units sold per product over the last 90 days: this one "
            "is in the bottom third, and at least half of its buyers (3 or more) are "
            "champions or loyal members.",
            "sg_action_boost_product": "Double points on it for 14 days",
            "sg_f_product": "Product",
            "sg_f_product_title": "Product name",
            "sg_f_units_sold": "Units sold",
            "sg_f_rank_from_bottom": "Rank from the bottom",
            "sg_f_products_sold": "Products sold",
            "sg_f_buyers": "Buyers",
            "sg_f_loyal_buyers": "Champions and loyal buyers",
        },
        "vi": {
            "sg_kind_product_bonus": "Sản phẩm bán chậm nhưng khách trung thành hay mua",
            "sg_how_product_bonus": "Số lượng bán của từng sản phẩm trong 90 ngày qua: sản "
            "phẩm này nằm trong một phần ba thấp nhất, và ít nhất một nửa người mua (từ 3 "
            "người) là khách hàng trung thành hoặc nhà vô địch.",
            "sg_action_boost_product": "Nhân đôi điểm cho sản phẩm này trong 14 ngày",
            "sg_f_product": "Sản phẩm",
            "sg_f_product_title": "Tên sản phẩm",
            "sg_f_units_sold": "Số lượng đã bán",
            "sg_f_rank_from_bottom": "Thứ hạng từ dưới lên",
            "sg_f_products_sold": "Số sản phẩm đã bán",
            "sg_f_buyers": "Người mua",
            "sg_f_loyal_buyers": "Người mua trung thành",
        },
        "th": {
            "sg_kind_product_bonus": "สินค้าที่ขายได้น้อยแต่สมาชิกประจำชอบซื้อ",
            "sg_how_product_bonus": "จำนวนชิ้นที่ขายได้ของแต่ละสินค้าใน 90 วันที่ผ่านมา: "
            "สินค้านี้อยู่ในกลุ่มหนึ่งในสามที่ขายได้น้อยที่สุด และผู้ซื้ออย่างน้อยครึ่งหนึ่ง "
            "(3 คนขึ้นไป) เป็นสมาชิกกลุ่มแชมเปี้ยนหรือสมาชิกประจำ",
            "sg_action_boost_product": "คะแนนสองเท่าสำหรับสินค้านี้ 14 วัน",
            "sg_f_product": "สินค้า",
            "sg_f_product_title": "ชื่อสินค้า",
            "sg_f_units_sold": "จำนวนชิ้นที่ขาย",
            "sg_f_rank_from_bottom": "อันดับจากล่างสุด",
            "sg_f_products_sold": "จำนวนสินค้าที่ขายได้",
            "sg_f_buyers": "ผู้ซื้อ",
            "sg_f_loyal_buyers": "ผู้ซื้อที่เป็นสมาชิกประจำ",
        },
    }
)


PRODUCT_LABELS = {
    f"sg_f_{k}"
    for k in (
        "product",
        "product_title",
        "units_sold",
        "rank_from_bottom",
        "products_sold",
        "buyers",
        "loyal_buyers",
    )
}
