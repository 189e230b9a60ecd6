/* Not paid in the call: send what is owed on to MediPay, once the clinician has
   seen exactly what the patient will be asked, and show its bill cards. */
import { cardLabel, statuses, t } from "../panel/config.js";
import { hideDialog, returnFocus, showDialog } from "../panel/dialogs.js";
import { $, announce, el, showNotice } from "../panel/dom.js";
import { money } from "../panel/format.js";
import { request } from "../panel/socket.js";
import { chosenPatients } from "./form.js";
import { patientName, state } from "./state.js";

const sendButton = $("[data-role=send-medipay]");
const mediPayError = $("[data-role=medipay-error]");
const cardList = $("[data-role=card-list]");
const dialog = $("[data-role=medipay-dialog]");
const summary = $("[data-role=medipay-summary]");
const details = $("[data-role=medipay-preview]");
const confirmError = $("[data-role=medipay-confirm-error]");
const confirmButton = $("[data-role=medipay-confirm]");
const backButton = $("[data-role=medipay-back]");
const LANGUAGES = { nb: "Norsk bokmål", en: "English", sv: "Svenska" };

// The send being confirmed: its payload, the total shown, and the button that opened it.
let pending = null;

export function renderCards() {
  cardList.textContent = "";
  state.cards.forEach((card) => {
    const meta = el("div", { className: "request__meta" }, [
      el("span", { className: "status", "data-role": "card-status", text: cardLabel(card) })
    ]);
    // MediPay's own words on why a person must look at the card.
    const reason = card.medipay && card.medipay.message;
    if (reason && card.status === statuses.card.MANUAL_HANDLING) meta.appendChild(el("span", { text: reason }));
    cardList.appendChild(el("li", { "data-card-id": card.id, "data-status": card.status }, [
      el("span", { className: "request__desc", text: patientName(card.patient_id) }),
      el("span", { className: "request__amount", text: money(card.patient_share, card.currency || state.currency) }),
      meta
    ]));
  });
}

export function upsertCard(card) {
  if (!card || !card.id) return;
  const before = state.cards.get(card.id);
  state.cards.set(card.id, card);
  renderCards();
  if (before && before.status !== card.status) {
    announce(t("MediPay: {patient} — {status}", { patient: patientName(card.patient_id), status: cardLabel(card) }));
  }
}

function setBusy(button, busy) {
  button.disabled = busy;
  if (busy) button.setAttribute("aria-busy", "true"); else button.removeAttribute("aria-busy");
}

function showPreview(p) {
  const currency = p.currency || state.currency;
  summary.textContent = t("{patient} gets an SMS from MediPay asking for {total}.", {
    patient: patientName(p.patient_id), total: money(p.total, currency)
  });
  const rows = [
    [t("Amount"), money(p.amount, currency)],
    [t("MediPay's fee"), money(p.admin_fee, currency)],
    [t("The patient is asked for"), money(p.total, currency)],
    [t("Sent as"), t("SMS to {mobile}", { mobile: p.mobile || "" })],
    [t("Description"), p.description || ""],
    [t("Language"), LANGUAGES[p.language] || p.language || ""]
  ];
  details.replaceChildren(...rows.map((row) => el("div", null, [el("dt", { text: row[0] }), el("dd", { text: row[1] })])));
}

/** Ask what the patient would be asked, and show it for confirmation: nothing is sent yet. */
export function sendToMediPay(payload, button) {
  if (!state.socket || button.disabled || pending) return;
  setBusy(button, true);
  showNotice(mediPayError, "");
  request(state.socket, "bill_card:preview", payload, (error, ack) => {
    setBusy(button, false);
    if (error) {
      showNotice(mediPayError, error);
      return;
    }
    pending = { payload: payload, total: ack.preview.total, opener: button };
    showPreview(ack.preview);
    showNotice(confirmError, "");
    confirmButton.disabled = false;
    showDialog(dialog);
    confirmButton.focus();
  });
}

function closeDialog() {
  const opener = pending && pending.opener;
  pending = null;
  hideDialog(dialog);
  returnFocus(opener, sendButton, true);
}

function confirmSend() {
  if (!pending || confirmButton.disabled) return;
  setBusy(confirmButton, true);
  showNotice(confirmError, "");
  const payload = Object.assign({}, pending.payload, { expect_total: pending.total });
  request(state.socket, "bill_card:send", payload, (error, ack) => {
    setBusy(confirmButton, false);
    if (error) {
      showNotice(confirmError, error);
      return;
    }
    closeDialog();
    upsertCard(ack.card);
    announce(t("Sent to MediPay: {status}", { status: cardLabel(ack.card) }));
  });
}

export function initMediPay() {
  sendButton.addEventListener("click", () => {
    const payload = {};
    // In a group consult, the one patient ticked (with none or several the server asks which).
    const chosen = chosenPatients();
    if (chosen && chosen.length === 1) payload.patient_id = chosen[0];
    sendToMediPay(payload, sendButton);
  });
  confirmButton.addEventListener("click", confirmSend);
  backButton.addEventListener("click", closeDialog);
  // Escape closes the native dialog: forget what was being confirmed.
  dialog.addEventListener("close", () => {
    if (pending) closeDialog();
  });
}
