/* Patient panel: see payment requests, pay on the hosted checkout page in a
   new window or with Vipps (the call goes on), and see the confirmation live. The parts are
   modules in patient/ on the shared ones in panel/; this wires them to the socket. */
import { t } from "./panel/config.js";
import { $, announce } from "./panel/dom.js";
import { byId, mergeConsult, onItemAction } from "./panel/requests.js";
import { connect } from "./panel/socket.js";
import "./panel/language.js";
import { startCheckout } from "./patient/checkout.js";
import { isOpen, setGate } from "./patient/gate.js";
import { gateList, list, render, upsert } from "./patient/list.js";
import { state } from "./patient/state.js";
import { pushToPhone, showQr, startVipps } from "./patient/vipps.js";

const endedNotice = $("[data-role=ended]");

function endConsult() {
  if (state.ended) return;
  state.ended = true;
  endedNotice.hidden = false;
  render();
  announce(t("The consultation has ended."));
}

const actions = {
  pay: startCheckout,
  vipps: (id, button) => startVipps(id, button, render),
  "vipps-push": (id, button) => pushToPhone(id, button, render),
  "vipps-show-qr": (id, button) => showQr(id, button, render)
};
onItemAction(list, actions);
// The waiting room's request is paid the same way.
onItemAction(gateList, actions);
render();

state.socket = connect({
  on: {
    // The gate before the call changed: paid, or the card authorised. Opened while this panel is
    // connected (Checkout ran in another tab), the patient is now in the call: the server is told,
    // and records it only if the gate really is open.
    "patient:gate": (data) => {
      if (!data || !data.gate) return;
      setGate(data.gate, render);
      if (isOpen(data.gate) && state.socket && !state.ended) state.socket.emit("patient:present", {});
    }
  },
  onState: (data) => {
    state.consult = mergeConsult(state.consult, data.consult);
    state.requests = byId(data.requests);
    setGate(data.me && data.me.gate, render);
  },
  onRequested: upsert,
  onUpdated: upsert,
  onReceived: upsert,
  onEnded: (c) => {
    state.consult = mergeConsult(state.consult, c);
    endConsult();
  }
});
