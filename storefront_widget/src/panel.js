/* Loyalty widget panel (see loader.js): data goes in as text, never as HTML. */
(function () {
  "use strict";
  var w = window, d = document;

  // en, vi, th ("" or none: en)
  var LOCALES = ["en", "vi", "th"];
  var STRINGS = {
    title: ["Rewards", "Ưu đãi", "รางวัล"],
    close: ["Close", "Đóng", "ปิด"],
    loading: ["Loading…", "Đang tải…", "กำลังโหลด…"],
    error: ["Something went wrong. Try again.", "Đã có lỗi. Vui lòng thử lại.", "เกิดข้อผิดพลาด โปรดลองอีกครั้ง"],
    balance_label: ["Your points", "Điểm của bạn", "คะแนนของคุณ"],
    pending: ["{n} pending", "{n} điểm đang chờ", "{n} คะแนนรอดำเนินการ"],
    pending_until: ["{n} pending, available {date}", "{n} điểm đang chờ, dùng được từ {date}", "{n} คะแนนรอดำเนินการ ใช้ได้ {date}"],
    welcome: ["Hi {name}!", "Xin chào {name}!", "สวัสดี {name}!"],
    welcome_guest: ["Join our rewards program", "Tham gia chương trình ưu đãi", "เข้าร่วมโปรแกรมสะสมคะแนน"],
    join: ["Join now", "Tham gia ngay", "สมัครเลย"],
    sign_in: ["Sign in", "Đăng nhập", "เข้าสู่ระบบ"],
    ways_to_earn: ["Ways to earn", "Cách tích điểm", "วิธีสะสมคะแนน"],
    earn_rule: ["{n} points for every 1.00 you spend", "{n} điểm cho mỗi 1.00 bạn chi tiêu", "{n} คะแนนทุกการใช้จ่าย 1.00"],
    earn_rule_one: ["{n} point for every 1.00 you spend"],
    rewards: ["Rewards", "Phần thưởng", "ของรางวัล"],
    picked: ["Picked for you", "Dành riêng cho bạn", "คัดมาเพื่อคุณ"],
    cost: ["{n} points", "{n} điểm", "{n} คะแนน"],
    cost_one: ["{n} point"],
    redeem: ["Redeem", "Đổi", "แลก"],
    redeeming: ["Redeeming…", "Đang đổi…", "กำลังแลก…"],
    need_more: ["{n} more points to go", "Cần thêm {n} điểm", "ขาดอีก {n} คะแนน"],
    need_more_one: ["{n} more point to go"],
    your_codes: ["Your codes", "Mã của bạn", "โค้ดของคุณ"],
    copy: ["Copy", "Sao chép", "คัดลอก"],
    copied: ["Copied {code}", "Đã sao chép {code}", "คัดลอก {code} แล้ว"],
    apply: ["Apply at checkout", "Áp dụng khi thanh toán", "ใช้ตอนชำระเงิน"],
    pending_code: ["Creating your code…", "Đang tạo mã…", "กำลังสร้างโค้ด…"],
    history: ["Recent activity", "Hoạt động gần đây", "กิจกรรมล่าสุด"],
    none_yet: ["Nothing yet: your points appear after your first order.", "Chưa có gì: điểm sẽ xuất hiện sau đơn hàng đầu tiên.", "ยังไม่มี: คะแนนจะปรากฏหลังคำสั่งซื้อแรกของคุณ"],
    insufficient_points: ["Not enough points for this reward yet.", "Bạn chưa đủ điểm cho phần thưởng này.", "คะแนนยังไม่พอสำหรับรางวัลนี้"],
    redeemed: ["Your code {code} is ready.", "Mã {code} của bạn đã sẵn sàng.", "โค้ด {code} ของคุณพร้อมแล้ว"],
    used: ["Used", "Đã dùng", "ใช้แล้ว"],
    language: ["Language", "Ngôn ngữ", "ภาษา"],
    expired: ["Your session has ended. Reload the page to see your rewards.", "Phiên đã hết hạn. Hãy tải lại trang để xem ưu đãi.", "เซสชันหมดอายุแล้ว โปรดโหลดหน้าใหม่เพื่อดูรางวัลของคุณ"],
    rate_limited: ["Too many tries. Wait a moment and try again.", "Thao tác quá nhiều lần. Vui lòng đợi một chút rồi thử lại.", "ลองบ่อยเกินไป โปรดรอสักครู่แล้วลองอีกครั้ง"],
    expiring: ["{n} points expire on {date}", "{n} điểm sẽ hết hạn vào ngày {date}", "{n} คะแนนจะหมดอายุในวันที่ {date}"],
    expiring_one: ["{n} point expires on {date}"],
    expiry_batch: ["Points expire {n} months after you earn them.", "Điểm sẽ hết hạn sau {n} tháng kể từ khi bạn tích được.", "คะแนนจะหมดอายุเมื่อครบ {n} เดือนนับจากวันที่คุณได้รับ"],
    expiry_batch_one: ["Points expire {n} month after you earn them."],
    expiry_inactivity: ["Points expire after {n} months without earning or redeeming.", "Điểm sẽ hết hạn nếu bạn không tích hoặc đổi điểm trong {n} tháng.", "คะแนนจะหมดอายุหากไม่มีการสะสมหรือแลกคะแนนเป็นเวลา {n} เดือน"],
    expiry_inactivity_one: ["Points expire after {n} month without earning or redeeming."],
    earn_signup: ["{name}: {points} when you create an account", "{name}: {points} khi bạn tạo tài khoản", "{name}: {points}เมื่อคุณสร้างบัญชี"],
    earn_activity: ["{name}: {points}"],
    earn_limited: ["{name}: {points}, {limit}", "", "{name}: {points} {limit}"],
    earn_bonus: ["{name}: {what} until {date}", "{name}: {what} đến {date}", "{name}: {what} ถึง {date}"],
    bonus_points: ["+{n} points per order", "+{n} điểm cho mỗi đơn hàng", "+{n} คะแนนต่อคำสั่งซื้อ"],
    bonus_points_one: ["+{n} point per order"],
    bonus_on: ["{what} on {list}", "{what} cho {list}", "{what} สำหรับ {list}"],
    never_earn: ["{name}: no points earned", "{name}: không được tích điểm", "{name}: ไม่ได้รับคะแนน"],
    tier_only: ["{name} only", "Chỉ dành cho hạng {name}", "เฉพาะระดับ {name}"],
    earn_birthday: ["{name}: {points} on your birthday", "{name}: {points} vào ngày sinh nhật của bạn", "{name}: {points}ในวันเกิดของคุณ"],
    birthday: ["Your birthday", "Sinh nhật của bạn", "วันเกิดของคุณ"],
    month: ["Month", "Tháng", "เดือน"],
    day: ["Day", "Ngày", "วัน"],
    save: ["Save", "Lưu", "บันทึก"],
    change: ["Change", "Thay đổi", "เปลี่ยน"],
    birthday_saved: ["Birthday saved: {date}.", "Đã lưu ngày sinh nhật: {date}.", "บันทึกวันเกิดแล้ว: {date}"],
    birthday_from: ["Your birthday treat arrives on the day (from {date} on).", "Quà sinh nhật sẽ đến đúng ngày sinh nhật của bạn (từ {date} trở đi).", "คุณจะได้รับของขวัญในวันเกิดของคุณ (ตั้งแต่ {date} เป็นต้นไป)"],
    birthday_wait: ["A new date restarts the 30-day wait for the treat.", "Đổi ngày sinh nhật thì phải chờ lại 30 ngày mới được nhận quà.", "หากเปลี่ยนวันเกิด ต้องรออีก 30 วันจึงจะได้รับของขวัญ"],
    bad_date: ["That date doesn't exist. Pick another day.", "Ngày này không tồn tại. Vui lòng chọn ngày khác.", "ไม่มีวันที่นี้ โปรดเลือกวันอื่น"],
    limit_day: ["up to {n} times a day", "tối đa {n} lần mỗi ngày", "สูงสุด {n} ครั้งต่อวัน"],
    limit_day_one: ["once a day"],
    limit_week: ["up to {n} times a week", "tối đa {n} lần mỗi tuần", "สูงสุด {n} ครั้งต่อสัปดาห์"],
    limit_week_one: ["once a week"],
    limit_month: ["up to {n} times a month", "tối đa {n} lần mỗi tháng", "สูงสุด {n} ครั้งต่อเดือน"],
    limit_month_one: ["once a month"],
    limit_lifetime: ["up to {n} times", "tối đa {n} lần", "สูงสุด {n} ครั้ง"],
    limit_lifetime_one: ["once"],
    left_day: ["{n} left today", "hôm nay còn {n} lượt", "วันนี้เหลืออีก {n} ครั้ง"],
    left_week: ["{n} left this week", "tuần này còn {n} lượt", "สัปดาห์นี้เหลืออีก {n} ครั้ง"],
    left_month: ["{n} left this month", "tháng này còn {n} lượt", "เดือนนี้เหลืออีก {n} ครั้ง"],
    left_lifetime: ["{n} left", "còn {n} lượt", "เหลืออีก {n} ครั้ง"],
    none_day: ["none left today", "hôm nay đã hết lượt", "วันนี้ใช้สิทธิ์ครบแล้ว"],
    none_week: ["none left this week", "tuần này đã hết lượt", "สัปดาห์นี้ใช้สิทธิ์ครบแล้ว"],
    none_month: ["none left this month", "tháng này đã hết lượt", "เดือนนี้ใช้สิทธิ์ครบแล้ว"],
    none_lifetime: ["none left", "đã hết lượt", "ใช้สิทธิ์ครบแล้ว"],
    tier: ["Your VIP tier", "Hạng thành viên của bạn", "ระดับสมาชิกของคุณ"],
    tiers: ["VIP tiers", "Hạng thành viên VIP", "ระดับสมาชิก VIP"],
    tier_none: ["No tier yet", "Bạn chưa có hạng", "ยังไม่มีระดับสมาชิก"],
    tier_top: ["You're at our top tier", "Bạn đang ở hạng cao nhất", "คุณอยู่ในระดับสูงสุดแล้ว"],
    tier_earn: ["You earn {x}× points on orders", "Bạn được nhận điểm gấp {x} lần cho mỗi đơn hàng", "คุณได้รับคะแนน {x} เท่าจากทุกคำสั่งซื้อ"],
    tier_x: ["{x}× points", "điểm gấp {x} lần", "คะแนน {x} เท่า"],
    tier_next: ["{name}: {perks}"],
    tier_progress: ["Progress to {name}", "Tiến độ lên hạng {name}", "ความคืบหน้าสู่ระดับ {name}"],
    tier_bonus: ["{n} bonus points when you get there", "thưởng {n} điểm khi lên hạng", "โบนัส {n} คะแนนเมื่อเลื่อนถึงระดับนี้"],
    tier_bonus_one: ["{n} bonus point when you get there"],
    tier_more_points_earned: ["{n} more points to {name}", "Cần thêm {n} điểm để lên hạng {name}", "สะสมอีก {n} คะแนนเพื่อเลื่อนเป็นระดับ {name}"],
    tier_more_points_earned_one: ["{n} more point to {name}"],
    tier_more_orders: ["{n} more orders to {name}", "Cần thêm {n} đơn hàng để lên hạng {name}", "สั่งซื้ออีก {n} ครั้งเพื่อเลื่อนเป็นระดับ {name}"],
    tier_more_orders_one: ["{n} more order to {name}"],
    tier_more_spend: ["{amount} more to spend for {name}", "Chi tiêu thêm {amount} để lên hạng {name}", "ใช้จ่ายอีก {amount} เพื่อเลื่อนเป็นระดับ {name}"],
    tier_from_points_earned: ["from {n} points earned", "từ {n} điểm tích lũy", "เมื่อสะสมครบ {n} คะแนน"],
    tier_from_points_earned_one: ["from {n} point earned"],
    tier_from_orders: ["from {n} orders", "từ {n} đơn hàng", "เมื่อสั่งซื้อครบ {n} ครั้ง"],
    tier_from_orders_one: ["from {n} order"],
    tier_from_spend: ["from {amount} spent", "chi tiêu từ {amount}", "เมื่อใช้จ่ายครบ {amount}"],
    tier_counts: ["Tiers count {what} {when}.", "Hạng được xét theo {what} {when}.", "ระดับสมาชิกคำนวณจาก{what}{when}"],
    tc_points_earned: ["the points you earn", "số điểm bạn tích lũy", "คะแนนที่คุณสะสม"],
    tc_amount_spent: ["what you spend", "số tiền bạn chi tiêu", "ยอดใช้จ่ายของคุณ"],
    tc_orders: ["your orders", "số đơn hàng của bạn", "จำนวนคำสั่งซื้อของคุณ"],
    tc_calendar_year: ["this year", "trong năm nay", "ในปีนี้"],
    tc_rolling_12_months: ["in the last 12 months", "trong 12 tháng gần nhất", "ในช่วง 12 เดือนที่ผ่านมา"],
    referral: ["Refer a friend", "Giới thiệu bạn bè", "แนะนำเพื่อน"],
    gift: ["A gift for you", "Quà tặng cho bạn", "ของขวัญสำหรับคุณ"],
    off: ["{x} off", "giảm {x}", "ส่วนลด {x}"],
    a_friend: ["A friend", "Một người bạn", "เพื่อนของคุณ"],
    gift_from: ["{name} gave you {offer} your first order.", "{name} tặng bạn ưu đãi {offer} cho đơn hàng đầu tiên.", "{name} มอบ{offer} สำหรับคำสั่งซื้อแรกของคุณ"],
    ref_friend: ["Friends get {offer} their first order.", "Bạn bè được {offer} cho đơn hàng đầu tiên.", "เพื่อนจะได้รับ{offer} สำหรับคำสั่งซื้อแรก"],
    ref_you: ["You get {reward} for each friend who orders.", "Bạn được {reward} cho mỗi người bạn đặt hàng.", "คุณจะได้รับ {reward} ต่อเพื่อนแต่ละคนที่สั่งซื้อ"],
    min_order: ["Their first order must reach {amount}.", "Đơn hàng đầu tiên của bạn bè cần đạt từ {amount}.", "คำสั่งซื้อแรกของเพื่อนต้องมียอดตั้งแต่ {amount}"],
    your_link: ["Your link", "Liên kết của bạn", "ลิงก์ของคุณ"],
    share: ["Share", "Chia sẻ", "แชร์"],
    ref_stats: ["Friends: {j} joined, {p} pending, {r} rewarded", "Bạn bè: {j} đã tham gia, {p} đang chờ, {r} đã được thưởng", "เพื่อน: เข้าร่วม {j} คน รอดำเนินการ {p} คน ได้รับรางวัลแล้ว {r} คน"],
    email: ["Email", "Email", "อีเมล"],
    get_code: ["Get my code", "Nhận mã của tôi", "รับโค้ดของฉัน"],
    bad_email: ["Enter a valid email.", "Email không hợp lệ.", "อีเมลไม่ถูกต้อง"],
    own_referral_code: ["That's your own link: share it with friends.", "Đây là liên kết của bạn: hãy chia sẻ với bạn bè.", "นี่คือลิงก์ของคุณเอง แชร์ให้เพื่อนได้เลย"],
    already_referred: ["Another friend has already referred this email.", "Email này đã được một người bạn khác giới thiệu.", "อีเมลนี้ได้รับการแนะนำจากเพื่อนคนอื่นแล้ว"],
    not_new_customer: ["This offer is for new customers only.", "Ưu đãi này chỉ dành cho khách hàng mới.", "ข้อเสนอนี้สำหรับลูกค้าใหม่เท่านั้น"],
    referral_code_not_found: ["This referral link no longer works.", "Liên kết giới thiệu này không còn hiệu lực.", "ลิงก์แนะนำนี้ใช้ไม่ได้แล้ว"]
  };

  var state = {};

  function ownTexts() {
    return (state.data && state.data.settings.texts[state.locale]) || {};
  }

  function fill(s, vars) {
    return s.replace(/\{(\w+)\}/g, function (_, name) { return vars && name in vars ? String(vars[name]) : ""; });
  }

  function ours(key) {
    var row = STRINGS[key] || [];
    return row[LOCALES.indexOf(state.locale)] || row[0];
  }

  function t(key, vars) {
    return fill(ownTexts()[key] || ours(key) || key, vars);
  }

  function tn(key, count, vars) {
    var own = ownTexts(), one = null, k = key + "_one";
    vars = Object.assign({ n: number(count) }, vars);
    if (new Intl.PluralRules(state.locale).select(count) === "one") one = own[k] || (own[key] ? null : ours(k));
    return one ? fill(one, vars) : t(key, vars);
  }

  function el(tag, attrs, children) {
    var node = d.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), attrs[k]);
      else node.setAttribute(k, attrs[k]);
    });
    node.append.apply(node, (children || []).filter(Boolean));
    return node;
  }

  function muted(text, tag) { return el(tag || "p", { class: "loyalty-muted", text: text }); }

  function button(text, onclick, secondary) {
    return el("button", { type: "button", class: "loyalty-button" + (secondary ? " loyalty-secondary" : ""), text: text, onclick: onclick });
  }

  function bar(pct, label) {
    return el("div", { class: "loyalty-progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": pct, "aria-label": label },
      [el("div", { class: "loyalty-progress-bar", style: "width:" + pct + "%" })]);
  }

  function number(n) { return new Intl.NumberFormat(state.locale).format(n); }
  function date(iso) {
    return new Intl.DateTimeFormat(state.locale, { dateStyle: "medium" }).format(new Date(iso));
  }

  // An expired token is renewed (c.renew, from the loader) once, then the call retried.
  function request(method, path, body, extra, again) {
    var c = state.cfg, u = c.api + path, headers = Object.assign({ Accept: "application/json" }, extra);
    if (c.token) headers.Authorization = "Bearer " + c.token;
    if (c.token && c.shop) u += "?shop=" + encodeURIComponent(c.shop);
    if (body) headers["Content-Type"] = "application/json";
    return fetch(u, { method: method, headers: headers, body: body && JSON.stringify(body) }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (json) {
        if (r.ok) return json;
        var e = Error((json.error && json.error.code) || "http_" + r.status);
        e.status = r.status;
        if (e.message == "token_expired" && c.renew && !again) {
          return c.renew().then(function () { return request(method, path, body, extra, 1); }, function () { throw e; });
        }
        throw e;
      });
    });
  }

  function failure(e, invalid) {
    var code = { token_expired: "expired", stale_request: "expired", validation_failed: invalid || "bad_date",
      no_referral_campaign: "referral_code_not_found" }[e.message] || e.message;
    return t(STRINGS[code] ? code : "error");
  }

  function announce(message) {
    state.root.querySelector(".loyalty-status").textContent = message;
  }

  function section(titleKey, body) {
    var id = "loyalty-h-" + titleKey;
    return el("section", { class: "loyalty-section", "aria-labelledby": id, "data-slot": titleKey }, [
      el("h3", { id: id, text: t(titleKey) })
    ].concat(body));
  }

  function list(items, fn, className) {
    return el("ul", { class: className || "loyalty-list" }, items.map(fn));
  }

  function rewardItem(r, member, tiers) {
    var cost = r.cost, pct = Math.round((r.progress || 0) * 100), only = tiers && tiers.tiers.filter(function (x) { return x.id === r.min_tier_id; })[0], parts = [
      el("span", { class: "loyalty-reward-name", text: r.name }),
      only && el("span", { class: "loyalty-badge", text: t("tier_only", { name: only.name }) }),
      el("span", { class: "loyalty-reward-cost", text: tn("cost", cost) })
    ];
    if (member) {
      // can_redeem also says whether the member's tier is high enough (409 tier_required).
      parts.push(bar(pct, r.name), r.can_redeem
        ? el("button", { type: "button", class: "loyalty-button", text: t("redeem"), "data-reward": r.id, onclick: function (ev) { redeem(r, ev.currentTarget); } })
        : member.balance < cost && muted(tn("need_more", cost - Math.max(member.balance, 0)), "span"));
    }
    return el("li", { class: "loyalty-reward" }, parts);
  }

  function codeItem(c) {
    var code = c.code, used = c.status === "used";
    return el("li", { class: "loyalty-code-item" }, [el("span", { class: "loyalty-reward-name", text: c.title })].concat(c.status === "pending" || !code
      ? muted(t("pending_code"), "span")
      : [
        el("code", { class: "loyalty-code", text: code }),
        used && muted(t("used"), "span"),
        !used && el("button", { type: "button", class: "loyalty-button loyalty-secondary", text: t("copy"), "aria-label": t("copy") + " " + code, onclick: function () { copy(code); } }),
        !used && el("a", { class: "loyalty-link", href: (state.cfg.apply || "/discount/{code}").replace("{code}", encodeURIComponent(code)), text: t("apply") })
      ]));
  }

  function copy(text, field) {
    var done = function () { announce(t("copied", { code: text })); };
    if (field) field.select();
    if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, done);
    else done();
  }

  function expiryRule(program) {
    var x = program.expiry, k = x && "expiry_" + x.policy;
    return k && STRINGS[k] ? el("p", { class: "loyalty-muted loyalty-expiry-rule", text: tn(k, x.months) }) : null;
  }

  function rules(list, kind) {
    return (list || []).filter(function (r) { return r.kind === kind; });
  }

  function ruleLine(r) {
    var k = "limit_" + r.limit_period, vars = { name: r.name, points: tn("cost", r.points) };
    if (r.kind === "bonus") {
      // A campaign on collections says which (by their store titles), so it never reads
      // as one on every product.
      var what = r.multiplier ? times(r.multiplier) : tn("bonus_points", r.points);
      var on = (r.collections || []).map(function (c) { return c.title; }).filter(Boolean);
      if (on.length) what = t("bonus_on", { what: what, list: new Intl.ListFormat(state.locale).format(on) });
      return t("earn_bonus", { name: r.name, what: what, date: date(r.ends_at) });
    }
    if (r.kind !== "activity") return t("earn_" + r.kind, vars);
    vars.limit = r.limit_count && STRINGS[k] ? tn(k, r.limit_count) : "";
    return t(vars.limit ? "earn_limited" : "earn_activity", vars);
  }

  function activityItem(a) {
    var p = a.limit_period, left = a.remaining == null || !STRINGS["left_" + p] ? ""
      : a.remaining > 0 ? tn("left_" + p, a.remaining) : t("none_" + p);
    return el("li", { "data-rule": a.key }, [
      el("span", { class: "loyalty-earn-name", text: a.name }),
      el("span", { text: " · " + tn("cost", a.points) + (left ? " · " : "") }),
      left && el("span", { class: a.remaining ? "loyalty-left" : "loyalty-left loyalty-none", text: left })
    ]);
  }

  function money(n, currency) {
    currency = currency || (state.data.program.rewards.filter(function (r) { return r.currency; })[0] || {}).currency;
    return currency ? new Intl.NumberFormat(state.locale, { style: "currency", currency: currency }).format(n) : null;
  }

  function times(m, key) { return Number(m) !== 1 ? t(key || "tier_x", { x: number(Number(m)) }) : ""; }

  function tierCounts(x) {
    var what = "tc_" + x.measure, when = "tc_" + x.period;
    return STRINGS[what] && STRINGS[when] ? muted(t("tier_counts", { what: t(what), when: t(when) })) : null;
  }

  function tierFrom(x, tier) {
    var n = Number(tier.threshold), k = "tier_from_" + x.measure;
    if (x.measure === "amount_spent") return t("tier_from_spend", { amount: money(n) || number(n) });
    return STRINGS[k] ? tn(k, n) : "";
  }

  function tierToGo(x) {
    var next = x.next, n = Number(next.remaining), vars = { name: next.name, amount: money(n) }, k = "tier_more_" + x.measure;
    if (x.measure === "amount_spent") return t("tier_more_spend", Object.assign(vars, { amount: vars.amount || number(n) }));
    return STRINGS[k] ? tn(k, n, vars) : "";
  }

  function tierSection(x) {
    var now = x.current, next = x.next, perks = next && [times(next.multiplier), next.entry_points > 0 && tn("tier_bonus", next.entry_points)].filter(Boolean);
    return section("tier", [
      el("p", {}, [el("span", now ? { class: "loyalty-badge", text: now.name } : { class: "loyalty-muted", text: t("tier_none") })]),
      now && times(now.multiplier) && el("p", { text: times(now.multiplier, "tier_earn") }),
      next && bar(Math.round(Math.min(Math.max(Number(x.value) / Number(next.threshold), 0), 1) * 100), t("tier_progress", { name: next.name })),
      el("p", { class: "loyalty-tier-next", text: next ? tierToGo(x) : t("tier_top") }),
      next && perks.length && muted(t("tier_next", { name: next.name, perks: new Intl.ListFormat(state.locale).format(perks) })),
      tierCounts(x)
    ]);
  }

  function tierList(x) {
    return section("tiers", [list(x.tiers, function (tier) {
      var text = [tierFrom(x, tier), times(tier.multiplier)].filter(Boolean).join(" · ");
      return el("li", { "data-tier": tier.id }, [
        el("span", { class: "loyalty-earn-name", text: tier.name }), el("span", { text: text && ": " + text })
      ]);
    }, "loyalty-earn"), tierCounts(x)]);
  }

  function md(m, day) {
    return new Intl.DateTimeFormat(state.locale, { month: "long", day: day && "numeric", timeZone: "UTC" }).format(Date.UTC(2024, m - 1, day || 1));
  }

  function birthdaySection(rule, b) {
    var month = el("select"), day = el("select"), i, change, form;
    var save = el("button", { type: "submit", class: "loyalty-button", text: t("save") });
    for (i = 1; i <= 12; i++) month.appendChild(el("option", { value: i, text: md(i) }));
    function days(keep) {
      var max = new Date(Date.UTC(2024, month.value, 0)).getUTCDate(); // 2024: 29 February exists
      day.textContent = "";
      for (i = 1; i <= max; i++) day.appendChild(el("option", { value: i, text: number(i) }));
      day.value = Math.min(keep, max);
    }
    month.value = b ? b.month : 1;
    days(b ? b.day : 1);
    month.onchange = function () { days(day.value); };
    form = el("form", { class: "loyalty-birthday", onsubmit: function (ev) {
      ev.preventDefault();
      save.disabled = true;
      request("POST", "/birthday", { month: +month.value, day: +day.value }).then(function (r) {
        return refresh().then(function () {
          announce(t("birthday_saved", { date: md(r.month, r.day) }) + " " + t("birthday_from", { date: date(r.bonus_from) }));
          focus("[data-slot=birthday] button");
        });
      }, function (e) { save.disabled = false; announce(failure(e)); });
    } }, [
      el("label", { text: t("month") }, [month]), el("label", { text: t("day") }, [day]), save,
      b && muted(t("birthday_wait"))
    ]);
    form.hidden = !!b;
    change = b && button(t("change"), function () { form.hidden = false; change.hidden = true; month.focus(); }, 1);
    return section("birthday", [
      muted(ruleLine(rule)),
      b && el("p", { class: "loyalty-birthday-date" }, [el("strong", { text: md(b.month, b.day) }), change]),
      b && new Date(b.bonus_from) > new Date() && muted(t("birthday_from", { date: date(b.bonus_from) })),
      form
    ]);
  }

  function off(kind, value, currency) {
    return t("off", { x: kind === "percentage"
      ? new Intl.NumberFormat(state.locale, { style: "percent", maximumFractionDigits: 2 }).format(value / 100)
      : money(value, currency) || number(value) });
  }

  function referralSection(r, member, o) {
    var f = o.friend, a = o.advocate, min = Number(o.min_order_subtotal), link = el("input", { readonly: "", value: r.link });
    var vars = { name: member.first_name || t("a_friend"), offer: off(f.kind, f.value, f.currency) };
    return section("referral", [
      el("p", { text: t("ref_friend", vars) }),
      el("p", { text: t("ref_you", { reward: a.kind === "points" ? tn("cost", a.points) : off(a.discount_kind, a.discount_value, a.currency) }) }),
      min > 0 && muted(t("min_order", { amount: money(min, f.currency) || number(min) })),
      el("label", { class: "loyalty-field", text: t("your_link") }, [link]),
      el("p", { class: "loyalty-actions" }, [
        button(t("copy"), function () { copy(r.link, link); }),
        navigator.share && button(t("share"), function () { navigator.share({ text: t("gift_from", vars), url: r.link }).catch(function () {}); }, 1)
      ]),
      muted(t("ref_stats", { j: number(r.friends_joined), p: number(r.friends_pending), r: number(r.friends_rewarded) }))
    ]);
  }

  function giftSection(landing, member) {
    var ref = state.cfg.ref, f = landing.offer.friend, email = !member && el("input", { type: "email", autocomplete: "email", required: "" });
    var go = el("button", { class: "loyalty-button", text: t("get_code") });
    return section("gift", [
      el("p", { text: t("gift_from", { name: landing.advocate_first_name || t("a_friend"), offer: off(f.kind, f.value, f.currency) }) }),
      ref.got ? list([ref.got], codeItem) : el("form", { class: "loyalty-claim", onsubmit: function (ev) {
        ev.preventDefault();
        go.disabled = true;
        claim({ code: landing.code, email: email ? email.value.trim() : undefined, device_id: device() }, 20).then(function (r) {
          go.disabled = false;
          if (!r.code) return announce(t("pending_code"));
          ref.got = r;
          keep(ref);
          render();
          announce(t("redeemed", { code: r.code }));
          focus("[data-slot=gift] button");
        }, function (e) { go.disabled = false; announce(failure(e, "bad_email")); });
      } }, [email && el("label", { class: "loyalty-field", text: t("email") }, [email]), go])
    ]);
  }

  function claim(body, left) {
    return request("POST", "/referrals/claim", body).then(function (r) {
      return r.status === "pending" && left > 0 ? later(function () { return claim(body, left - 1); }) : r;
    });
  }

  function keep(ref) {
    state.cfg.ref = ref;
    try { localStorage.loyalty_ref = JSON.stringify(ref); } catch (e) {}
  }

  function device() {
    try { return localStorage.loyalty_device || (localStorage.loyalty_device = key()); } catch (e) { return undefined; }
  }

  function render() {
    var body = state.root.querySelector(".loyalty-body"), add = body.appendChild.bind(body);
    var data = state.data, member = data.member, program = data.program, landing = state.landing, ways = program.ways_to_earn;
    var line = function (r) { return el("li", { "data-rule": r.key, text: ruleLine(r) }); }, bday = rules(ways, "birthday")[0];
    var bonus = rules(ways, "bonus").map(line), never = program.never_earn.length && muted(t("never_earn", { name: new Intl.ListFormat(state.locale).format(program.never_earn.map(function (x) { return x.name; })) }));
    body.textContent = "";
    if (landing) add(giftSection(landing, member));
    if (member) {
      add(el("div", { class: "loyalty-summary" }, [
        member.first_name && el("p", { text: t("welcome", { name: member.first_name }) }),
        el("p", { class: "loyalty-balance", "aria-label": t("balance_label") }, [el("strong", { text: tn("cost", member.balance) })]),
        member.expiring && el("p", { class: "loyalty-expiring", text: tn("expiring", member.expiring.points, { date: date(member.expiring.at) }) }),
        member.pending > 0 && muted(member.next_pending_available_at
          ? tn("pending_until", member.pending, { date: date(member.next_pending_available_at) })
          : tn("pending", member.pending)),
        expiryRule(program)
      ]));
      add(member.tier ? tierSection(member.tier) : el("div", { "data-slot": "tier", hidden: "" }));
    } else {
      add(el("div", { class: "loyalty-summary" }, [
        el("p", { class: "loyalty-balance", text: t("welcome_guest") }),
        el("p", { class: "loyalty-actions" }, [
          el("a", { class: "loyalty-button", href: state.cfg.join || "/account/register", text: t("join") }),
          el("a", { class: "loyalty-link", href: state.cfg.signIn || "/account/login", text: t("sign_in") })
        ])
      ]));
      add(section("ways_to_earn", [
        el("ul", { class: "loyalty-earn" }, rules(ways, "signup").map(line).concat(
          el("li", { text: tn("earn_rule", Number(program.points_per_unit)) }), bonus, rules(ways, "birthday").concat(rules(ways, "activity")).map(line))),
        never, expiryRule(program)
      ]));
      if (program.tiers) add(tierList(program.tiers));
    }
    add(section("rewards", [list(program.rewards, function (r) { return rewardItem(r, member, program.tiers); })]));
    if (!member) return;
    add(state.slot = el("div"));
    picked();
    if (member.codes.length) add(section("your_codes", [list(member.codes, codeItem)]));
    var acts = rules(member.activities, "activity");
    if (acts.length || bonus.length || never) add(section("ways_to_earn", [(acts.length || bonus.length) && el("ul", { class: "loyalty-earn" }, bonus.concat(acts.map(activityItem))), never]));
    if (bday) add(birthdaySection(bday, member.birthday));
    if (member.referral && program.referral) add(referralSection(member.referral, member, program.referral));
    add(section("history", member.history.length ? [list(member.history, function (h) {
      return el("li", { class: "loyalty-history" }, [
        el("span", { text: h.reason }),
        el("span", { class: h.points < 0 ? "loyalty-minus" : "loyalty-plus", text: (h.points > 0 ? "+" : "") + number(h.points) })
      ]);
    })] : [muted(t("none_yet"))]));
  }

  // Offers: rewards, then products, their reasons in every language, as text. They come
  // after the summary and fill their own slot, so nothing else is redrawn (focus stays).
  function picked() {
    var o = state.offers, picks = o ? o.rewards.concat(o.products) : [];
    state.slot.textContent = "";
    if (picks.length) state.slot.append(section("picked", [list(picks, function (p) {
      return el("li", {}, [el("span", { class: "loyalty-reward-name", text: p.name || p.title }), muted(p.reason[state.locale] || p.reason.en, "span")]);
    })]));
  }

  function relabel() {
    var l = state.launcher, ref = state.cfg.ref, theme = state.data && state.data.settings.theme;
    // The merchant's launcher text and colours: the loader draws the launcher before any
    // data, so they apply once the panel has the shop's settings (a gift label stays).
    state.label = state.label || l.textContent;
    if (!(ref && !ref.got)) l.textContent = ownTexts().launcher || state.label;
    if (theme) l.style.background = theme.accent, l.style.color = theme["accent-text"];
    state.root.querySelector(".loyalty-title").textContent = t("title");
    state.root.querySelector(".loyalty-locale").setAttribute("aria-label", t("language"));
    state.root.querySelector(".loyalty-close").setAttribute("aria-label", t("close"));
  }

  function refresh() {
    var ref = state.cfg.ref;
    return Promise.all([request("GET", "/summary"), ref && (state.landing || request("GET", "/referrals/" + encodeURIComponent(ref.code)).catch(function (e) {
      if (e.status === 404) keep(0, announce(failure(e)));
    }))]).then(function (x) {
      var theme = x[0].settings.theme, m = x[0].member;
      state.data = x[0];
      state.landing = x[1];
      if (x[1] && m && m.referral && m.referral.code === x[1].code) keep(state.landing = 0);
      Object.keys(theme).forEach(function (k) { state.root.style.setProperty("--loyalty-" + k, theme[k]); });
      relabel();
      render();
      if (m) request("GET", "/offers").then(function (o) { state.offers = o; picked(); }, function () {});
    }, function (e) { announce(failure(e)); });
  }

  function key() {
    return crypto.randomUUID ? crypto.randomUUID() : Date.now() + Math.random().toString(16).slice(2);
  }

  function focus(selector) {
    var node = state.root.querySelector(selector);
    if (node) node.focus();
  }

  function redeem(reward, button) {
    button.disabled = true;
    button.textContent = t("redeeming");
    var body = reward.kind === "points_for_money" ? { points: reward.min_points } : { reward_id: reward.id };
    request("POST", "/redemptions", body, { "Idempotency-Key": key() }).then(function (r) {
      return r.status === "pending" ? poll(r.id, 20) : r;
    }).then(function (r) {
      return refresh().then(function () {
        if (r.code) announce(t("redeemed", { code: r.code }));
        focus("[data-slot=your_codes] .loyalty-code + button");
      });
    }, function (e) {
      button.disabled = false;
      button.textContent = t("redeem");
      announce(failure(e));
    });
  }

  function later(then) {
    return new Promise(function (resolve) { setTimeout(resolve, 1000); }).then(then);
  }

  function poll(id, left) {
    return later(function () { return request("GET", "/redemptions/" + id); })
      .then(function (r) { return r.status === "pending" && left > 0 ? poll(id, left - 1) : r; });
  }

  function onKey(ev) {
    var items = [].filter.call(state.root.querySelectorAll("button, a[href], input, select"), function (n) { return !n.disabled && n.offsetParent; });
    var end = ev.shiftKey ? 0 : items.length - 1, to = ev.key === "Tab" && d.activeElement === items[end] && items[items.length - 1 - end];
    if (ev.key === "Escape") close();
    else if (to) to.focus();
    else return;
    ev.preventDefault();
  }

  function build() {
    state.root = el("div", {
      id: "loyalty-panel", class: "loyalty-panel loyalty-" + (state.cfg.position === "left" ? "left" : "right"),
      role: "dialog", "aria-modal": "true", "aria-labelledby": "loyalty-title", lang: state.locale
    }, [
      el("div", { class: "loyalty-header" }, [
        el("h2", { id: "loyalty-title", class: "loyalty-title" }),
        el("select", { class: "loyalty-locale", onchange: function (ev) { state.locale = state.root.lang = ev.target.value; relabel(); render(); } },
          LOCALES.map(function (l) { return el("option", { value: l, text: new Intl.DisplayNames(l, { type: "language" }).of(l) }); })),
        el("button", { type: "button", class: "loyalty-close", text: "×", onclick: close })
      ]),
      el("p", { class: "loyalty-status", role: "status" }),
      el("div", { class: "loyalty-body" }, [muted(t("loading"))])
    ]);
    state.root.querySelector("select").value = state.locale;
    relabel();
    state.root.addEventListener("keydown", onKey);
    d.body.appendChild(state.root);
  }

  function open() {
    if (!state.root) build();
    state.root.hidden = false;
    state.open = true;
    state.launcher.setAttribute("aria-expanded", "true");
    focus(".loyalty-close");
    refresh();
  }

  function close() {
    state.root.hidden = true;
    state.open = false;
    state.launcher.setAttribute("aria-expanded", "false");
    state.launcher.focus();
  }

  w.LoyaltyPanel = {
    toggle: function (launcher, cfg) {
      state.launcher = launcher;
      state.cfg = cfg;
      if (!state.root) state.locale = cfg.locale;
      if (state.open) close(); else open();
    }
  };
})();
