/* Configure > Client payments: keep the accounts' state true without anyone reloading.
   Webhooks (account.updated, account.application.deauthorized) change the rows on the
   server; this asks every few seconds whether they changed and, if so, reloads the page
   (which also asks Stripe). It never reloads while someone is typing in a form. */
(function () {
  "use strict";

  var root = document.getElementById("client-payments");
  if (!root || !window.fetch) return;
  var url = root.getAttribute("data-state-url");
  var version = root.getAttribute("data-state-version");
  var INTERVAL_MS = 3000;

  function typing() {
    var el = document.activeElement;
    return !!el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA") &&
      el.value !== "" && el.type !== "hidden";
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (state) {
        if (state && state.version !== version && !typing()) {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, INTERVAL_MS);
      })
      .catch(function () { window.setTimeout(poll, INTERVAL_MS * 2); });
  }

  window.setTimeout(poll, INTERVAL_MS);
})();
