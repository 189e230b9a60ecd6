/* The patient panel's state: one object the other modules read and change. */
import { config } from "../panel/config.js";
import { money } from "../panel/format.js";

export const state = {
  consult: config.consult || {},
  ended: false,
  socket: null,
  requests: new Map(),
  busy: {}, // request id → true while the checkout ack is awaited
  fallbackLinks: {}, // request id → checkout url when the new window was blocked
  vipps: {} // request id → the last answer to payment:vipps (flow, QR image or app link)
};

export function amountOf(r) {
  return money(r.amount, r.currency || state.consult.currency || "NOK");
}
