/* The request form: check what was typed, send it once, say what happened. */
import { config, t } from "../panel/config.js";
import { askToConfirm } from "../panel/confirm.js";
import { $, announce, clearErrorOnChange, setFieldError, showNotice } from "../panel/dom.js";
import { money, parseAmount } from "../panel/format.js";
import { newKey } from "../panel/requests.js";
import { request } from "../panel/socket.js";
import { upsert } from "./list.js";
import { patientName, state } from "./state.js";

const form = $("[data-role=request-form]");
const fieldset = $("[data-role=request-fieldset]");
const amountInput = $("#amount");
const descriptionInput = $("#description");
// A group consult: a checkbox per patient and one for all of them (none in a consult of one).
const patientBoxes = Array.from(document.querySelectorAll("[data-role=patient-box]"));
const allBox = $("[data-role=patient-all]");
const submitButton = $("[data-role=submit]");
const formError = $("[data-role=form-error]");
const amountError = $("[data-role=amount-error]");
const descriptionError = $("[data-role=description-error]");
const patientError = $("[data-role=patient-error]");
const previewAmount = $("[data-role=preview-amount]");
const previewDescription = $("[data-role=preview-description]");
const previewGroup = $("[data-role=preview-group]");

// The clinic's guard rails (minor units): from the page, then from every consult:state.
const limits = Object.assign({ max_amount: null, confirm_above: null }, config.limits || {});

/** New limits from the server (on every connect): the admin may have changed them. */
export function setLimits(next) {
  if (next && typeof next === "object") Object.assign(limits, next);
}

export { amountInput, formError };

/** The patients ticked in a group consult (ids, in the consult's order); null in a consult of one. */
export function chosenPatients() {
  return patientBoxes.length ? patientBoxes.filter((box) => box.checked).map((box) => box.value) : null;
}

/** "All patients" follows the patients' boxes: ticked when all are, mixed when some are. */
function syncAllBox() {
  if (!allBox) return;
  const count = chosenPatients().length;
  allBox.checked = count === patientBoxes.length;
  allBox.indeterminate = count > 0 && count < patientBoxes.length;
}

/** A group consult's choice of patients marked wrong (or right again, with null). */
function setPatientError(message) {
  if (!patientError) return;
  patientError.textContent = message || "";
  patientError.hidden = !message;
  [allBox].concat(patientBoxes).forEach((box) => {
    if (!box) return;
    if (message) {
      box.setAttribute("aria-invalid", "true");
      box.setAttribute("aria-describedby", patientError.id);
    } else {
      box.removeAttribute("aria-invalid");
      box.removeAttribute("aria-describedby");
    }
  });
}

function patientNames(ids) {
  return ids.map((id) => patientName(id)).join(", ");
}

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

  const payload = { amount: amount.value, currency: state.currency, description: description };
  const chosen = chosenPatients();
  if (chosen) {
    const error = chosen.length ? null : t("Choose at least one patient.");
    setPatientError(error);
    if (error) firstInvalid = firstInvalid || allBox || patientBoxes[0];
    // One patient is a request as in a consult of one; several (or all) one request each.
    if (chosen.length === 1) payload.patient_id = chosen[0];
    else if (chosen.length === patientBoxes.length) payload.patient_ids = "all";
    else payload.patient_ids = chosen;
  } else {
    const hidden = form.querySelector("input[name=patient_id]");
    payload.patient_id = hidden ? hidden.value : null;
  }

  if (firstInvalid) {
    firstInvalid.focus();
    return null;
  }
  return { payload: payload, patients: chosen || [payload.patient_id] };
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
  const chosen = chosenPatients();
  if (previewGroup && chosen) {
    // How many patients are asked, and what they are asked for together.
    previewGroup.textContent = !chosen.length ? ""
      : chosen.length === 1 ? t("For {patient}", { patient: patientName(chosen[0]) })
        : t("{count} patients, {total} in total", {
          count: chosen.length, total: amount.ok ? money(amount.value * chosen.length, state.currency) : "—"
        });
    previewGroup.hidden = !previewGroup.textContent;
  }
}

async function onSubmit(event) {
  event.preventDefault();
  if (inFlight || !state.canRequest || state.ended || !state.socket) return;
  showNotice(formError, "");
  const checked = validate();
  if (!checked) return;
  const payload = checked.payload;
  const count = checked.patients.length;
  const above = limits.confirm_above !== null && payload.amount > limits.confirm_above;
  if (count > 1) {
    // Several patients at once: say who, how much each and in all, and ask.
    inFlight = true;
    const yes = await askToConfirm({
      title: t("Send to {count} patients?", { count: count }),
      intro: t("Each patient gets a request of their own and pays it themselves."),
      lines: [
        [t("Patients"), patientNames(checked.patients)],
        [t("Amount per patient"), money(payload.amount, payload.currency)],
        [t("Total"), money(payload.amount * count, payload.currency)],
        [t("Description"), payload.description]
      ],
      confirmLabel: t("Send {count} requests", { count: count })
    });
    inFlight = false;
    if (!yes) return;
    if (above) payload.confirmed = true;
  } else if (above) {
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
    if (ack.requests) ack.requests.forEach(upsert);
    else if (ack.request) upsert(ack.request);
    amountInput.value = "";
    updatePreview();
    const made = ack.requests ? ack.requests.length : 1;
    announce(made > 1
      ? t("Payment requests sent to {count} patients: {amount} each — {description}", {
        count: made, amount: money(payload.amount, payload.currency), description: payload.description
      })
      : t("Payment request sent: {amount} — {description}", {
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
  patientBoxes.forEach((box) => box.addEventListener("change", () => {
    syncAllBox();
    setPatientError(null);
    updatePreview();
  }));
  if (allBox) {
    allBox.addEventListener("change", () => {
      patientBoxes.forEach((box) => { box.checked = allBox.checked; });
      syncAllBox();
      setPatientError(null);
      updatePreview();
    });
  }
  amountInput.addEventListener("input", updatePreview);
  descriptionInput.addEventListener("input", updatePreview);
  updatePreview();
  setBusy(false);
}
