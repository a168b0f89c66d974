/* The widget page's live preview. The preview frame runs the real storefront widget with
 * sample data; this sends it the settings as typed (not saved) on every change. Values the
 * server would refuse are previewed as saved, so the picture never shows what can't be
 * saved. Everything goes to the widget as data: it renders text with textContent and
 * colours as CSS custom properties, never as HTML.
 */
(function () {
  "use strict";

  var COLOUR = /^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/;
  var RADIUS = /^\d{1,2}px$/;

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("widget-form");
    var frame = document.getElementById("widget-preview");
    var source = document.getElementById("widget-preview-data");
    var locale = document.getElementById("preview-locale");
    if (!form || !frame || !source || !locale) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var saved = data.guest.settings;
    var timer = null;

    function typed() {
      var theme = {}, texts = {}, position = saved.position;
      Array.prototype.forEach.call(form.elements, function (input) {
        var name = input.name || "", parts = name.split("."), value = input.value;
        if (parts[0] === "theme") {
          value = value.trim();
          var ok = (parts[1] === "radius" ? RADIUS : COLOUR).test(value);
          theme[parts[1]] = ok ? value : saved.theme[parts[1]];
        } else if (parts[0] === "texts" && parts.length === 3) {
          var own = value || (saved.texts[parts[1]] || {})[parts[2]];
          if (own) {
            texts[parts[1]] = texts[parts[1]] || {};
            texts[parts[1]][parts[2]] = own;
          }
        } else if (name === "position" && input.checked) {
          position = value;
        }
      });
      return { theme: theme, texts: texts, position: position };
    }

    function send() {
      var settings = typed();
      var who = document.querySelector("input[name=preview_as]:checked");
      var view = data[who && who.value === "guest" ? "guest" : "member"];
      var summary = { member: view.member, program: view.program, settings: settings };
      frame.contentWindow.postMessage({
        type: "loyalty-preview",
        summary: summary,
        locale: locale.value,
        position: settings.position,
        loader: data.loader,
        assets: data.assets
      }, window.location.origin);
    }

    function soon() {
      window.clearTimeout(timer);
      timer = window.setTimeout(send, 120);
    }

    window.addEventListener("message", function (event) {
      if (event.origin === window.location.origin && event.source === frame.contentWindow &&
          event.data && event.data.type === "loyalty-preview-ready") {
        send();
      }
    });
    form.addEventListener("input", soon);
    form.addEventListener("change", soon);
    locale.addEventListener("change", send);
    Array.prototype.forEach.call(document.querySelectorAll("input[name=preview_as]"), function (r) {
      r.addEventListener("change", send);
    });
    send();
  });
})();
