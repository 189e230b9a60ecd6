/* The clinician's list of payment requests, the running total, and Cancel. */
import { isEndedUnpaid, isOpen, isPaid, problemText, requestLabel, statuses, t } from "../panel/config.js";
import { askToConfirm } from "../panel/confirm.js";
import { $, announce, el, showNotice } from "../panel/dom.js";
import { formatDateTime, money } from "../panel/format.js";
import { reconcile, sortRequests } from "../panel/requests.js";
import { request } from "../panel/socket.js";
import { currencyOf, patientName, remaining, state } from "./state.js";

const list = $("[data-role=request-list]");
const empty = $("[data-role=empty]");
const totalPaid = $("[data-role=total-paid]");
const totalGross = $("[data-role=total-gross]");
const totalRefunded = $("[data-role=total-refunded]");
const totalNet = $("[data-role=total-net]");
const formError = $("[data-role=form-error]");
const amountInput = $("#amount");

export { list };

function button(role, className, text, extra) {
  return el("button", Object.assign({ type: "button", className: className, "data-role": role, text: text }, extra));
}

function buildItem(id) {
  const meta = el("div", { className: "request__meta" }, [
    el("span", { className: "status", "data-role": "status" }),
    el("span", { "data-role": "patient" }),
    el("span", { "data-role": "time" }),
    el("span", { "data-role": "refund" }),
    el("a", { "data-role": "receipt", target: "_blank", rel: "noopener", hidden: true })
  ]);
  // Why it is not paid (yet), in words: a decline, the page left or timed out.
  const problem = el("p", { className: "request__note", "data-role": "problem", hidden: true });
  // Their clicks reach one listener on the list (clinician.js).
  const actions = el("div", { className: "request__actions" }, [
    button("cancel", "button button--danger button--small", t("Cancel")),
    button("refund-open", "button button--small", t("Refund…"), { "aria-haspopup": "dialog" }),
    button("capture-open", "button button--primary button--small", t("Capture…"), { "aria-haspopup": "dialog" }),
    button("release", "button button--small", t("Release hold")),
    button("send-medipay-item", "button button--small", t("Send as SMS/invoice"))
  ]);
  return el("li", { "data-request-id": id }, [
    el("span", { className: "request__desc", "data-role": "description" }),
    el("span", { className: "request__amount", "data-role": "amount" }),
    meta,
    problem,
    actions
  ]);
}

function fillItem(li, r) {
  const ended = state.ended;
  const description = r.description || "";
  li.setAttribute("data-status", r.status);
  if (r.onward) li.setAttribute("data-onward", r.onward); else li.removeAttribute("data-onward");
  li.querySelector("[data-role=description]").textContent = description;
  li.querySelector("[data-role=amount]").textContent = money(r.amount, currencyOf(r));
  const status = li.querySelector("[data-role=status]");
  status.textContent = requestLabel(r);
  status.className = "status status--" + r.status;
  const problem = li.querySelector("[data-role=problem]");
  problem.textContent = isPaid(r.status) ? "" : problemText(r);
  problem.hidden = !problem.textContent;
  li.querySelector("[data-role=patient]").textContent = patientName(r.patient_id);
  const when = r.paid_at || r.created_at;
  li.querySelector("[data-role=time]").textContent = when ? formatDateTime(when) : "";
  li.querySelector("[data-role=refund]").textContent = r.refunded_amount
    ? t("Refunded: {amount}", { amount: money(r.refunded_amount, currencyOf(r)) })
    : "";

  const receiptLink = li.querySelector("[data-role=receipt]");
  if (r.receipt) {
    receiptLink.href = r.receipt.url;
    receiptLink.textContent = t("Receipt {number}", { number: r.receipt.number });
    receiptLink.hidden = false;
  } else {
    receiptLink.removeAttribute("href");
    receiptLink.hidden = true;
  }

  const cancel = li.querySelector("[data-role=cancel]");
  cancel.hidden = !isOpen(r.status);
  cancel.disabled = !isOpen(r.status) || ended;
  cancel.setAttribute("aria-label", t("Cancel request: {description}", { description: description }));

  const refund = li.querySelector("[data-role=refund-open]");
  const refundable = isPaid(r.status) && remaining(r) > 0;
  refund.hidden = !refundable;
  refund.disabled = !refundable || ended || (state.refunding.busy && state.refunding.id === r.id);
  refund.setAttribute("aria-label", t("Refund: {description}", { description: description }));

  // A card hold the patient authorised: capture up to it, or release it (the socket works while the call runs).
  const held = (statuses.held || []).includes(r.status);
  // A saved card on file: charged with the same dialog, off-session, unless the bank declined it already.
  const chargeable = (statuses.saved || []).includes(r.status) && !r.problem;
  const capture = li.querySelector("[data-role=capture-open]");
  capture.hidden = !held && !chargeable;
  capture.disabled = (!held && !chargeable) || ended;
  capture.textContent = chargeable ? t("Charge…") : t("Capture…");
  capture.setAttribute("aria-label", chargeable ? t("Charge the saved card: {description}", { description: description })
    : t("Capture: {description}", { description: description }));
  const release = li.querySelector("[data-role=release]");
  release.hidden = !held;
  release.disabled = !held || ended;
  release.setAttribute("aria-label", t("Release hold: {description}", { description: description }));

  const onward = li.querySelector("[data-role=send-medipay-item]");
  // Already on its way to MediPay: nothing more to send.
  const gone = r.onward === statuses.onward.MEDIPAY_SMS || r.onward === statuses.onward.MEDIPAY_QUEUE;
  onward.hidden = !isEndedUnpaid(r.status) || gone || ended;
  onward.setAttribute("aria-label", t("Send as SMS/invoice: {description}", { description: description }));
}

