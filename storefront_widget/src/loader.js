/* Loyalty widget loader, on every page: a fixed launcher (no layout shift); the panel loads
   when a shopper reaches for it. Config: window.LoyaltyConfig or the tag's data-*:
     api     the storefront API: "/apps/loyalty" (Shopify's app proxy) or
             "https://app.example/storefront/v1" with a store-signed token
     assets  where panel.js/panel.css are (default: api + "/assets")
     token   store-signed shopper token (WooCommerce, headless); shop: the store URL
     refresh, nonce  where a new token comes from once this one expires (same origin, a
             POST with the nonce in X-WP-Nonce answering {"token": ...}): signed-in only
     locale  "en" | "vi" | "th" (default: the page's <html lang>) */
(function () {
  "use strict";
  var w = window, d = document;
  if (w.LoyaltyLoaded) return;
  w.LoyaltyLoaded = true;
  var script = d.currentScript, data = (script && script.dataset) || {};
  var given = w.LoyaltyConfig || {};
  var cfg = {};
  ["api", "assets", "token", "shop", "locale", "signIn", "join", "apply", "position", "refresh", "nonce"].forEach(function (k) {
    cfg[k] = given[k] || data[k] || "";
  });
  if (!cfg.api) return;
  // A page open longer than its token lives: the panel calls this on "token_expired".
  // Calls refused together share one refresh.
  var renewing;
  if (cfg.refresh) cfg.renew = function () {
    return renewing || (renewing = fetch(cfg.refresh, { method: "POST", headers: { "X-WP-Nonce": cfg.nonce } }).then(function (r) {
      return r.ok ? r.json() : Promise.reject(r.status);
    }).then(function (j) { cfg.token = j.token; renewing = 0; }, function (e) { renewing = 0; throw e; }));
  };
  cfg.assets = (cfg.assets || cfg.api + "/assets").replace(/\/$/, "");
  var lang = (cfg.locale || d.documentElement.lang || "en").slice(0, 2).toLowerCase();
  cfg.locale = { en: 1, vi: 1, th: 1 }[lang] ? lang : "en";
  // ?ref=CODE (a friend's referral link): kept 30 days for the panel's gift offer, and put
  // on the Shopify cart, the order's fallback attribution when the code is not used.
  var ref, m = /[?&]ref=([\w-]{1,40})/.exec(location.search), code = m && m[1].toUpperCase();
  try {
    ref = code ? { code: code, until: Date.now() + 2592e6 } : JSON.parse(localStorage.loyalty_ref);
    localStorage.loyalty_ref = JSON.stringify(ref.until > Date.now() ? ref : (ref = 0));
  } catch (e) {}
  if (code && w.Shopify) {
    fetch(((w.Shopify.routes || {}).root || "/") + "cart/update.js", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ attributes: { loyalty_referral: code } })
    }).catch(function () {});
  }
  var label = (ref && !ref.got // a gift waits until the friend has their code
    ? { en: "A gift for you", vi: "Quà tặng cho bạn", th: "ของขวัญสำหรับคุณ" }
    : { en: "Rewards", vi: "Ưu đãi", th: "รางวัล" })[cfg.locale];
  cfg.ref = ref;

  var button = d.createElement("button");
  button.type = "button";
  button.id = "loyalty-launcher";
  button.className = "loyalty-launcher";
  button.setAttribute("aria-haspopup", "dialog");
  button.setAttribute("aria-expanded", "false");
  button.textContent = label;
  var side = cfg.position === "left" ? "left" : "right";
  button.style.cssText =
    "position:fixed;bottom:20px;" + side + ":20px;z-index:2147483000;height:48px;" +
    "min-width:48px;padding:0 20px;border:0;border-radius:24px;cursor:pointer;" +
    "font:600 15px/48px system-ui,sans-serif;color:#fff;background:#1f5f8b;" +
    "box-shadow:0 2px 10px rgba(0,0,0,.25)";

  var loading = null;
  function load() {
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var css = d.createElement("link");
        css.rel = "stylesheet";
        css.href = cfg.assets + "/panel.css";
        d.head.appendChild(css);
        var js = d.createElement("script");
        js.src = cfg.assets + "/panel.js";
        js.async = true;
        js.onload = function () { resolve(w.LoyaltyPanel); };
        js.onerror = function () { loading = null; reject(new Error("panel failed to load")); };
        d.head.appendChild(js);
      });
    }
    return loading;
  }
  // Start fetching as soon as intent shows (pointer over, keyboard focus).
  button.addEventListener("pointerenter", load, { once: true });
  button.addEventListener("focus", load, { once: true });
  button.addEventListener("click", function () {
    load().then(function (panel) { panel.toggle(button, cfg); }, function () {});
  });

  function mount() { d.body.appendChild(button); }
  if (d.body) mount(); else d.addEventListener("DOMContentLoaded", mount);
})();
