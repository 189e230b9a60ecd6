/* Clinician panel: request payments, watch them live, cancel open ones. */
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

  var requests = new Map();
  var canRequest = config.can_request !== false;
  var ended = false;
  var inFlight = false;
  var socket = null;
  // The key is kept while the same payload is retried, so a retry after a
  // timeout is deduplicated by the server instead of charging twice.
  var pending = { key: null, signature: null };

  var CANCELLABLE = { requested: true, checkout_open: true };
  var PAID = { paid: true, refunded: true, partially_refunded: true };

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

    var total = 0;
    sorted.forEach(function (r) {
      if (PAID[r.status]) total += Number(r.amount || 0) - Number(r.refunded_amount || 0);
    });
    totalPaid.textContent = C.money(total, currency);
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
  setBusy(false);
  render();

  socket = C.connect({
    onState: function (data) {
      if (data.consult) {
        // Keep patient names and currency current, but not the page's own flags.
        consult = Object.assign({}, consult, data.consult);
      }
      requests = new Map();
      (data.requests || []).forEach(function (r) { if (r && r.id) requests.set(r.id, r); });
      render();
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
