/* The admin app's only script. Pages work without it; it adds two things:
 * - focus moves to the error summary when a form comes back with errors;
 * - embedded in Shopify (no cookies there), a form is posted with fetch and a fresh
 *   session token from App Bridge as "Authorization: Bearer", then the page follows.
 */
(function () {
  "use strict";

  function focusErrors() {
    var summary = document.getElementById("error-summary");
    if (summary) {
      summary.focus();
    }
  }

  function postWithSessionToken(form, submitter) {
    var data = new FormData(form);
    if (submitter && submitter.name) {
      data.append(submitter.name, submitter.value);
    }
    var action = (submitter && submitter.getAttribute("formaction")) || form.action;
    return window.shopify.idToken().then(function (token) {
      return fetch(action, {
        method: "POST",
        body: new URLSearchParams(data),
        headers: { Authorization: "Bearer " + token },
        credentials: "omit"
      });
    }).then(function (response) {
      if (response.redirected) {
        // A document request again: it gets its own id_token from App Bridge.
        window.location.assign(response.url);
        return;
      }
      return response.text().then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        var current = document.querySelector("main");
        if (fresh && current) {
          current.replaceWith(document.importNode(fresh, true));
          focusErrors();
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusErrors();
    if (document.body.getAttribute("data-auth") !== "shopify" || !window.shopify) {
      return;
    }
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") {
        return;
      }
      event.preventDefault();
      postWithSessionToken(form, event.submitter);
    });
  });
})();
