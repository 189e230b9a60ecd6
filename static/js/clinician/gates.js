/* Each patient's gate before the call, as the clinician sees it: waiting, paid before joining,
   or a card authorised up to an amount; and where the patient is: waiting, in the call, or a
   no-show once the call ended without them. Live from patient:gate, patient:joined and
   patient:no_show; the first state from the page and consult:state (consult.patients[].gate,
   .joined_at). */
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

// A no-show's words by where its fee went, from the server (app/billing/no_show_view.py).
const NO_SHOW = statuses.no_show || {};

/** Where the patient is, in words: waiting, in the call, or (the call over) a no-show and its fee. */
export function presenceText(patient) {
  const missed = patient.no_show;
  if (missed) {
    const words = NO_SHOW[missed.how] || "Did not join: no fee charged";
    return t(words, { amount: money(missed.fee || 0, state.currency) });
  }
  if (patient.joined_at) return t("In the call");
  return state.ended ? t("Did not join") : t("Waiting");
}

function presenceOf(patient) {
  if (patient.no_show) return "no_show";
  if (patient.joined_at) return "joined";
  return state.ended ? "absent" : "waiting";
}

export function renderGates() {
  const gated = (state.consult.patients || []).filter((p) => p && p.gate);
  section.hidden = gated.length === 0;
  reconcile(list, gated, "data-patient-id",
    (id) => el("li", { "data-patient-id": id }, [
      el("span", { "data-role": "gate-state" }), " — ", el("span", { "data-role": "presence" })]),
    (node, p) => {
      node.setAttribute("data-gate-status", p.gate.status);
      node.querySelector("[data-role=gate-state]").textContent = line(p);
      const where = node.querySelector("[data-role=presence]");
      where.setAttribute("data-presence", presenceOf(p));
      where.textContent = presenceText(p);
    });
}

function changePatient(id, change) {
  const before = (state.consult.patients || []).find((p) => p.id === id);
  if (!before) return null;
  const after = Object.assign({}, before, change);
  state.consult = Object.assign({}, state.consult, {
    patients: state.consult.patients.map((p) => (p.id === id ? after : p))
  });
  renderGates();
  return after;
}

/** patient:joined: the patient is in the call (once); said aloud. */
export function markJoined(data) {
  if (!data || !data.patient_id) return;
  const after = changePatient(data.patient_id, { joined_at: data.joined_at || new Date().toISOString() });
  if (after) announce(t("{patient} is in the call.", { patient: after.name }));
}

/** patient:no_show: the call ended without the patient; the fee and how it was taken, said aloud. */
export function markNoShow(data) {
  if (!data || !data.patient_id || !data.no_show) return;
  const after = changePatient(data.patient_id, { no_show: data.no_show });
  if (after) announce(t("{patient}: {state}", { patient: after.name, state: presenceText(after) }));
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
