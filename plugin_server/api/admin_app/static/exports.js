/* The import form, sent with fetch so the chosen file stays chosen: check it (a dry run),
 * read the report, then import the same file without picking it again. Embedded in
 * Shopify the request carries App Bridge's session token, as admin.js does for other
 * forms (whose handler sends fields as text, which would lose the file). Without this
 * script the form still works: choose the file again after the check.
 */
(function () {
  "use strict";

  function send(form, submitter) {
    var picked = document.getElementById("f-file");
    var files = picked ? picked.files : null;
    var data = new FormData(form);
    if (submitter && submitter.name) {
      data.append(submitter.name, submitter.value);
    }
    var embedded = document.body.getAttribute("data-auth") === "shopify" && window.shopify;
    var token = embedded ? window.shopify.idToken() : Promise.resolve(null);
    return token.then(function (value) {
      return fetch(form.getAttribute("action"), {
        method: "POST",
        body: data,
        headers: value ? { Authorization: "Bearer " + value } : {},
        credentials: value ? "omit" : "same-origin"
      });
    }).then(function (response) {
      if (response.redirected) {
        window.location.assign(response.url);
        return;
      }
      return response.text().then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        var current = document.querySelector("main");
        if (!fresh || !current) {
          return;
        }
        current.replaceWith(document.importNode(fresh, true));
        var again = document.getElementById("f-file");
        if (again && files && files.length) {
          again.files = files;
        }
        wire();
        var target = document.getElementById("error-summary") ||
          document.getElementById("import-report");
        if (target) {
          target.focus();
        }
      });
    });
  }

  function wire() {
    var form = document.getElementById("import-form");
    if (!form || !window.fetch || !window.FormData) {
      return;
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      event.stopPropagation();
      send(form, event.submitter);
    });
  }

  document.addEventListener("DOMContentLoaded", wire);
})();
