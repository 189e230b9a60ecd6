/* Pay now: Stripe's hosted checkout page in a new window, so the call goes on. */
import { isOpen, t } from "../panel/config.js";
import { $, announce, showNotice } from "../panel/dom.js";
import { request } from "../panel/socket.js";
import { render } from "./list.js";
import { state } from "./state.js";

const payError = $("[data-role=pay-error]");

function openBlankWindow() {
  // Opened synchronously inside the click so popup blockers allow it; the
  // checkout URL is filled in when the server answers.
  let win = null;
  try {
    win = window.open("", "_blank");
  } catch (e) {
    win = null;
  }
  if (win) {
    try {
      win.opener = null; // the checkout page must not reach back into the call
      win.document.title = t("Opening the payment page…");
      win.document.body.textContent = t("Opening the payment page…");
    } catch (e) { /* cross-origin or locked down: fine */ }
  }
  return win;
}

/** Send the prepared window to the checkout URL, or open it anew; true if that worked. */
function openCheckout(win, id, url) {
  if (win && !win.closed) {
    try {
      win.location.href = url;
      return true;
    } catch (e) { /* fall through to a new window */ }
  }
  let again = null;
  try {
    again = window.open(url, "_blank", "noopener");
  } catch (e) {
    again = null;
  }
  // With "noopener" the return value is null even when it worked, so
  // always offer the link as well.
  state.fallbackLinks[id] = url;
  return !!again;
}

export function startCheckout(id, button) {
  if (!state.socket || state.ended || state.busy[id]) return;
  const r = state.requests.get(id);
  if (!r || !isOpen(r.status)) return;
  showNotice(payError, "");
  const win = openBlankWindow();
  state.busy[id] = true;
  render();
  announce(t("Opening the payment page…"));

  request(state.socket, "payment:checkout", { request_id: id }, (error, ack) => {
    delete state.busy[id];
    if (error || !ack.url) {
      if (win && !win.closed) win.close();
      render();
      showNotice(payError, error || t("Payment could not be started. Please try again."));
      button.focus();
      return;
    }
    const opened = openCheckout(win, id, ack.url);
    render();
    if (opened) {
      announce(t("The payment page opened in a new window."));
    } else {
      const link = document.querySelector('[data-request-id="' + CSS.escape(id) + '"] [data-role=checkout-link]');
      announce(t("Your browser blocked the new window. Use the link to open the payment page."));
      if (link) link.focus();
    }
  });
}
