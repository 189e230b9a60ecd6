/* A card hold in the clinician's list: capture up to the hold (one key per confirm, so a retried
   click captures once), or release it without charging anything. A saved card on file is charged
   off-session from the same dialog, any amount (the server checks the clinic's maximum). */
import { statuses, t } from "../panel/config.js";
import { askToConfirm } from "../panel/confirm.js";
import { hideDialog, returnFocus, showDialog } from "../panel/dialogs.js";
import { $, announce, clearErrorOnChange, setFieldError, showNotice } from "../panel/dom.js";
import { amountForInput, money, parseAmount } from "../panel/format.js";
import { newKey } from "../panel/requests.js";
import { request } from "../panel/socket.js";
import { list, render, upsert } from "./list.js";
import { currencyOf, patientName, state } from "./state.js";

const dialog = $("[data-role=capture-dialog]");
const form = $("[data-role=capture-form]");
const summary = $("[data-role=capture-summary]");
const amountInput = $("#capture-amount");
const hint = $("[data-role=capture-hint]");
const amountError = $("[data-role=capture-amount-error]");
const error = $("[data-role=capture-error]");
const confirm = $("[data-role=capture-confirm]");
const back = $("[data-role=capture-back]");
const formError = $("[data-role=form-error]");
const title = $("#capture-title");
const holdTitle = title.textContent;

let capturing = { id: null, key: null, busy: false, opener: null, saved: false };

function isSaved(r) {
  return (statuses.saved || []).includes(r.status);
}

function setBusy(busy) {
  capturing.busy = busy;
  confirm.disabled = busy;
  amountInput.disabled = busy;
  if (busy) confirm.setAttribute("aria-busy", "true");
  else confirm.removeAttribute("aria-busy");
}

export function openCapture(id, opener) {
  const r = state.requests.get(id);
  if (!r || !state.socket || state.ended || capturing.busy) return;
  capturing = { id: id, key: newKey(), busy: false, opener: opener, saved: isSaved(r) };
  const what = {
    description: r.description || "",
    patient: patientName(r.patient_id),
    amount: money(r.hold_amount || r.amount, currencyOf(r))
  };
  title.textContent = capturing.saved ? t("Charge the saved card") : holdTitle;
  summary.textContent = capturing.saved
    ? t("“{description}” for {patient}: card saved; {amount} was expected.", what)
    : t("“{description}” for {patient}: card authorised up to {amount}.", what);
  hint.textContent = capturing.saved
    ? t("Charged now, with the patient away. A decline charges nothing and leaves the amount owed.")
    : t("At most {amount}. The rest of the hold is released.", what);
  amountInput.value = amountForInput(r.hold_amount || r.amount, state.currency);
  setFieldError(amountInput, amountError, null);
  showNotice(error, "");
  setBusy(false);
  showDialog(dialog);
  amountInput.focus();
  amountInput.select();
}

function submitCapture(event) {
  event.preventDefault();
  if (capturing.busy || !capturing.id || !state.socket) return;
  const r = state.requests.get(capturing.id);
  if (!r) return;
  const held = Number(r.hold_amount || r.amount || 0);
  const parsed = parseAmount(amountInput.value, state.currency);
  let message = parsed.ok ? null : parsed.error;
  if (!message && !capturing.saved && parsed.value > held) {
    message = t("At most {amount} can be captured.", { amount: money(held, state.currency) });
  }
  setFieldError(amountInput, amountError, message);
  if (message) {
    amountInput.focus();
    return;
  }
  const payload = { request_id: capturing.id, amount: parsed.value, idempotency_key: capturing.key };
  showNotice(error, "");
  setBusy(true);
  const saved = capturing.saved;
  request(state.socket, saved ? "payment:charge_saved" : "payment:capture", payload, (err, ack) => {
    setBusy(false);
    if (err) {
      showNotice(error, err);
      confirm.focus();
      return;
    }
    if (ack.request) upsert(ack.request);
    hideDialog(dialog);
    const done = {
      amount: money(payload.amount, state.currency),
      description: (ack.request && ack.request.description) || r.description || ""
    };
    announce(saved ? t("Charged {amount} — {description}", done) : t("Captured {amount} — {description}", done));
  });
}

export async function releaseHold(id, button) {
  const r = state.requests.get(id);
  if (!r || !state.socket || state.ended) return;
  const yes = await askToConfirm({
    title: t("Release this card hold?"),
    intro: t("Nothing is charged, and the hold can no longer be captured."),
    lines: [[t("Amount"), money(r.hold_amount || r.amount, currencyOf(r))], [t("Description"), r.description || ""]],
    confirmLabel: t("Release the hold"),
    danger: true
  });
  if (!yes || state.ended) return;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  showNotice(formError, "");
  request(state.socket, "payment:release", { request_id: id }, (err, ack) => {
    button.removeAttribute("aria-busy");
    if (err) {
      button.disabled = false;
      showNotice(formError, err);
      return;
    }
    if (ack.request) upsert(ack.request);
    announce(t("Hold released: {description}", { description: r.description || "" }));
    list.focus();
  });
}

/** The consult ended: close the dialog unless a capture is on its way. */
export function closeCaptureUnlessBusy() {
  if (dialog.open && !capturing.busy) hideDialog(dialog);
}

export function initCapture() {
  form.addEventListener("submit", submitCapture);
  back.addEventListener("click", () => {
    if (!capturing.busy) hideDialog(dialog);
  });
  dialog.addEventListener("cancel", (event) => {
    if (capturing.busy) event.preventDefault();
  });
  dialog.addEventListener("close", () => {
    const opener = capturing.opener;
    capturing = { id: null, key: null, busy: false, opener: null, saved: false };
    render();
    returnFocus(opener, list, true);
  });
  clearErrorOnChange(amountInput, amountError);
}
