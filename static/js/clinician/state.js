/* The clinician panel's state: one object the other modules read and change. */
import { config } from "../panel/config.js";

const consult = config.consult || {};

export const state = {
  consult: consult,
  currency: consult.currency || "NOK",
  canRequest: config.can_request !== false,
  ended: false,
  socket: null,
  requests: new Map(),
  cards: new Map(),
  // The refund being confirmed: its request, and one key per confirm so a
  // retried click refunds once.
  refunding: { id: null, key: null, busy: false, opener: null }
};

export function patientName(id) {
  const patient = (state.consult.patients || []).find((p) => p.id === id);
  return patient ? patient.name : "";
}

/** What of a paid request can still be refunded, in minor units. */
export function remaining(r) {
  return Number(r.amount || 0) - Number(r.refunded_amount || 0);
}

/** The currency of a request, or of the consult. */
export function currencyOf(r) {
  return (r && r.currency) || state.currency;
}
