/* Each patient's gate before the call, as the clinician sees it: waiting, paid before joining,
   or a card authorised up to an amount. Live from patient:gate; the first state from the page and
   consult:state (consult.patients[].gate). */
import { statuses, t } from "../panel/config.js";
import { $, announce, el } from "../panel/dom.js";
import { money } from "../panel/format.js";
import { reconcile } from "../panel/requests.js";
import { state } from "./state.js";

const section = $("[data-role=gates]");
const list = $("[data-role=gate-list]");

const GATE = statuses.gate || {};
const POLICY = statuses.policy || {};

function amount(gate) {
  return money(gate.amount, gate.currency || state.currency);
}

/** A gate in words, for the clinician. */
export function gateText(gate) {
  const what = { amount: amount(gate) };
  if (gate.kind === POLICY.HOLD) {
    switch (gate.status) {
      case GATE.WAITING: return t("Waiting for the card to be authorised (up to {amount})", what);
      case GATE.AUTHORISED: return t("Card authorised up to {amount}", what);
      case GATE.CAPTURED: return t("Hold captured", what);
      case GATE.RELEASED: return t("Hold released", what);
      default: return t("Card not authorised", what);
    }
  }
  if (gate.kind === POLICY.CARD_ON_FILE) {
    switch (gate.status) {
      case GATE.WAITING: return t("Waiting for the card to be saved", what);
      case GATE.SAVED: return t("Card saved", what);
      case GATE.CHARGED: return t("Saved card charged: {amount}", what);
      default: return t("Card not saved", what);
    }
  }
  switch (gate.status) {
    case GATE.WAITING: return t("Waiting to pay {amount} before joining", what);
    case GATE.PAID: return t("Paid before joining: {amount}", what);
    default: return t("Not paid before joining", what);
  }
}

function line(patient) {
  return t("{patient}: {state}", { patient: patient.name, state: gateText(patient.gate) });
}

export function renderGates() {
  const gated = (state.consult.patients || []).filter((p) => p && p.gate);
  section.hidden = gated.length === 0;
  reconcile(list, gated, "data-patient-id",
    (id) => el("li", { "data-patient-id": id }),
    (node, p) => {
      node.setAttribute("data-gate-status", p.gate.status);
      node.textContent = line(p);
    });
}

/** patient:gate: one patient's gate changed; said aloud when it is passed. */
export function updateGate(data) {
  if (!data || !data.patient_id || !data.gate) return;
  const patients = (state.consult.patients || []).map((p) => (p.id === data.patient_id
    ? Object.assign({}, p, { gate: data.gate }) : p));
  const before = (state.consult.patients || []).find((p) => p.id === data.patient_id);
  state.consult = Object.assign({}, state.consult, { patients: patients });
  renderGates();
  const after = patients.find((p) => p.id === data.patient_id);
  if (after && (!before || !before.gate || before.gate.status !== data.gate.status)) announce(line(after));
}
