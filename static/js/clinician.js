/* Clinician panel: request payments, watch them live, cancel open ones, refund paid ones. */
(function () {
  "use strict";
  var C = window.ConsultPay;
  var t = C.t, $ = C.$, el = C.el;
  var config = C.config;
  var consult = config.consult || {};
  var currency = consult.currency || "NOK";

  var form = $("[data-role=request-form]");
  var fieldset = $("[data-role=request-fieldset]");
  var amountInput = $("#amount");
  var descriptionInput = $("#description");
  var patientSelect = $("#patient");
  var submitButton = $("[data-role=submit]");
  var formError = $("[data-role=form-error]");
  var list = $("[data-role=request-list]");
  var empty = $("[data-role=empty]");
  var totalPaid = $("[data-role=total-paid]");
  var endedNotice = $("[data-role=ended]");
  var dialog = $("[data-role=received-dialog]");
  var dialogList = $("[data-role=received-list]");
  var dialogOk = $("[data-role=received-ok]");
  var totalGross = $("[data-role=total-gross]");
  var totalRefunded = $("[data-role=total-refunded]");
  var totalNet = $("[data-role=total-net]");
  var refundDialog = $("[data-role=refund-dialog]");
  var refundForm = $("[data-role=refund-form]");
  var refundSummary = $("[data-role=refund-summary]");
  var refundAmount = $("#refund-amount");
  var refundHint = $("[data-role=refund-hint]");
  var refundAmountError = $("[data-role=refund-amount-error]");
  var refundError = $("[data-role=refund-error]");
  var refundConfirm = $("[data-role=refund-confirm]");
  var refundBack = $("[data-role=refund-back]");

  var sendMediPay = $("[data-role=send-medipay]");
  var mediPayError = $("[data-role=medipay-error]");
  var cardList = $("[data-role=card-list]");
  var cards = new Map();

  var requests = new Map();
  var canRequest = config.can_request !== false;
  var ended = false;
  var inFlight = false;
  var socket = null;
  // The key is kept while the same payload is retried, so a retry after a
  // timeout is deduplicated by the server instead of charging twice.
  var pending = { key: null, signature: null };
  // The refund being confirmed: its request, and one key per confirm so a
  // retried click refunds once.
  var refunding = { id: null, key: null, busy: false, opener: null };

  var CANCELLABLE = { requested: true, checkout_open: true };
  var PAID = { paid: true, refunded: true, partially_refunded: true };
  var ENDED_UNPAID = { cancelled: true, expired: true, failed: true };

  function patientName(id) {
    var patients = consult.patients || [];
    for (var i = 0; i < patients.length; i++) {
      if (patients[i].id === id) return patients[i].name;
    }
    return "";
  }

  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // Older browsers / non-secure contexts: random enough for deduplication.
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  /* ---------- Field errors ---------- */

  function setFieldError(input, errorNode, message) {
    if (!input || !errorNode) return;
    var described = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    described = described.filter(function (id) { return id !== errorNode.id; });
    if (message) {
      errorNode.textContent = message;
      errorNode.hidden = false;
      input.setAttribute("aria-invalid", "true");
      described.push(errorNode.id);
    } else {
      errorNode.textContent = "";
      errorNode.hidden = true;
      input.removeAttribute("aria-invalid");
    }
    if (described.length) input.setAttribute("aria-describedby", described.join(" "));
    else input.removeAttribute("aria-describedby");
  }

  function validate() {
    var firstInvalid = null;
    var amount = C.parseAmount(amountInput.value, currency);
    setFieldError(amountInput, $("[data-role=amount-error]"), amount.ok ? null : amount.error);
    if (!amount.ok) firstInvalid = firstInvalid || amountInput;

    var description = descriptionInput.value.trim();
    var descError = null;
    if (!description) descError = t("Description is required.");
    else if (description.length > 200) descError = t("The description can be at most 200 characters.");
    setFieldError(descriptionInput, $("[data-role=description-error]"), descError);
    if (descError) firstInvalid = firstInvalid || descriptionInput;

    var patientId = null;
    if (patientSelect) {
      patientId = patientSelect.value || null;
      var patientError = patientId ? null : t("Choose a patient.");
      setFieldError(patientSelect, $("[data-role=patient-error]"), patientError);
      if (patientError) firstInvalid = firstInvalid || patientSelect;
    } else {
      var hidden = form.querySelector("input[name=patient_id]");
      patientId = hidden ? hidden.value : null;
    }

    if (firstInvalid) {
      firstInvalid.focus();
      return null;
    }
    return {
      amount: amount.value,
      currency: currency,
      description: description,
      patient_id: patientId
    };
  }

  function setBusy(busy) {
    inFlight = busy;
    submitButton.disabled = busy || !canRequest || ended;
    if (busy) submitButton.setAttribute("aria-busy", "true");
    else submitButton.removeAttribute("aria-busy");
  }

  function onSubmit(event) {
    event.preventDefault();
    if (inFlight || !canRequest || ended || !socket) return;
    C.showNotice(formError, "");
    var payload = validate();
    if (!payload) return;

    var signature = JSON.stringify(payload);
    if (pending.signature !== signature || !pending.key) {
      pending = { key: newKey(), signature: signature };
    }
    payload.idempotency_key = pending.key;

    setBusy(true);
    C.request(socket, "payment:request", payload, function (error, ack) {
      setBusy(false);
      if (error) {
        C.showNotice(formError, error);
        return;
      }
      pending = { key: null, signature: null };
      if (ack.request) upsert(ack.request);
      amountInput.value = "";
      C.announce(t("Payment request sent: {amount} — {description}", {
        amount: C.money(payload.amount, payload.currency),
        description: payload.description
      }));
      amountInput.focus();
    });
  }

  /* ---------- Request list ---------- */

  function buildItem(id) {
    var li = el("li", { "data-request-id": id });
    li.appendChild(el("span", { className: "request__desc", "data-role": "description" }));
    li.appendChild(el("span", { className: "request__amount", "data-role": "amount" }));
    var meta = el("div", { className: "request__meta" });
    meta.appendChild(el("span", { className: "status", "data-role": "status" }));
    meta.appendChild(el("span", { "data-role": "patient" }));
    meta.appendChild(el("span", { "data-role": "time" }));
    meta.appendChild(el("span", { "data-role": "refund" }));
    li.appendChild(meta);
    var actions = el("div", { className: "request__actions" });
    var cancel = el("button", {
      type: "button",
      className: "button button--danger button--small",
      "data-role": "cancel",
      text: t("Cancel")
    });
    cancel.addEventListener("click", function () { cancelRequest(id, cancel); });
    actions.appendChild(cancel);
    var refund = el("button", {
      type: "button",
      className: "button button--small",
      "data-role": "refund-open",
      "aria-haspopup": "dialog",
      text: t("Refund…")
    });
    refund.addEventListener("click", function () { openRefund(id, refund); });
    actions.appendChild(refund);
    var onward = el("button", {
      type: "button",
      className: "button button--small",
      "data-role": "send-medipay-item",
      text: t("Send as SMS/invoice")
    });
    onward.addEventListener("click", function () { sendToMediPay({ request_id: id }, onward); });
    actions.appendChild(onward);
    li.appendChild(actions);
    return li;
  }

  function fillItem(li, r) {
    li.setAttribute("data-status", r.status);
    li.querySelector("[data-role=description]").textContent = r.description || "";
    li.querySelector("[data-role=amount]").textContent = C.money(r.amount, r.currency || currency);
    var status = li.querySelector("[data-role=status]");
    status.textContent = C.statusLabel(r.status);
    status.className = "status status--" + r.status;
    var name = patientName(r.patient_id);
    li.querySelector("[data-role=patient]").textContent = name;
    var when = r.paid_at || r.created_at;
    li.querySelector("[data-role=time]").textContent = when ? C.formatDateTime(when) : "";
    li.querySelector("[data-role=refund]").textContent = r.refunded_amount
      ? t("Refunded: {amount}", { amount: C.money(r.refunded_amount, r.currency || currency) })
      : "";
    var cancel = li.querySelector("[data-role=cancel]");
    var cancellable = !!CANCELLABLE[r.status] && !ended;
    cancel.hidden = !CANCELLABLE[r.status];
    cancel.disabled = !cancellable;
    cancel.setAttribute("aria-label", t("Cancel request: {description}", { description: r.description || "" }));
    var refund = li.querySelector("[data-role=refund-open]");
    var refundable = !!PAID[r.status] && remaining(r) > 0;
    refund.hidden = !refundable;
    refund.disabled = !refundable || ended || (refunding.busy && refunding.id === r.id);
    refund.setAttribute("aria-label", t("Refund: {description}", { description: r.description || "" }));
    var onward = li.querySelector("[data-role=send-medipay-item]");
    onward.hidden = !ENDED_UNPAID[r.status] || ended;
    onward.setAttribute("aria-label", t("Send as SMS/invoice: {description}", { description: r.description || "" }));
  }

  function remaining(r) {
    return Number(r.amount || 0) - Number(r.refunded_amount || 0);
  }

  function render() {
    var sorted = C.sortRequests(Array.from(requests.values()));
    var existing = {};
    Array.prototype.forEach.call(list.children, function (li) {
      existing[li.getAttribute("data-request-id")] = li;
    });
    sorted.forEach(function (r, index) {
      var li = existing[r.id] || buildItem(r.id);
      delete existing[r.id];
      fillItem(li, r);
      // Move only when out of place, so a focused Cancel button keeps focus.
      if (list.children[index] !== li) list.insertBefore(li, list.children[index] || null);
    });
    Object.keys(existing).forEach(function (id) { existing[id].remove(); });
    empty.hidden = sorted.length > 0;

    // The running total of the consult: what was paid, what went back, what stays.
    var gross = 0, refunded = 0;
    sorted.forEach(function (r) {
      if (!PAID[r.status]) return;
      gross += Number(r.amount || 0);
      refunded += Number(r.refunded_amount || 0);
    });
    totalPaid.textContent = C.money(gross - refunded, currency);
    if (totalGross) totalGross.textContent = C.money(gross, currency);
    if (totalRefunded) totalRefunded.textContent = C.money(refunded, currency);
    if (totalNet) totalNet.textContent = C.money(gross - refunded, currency);
  }

  function upsert(r) {
    if (!r || !r.id) return;
    var before = requests.get(r.id);
    requests.set(r.id, r);
    render();
    return before;
  }

  function cancelRequest(id, button) {
    if (!socket || ended) return;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    C.showNotice(formError, "");
    C.request(socket, "payment:cancel", { request_id: id }, function (error, ack) {
      button.removeAttribute("aria-busy");
      if (error) {
        button.disabled = false;
        C.showNotice(formError, error);
        return;
      }
      if (ack.request) upsert(ack.request);
      var r = requests.get(id);
      C.announce(t("Request cancelled: {description}", { description: (r && r.description) || "" }));
      // The button is gone now; keep focus somewhere sensible.
      if (document.activeElement === document.body || button.hidden) {
        (amountInput.disabled ? list : amountInput).focus();
      }
    });
  }

  /* ---------- Refunds ---------- */

  /** Minor units as the amount field shows them (no floats): 45000 → "450,00" in nb. */
  function amountForInput(minor) {
    var exp = C.exponent ? C.exponent(currency) : 2;
    var digits = String(Math.max(0, Math.floor(Number(minor) || 0)));
    if (exp === 0) return digits;
    while (digits.length <= exp) digits = "0" + digits;
    var decimal = (config.lang === "en") ? "." : ",";
    return digits.slice(0, -exp) + decimal + digits.slice(-exp);
  }

  function showDialog(node) {
    if (typeof node.showModal === "function") node.showModal();
    else node.setAttribute("open", "");
  }

  function hideDialog(node) {
    if (typeof node.close === "function" && node.open) node.close();
    else node.removeAttribute("open");
  }

  function setRefundBusy(busy) {
    refunding.busy = busy;
    refundConfirm.disabled = busy;
    refundAmount.disabled = busy;
    if (busy) refundConfirm.setAttribute("aria-busy", "true");
    else refundConfirm.removeAttribute("aria-busy");
    render();
  }

  function openRefund(id, opener) {
    var r = requests.get(id);
    if (!r || !socket || ended || refunding.busy) return;
    var left = remaining(r);
    refunding = { id: id, key: newKey(), busy: false, opener: opener };
    var name = patientName(r.patient_id);
    refundSummary.textContent = t("“{description}” for {patient}: paid {paid}, refunded {refunded}.", {
      description: r.description || "",
      patient: name,
      paid: C.money(r.amount, r.currency || currency),
      refunded: C.money(r.refunded_amount || 0, r.currency || currency)
    });
    refundHint.textContent = t("At most {amount}. Change it for a partial refund.", {
      amount: C.money(left, r.currency || currency)
    });
    refundAmount.value = amountForInput(left);
    setFieldError(refundAmount, refundAmountError, null);
    C.showNotice(refundError, "");
    refundConfirm.disabled = false;
    refundAmount.disabled = false;
    showDialog(refundDialog);
    refundAmount.focus();
    refundAmount.select();
  }

  function submitRefund(event) {
    event.preventDefault();
    if (refunding.busy || !refunding.id || !socket) return;
    var r = requests.get(refunding.id);
    if (!r) return;
    var parsed = C.parseAmount(refundAmount.value, currency);
    var error = parsed.ok ? null : parsed.error;
    if (!error && parsed.value > remaining(r)) {
      error = t("At most {amount} can be refunded.", { amount: C.money(remaining(r), currency) });
    }
    setFieldError(refundAmount, refundAmountError, error);
    if (error) {
      refundAmount.focus();
      return;
    }
    var id = refunding.id;
    var payload = { request_id: id, amount: parsed.value, idempotency_key: refunding.key };
    C.showNotice(refundError, "");
    setRefundBusy(true);
    C.request(socket, "payment:refund", payload, function (err, ack) {
      setRefundBusy(false);
      if (err) {
        // Same key on a retry: the server refunds at most once.
        C.showNotice(refundError, err);
        refundConfirm.focus();
        return;
      }
      if (ack.request) upsert(ack.request);
      refunding.key = null;
      hideDialog(refundDialog);
      C.announce(t("Refunded {amount} — {description}", {
        amount: C.money(payload.amount, currency),
        description: (r && r.description) || ""
      }));
    });
  }

  refundForm.addEventListener("submit", submitRefund);
  refundBack.addEventListener("click", function () {
    if (!refunding.busy) hideDialog(refundDialog);
  });
  refundDialog.addEventListener("cancel", function (event) {
    // Escape closes, except while the refund is on its way.
    if (refunding.busy) event.preventDefault();
  });
  refundDialog.addEventListener("close", function () {
    var opener = refunding.opener;
    refunding = { id: null, key: null, busy: false, opener: null };
    render();
    if (opener && document.contains(opener) && !opener.hidden && !opener.disabled) opener.focus();
    else list.focus();
  });
  refundAmount.addEventListener("input", function () {
    if (refundAmount.getAttribute("aria-invalid")) setFieldError(refundAmount, refundAmountError, null);
  });

  /* ---------- Payment received popup ---------- */

  var returnFocus = null;

  function openDialog(r) {
    var line = t("{amount} for “{description}”", {
      amount: C.money(r.amount, r.currency || currency),
      description: r.description || ""
    });
    var name = patientName(r.patient_id);
    dialogList.appendChild(el("li", { "data-request-id": r.id }, [
      el("strong", { text: line }),
      name ? el("br") : null,
      name ? el("span", { className: "muted", text: name }) : null
    ]));
    if (!dialog.open) {
      returnFocus = document.activeElement;
      if (typeof dialog.showModal === "function") dialog.showModal();
      else dialog.setAttribute("open", "");
    }
    dialogOk.focus();
  }

  function closeDialog() {
    if (typeof dialog.close === "function" && dialog.open) dialog.close();
    else dialog.removeAttribute("open");
  }

  dialog.addEventListener("close", function () {
    dialogList.textContent = "";
    var target = returnFocus;
    returnFocus = null;
    if (target && typeof target.focus === "function" && document.contains(target) && !target.disabled) {
      target.focus();
    } else {
      amountInput.focus();
    }
  });
  dialogOk.addEventListener("click", closeDialog);
  dialog.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !dialog.open) closeDialog(); // fallback without native dialog
  });

  /* ---------- Consult lifecycle ---------- */

  function endConsult() {
    if (ended) return;
    ended = true;
    endedNotice.hidden = false;
    fieldset.disabled = true;
    setBusy(false);
    if (refundDialog.open && !refunding.busy) hideDialog(refundDialog);
    render();
    C.announce(t("The consultation has ended."));
  }

  form.addEventListener("submit", onSubmit);
  amountInput.addEventListener("input", function () {
    if (amountInput.getAttribute("aria-invalid")) setFieldError(amountInput, $("[data-role=amount-error]"), null);
  });
  descriptionInput.addEventListener("input", function () {
    if (descriptionInput.getAttribute("aria-invalid")) setFieldError(descriptionInput, $("[data-role=description-error]"), null);
  });
  if (patientSelect) {
    patientSelect.addEventListener("change", function () {
      setFieldError(patientSelect, $("[data-role=patient-error]"), null);
    });
  }
  /* ---------- Not paid in the call: on to MediPay ---------- */

  function renderCards() {
    cardList.textContent = "";
    cards.forEach(function (card) {
      var li = el("li", { "data-card-id": card.id, "data-status": card.status });
      li.appendChild(el("span", { className: "request__desc", text: patientName(card.patient_id) }));
      li.appendChild(el("span", { className: "request__amount", text: C.money(card.patient_share, card.currency || currency) }));
      var meta = el("div", { className: "request__meta" });
      meta.appendChild(el("span", { className: "status", "data-role": "card-status", text: card.status_label }));
      var reason = card.medipay && card.medipay.message;
      if (reason && card.status === "manual_handling") meta.appendChild(el("span", { text: reason }));
      li.appendChild(meta);
      cardList.appendChild(li);
    });
  }

  function upsertCard(card) {
    if (!card || !card.id) return;
    var before = cards.get(card.id);
    cards.set(card.id, card);
    renderCards();
    if (before && before.status !== card.status) {
      C.announce(t("MediPay: {patient} — {status}", { patient: patientName(card.patient_id), status: card.status_label }));
    }
  }

  function sendToMediPay(payload, button) {
    if (!socket || button.disabled) return;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    C.showNotice(mediPayError, "");
    C.request(socket, "bill_card:send", payload, function (error, ack) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      if (error) {
        C.showNotice(mediPayError, error);
        return;
      }
      upsertCard(ack.card);
      C.announce(t("Sent to MediPay: {status}", { status: ack.card.status_label }));
    });
  }

  sendMediPay.addEventListener("click", function () {
    var payload = {};
    if (patientSelect && patientSelect.value) payload.patient_id = patientSelect.value;
    sendToMediPay(payload, sendMediPay);
  });

  setBusy(false);
  render();

  socket = C.connect({
    on: {
      "bill_card:updated": function (data) { upsertCard(data && data.card); },
      // Stripe refused a patient's checkout for good (the clinic's account, the request):
      // the server's translated words say what to do; "try again" outages never come here.
      "payment:problem": function (data) {
        // The notice is role=alert: showing it is announcing it.
        if (data && data.message) C.showNotice(formError, data.message);
      }
    },
    onState: function (data) {
      if (data.consult) {
        // Keep patient names and currency current, but not the page's own flags.
        consult = Object.assign({}, consult, data.consult);
      }
      requests = new Map();
      (data.requests || []).forEach(function (r) { if (r && r.id) requests.set(r.id, r); });
      render();
      cards = new Map();
      (data.cards || []).forEach(function (card) { if (card && card.id) cards.set(card.id, card); });
      renderCards();
    },
    onRequested: upsert,
    onUpdated: upsert,
    onReceived: function (r) {
      upsert(r);
      var alreadyOpen = dialog.open;
      openDialog(r);
      // Opening the alertdialog is announced by itself; later ones join its list quietly.
      if (alreadyOpen) C.announce(t("Payment received: {amount} — {description}", {
        amount: C.money(r.amount, r.currency || currency),
        description: r.description || ""
      }));
    },
    onEnded: function (c) {
      if (c) consult = Object.assign({}, consult, c);
      endConsult();
    }
  });
})();
