/* Not paid in the call: send what is owed on to MediPay, and show its bill cards. */
import { cardLabel, statuses, t } from "../panel/config.js";
import { $, announce, el, showNotice } from "../panel/dom.js";
import { money } from "../panel/format.js";
import { request } from "../panel/socket.js";
import { patientSelect } from "./form.js";
import { patientName, state } from "./state.js";

const sendButton = $("[data-role=send-medipay]");
const mediPayError = $("[data-role=medipay-error]");
const cardList = $("[data-role=card-list]");

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

export function sendToMediPay(payload, button) {
  if (!state.socket || button.disabled) return;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  showNotice(mediPayError, "");
  request(state.socket, "bill_card:send", payload, (error, ack) => {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    if (error) {
      showNotice(mediPayError, error);
      return;
    }
    upsertCard(ack.card);
    announce(t("Sent to MediPay: {status}", { status: cardLabel(ack.card) }));
  });
}

export function initMediPay() {
  sendButton.addEventListener("click", () => {
    const payload = {};
    if (patientSelect && patientSelect.value) payload.patient_id = patientSelect.value;
    sendToMediPay(payload, sendButton);
  });
}
