/* Inside the widget page's preview frame: the real storefront widget (its loader and
 * panel, as shoppers get them) opened on sample data. The admin page posts the shop's
 * program, a sample member and the settings as typed; the widget's requests are answered
 * here from that message, so nothing reaches the storefront API and nothing is saved.
 */
(function () {
  "use strict";

  var w = window, d = document, summary = null, shape = null, opened = false;

  // The widget moves focus as its panel opens and closes. In this picture of it that would
  // pull the merchant's cursor out of the field they are typing in.
  w.HTMLElement.prototype.focus = function () {};

  w.fetch = function (url) {
    var ok = summary && /\/summary$/.test(String(url));
    var body = ok ? summary : { error: { code: "preview_only" } };
    return Promise.resolve(new Response(JSON.stringify(body), {
      status: ok ? 200 : 409,
      headers: { "Content-Type": "application/json" }
    }));
  };

  function launcher() {
    return d.getElementById("loyalty-launcher");
  }

  function start(message) {
    w.LoyaltyConfig = {
      api: "/preview",
      assets: message.assets,
      locale: message.locale,
      position: message.position
    };
    d.documentElement.lang = message.locale;
    var script = d.createElement("script");
    script.src = message.loader;
    script.onload = function () {
      opened = true;
      launcher().click();
    };
    d.head.appendChild(script);
  }

  w.addEventListener("message", function (event) {
    var message = event.data;
    if (event.origin !== w.location.origin || event.source !== w.parent ||
        !message || message.type !== "loyalty-preview") {
      return;
    }
    // The widget takes its language and side once, when it starts: for new ones, start over.
    var key = message.locale + "|" + message.position;
    summary = message.summary;
    if (shape === null) {
      shape = key;
      start(message);
    } else if (key !== shape) {
      w.location.reload();
    } else if (opened && launcher()) {
      launcher().click(); // closes the panel,
      launcher().click(); // and opening it again draws it from the new settings
    }
  });

  w.parent.postMessage({ type: "loyalty-preview-ready" }, w.location.origin);
})();
