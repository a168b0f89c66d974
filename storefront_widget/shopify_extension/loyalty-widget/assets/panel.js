/* Loyalty widget panel: loaded on first use by loader.js. Every merchant or shopper string
   is inserted as text (textContent), never as HTML. */
(function () {
  "use strict";
  var w = window, d = document;

  var STRINGS = {
    en: {
      title: "Rewards", close: "Close", loading: "Loading…", error: "Something went wrong. Try again.",
      balance: "{n} points", balance_one: "{n} point", balance_label: "Your points", pending: "{n} pending",
      pending_until: "{n} pending, available {date}", welcome: "Hi {name}!",
      welcome_guest: "Join our rewards program", join: "Join now", sign_in: "Sign in",
      ways_to_earn: "Ways to earn", earn_rule: "{n} points for every 1.00 you spend",
      earn_rule_one: "{n} point for every 1.00 you spend",
      rewards: "Rewards", cost: "{n} points", cost_one: "{n} point", redeem: "Redeem", redeeming: "Redeeming…",
      need_more: "{n} more points to go", need_more_one: "{n} more point to go", your_codes: "Your codes", copy: "Copy",
      copied: "Copied {code}", apply: "Apply at checkout", pending_code: "Creating your code…",
      history: "Recent activity", none_yet: "Nothing yet: your points appear after your first order.",
      insufficient: "Not enough points for this reward yet.", redeemed: "Your code {code} is ready.",
      used: "Used", language: "Language", expired: "Your session has ended. Reload the page to see your rewards.",
      rate_limited: "Too many tries. Wait a moment and try again.",
      expiring: "{n} points expire on {date}", expiring_one: "{n} point expires on {date}",
      expiry_batch: "Points expire {n} months after you earn them.",
      expiry_batch_one: "Points expire {n} month after you earn them.",
      expiry_inactivity: "Points expire after {n} months without earning or redeeming.",
      expiry_inactivity_one: "Points expire after {n} month without earning or redeeming.",
      earn_signup: "{name}: {points} when you create an account", earn_activity: "{name}: {points}",
      earn_limited: "{name}: {points}, {limit}", earn_birthday: "{name}: {points} on your birthday",
      birthday: "Your birthday", month: "Month", day: "Day", save: "Save", change: "Change",
      birthday_saved: "Birthday saved: {date}.", birthday_from: "Your birthday treat arrives on the day (from {date} on).",
      birthday_wait: "A new date restarts the 30-day wait for the treat.", bad_date: "That date doesn't exist. Pick another day.",
      limit_day: "up to {n} times a day", limit_day_one: "once a day",
      limit_week: "up to {n} times a week", limit_week_one: "once a week",
      limit_month: "up to {n} times a month", limit_month_one: "once a month",
      limit_lifetime: "up to {n} times", limit_lifetime_one: "once",
      left_day: "{n} left today", left_week: "{n} left this week", left_month: "{n} left this month",
      left_lifetime: "{n} left", none_day: "none left today", none_week: "none left this week",
      none_month: "none left this month", none_lifetime: "none left",
      tier: "Your VIP tier", tiers: "VIP tiers", tier_none: "No tier yet", tier_top: "You're at our top tier",
      tier_earn: "You earn {x}× points on orders", tier_x: "{x}× points", tier_next: "{name}: {perks}",
      tier_progress: "Progress to {name}",
      tier_bonus: "{n} bonus points when you get there", tier_bonus_one: "{n} bonus point when you get there",
      tier_more_points_earned: "{n} more points to {name}", tier_more_points_earned_one: "{n} more point to {name}",
      tier_more_orders: "{n} more orders to {name}", tier_more_orders_one: "{n} more order to {name}",
      tier_more_spend: "{amount} more to spend for {name}", tier_spend_plain: "Spend {n} more to reach {name}",
      tier_from_points_earned: "from {n} points earned", tier_from_points_earned_one: "from {n} point earned",
      tier_from_orders: "from {n} orders", tier_from_orders_one: "from {n} order", tier_from_spend: "from {amount} spent",
      tier_counts_points_earned_calendar_year: "Tiers count the points you earn this year.",
      tier_counts_points_earned_rolling_12_months: "Tiers count the points you earned in the last 12 months.",
      tier_counts_amount_spent_calendar_year: "Tiers count what you spend this year.",
      tier_counts_amount_spent_rolling_12_months: "Tiers count what you spent in the last 12 months.",
      tier_counts_orders_calendar_year: "Tiers count your orders this year.",
      tier_counts_orders_rolling_12_months: "Tiers count your orders in the last 12 months."
    },
    vi: {
      title: "Ưu đãi", close: "Đóng", loading: "Đang tải…", error: "Đã có lỗi. Vui lòng thử lại.",
      balance: "{n} điểm", balance_label: "Điểm của bạn", pending: "{n} điểm đang chờ",
      pending_until: "{n} điểm đang chờ, dùng được từ {date}", welcome: "Xin chào {name}!",
      welcome_guest: "Tham gia chương trình ưu đãi", join: "Tham gia ngay", sign_in: "Đăng nhập",
      ways_to_earn: "Cách tích điểm", earn_rule: "{n} điểm cho mỗi 1.00 bạn chi tiêu",
      rewards: "Phần thưởng", cost: "{n} điểm", redeem: "Đổi", redeeming: "Đang đổi…",
      need_more: "Cần thêm {n} điểm", your_codes: "Mã của bạn", copy: "Sao chép",
      copied: "Đã sao chép {code}", apply: "Áp dụng khi thanh toán", pending_code: "Đang tạo mã…",
      history: "Hoạt động gần đây", none_yet: "Chưa có gì: điểm sẽ xuất hiện sau đơn hàng đầu tiên.",
      insufficient: "Bạn chưa đủ điểm cho phần thưởng này.", redeemed: "Mã {code} của bạn đã sẵn sàng.",
      used: "Đã dùng", language: "Ngôn ngữ", expired: "Phiên đã hết hạn. Hãy tải lại trang để xem ưu đãi.",
      rate_limited: "Thao tác quá nhiều lần. Vui lòng đợi một chút rồi thử lại.",
      expiring: "{n} điểm sẽ hết hạn vào ngày {date}",
      expiry_batch: "Điểm sẽ hết hạn sau {n} tháng kể từ khi bạn tích được.",
      expiry_inactivity: "Điểm sẽ hết hạn nếu bạn không tích hoặc đổi điểm trong {n} tháng.",
      earn_signup: "{name}: {points} khi bạn tạo tài khoản", earn_birthday: "{name}: {points} vào ngày sinh nhật của bạn",
      birthday: "Sinh nhật của bạn", month: "Tháng", day: "Ngày", save: "Lưu", change: "Thay đổi",
      birthday_saved: "Đã lưu ngày sinh nhật: {date}.", birthday_from: "Quà sinh nhật sẽ đến đúng ngày sinh nhật của bạn (từ {date} trở đi).",
      birthday_wait: "Đổi ngày sinh nhật thì phải chờ lại 30 ngày mới được nhận quà.", bad_date: "Ngày này không tồn tại. Vui lòng chọn ngày khác.",
      limit_day: "tối đa {n} lần mỗi ngày", limit_week: "tối đa {n} lần mỗi tuần",
      limit_month: "tối đa {n} lần mỗi tháng", limit_lifetime: "tối đa {n} lần",
      left_day: "hôm nay còn {n} lượt", left_week: "tuần này còn {n} lượt",
      left_month: "tháng này còn {n} lượt", left_lifetime: "còn {n} lượt",
      none_day: "hôm nay đã hết lượt", none_week: "tuần này đã hết lượt",
      none_month: "tháng này đã hết lượt", none_lifetime: "đã hết lượt",
      tier: "Hạng thành viên của bạn", tiers: "Hạng thành viên VIP", tier_none: "Bạn chưa có hạng",
      tier_top: "Bạn đang ở hạng cao nhất", tier_earn: "Bạn được nhận điểm gấp {x} lần cho mỗi đơn hàng",
      tier_x: "điểm gấp {x} lần", tier_progress: "Tiến độ lên hạng {name}",
      tier_bonus: "thưởng {n} điểm khi lên hạng",
      tier_more_points_earned: "Cần thêm {n} điểm để lên hạng {name}",
      tier_more_orders: "Cần thêm {n} đơn hàng để lên hạng {name}",
      tier_more_spend: "Chi tiêu thêm {amount} để lên hạng {name}", tier_spend_plain: "Chi tiêu thêm {n} để lên hạng {name}",
      tier_from_points_earned: "từ {n} điểm tích lũy", tier_from_orders: "từ {n} đơn hàng",
      tier_from_spend: "chi tiêu từ {amount}",
      tier_counts_points_earned_calendar_year: "Hạng được xét theo số điểm bạn tích lũy trong năm nay.",
      tier_counts_points_earned_rolling_12_months: "Hạng được xét theo số điểm bạn tích lũy trong 12 tháng gần nhất.",
      tier_counts_amount_spent_calendar_year: "Hạng được xét theo số tiền bạn chi tiêu trong năm nay.",
      tier_counts_amount_spent_rolling_12_months: "Hạng được xét theo số tiền bạn chi tiêu trong 12 tháng gần nhất.",
      tier_counts_orders_calendar_year: "Hạng được xét theo số đơn hàng của bạn trong năm nay.",
      tier_counts_orders_rolling_12_months: "Hạng được xét theo số đơn hàng của bạn trong 12 tháng gần nhất."
    },
    th: {
      title: "รางวัล", close: "ปิด", loading: "กำลังโหลด…", error: "เกิดข้อผิดพลาด โปรดลองอีกครั้ง",
      balance: "{n} คะแนน", balance_label: "คะแนนของคุณ", pending: "{n} คะแนนรอดำเนินการ",
      pending_until: "{n} คะแนนรอดำเนินการ ใช้ได้ {date}", welcome: "สวัสดี {name}!",
      welcome_guest: "เข้าร่วมโปรแกรมสะสมคะแนน", join: "สมัครเลย", sign_in: "เข้าสู่ระบบ",
      ways_to_earn: "วิธีสะสมคะแนน", earn_rule: "{n} คะแนนทุกการใช้จ่าย 1.00",
      rewards: "ของรางวัล", cost: "{n} คะแนน", redeem: "แลก", redeeming: "กำลังแลก…",
      need_more: "ขาดอีก {n} คะแนน", your_codes: "โค้ดของคุณ", copy: "คัดลอก",
      copied: "คัดลอก {code} แล้ว", apply: "ใช้ตอนชำระเงิน", pending_code: "กำลังสร้างโค้ด…",
      history: "กิจกรรมล่าสุด", none_yet: "ยังไม่มี: คะแนนจะปรากฏหลังคำสั่งซื้อแรกของคุณ",
      insufficient: "คะแนนยังไม่พอสำหรับรางวัลนี้", redeemed: "โค้ด {code} ของคุณพร้อมแล้ว",
      used: "ใช้แล้ว", language: "ภาษา", expired: "เซสชันหมดอายุแล้ว โปรดโหลดหน้าใหม่เพื่อดูรางวัลของคุณ",
      rate_limited: "ลองบ่อยเกินไป โปรดรอสักครู่แล้วลองอีกครั้ง",
      expiring: "{n} คะแนนจะหมดอายุในวันที่ {date}",
      expiry_batch: "คะแนนจะหมดอายุเมื่อครบ {n} เดือนนับจากวันที่คุณได้รับ",
      expiry_inactivity: "คะแนนจะหมดอายุหากไม่มีการสะสมหรือแลกคะแนนเป็นเวลา {n} เดือน",
      earn_signup: "{name}: {points}เมื่อคุณสร้างบัญชี", earn_limited: "{name}: {points} {limit}",
      earn_birthday: "{name}: {points}ในวันเกิดของคุณ",
      birthday: "วันเกิดของคุณ", month: "เดือน", day: "วัน", save: "บันทึก", change: "เปลี่ยน",
      birthday_saved: "บันทึกวันเกิดแล้ว: {date}", birthday_from: "คุณจะได้รับของขวัญในวันเกิดของคุณ (ตั้งแต่ {date} เป็นต้นไป)",
      birthday_wait: "หากเปลี่ยนวันเกิด ต้องรออีก 30 วันจึงจะได้รับของขวัญ", bad_date: "ไม่มีวันที่นี้ โปรดเลือกวันอื่น",
      limit_day: "สูงสุด {n} ครั้งต่อวัน", limit_week: "สูงสุด {n} ครั้งต่อสัปดาห์",
      limit_month: "สูงสุด {n} ครั้งต่อเดือน", limit_lifetime: "สูงสุด {n} ครั้ง",
      left_day: "วันนี้เหลืออีก {n} ครั้ง", left_week: "สัปดาห์นี้เหลืออีก {n} ครั้ง",
      left_month: "เดือนนี้เหลืออีก {n} ครั้ง", left_lifetime: "เหลืออีก {n} ครั้ง",
      none_day: "วันนี้ใช้สิทธิ์ครบแล้ว", none_week: "สัปดาห์นี้ใช้สิทธิ์ครบแล้ว",
      none_month: "เดือนนี้ใช้สิทธิ์ครบแล้ว", none_lifetime: "ใช้สิทธิ์ครบแล้ว",
      tier: "ระดับสมาชิกของคุณ", tiers: "ระดับสมาชิก VIP", tier_none: "ยังไม่มีระดับสมาชิก",
      tier_top: "คุณอยู่ในระดับสูงสุดแล้ว", tier_earn: "คุณได้รับคะแนน {x} เท่าจากทุกคำสั่งซื้อ",
      tier_x: "คะแนน {x} เท่า", tier_progress: "ความคืบหน้าสู่ระดับ {name}",
      tier_bonus: "โบนัส {n} คะแนนเมื่อเลื่อนถึงระดับนี้",
      tier_more_points_earned: "สะสมอีก {n} คะแนนเพื่อเลื่อนเป็นระดับ {name}",
      tier_more_orders: "สั่งซื้ออีก {n} ครั้งเพื่อเลื่อนเป็นระดับ {name}",
      tier_more_spend: "ใช้จ่ายอีก {amount} เพื่อเลื่อนเป็นระดับ {name}",
      tier_spend_plain: "ใช้จ่ายอีก {n} เพื่อเลื่อนเป็นระดับ {name}",
      tier_from_points_earned: "เมื่อสะสมครบ {n} คะแนน", tier_from_orders: "เมื่อสั่งซื้อครบ {n} ครั้ง",
      tier_from_spend: "เมื่อใช้จ่ายครบ {amount}",
      tier_counts_points_earned_calendar_year: "ระดับสมาชิกคำนวณจากคะแนนที่คุณสะสมในปีนี้",
      tier_counts_points_earned_rolling_12_months: "ระดับสมาชิกคำนวณจากคะแนนที่คุณสะสมในช่วง 12 เดือนที่ผ่านมา",
      tier_counts_amount_spent_calendar_year: "ระดับสมาชิกคำนวณจากยอดใช้จ่ายของคุณในปีนี้",
      tier_counts_amount_spent_rolling_12_months: "ระดับสมาชิกคำนวณจากยอดใช้จ่ายของคุณในช่วง 12 เดือนที่ผ่านมา",
      tier_counts_orders_calendar_year: "ระดับสมาชิกคำนวณจากจำนวนคำสั่งซื้อของคุณในปีนี้",
      tier_counts_orders_rolling_12_months: "ระดับสมาชิกคำนวณจากจำนวนคำสั่งซื้อของคุณในช่วง 12 เดือนที่ผ่านมา"
    }
  };

  var state = { cfg: null, launcher: null, root: null, data: null, locale: "en", open: false };

  function ownTexts() {
    var texts = (state.data && state.data.settings && state.data.settings.texts) || {};
    return texts[state.locale] || {};
  }

  function fill(s, vars) {
    return s.replace(/\{(\w+)\}/g, function (_, name) { return vars && name in vars ? String(vars[name]) : ""; });
  }

  function t(key, vars) {
    return fill(ownTexts()[key] || STRINGS[state.locale][key] || STRINGS.en[key] || key, vars);
  }

  /* A text with a count in it: the locale's plural rules pick "{n} point" or "{n} points"
     (Vietnamese and Thai have one form). A merchant's own text for the key wins over ours. */
  var pluralRules = {};
  function tn(key, count, vars) {
    var rules = pluralRules[state.locale] || (pluralRules[state.locale] = new Intl.PluralRules(state.locale));
    var own = ownTexts(), one = null;
    vars = Object.assign({ n: number(count) }, vars);
    if (rules.select(count) === "one") one = own[key + "_one"] || (own[key] ? null : STRINGS[state.locale][key + "_one"]);
    return one ? fill(one, vars) : t(key, vars);
  }

  function el(tag, attrs, children) {
    var node = d.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") node.textContent = attrs[k];
        else if (k === "className") node.className = attrs[k];
        else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), attrs[k]);
        else node.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function number(n) { return new Intl.NumberFormat(state.locale).format(n); }
  function date(iso) {
    return new Intl.DateTimeFormat(state.locale, { dateStyle: "medium" }).format(new Date(iso));
  }

  function url(path) {
    var u = state.cfg.api + path;
    if (state.cfg.token && state.cfg.shop) u += (u.indexOf("?") < 0 ? "?" : "&") + "shop=" + encodeURIComponent(state.cfg.shop);
    return u;
  }

  function request(method, path, body, extra) {
    var headers = { Accept: "application/json" };
    if (state.cfg.token) headers.Authorization = "Bearer " + state.cfg.token;
    if (body) headers["Content-Type"] = "application/json";
    Object.keys(extra || {}).forEach(function (k) { headers[k] = extra[k]; });
    return fetch(url(path), {
      method: method, headers: headers, body: body ? JSON.stringify(body) : undefined,
      credentials: "same-origin"
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (json) {
        if (!r.ok) { var e = new Error((json.error && json.error.code) || "http_" + r.status); e.status = r.status; throw e; }
        return json;
      });
    });
  }

  /* What went wrong, in words the shopper can act on (the API's stable error codes). */
  function failure(e) {
    var code = e && e.message;
    if (code === "insufficient_points") return t("insufficient");
    if (code === "token_expired" || code === "stale_request") return t("expired");
    if (code === "rate_limited") return t("rate_limited");
    if (code === "validation_failed") return t("bad_date");
    return t("error");
  }

  function announce(message) {
    var live = state.root && state.root.querySelector(".loyalty-status");
    if (live) live.textContent = message;
  }

  function applyTheme() {
    var theme = (state.data && state.data.settings && state.data.settings.theme) || {};
    Object.keys(theme).forEach(function (k) { state.root.style.setProperty("--loyalty-" + k, theme[k]); });
  }

  function section(titleKey, body, slot) {
    var id = "loyalty-h-" + titleKey;
    return el("section", { className: "loyalty-section", "aria-labelledby": id, "data-slot": slot || titleKey }, [
      el("h3", { id: id, text: t(titleKey) })
    ].concat(body));
  }

  function rewardItem(r, member) {
    var cost = r.cost;
    var parts = [
      el("span", { className: "loyalty-reward-name", text: r.name }),
      el("span", { className: "loyalty-reward-cost", text: tn("cost", cost) })
    ];
    if (member) {
      var pct = Math.round((r.progress || 0) * 100);
      parts.push(el("div", {
        className: "loyalty-progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
        "aria-valuenow": String(pct), "aria-label": r.name
      }, [el("div", { className: "loyalty-progress-bar", style: "width:" + pct + "%" })]));
      if (r.can_redeem) {
        parts.push(el("button", {
          type: "button", className: "loyalty-button", text: t("redeem"), "data-reward": String(r.id),
          onclick: function (ev) { redeem(r, ev.currentTarget); }
        }));
      } else {
        parts.push(el("span", { className: "loyalty-muted", text: tn("need_more", cost - Math.max(member.balance, 0)) }));
      }
    }
    return el("li", { className: "loyalty-reward" }, parts);
  }

  function codeItem(c) {
    var children = [el("span", { className: "loyalty-reward-name", text: c.title })];
    if (c.status === "pending" || !c.code) {
      children.push(el("span", { className: "loyalty-muted", text: t("pending_code") }));
    } else {
      children.push(el("code", { className: "loyalty-code", text: c.code }));
      if (c.status === "used") {
        children.push(el("span", { className: "loyalty-muted", text: t("used") }));
      } else {
        children.push(el("button", {
          type: "button", className: "loyalty-button loyalty-secondary", text: t("copy"),
          "aria-label": t("copy") + " " + c.code,
          onclick: function () { copy(c.code); }
        }));
        var apply = (state.cfg.apply || "/discount/{code}").replace("{code}", encodeURIComponent(c.code));
        children.push(el("a", { className: "loyalty-link", href: apply, text: t("apply") }));
      }
    }
    return el("li", { className: "loyalty-code-item" }, children);
  }

  function copy(code) {
    var done = function () { announce(t("copied", { code: code })); };
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(code).then(done, done);
    else done();
  }

  /* The shop's expiry rule in one line (none when points never expire). Like every key
     outside domain/widget.py's TEXT_KEYS, merchants cannot override these texts. */
  function expiryRule(program) {
    var x = program.expiry, k = x && "expiry_" + x.policy;
    return k && STRINGS.en[k] ? el("p", { className: "loyalty-muted loyalty-expiry-rule", text: tn(k, x.months) }) : null;
  }

  /* The shop's ways to earn besides orders, as the program lists them (merchant names are
     text). A limit or period the widget does not know yet is left out rather than guessed. */
  function rules(list, kind) {
    return (list || []).filter(function (r) { return r.kind === kind; });
  }

  function ruleLine(r) {
    var k = "limit_" + r.limit_period, vars = { name: r.name, points: tn("cost", r.points) };
    if (r.kind !== "activity") return t("earn_" + r.kind, vars);
    vars.limit = r.limit_count && STRINGS.en[k] ? tn(k, r.limit_count) : "";
    return t(vars.limit ? "earn_limited" : "earn_activity", vars);
  }

  /* A member's activity: its points and how many more times it pays in this period. */
  function activityItem(a) {
    var p = a.limit_period, left = a.remaining == null || !STRINGS.en["left_" + p] ? ""
      : a.remaining > 0 ? tn("left_" + p, a.remaining) : t("none_" + p);
    return el("li", { "data-rule": a.key }, [
      el("span", { className: "loyalty-earn-name", text: a.name }),
      el("span", { text: " · " + tn("cost", a.points) + (left ? " · " : "") }),
      left && el("span", { className: a.remaining ? "loyalty-left" : "loyalty-left loyalty-none", text: left })
    ]);
  }

  /* VIP tiers (merchant names are text). Thresholds and values are decimal strings. The
     summary has no shop currency: a reward's stands in, and without one an amount is a
     plain number. A measure or period the widget does not know yet is left out. */
  function money(program, n) {
    var r = program.rewards.filter(function (r) { return r.currency; })[0];
    return r ? new Intl.NumberFormat(state.locale, { style: "currency", currency: r.currency }).format(n) : null;
  }

  function times(m, key) { return Number(m) !== 1 ? t(key || "tier_x", { x: number(Number(m)) }) : ""; }

  function tierCounts(x) {
    var k = "tier_counts_" + x.measure + "_" + x.period;
    return STRINGS.en[k] ? el("p", { className: "loyalty-muted", text: t(k) }) : null;
  }

  function tierFrom(x, tier, program) {
    var n = Number(tier.threshold), k = "tier_from_" + x.measure;
    if (x.measure === "amount_spent") return t("tier_from_spend", { amount: money(program, n) || number(n) });
    return STRINGS.en[k] ? tn(k, n) : "";
  }

  function tierToGo(x, program) {
    var next = x.next, n = Number(next.remaining), vars = { name: next.name, amount: money(program, n) }, k = "tier_more_" + x.measure;
    if (x.measure === "amount_spent") return vars.amount ? t("tier_more_spend", vars) : tn("tier_spend_plain", n, vars);
    return STRINGS.en[k] ? tn(k, n, vars) : "";
  }

  /* The member's tier, what it pays, and how far the next one is. */
  function tierSection(x, program) {
    var now = x.current, next = x.next, parts = [el("p", {}, [now
      ? el("span", { className: "loyalty-badge", text: now.name })
      : el("span", { className: "loyalty-muted", text: t("tier_none") })])];
    if (now && times(now.multiplier)) parts.push(el("p", { text: times(now.multiplier, "tier_earn") }));
    if (next) {
      var pct = String(Math.round(Math.min(Math.max(Number(x.value) / Number(next.threshold), 0), 1) * 100));
      var perks = [times(next.multiplier), next.entry_points > 0 && tn("tier_bonus", next.entry_points)].filter(Boolean);
      parts.push(el("div", {
        className: "loyalty-progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
        "aria-valuenow": pct, "aria-label": t("tier_progress", { name: next.name })
      }, [el("div", { className: "loyalty-progress-bar", style: "width:" + pct + "%" })]));
      parts.push(el("p", { className: "loyalty-tier-next", text: tierToGo(x, program) }));
      if (perks.length) {
        parts.push(el("p", { className: "loyalty-muted", text: t("tier_next", { name: next.name, perks: new Intl.ListFormat(state.locale).format(perks) }) }));
      }
    } else {
      parts.push(el("p", { className: "loyalty-tier-next", text: t("tier_top") }));
    }
    parts.push(tierCounts(x));
    return section("tier", parts);
  }

  /* For guests: every tier, from what it starts and what it pays. */
  function tierList(x, program) {
    return section("tiers", [el("ul", { className: "loyalty-earn" }, x.tiers.map(function (tier) {
      var text = [tierFrom(x, tier, program), times(tier.multiplier)].filter(Boolean).join(" · ");
      return el("li", { "data-tier": String(tier.id) }, [
        el("span", { className: "loyalty-earn-name", text: tier.name }), el("span", { text: text && ": " + text })
      ]);
    })), tierCounts(x)]);
  }

  /* The member's birthday (month and day, no year) for the shop's birthday treat: the date
     and a Change button, or a form whose day list only holds days the month has. */
  function md(m, day) {
    return new Intl.DateTimeFormat(state.locale, { month: "long", day: "numeric", timeZone: "UTC" }).format(Date.UTC(2024, m - 1, day));
  }

  function birthdaySection(rule, b) {
    var month = el("select"), day = el("select"), i, change, form;
    var save = el("button", { type: "submit", className: "loyalty-button", text: t("save") });
    var names = new Intl.DateTimeFormat(state.locale, { month: "long", timeZone: "UTC" });
    for (i = 1; i <= 12; i++) month.appendChild(el("option", { value: i, text: names.format(Date.UTC(2024, i - 1)) }));
    function days(keep) {
      var max = new Date(Date.UTC(2024, month.value, 0)).getUTCDate(); // 2024: 29 February exists
      day.textContent = "";
      for (i = 1; i <= max; i++) day.appendChild(el("option", { value: i, text: number(i) }));
      day.value = Math.min(keep, max);
    }
    month.value = b ? b.month : 1;
    days(b ? b.day : 1);
    month.onchange = function () { days(day.value); };
    form = el("form", { className: "loyalty-birthday", onsubmit: function (ev) {
      ev.preventDefault();
      save.disabled = true;
      request("POST", "/birthday", { month: +month.value, day: +day.value }).then(function (r) {
        return refresh().then(function () {
          announce(t("birthday_saved", { date: md(r.month, r.day) }) + " " + t("birthday_from", { date: date(r.bonus_from) }));
          var next = state.root.querySelector("[data-slot=birthday] button");
          if (next) next.focus();
        });
      }, function (e) { save.disabled = false; announce(failure(e)); });
    } }, [
      el("label", { text: t("month") }, [month]), el("label", { text: t("day") }, [day]), save,
      b && el("p", { className: "loyalty-muted", text: t("birthday_wait") })
    ]);
    form.hidden = !!b;
    var parts = [el("p", { className: "loyalty-muted", text: ruleLine(rule) })];
    if (b) {
      change = el("button", { type: "button", className: "loyalty-button loyalty-secondary", text: t("change"),
        onclick: function () { form.hidden = false; change.hidden = true; month.focus(); } });
      parts.push(el("p", { className: "loyalty-birthday-date" }, [el("strong", { text: md(b.month, b.day) }), change]));
      if (new Date(b.bonus_from) > new Date()) parts.push(el("p", { className: "loyalty-muted", text: t("birthday_from", { date: date(b.bonus_from) }) }));
    }
    return section("birthday", parts.concat(form));
  }

  function render() {
    var body = state.root.querySelector(".loyalty-body");
    body.textContent = "";
    var data = state.data, member = data.member, program = data.program;
    if (member) {
      var head = [el("p", { className: "loyalty-balance", "aria-label": t("balance_label") }, [
        el("strong", { text: tn("balance", member.balance) })
      ])];
      if (member.expiring) {
        head.push(el("p", { className: "loyalty-expiring", text: tn("expiring", member.expiring.points, { date: date(member.expiring.at) }) }));
      }
      if (member.first_name) head.unshift(el("p", { text: t("welcome", { name: member.first_name }) }));
      if (member.pending > 0) {
        head.push(el("p", { className: "loyalty-muted", text: member.next_pending_available_at
          ? tn("pending_until", member.pending, { date: date(member.next_pending_available_at) })
          : tn("pending", member.pending) }));
      }
      head.push(expiryRule(program));
      body.appendChild(el("div", { className: "loyalty-summary" }, head));
      body.appendChild(member.tier ? tierSection(member.tier, program) : el("div", { "data-slot": "tier", hidden: "" }));
    } else {
      body.appendChild(el("div", { className: "loyalty-summary" }, [
        el("p", { className: "loyalty-balance", text: t("welcome_guest") }),
        el("p", { className: "loyalty-actions" }, [
          el("a", { className: "loyalty-button", href: state.cfg.join || "/account/register", text: t("join") }),
          el("a", { className: "loyalty-link", href: state.cfg.signIn || "/account/login", text: t("sign_in") })
        ])
      ]));
      // The sign-up bonus first (the reason to join), then orders, then activities.
      var ways = program.ways_to_earn, line = function (r) { return el("li", { "data-rule": r.key, text: ruleLine(r) }); };
      body.appendChild(section("ways_to_earn", [
        el("ul", { className: "loyalty-earn" }, rules(ways, "signup").map(line).concat(
          el("li", { text: tn("earn_rule", Number(program.points_per_unit)) }), rules(ways, "birthday").concat(rules(ways, "activity")).map(line))),
        expiryRule(program)
      ]));
      if (program.tiers) body.appendChild(tierList(program.tiers, program));
    }
    body.appendChild(section("rewards", [
      el("ul", { className: "loyalty-list" }, program.rewards.map(function (r) { return rewardItem(r, member); }))
    ]));
    if (member) {
      if (member.codes.length) {
        body.appendChild(section("your_codes", [el("ul", { className: "loyalty-list" }, member.codes.map(codeItem))]));
      }
      var acts = rules(member.activities, "activity");
      if (acts.length) body.appendChild(section("ways_to_earn", [el("ul", { className: "loyalty-earn" }, acts.map(activityItem))]));
      var bday = rules(program.ways_to_earn, "birthday")[0];
      if (bday) body.appendChild(birthdaySection(bday, member.birthday));
      body.appendChild(el("div", { "data-slot": "referral", hidden: "" }));
      body.appendChild(section("history", member.history.length ? [
        el("ul", { className: "loyalty-list" }, member.history.map(function (h) {
          return el("li", { className: "loyalty-history" }, [
            el("span", { text: h.reason }),
            el("span", { className: h.points < 0 ? "loyalty-minus" : "loyalty-plus", text: (h.points > 0 ? "+" : "") + number(h.points) })
          ]);
        }))
      ] : [el("p", { className: "loyalty-muted", text: t("none_yet") })]));
    }
  }

  function refresh() {
    return request("GET", "/summary").then(function (data) {
      state.data = data;
      applyTheme();
      state.root.querySelector(".loyalty-title").textContent = t("title");
      render();
    }, function (e) { announce(failure(e)); });
  }

  function key() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    return String(Date.now()) + Math.random().toString(16).slice(2);
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
        var codeEl = state.root.querySelector(".loyalty-code");
        if (codeEl) codeEl.parentNode.querySelector("button") && codeEl.parentNode.querySelector("button").focus();
      });
    }, function (e) {
      button.disabled = false;
      button.textContent = t("redeem");
      announce(failure(e));
    });
  }

  function poll(id, left) {
    return new Promise(function (resolve) { setTimeout(resolve, 1000); }).then(function () {
      return request("GET", "/redemptions/" + id);
    }).then(function (r) { return r.status === "pending" && left > 0 ? poll(id, left - 1) : r; });
  }

  function focusables() {
    return Array.prototype.filter.call(
      state.root.querySelectorAll("button, a[href], select, [tabindex]:not([tabindex='-1'])"),
      function (n) { return !n.disabled && n.offsetParent !== null; });
  }

  function onKey(ev) {
    if (ev.key === "Escape") { ev.preventDefault(); close(); return; }
    if (ev.key !== "Tab") return;
    var items = focusables();
    if (!items.length) return;
    var first = items[0], last = items[items.length - 1];
    if (ev.shiftKey && d.activeElement === first) { ev.preventDefault(); last.focus(); }
    else if (!ev.shiftKey && d.activeElement === last) { ev.preventDefault(); first.focus(); }
  }

  function build() {
    var languages = el("select", {
      className: "loyalty-locale", "aria-label": t("language"),
      onchange: function (ev) { state.locale = state.root.lang = ev.target.value; languages.setAttribute("aria-label", t("language")); render(); state.root.querySelector(".loyalty-title").textContent = t("title"); closeButton.setAttribute("aria-label", t("close")); }
    }, [["en", "English"], ["vi", "Tiếng Việt"], ["th", "ไทย"]].map(function (o) {
      var opt = el("option", { value: o[0], text: o[1] });
      if (o[0] === state.locale) opt.selected = true;
      return opt;
    }));
    var closeButton = el("button", { type: "button", className: "loyalty-close", "aria-label": t("close"), text: "×", onclick: close });
    state.root = el("div", {
      id: "loyalty-panel", className: "loyalty-panel loyalty-" + (state.cfg.position === "left" ? "left" : "right"),
      role: "dialog", "aria-modal": "true", "aria-labelledby": "loyalty-title", lang: state.locale
    }, [
      el("div", { className: "loyalty-header" }, [
        el("h2", { id: "loyalty-title", className: "loyalty-title", text: t("title") }), languages, closeButton
      ]),
      el("p", { className: "loyalty-status", role: "status", "aria-live": "polite" }),
      el("div", { className: "loyalty-body" }, [el("p", { className: "loyalty-muted", text: t("loading") })])
    ]);
    state.root.addEventListener("keydown", onKey);
    d.body.appendChild(state.root);
  }

  function open() {
    if (!state.root) build();
    state.root.hidden = false;
    state.open = true;
    state.launcher.setAttribute("aria-expanded", "true");
    state.root.querySelector(".loyalty-close").focus();
    refresh();
  }

  function close() {
    if (!state.root) return;
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
