/* Pay with Vipps: a push to the patient's phone (the video goes on here), the Vipps
   app on this phone and back to the call, or a QR code to scan when no number is known. */
import { config, isOpen, t } from "../panel/config.js";
import { $, announce, el, showNotice } from "../panel/dom.js";
import { request } from "../panel/socket.js";
import { state } from "./state.js";

const payError = $("[data-role=pay-error]");
export const offered = !!config.vipps;
const REDIRECTS = ["NATIVE_REDIRECT", "WEB_REDIRECT"];

function onPhone() {
  return /Android|iPhone|iPad|iPod/i.test(navigator.userAgent || "");
}

/** The part of a request's item that shows a payment waiting in Vipps. */
export function buildVipps(id) {
  const phoneId = "vipps-phone-" + id;
  return el("div", { className: "vipps", "data-role": "vipps-area", hidden: true }, [
    el("p", { className: "vipps__text", "data-role": "vipps-text", "aria-live": "polite" }),
    el("img", { className: "vipps__qr", "data-role": "vipps-qr", hidden: true, width: 200, height: 200,
      alt: t("QR code for paying with Vipps") }),
    el("button", { type: "button", className: "button button--ghost button--small", "data-role": "vipps-show-qr",
      hidden: true, text: t("Show a QR code instead") }),
    el("div", { className: "vipps__phone", "data-role": "vipps-phone-form", hidden: true }, [
      el("label", { for: phoneId, text: t("Mobile number for Vipps") }),
      el("input", { id: phoneId, type: "tel", autocomplete: "tel", inputmode: "tel", "data-role": "vipps-phone" }),
      el("button", { type: "button", className: "button button--secondary", "data-role": "vipps-push",
        text: t("Send to my phone") })
    ])
  ]);
}

/** Draw what the last answer to payment:vipps said, while the request waits in Vipps. */
export function fillVipps(li, r) {
  const area = li.querySelector("[data-role=vipps-area]");
  const v = state.vipps[r.id];
  const waiting = offered && !!v && isOpen(r.status) && r.method === "vipps" && !state.ended;
  area.hidden = !waiting;
  if (!waiting) return;
  const qr = li.querySelector("[data-role=vipps-qr]");
  const isQr = v.flow === "QR" && !!v.url;
  qr.hidden = !isQr;
  if (isQr && qr.getAttribute("src") !== v.url) qr.setAttribute("src", v.url);
  li.querySelector("[data-role=vipps-phone-form]").hidden = v.flow !== "QR";
  li.querySelector("[data-role=vipps-show-qr]").hidden = v.flow !== "PUSH_MESSAGE";
  li.querySelector("[data-role=vipps-text]").textContent = v.flow === "QR"
    ? t("Scan the QR code with your phone's camera to pay in Vipps. No code reader? Enter your mobile number and we send the payment to your Vipps app.")
    : t("The payment is waiting in Vipps on your phone. Open Vipps and approve it; this panel updates by itself.");
}

function send(id, button, payload, render) {
  if (!state.socket || state.ended || state.busy[id]) return;
  const r = state.requests.get(id);
  if (!r || !isOpen(r.status)) return;
  showNotice(payError, "");
  state.busy[id] = true;
  render();
  request(state.socket, "payment:vipps", payload, (error, ack) => {
    delete state.busy[id];
    if (error || !ack.vipps) {
      render();
      showNotice(payError, error || t("Vipps could not be started. Please try again."));
      if (button) button.focus();
      return;
    }
    const v = ack.vipps;
    state.vipps[id] = v;
    render();
    if (REDIRECTS.includes(v.flow) && v.url) {
      // To the Vipps app on this phone; Vipps brings the patient back to this panel.
      window.location.assign(v.url);
      return;
    }
    announce(v.flow === "QR"
      ? t("Scan the QR code with your phone to pay with Vipps.")
      : t("Open Vipps on your phone to approve the payment."));
  });
}

/** *Pay with Vipps*: a push to the number we know, the app on a phone, else a QR code. */
export function startVipps(id, button, render) {
  const payload = { request_id: id };
  if (onPhone()) payload.flow = "NATIVE_REDIRECT";
  send(id, button, payload, render);
}

/** *Show a QR code instead*, under a push: the phone with that number is not at hand. */
export function showQr(id, button, render) {
  send(id, button, { request_id: id, flow: "QR" }, render);
}

/** *Send to my phone*, under the QR code: a push to the number typed. */
export function pushToPhone(id, button, render) {
  const item = button.closest("[data-request-id]");
  const input = item && item.querySelector("[data-role=vipps-phone]");
  const phone = input ? input.value.trim() : "";
  if (!phone) {
    showNotice(payError, t("Enter your mobile number to get the payment in Vipps."));
    if (input) input.focus();
    return;
  }
  send(id, button, { request_id: id, flow: "PUSH_MESSAGE", phone: phone }, render);
}
