/* Patient panel: see payment requests, pay on the hosted checkout page in a
   new window (the call goes on), and see the confirmation live. */
(function () {
  "use strict";
  var C = window.ConsultPay;
  var t = C.t, $ = C.$, el = C.el;
  var config = C.config;
  var consult = config.consult || {};

  var list = $("[data-role=request-list]");
  var section = $("[data-role=requests-section]");
  var nothing = $("[data-role=nothing-pending]");
  var payError = $("[data-role=pay-error]");
  var confirmation = $("[data-role=confirmation]");
  var confirmationList = $("[data-role=confirmation-list]");
  var endedNotice = $("[data-role=ended]");

  var requests = new Map();
  var ended = false;
  var socket = null;
  var busy = {}; // request id → true while the checkout ack is awaited
  var fallbackLinks = {}; // request id → checkout url when the new window was blocked

  var PAYABLE = { requested: true, checkout_open: true };
  var PAID = { paid: true, refunded: true, partially_refunded: true };

  function amountOf(r) {
    return C.money(r.amount, r.currency || consult.currency || "NOK");
  }

  function title(r) {
    return t("Payment requested: {amount} — {description}", {
      amount: amountOf(r),
      description: r.description || ""
    });
  }

  /* ---------- Request cards ---------- */

  function buildItem(id) {
    var li = el("li", { "data-request-id": id });
    li.appendChild(el("p", { className: "request__title", "data-role": "title" }));
    var meta = el("div", { className: "request__meta" });
    meta.appendChild(el("span", { className: "status", "data-role": "status" }));
    meta.appendChild(el("span", { "data-role": "time" }));
    li.appendChild(meta);
    li.appendChild(el("p", { className: "request__note", "data-role": "note", hidden: true }));
    var actions = el("div", { className: "request__actions" });
    var pay = el("button", {
      type: "button",
      className: "button button--primary",
      "data-role": "pay",
      text: t("Pay now")
    });
    pay.addEventListener("click", function () { startCheckout(id, pay); });
    actions.appendChild(pay);
    var link = el("a", {
      className: "button button--secondary",
      "data-role": "checkout-link",
      target: "_blank",
      rel: "noopener",
      hidden: true,
      text: t("Open the payment page")
    });
    actions.appendChild(link);
    li.appendChild(actions);
    return li;
  }

  function fillItem(li, r) {
    li.setAttribute("data-status", r.status);
    li.querySelector("[data-role=title]").textContent = PAYABLE[r.status]
      ? title(r)
      : t("{amount} — {description}", { amount: amountOf(r), description: r.description || "" });
    var status = li.querySelector("[data-role=status]");
    status.textContent = C.statusLabel(r.status);
    status.className = "status status--" + r.status;
    var when = r.paid_at || r.created_at;
    li.querySelector("[data-role=time]").textContent = when ? C.formatDateTime(when) : "";

    var payable = !!PAYABLE[r.status] && !ended;
    var pay = li.querySelector("[data-role=pay]");
    pay.hidden = !payable;
    pay.disabled = !payable || !!busy[r.id];
    pay.setAttribute("aria-label", t("Pay now: {amount} — {description}", {
      amount: amountOf(r), description: r.description || ""
    }));
    if (busy[r.id]) pay.setAttribute("aria-busy", "true"); else pay.removeAttribute("aria-busy");

    var link = li.querySelector("[data-role=checkout-link]");
    if (payable && fallbackLinks[r.id]) {
      link.href = fallbackLinks[r.id];
      link.hidden = false;
    } else {
      link.removeAttribute("href");
      link.hidden = true;
    }

    var note = li.querySelector("[data-role=note]");
    var noteText = "";
    if (payable && fallbackLinks[r.id]) {
      noteText = t("Your browser blocked the new window. Use the link to open the payment page.");
    } else if (r.status === "checkout_open" && !ended) {
      noteText = t("The payment page is open in another window. Finish paying there; this panel updates by itself.");
    } else if (r.status === "failed") {
      noteText = t("The payment did not go through. No money was taken.");
    }
    note.textContent = noteText;
    note.hidden = !noteText;
  }

  function renderConfirmation(sorted) {
    var paid = sorted.filter(function (r) { return PAID[r.status]; });
    confirmation.hidden = paid.length === 0;
    var existing = {};
    Array.prototype.forEach.call(confirmationList.children, function (node) {
      existing[node.getAttribute("data-paid-request-id")] = node;
    });
    paid.forEach(function (r, index) {
      var node = existing[r.id];
      delete existing[r.id];
      var rows = [
        [t("Amount"), amountOf(r)],
        [t("Description"), r.description || ""],
        [t("Paid at"), C.formatDateTime(r.paid_at)],
        [t("Reference"), r.id]
      ];
      if (r.refunded_amount) {
        rows.push([t("Refunded"), C.money(r.refunded_amount, r.currency || consult.currency)]);
      }
      var dl = el("dl", { className: "details" }, rows.map(function (row, i) {
        return el("div", null, [
          el("dt", { text: row[0] }),
          el("dd", { text: row[1], className: i === 3 ? "mono" : null })
        ]);
      }));
      if (!node) {
        node = el("div", { className: "confirmation__item", "data-paid-request-id": r.id });
      }
      node.replaceChildren(dl);
      if (confirmationList.children[index] !== node) {
        confirmationList.insertBefore(node, confirmationList.children[index] || null);
      }
    });
    Object.keys(existing).forEach(function (id) { existing[id].remove(); });
  }

  function render() {
    // What can still be paid comes first; then the rest, newest first.
    var sorted = C.sortRequests(Array.from(requests.values())).sort(function (a, b) {
      return (PAYABLE[b.status] ? 1 : 0) - (PAYABLE[a.status] ? 1 : 0);
    });
    var existing = {};
    Array.prototype.forEach.call(list.children, function (li) {
      existing[li.getAttribute("data-request-id")] = li;
    });
    sorted.forEach(function (r, index) {
      var li = existing[r.id] || buildItem(r.id);
      delete existing[r.id];
      fillItem(li, r);
      if (list.children[index] !== li) list.insertBefore(li, list.children[index] || null);
    });
    Object.keys(existing).forEach(function (id) { existing[id].remove(); });

    section.hidden = sorted.length === 0;
    nothing.hidden = sorted.some(function (r) { return PAYABLE[r.status]; });
    renderConfirmation(sorted);
  }

  function upsert(r, announceChange) {
    if (!r || !r.id) return;
    var before = requests.get(r.id);
    requests.set(r.id, r);
    if (!PAYABLE[r.status]) delete fallbackLinks[r.id];
    render();
    if (!announceChange) return;
    if (!before && PAYABLE[r.status]) {
      C.announce(title(r));
    } else if (before && before.status !== r.status) {
      if (PAID[r.status] && !PAID[before.status]) {
        C.announce(t("Thank you! Your payment has been received.") + " " + t("{amount} for “{description}”. Reference: {reference}.", {
          amount: amountOf(r), description: r.description || "", reference: r.id
        }));
      } else {
        C.announce(t("{description}: {status}", {
          description: r.description || "", status: C.statusLabel(r.status)
        }));
      }
    }
  }

  /* ---------- Checkout ---------- */

  function openBlankWindow() {
    // Opened synchronously inside the click so popup blockers allow it; the
    // checkout URL is filled in when the server answers.
    var win = null;
    try {
      win = window.open("", "_blank");
    } catch (e) {
      win = null;
    }
    if (win) {
      try {
        win.opener = null; // the checkout page must not reach back into the call
        win.document.title = t("Opening the payment page…");
        win.document.body.textContent = t("Opening the payment page…");
      } catch (e) { /* cross-origin or locked down: fine */ }
    }
    return win;
  }

  function startCheckout(id, button) {
    if (!socket || ended || busy[id]) return;
    var r = requests.get(id);
    if (!r || !PAYABLE[r.status]) return;
    C.showNotice(payError, "");
    var win = openBlankWindow();
    busy[id] = true;
    render();
    C.announce(t("Opening the payment page…"));

    C.request(socket, "payment:checkout", { request_id: id }, function (error, ack) {
      delete busy[id];
      if (error || !ack.url) {
        if (win && !win.closed) win.close();
        render();
        C.showNotice(payError, error || t("Payment could not be started. Please try again."));
        button.focus();
        return;
      }
      var opened = false;
      if (win && !win.closed) {
        try {
          win.location.href = ack.url;
          opened = true;
        } catch (e) {
          opened = false;
        }
      }
      if (!opened) {
        var again = null;
        try {
          again = window.open(ack.url, "_blank", "noopener");
        } catch (e) {
          again = null;
        }
        // With "noopener" the return value is null even when it worked, so
        // always offer the link as well.
        fallbackLinks[id] = ack.url;
        if (again) opened = true;
      }
      render();
      if (opened) {
        C.announce(t("The payment page opened in a new window."));
      } else {
        var link = list.querySelector('[data-request-id="' + CSS.escape(id) + '"] [data-role=checkout-link]');
        C.announce(t("Your browser blocked the new window. Use the link to open the payment page."));
        if (link) link.focus();
      }
    });
  }

  /* ---------- Consult lifecycle ---------- */

  function endConsult() {
    if (ended) return;
    ended = true;
    endedNotice.hidden = false;
    render();
    C.announce(t("The consultation has ended."));
  }

  render();
  socket = C.connect({
    onState: function (data) {
      if (data.consult) consult = Object.assign({}, consult, data.consult);
      requests = new Map();
      (data.requests || []).forEach(function (r) { if (r && r.id) requests.set(r.id, r); });
      render();
    },
    onRequested: function (r) { upsert(r, true); },
    onUpdated: function (r) { upsert(r, true); },
    onReceived: function (r) { upsert(r, true); },
    onEnded: function (c) {
      if (c) consult = Object.assign({}, consult, c);
      endConsult();
    }
  });
})();
