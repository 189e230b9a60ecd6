/* Clinician panel: request payments, watch them live, cancel open ones, refund
   paid ones, send what was not paid on to MediPay. The parts are modules in
   clinician/ on the shared ones in panel/; this wires them to the socket. */
import { t } from "./panel/config.js";
import { $, announce, showNotice } from "./panel/dom.js";
import { byId, mergeConsult, onItemAction } from "./panel/requests.js";
import { connect } from "./panel/socket.js";
import { initConfirm } from "./panel/confirm.js";
import { disableForm, formError, initForm, setLimits } from "./clinician/form.js";
import { cancelRequest, list, render, upsert } from "./clinician/list.js";
import { markJoined, markNoShow, renderGates, updateGate } from "./clinician/gates.js";
import { initMediPay, renderCards, sendToMediPay, upsertCard } from "./clinician/medipay.js";
import { initReceived, showReceived } from "./clinician/received.js";
import { closeRefundUnlessBusy, initRefund, openRefund } from "./clinician/refund.js";
import { closeCaptureUnlessBusy, initCapture, openCapture, releaseHold } from "./clinician/capture.js";
import { state } from "./clinician/state.js";

const endedNotice = $("[data-role=ended]");

function endConsult() {
  if (state.ended) return;
  state.ended = true;
  endedNotice.hidden = false;
  disableForm();
  closeRefundUnlessBusy();
  closeCaptureUnlessBusy();
  render();
  renderGates();
  announce(t("The consultation has ended."));
}

initConfirm();
initForm();
initRefund();
initCapture();
initReceived();
initMediPay();
onItemAction(list, {
  cancel: cancelRequest,
  "refund-open": openRefund,
  "capture-open": openCapture,
  release: releaseHold,
  "send-medipay-item": (id, button) => sendToMediPay({ request_id: id }, button)
});
render();
renderGates();

state.socket = connect({
  on: {
    "bill_card:updated": (data) => upsertCard(data && data.card),
    // A patient paid before joining, or their card was authorised: they can be let in.
    "patient:gate": updateGate,
    // In the call (rule H4), or, the call over, a no-show and its fee: the gate line says where they are.
    "patient:joined": markJoined,
    "patient:no_show": markNoShow,
    // Stripe refused a patient's checkout for good (the clinic's account, the request):
    // the server's translated words say what to do; "try again" outages never come here.
    "payment:problem": (data) => {
      // The notice is role=alert: showing it is announcing it.
      if (data && data.message) showNotice(formError, data.message);
    }
  },
  onState: (data) => {
    // Keep patient names and currency current, but not the page's own flags.
    state.consult = mergeConsult(state.consult, data.consult);
    setLimits(data.limits);
    state.requests = byId(data.requests);
    render();
    renderGates();
    state.cards = byId(data.cards);
    renderCards();
  },
  onRequested: upsert,
  onUpdated: upsert,
  onReceived: (r) => {
    upsert(r);
    showReceived(r);
  },
  onEnded: (c) => {
    // consult:ended names no patients: the gate lines keep theirs, for the no-shows that follow.
    const { patients, ...ended } = c || {};
    state.consult = mergeConsult(state.consult, patients && patients.length ? c : ended);
    endConsult();
  }
});
