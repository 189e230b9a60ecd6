/* The waiting room: the patient's gate before the call (pay a fixed amount, let the clinic
   hold up to an amount on the card, or save a card the clinic charges after the call), drawn above
   everything else. Its request is paid the way any
   request is (the item and its buttons come from list.js); it leaves the request list until paid. */
import { config, isPaid, statuses, t } from "../panel/config.js";
import { $, announce } from "../panel/dom.js";
import { money } from "../panel/format.js";
import { reconcile } from "../panel/requests.js";
import { state } from "./state.js";

const room = $("[data-role=waiting-room]");
const heading = $("[data-role=waiting-title]");
const why = $("[data-role=waiting-why]");
const done = $("[data-role=waiting-done]");
export const gateList = $("[data-role=gate-list]");

state.gate = config.gate || null;

const GATE = statuses.gate || {};
const POLICY = statuses.policy || {};

function gateAmount(gate) {
  return money(gate.amount, gate.currency || state.consult.currency || "NOK");
}

/** The gate's request while the waiting room holds it (not yet paid or captured). */
export function inWaitingRoom(r) {
  const gate = state.gate;
  return !!gate && !!r && r.id === gate.request_id && !isPaid(r.status);
}

function doneText(gate) {
  if (gate.kind === POLICY.BEFORE_JOIN && gate.status === GATE.PAID) return t("Paid. Your clinician will let you in.");
  if (gate.kind === POLICY.HOLD && gate.status === GATE.AUTHORISED) {
    return t("Card authorised. Your clinician will let you in. You are charged only for the consultation, after it, at most {amount}.",
      { amount: gateAmount(gate) });
  }
  if (gate.kind === POLICY.CARD_ON_FILE && gate.status === GATE.SAVED) {
    return t("Card saved. Your clinician will let you in. Nothing has been charged; the clinic charges the card for the consultation after it.");
  }
  return "";
}

/** Whether the waiting room shows now (something to pay or authorise, or just done). */
export function showing() {
  const gate = state.gate;
  if (!gate) return false;
  return gate.status === GATE.WAITING || !!doneText(gate);
}

/** Draw the waiting room; build and fill draw the gate's request as list.js draws any. */
export function renderGate(build, fill) {
  const gate = state.gate;
  room.hidden = !showing();
  if (room.hidden) {
    reconcile(gateList, [], "data-request-id", build, fill);
    return;
  }
  const clinician = (state.consult.clinician && state.consult.clinician.name) || "";
  const r = state.requests.get(gate.request_id);
  const description = gate.description || (r && r.description) || "";
  const what = { clinician: clinician, amount: gateAmount(gate), description: description };
  if (gate.kind === POLICY.HOLD) {
    heading.textContent = t("Your clinic asks to hold up to {amount} on your card.", what);
    why.textContent = t("You are charged only for the consultation, after it, at most this amount.");
  } else if (gate.kind === POLICY.CARD_ON_FILE) {
    heading.textContent = t("Save your card for your consultation with {clinician}: {description}", what);
    why.textContent = t("Nothing is charged now. After the consultation the clinic charges the card for it; they expect about {amount}.", what);
  } else {
    heading.textContent = t("Before your consultation with {clinician}: {amount} — {description}", what);
    why.textContent = t("Please pay before the consultation starts. Your clinician lets you in when it is paid.");
  }
  const text = doneText(gate);
  done.textContent = text;
  done.hidden = !text;
  const waiting = gate.status === GATE.WAITING && r && !state.ended;
  reconcile(gateList, waiting ? [r] : [], "data-request-id", build, fill);
}

/** Whether the gate lets the patient into the call: paid, authorised, (a hold) captured, or (a card
 * on file) saved or charged. */
export function isOpen(gate) {
  return !!gate && [GATE.PAID, GATE.AUTHORISED, GATE.CAPTURED, GATE.SAVED, GATE.CHARGED].includes(gate.status);
}

/** A new state of the gate (consult:state's me.gate, or patient:gate); says when it is passed. */
export function setGate(gate, render) {
  const before = state.gate;
  state.gate = gate || null;
  render();
  const text = state.gate ? doneText(state.gate) : "";
  if (text && (!before || before.status !== state.gate.status)) announce(text);
}
