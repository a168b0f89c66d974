/* The import form, sent with fetch so the chosen file stays chosen: check it (a dry run),
 * read the report, then import the same file without picking it again. Embedded in
 * Shopify the request carries App Bridge's session token, as admin.js does for other
 * forms (whose handler sends fields as text, which would lose the file); so do the CSV
 * downloads there, which a plain link could not authenticate (no cookies in Shopify's
 * frame). Without this script the page still works: choose the file again after the check.
 */
(function () {
  "use strict";

  function embedded() {
    return document.body.getAttribute("data-auth") === "shopify" && window.shopify;
  }

  function authorized(url, options) {
    var token = embedded() ? window.shopify.idToken() : Promise.resolve(null);
    return token.then(function (value) {
      options.headers = value ? { Authorization: "Bearer " + value } : {};
      options.credentials = value ? "omit" : "same-origin";
      return fetch(url, options);
    });
  }

  function showPage(html, files) {
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
  }

  function download(url) {
    return authorized(url, { method: "GET" }).then(function (response) {
      if (!response.ok) {
        return response.text().then(function (html) { showPage(html, null); });
      }
      var named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
      return response.blob().then(function (blob) {
        var link = document.createElement("a");
        link.href = URL.createObjectURL(blob);
        link.download = named ? named[1] : "export.csv";
        document.body.appendChild(link);
        link.click();
        link.remove();
        window.setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
      });
    });
  }

  function send(form, submitter) {
    var picked = document.getElementById("f-file");
    var files = picked ? picked.files : null;
    var data = new FormData(form);
    if (submitter && submitter.name) {
      data.append(submitter.name, submitter.value);
    }
    return authorized(form.getAttribute("action"), { method: "POST", body: data })
      .then(function (response) {
        if (response.redirected) {
          window.location.assign(response.url);
          return;
        }
        return response.text().then(function (html) { showPage(html, files); });
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
    if (!embedded()) {
      return;
    }
    Array.prototype.forEach.call(document.querySelectorAll("a[data-download]"), function (a) {
      a.addEventListener("click", function (event) {
        event.preventDefault();
        download(a.href);
      });
    });
    var ledger = document.getElementById("ledger-form");
    if (ledger) {
      ledger.addEventListener("submit", function (event) {
        event.preventDefault();
        var query = new URLSearchParams(new FormData(ledger)).toString();
        download(ledger.getAttribute("action").split("?")[0] + "?" + query);
      });
    }
  }

  document.addEventListener("DOMContentLoaded", wire);
})();