/** A group consult: more than one patient, so the list is grouped by patient. */
function isGroup() {
  return (state.consult.patients || []).length > 1;
}

function buildGroup(patientId) {
  return el("li", { className: "patient-group", "data-patient-group": patientId }, [
    el("h3", { className: "patient-group__head" }, [
      el("span", { className: "patient-group__name", "data-role": "patient-name" }),
      el("span", { className: "status", "data-role": "patient-state" })
    ]),
    el("ul", { className: "request-list", "data-role": "patient-requests" })
  ]);
}

function sum(requests) {
  return requests.reduce((total, r) => total + Number(r.amount || 0), 0);
}

/** One patient's state, live: "waiting" while anything is open, else "settled" (paid), else "nothing". */
function patientState(requests) {
  const open = requests.filter((r) => isOpen(r.status));
  if (open.length) {
    return { key: "waiting", className: "status--requested",
      text: t("Waiting for payment: {amount}", { amount: money(sum(open), state.currency) }) };
  }
  const paid = requests.filter((r) => isPaid(r.status));
  if (paid.length) {
    return { key: "settled", className: "status--paid",
      text: t("Paid: {amount}", { amount: money(sum(paid), state.currency) }) };
  }
  return { key: "nothing", className: "", text: t("Nothing to pay") };
}

function fillGroup(li, group) {
  const name = patientName(group.id) || group.id;
  li.querySelector("[data-role=patient-name]").textContent = name;
  const now = patientState(group.requests);
  li.setAttribute("data-state", now.key);
  const pill = li.querySelector("[data-role=patient-state]");
  pill.textContent = now.text;
  pill.className = "status " + now.className;
  const inner = li.querySelector("[data-role=patient-requests]");
  inner.setAttribute("aria-label", t("Payment requests: {patient}", { patient: name }));
  reconcile(inner, group.requests, "data-request-id", buildItem, fillItem);
}

/** The consult's patients in its order (and any other a request names), each with their requests. */
function byPatient(sorted) {
  const ids = (state.consult.patients || []).map((p) => p.id);
  sorted.forEach((r) => { if (!ids.includes(r.patient_id)) ids.push(r.patient_id); });
  return ids.map((id) => ({ id: id, requests: sorted.filter((r) => r.patient_id === id) }));
}

/** Draw the list and the running total of the consult: paid, refunded, what stays. */
export function render() {
  const sorted = sortRequests(Array.from(state.requests.values()));
  if (isGroup()) {
    // Grouped by patient, each with their name and state, once anything has been requested.
    reconcile(list, sorted.length ? byPatient(sorted) : [], "data-patient-group", buildGroup, fillGroup);
  } else {
    reconcile(list, sorted, "data-request-id", buildItem, fillItem);
  }
  empty.hidden = sorted.length > 0;

  let gross = 0, refunded = 0;
  sorted.filter((r) => isPaid(r.status)).forEach((r) => {
    gross += Number(r.amount || 0);
    refunded += Number(r.refunded_amount || 0);
  });
  // "Total paid" is what was paid (gross), as "Paid" below; refunds and the net are their own lines.
  totalPaid.textContent = money(gross, state.currency);
  if (totalGross) totalGross.textContent = money(gross, state.currency);
  if (totalRefunded) totalRefunded.textContent = money(refunded, state.currency);
  if (totalNet) totalNet.textContent = money(gross - refunded, state.currency);
}

/** Take the server's view of one request and draw it. */
export function upsert(r) {
  if (!r || !r.id) return;
  const before = state.requests.get(r.id);
  state.requests.set(r.id, r);
  render();
  // A decline or a page left reaches the clinician at once, in words.
  const problem = isPaid(r.status) ? "" : problemText(r);
  if (before && problem && problem !== problemText(before)) {
    announce(t("{description}: {status}", { description: r.description || "", status: problem }));
  }
}


export async function cancelRequest(id, cancelButton) {
  if (!state.socket || state.ended) return;
  const r0 = state.requests.get(id);
  if (r0) {
    // The patient can no longer pay it, and a cancelled request cannot be reopened: ask first.
    const yes = await askToConfirm({
      title: t("Cancel this payment request?"),
      intro: t("The patient can no longer pay it. This cannot be undone."),
      lines: [[t("Amount"), money(r0.amount, currencyOf(r0))], [t("Description"), r0.description || ""]],
      confirmLabel: t("Cancel the request"),
      danger: true
    });
    if (!yes || state.ended || !isOpen((state.requests.get(id) || r0).status)) return;
  }
  cancelButton.disabled = true;
  cancelButton.setAttribute("aria-busy", "true");
  showNotice(formError, "");
  request(state.socket, "payment:cancel", { request_id: id }, (error, ack) => {
    cancelButton.removeAttribute("aria-busy");
    if (error) {
      cancelButton.disabled = false;
      showNotice(formError, error);
      return;
    }
    if (ack.request) upsert(ack.request);
    const r = state.requests.get(id);
    announce(t("Request cancelled: {description}", { description: (r && r.description) || "" }));
    // The button is gone now; keep focus somewhere sensible.
    if (document.activeElement === document.body || cancelButton.hidden) {
      (amountInput.disabled ? list : amountInput).focus();
    }
  });
}
