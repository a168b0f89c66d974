/* The notification pages' script (webhooks and emails). The pages work without it; it
 * adds two things:
 * - a copy button for a webhook's signing secret (shown only once);
 * - the email preview loads by itself: its form posts the template's fields into the
 *   sandboxed iframe. Embedded in Shopify (no cookies) the post carries a fresh session
 *   token from App Bridge in its URL, since a frame's navigation cannot send a header.
 */
(function () {
  "use strict";

  function copySecret(button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    var status = document.querySelector('[data-copied-for="' + input.id + '"]');
    function done() {
      if (status) {
        status.textContent = status.getAttribute("data-text");
      }
    }
    input.focus();
    input.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        if (document.execCommand("copy")) {
          done();
        }
      });
    } else if (document.execCommand("copy")) {
      done();
    }
  }

  function withToken(action) {
    if (document.body.getAttribute("data-auth") !== "shopify" || !window.shopify) {
      return Promise.resolve(action);
    }
    return window.shopify.idToken().then(function (token) {
      var url = new URL(action, window.location.href);
      url.searchParams.set("id_token", token);
      return url.toString();
    });
  }

  function loadPreview(form) {
    var action = form.getAttribute("data-action") || form.getAttribute("action");
    form.setAttribute("data-action", action);
    withToken(action).then(function (url) {
      form.setAttribute("action", url);
      form.submit(); // no submit event: admin.js's fetch handler stays out of it
    });
  }

  function setUp(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        copySecret(button);
      });
    });
    root.querySelectorAll("form[data-preview-form]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        event.stopPropagation();
        loadPreview(form);
      });
      loadPreview(form);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUp(document);
    // Embedded in Shopify, admin.js swaps in the <main> of a form's answer (the secret
    // page, a preview): set that up too.
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        change.addedNodes.forEach(function (node) {
          if (node.nodeName === "MAIN") {
            setUp(node);
          }
        });
      });
    }).observe(document.body, { childList: true });
  });
})();
