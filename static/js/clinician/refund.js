/* The refund dialog: how much goes back, confirmed once, retried with the same key. */
import { t } from "../panel/config.js";
import { hideDialog, returnFocus, showDialog } from "../panel/dialogs.js";
import { $, announce, clearErrorOnChange, setFieldError, showNotice } from "../panel/dom.js";
import { amountForInput, money, parseAmount } from "../panel/format.js";
import { newKey } from "../panel/requests.js";
import { request } from "../panel/socket.js";
import { list, render, upsert } from "./list.js";
import { currencyOf, patientName, remaining, state } from "./state.js";

const dialog = $("[data-role=refund-dialog]");
const form = $("[data-role=refund-form]");
const summary = $("[data-role=refund-summary]");
const amountInput = $("#refund-amount");
const hint = $("[data-role=refund-hint]");
const amountError = $("[data-role=refund-amount-error]");
const error = $("[data-role=refund-error]");
const confirm = $("[data-role=refund-confirm]");
const back = $("[data-role=refund-back]");

const NOTHING = { id: null, key: null, busy: false, opener: null };

function setRefundBusy(busy) {
  state.refunding.busy = busy;
  confirm.disabled = busy;
  amountInput.disabled = busy;
  if (busy) confirm.setAttribute("aria-busy", "true");
  else confirm.removeAttribute("aria-busy");
  render();
}

export function openRefund(id, opener) {
  const r = state.requests.get(id);
  if (!r || !state.socket || state.ended || state.refunding.busy) return;
  const left = remaining(r);
  state.refunding = { id: id, key: newKey(), busy: false, opener: opener };
  summary.textContent = t("“{description}” for {patient}: paid {paid}, refunded {refunded}.", {
    description: r.description || "",
    patient: patientName(r.patient_id),
    paid: money(r.amount, currencyOf(r)),
    refunded: money(r.refunded_amount || 0, currencyOf(r))
  });
  hint.textContent = t("At most {amount}. Change it for a partial refund.", { amount: money(left, currencyOf(r)) });
  amountInput.value = amountForInput(left, state.currency);
  setFieldError(amountInput, amountError, null);
  showNotice(error, "");
  confirm.disabled = false;
  amountInput.disabled = false;
  showDialog(dialog);
  amountInput.focus();
  amountInput.select();
}

function submitRefund(event) {
  event.preventDefault();
  const refunding = state.refunding;
  if (refunding.busy || !refunding.id || !state.socket) return;
  const r = state.requests.get(refunding.id);
  if (!r) return;
  const parsed = parseAmount(amountInput.value, state.currency);
  let message = parsed.ok ? null : parsed.error;
  if (!message && parsed.value > remaining(r)) {
    message = t("At most {amount} can be refunded.", { amount: money(remaining(r), state.currency) });
  }
  setFieldError(amountInput, amountError, message);
  if (message) {
    amountInput.focus();
    return;
  }
  const payload = { request_id: refunding.id, amount: parsed.value, idempotency_key: refunding.key };
  showNotice(error, "");
  setRefundBusy(true);
  request(state.socket, "payment:refund", payload, (err, ack) => {
    setRefundBusy(false);
    if (err) {
      // Same key on a retry: the server refunds at most once.
      showNotice(error, err);
      confirm.focus();
      return;
    }
    if (ack.request) upsert(ack.request);
    state.refunding.key = null;
    hideDialog(dialog);
    announce(t("Refunded {amount} — {description}", {
      amount: money(payload.amount, state.currency),
      description: (r && r.description) || ""
    }));
  });
}

/** The consult ended: close the dialog unless a refund is on its way. */
export function closeRefundUnlessBusy() {
  if (dialog.open && !state.refunding.busy) hideDialog(dialog);
}

export function initRefund() {
  form.addEventListener("submit", submitRefund);
  back.addEventListener("click", () => {
    if (!state.refunding.busy) hideDialog(dialog);
  });
  dialog.addEventListener("cancel", (event) => {
    // Escape closes, except while the refund is on its way.
    if (state.refunding.busy) event.preventDefault();
  });
  dialog.addEventListener("close", () => {
    const opener = state.refunding.opener;
    state.refunding = Object.assign({}, NOTHING);
    render();
    returnFocus(opener, list, true);
  });
  clearErrorOnChange(amountInput, amountError);
}
