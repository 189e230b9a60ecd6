/* The request form: check what was typed, send it once, say what happened. */
import { config, t } from "../panel/config.js";
import { askToConfirm } from "../panel/confirm.js";
import { $, announce, clearErrorOnChange, setFieldError, showNotice } from "../panel/dom.js";
import { money, parseAmount } from "../panel/format.js";
import { newKey } from "../panel/requests.js";
import { request } from "../panel/socket.js";
import { upsert } from "./list.js";
import { state } from "./state.js";

const form = $("[data-role=request-form]");
const fieldset = $("[data-role=request-fieldset]");
const amountInput = $("#amount");
const descriptionInput = $("#description");
const patientSelect = $("#patient");
const submitButton = $("[data-role=submit]");
const formError = $("[data-role=form-error]");
const amountError = $("[data-role=amount-error]");
const descriptionError = $("[data-role=description-error]");
const patientError = $("[data-role=patient-error]");
const previewAmount = $("[data-role=preview-amount]");
const previewDescription = $("[data-role=preview-description]");

// The clinic's guard rails (minor units): from the page, then from every consult:state.
const limits = Object.assign({ max_amount: null, confirm_above: null }, config.limits || {});

/** New limits from the server (on every connect): the admin may have changed them. */
export function setLimits(next) {
  if (next && typeof next === "object") Object.assign(limits, next);
}

export { amountInput, formError, patientSelect };

let inFlight = false;
// The key is kept while the same payload is retried, so a retry after a
// timeout is deduplicated by the server instead of charging twice.
let pending = { key: null, signature: null };

/** The payload to send, or null after marking the fields that are wrong. */
function validate() {
  let firstInvalid = null;
  const amount = parseAmount(amountInput.value, state.currency);
  if (amount.ok && limits.max_amount && amount.value > limits.max_amount) {
    amount.ok = false;
    amount.error = t("At most {amount} per payment request.", { amount: money(limits.max_amount, state.currency) });
  }
  setFieldError(amountInput, amountError, amount.ok ? null : amount.error);
  if (!amount.ok) firstInvalid = firstInvalid || amountInput;

  const description = descriptionInput.value.trim();
  let descError = null;
  if (!description) descError = t("Description is required.");
  else if (description.length > 200) descError = t("The description can be at most 200 characters.");
  setFieldError(descriptionInput, descriptionError, descError);
  if (descError) firstInvalid = firstInvalid || descriptionInput;

  let patientId = null;
  if (patientSelect) {
    patientId = patientSelect.value || null;
    const error = patientId ? null : t("Choose a patient.");
    setFieldError(patientSelect, patientError, error);
    if (error) firstInvalid = firstInvalid || patientSelect;
  } else {
    const hidden = form.querySelector("input[name=patient_id]");
    patientId = hidden ? hidden.value : null;
  }

  if (firstInvalid) {
    firstInvalid.focus();
    return null;
  }
  return { amount: amount.value, currency: state.currency, description: description, patient_id: patientId };
}

export function setBusy(busy) {
  inFlight = busy;
  submitButton.disabled = busy || !state.canRequest || state.ended;
  if (busy) submitButton.setAttribute("aria-busy", "true");
  else submitButton.removeAttribute("aria-busy");
}

/** What the patient will see, drawn as the clinician types (amount in the currency, description). */
function updatePreview() {
  if (!previewAmount) return;
  const amount = parseAmount(amountInput.value, state.currency);
  previewAmount.textContent = amount.ok ? money(amount.value, state.currency) : "—";
  previewDescription.textContent = descriptionInput.value.trim() || "—";
}

async function onSubmit(event) {
  event.preventDefault();
  if (inFlight || !state.canRequest || state.ended || !state.socket) return;
  showNotice(formError, "");
  const payload = validate();
  if (!payload) return;
  if (limits.confirm_above !== null && payload.amount > limits.confirm_above) {
    // Above the clinic's threshold: show what goes out and ask (the server wants confirmed: true).
    inFlight = true;
    const yes = await askToConfirm({
      title: t("Send this payment request?"),
      intro: t("The amount is above {amount}. The patient will be asked to pay:",
        { amount: money(limits.confirm_above, state.currency) }),
      lines: [[t("Amount"), money(payload.amount, payload.currency)], [t("Description"), payload.description]],
      confirmLabel: t("Send the request")
    });
    inFlight = false;
    if (!yes) return;
    payload.confirmed = true;
  }

  const signature = JSON.stringify(payload);
  if (pending.signature !== signature || !pending.key) {
    pending = { key: newKey(), signature: signature };
  }
  payload.idempotency_key = pending.key;

  setBusy(true);
  request(state.socket, "payment:request", payload, (error, ack) => {
    setBusy(false);
    if (error) {
      showNotice(formError, error);
      return;
    }
    pending = { key: null, signature: null };
    if (ack.request) upsert(ack.request);
    amountInput.value = "";
    updatePreview();
    announce(t("Payment request sent: {amount} — {description}", {
      amount: money(payload.amount, payload.currency),
      description: payload.description
    }));
    // Ready for the next amount, unless the clinician has moved on to another field meanwhile.
    const active = document.activeElement;
    if (!active || active === document.body || active === submitButton || active === amountInput) {
      amountInput.focus();
    }
  });
}

/** No more requests: the consult has ended. */
export function disableForm() {
  fieldset.disabled = true;
  setBusy(false);
}

export function initForm() {
  form.addEventListener("submit", onSubmit);
  clearErrorOnChange(amountInput, amountError);
  clearErrorOnChange(descriptionInput, descriptionError);
  clearErrorOnChange(patientSelect, patientError);
  amountInput.addEventListener("input", updatePreview);
  descriptionInput.addEventListener("input", updatePreview);
  updatePreview();
  setBusy(false);
}
