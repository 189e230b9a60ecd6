/* The live connection to the /consult namespace: the connection badge, fatal
   errors, and emits that wait for the server's ack. The Socket.IO client is a
   classic script loaded before the modules; it sets window.io. */
import { config, consultEnded, t } from "./config.js";
import { $, announce, showNotice } from "./dom.js";

const ACK_TIMEOUT_MS = 10000;

/** The message of a failed ack: the server's (translated) text, or a generic one. */
function ackError(err, ack) {
  if (err) return t("The server did not answer. Please try again.");
  if (ack && ack.error && ack.error.message) return ack.error.message;
  return t("Something went wrong. Please try again.");
}

// A "busy" ack (the server is past its load bound and did nothing) is retried
// after the server's hint or an exponential back-off, whichever is longer,
// jittered so that panels do not come back all at once; at most BUSY_RETRIES times.
const BUSY_RETRIES = 5;
const BUSY_BASE_MS = 500;
const BUSY_CAP_MS = 8000;

function isBusy(err, ack) {
  return !err && ack && ack.ok === false && ack.error && ack.error.code === "busy";
}

/** How long to wait before the next try: between half and all of max(hint, back-off). */
export function busyDelay(attempt, error) {
  const hint = Number(error && (error.retry_after_ms || (error.retry_after || 0) * 1000)) || 0;
  const backoff = Math.min(BUSY_CAP_MS, BUSY_BASE_MS * 2 ** attempt);
  const wait = Math.min(BUSY_CAP_MS, Math.max(hint, backoff));
  return Math.round(wait / 2 + Math.random() * (wait / 2));
}

/** The connection line says the server is busy while a request waits to be sent again. */
function showBusy(delay) {
  const badge = $("[data-role=connection]");
  const badgeText = $("[data-role=connection-text]");
  const message = t("The service is busy. Trying again in {seconds} s…")
    .replace("{seconds}", String(Math.max(1, Math.ceil(delay / 1000))));
  if (badge) badge.setAttribute("data-state", "busy");
  if (badgeText) badgeText.textContent = message;
  announce(message);
}

function clearBusy(socket) {
  const badge = $("[data-role=connection]");
  if (!badge || badge.getAttribute("data-state") !== "busy") return;
  const badgeText = $("[data-role=connection-text]");
  const connected = socket.connected;
  badge.setAttribute("data-state", connected ? "connected" : "reconnecting");
  if (badgeText) badgeText.textContent = connected ? t("Connected") : t("Reconnecting…");
}

/** Emit and wait for the ack; callback(errorMessage|null, ack). A busy server is retried with back-off. */
export function request(socket, event, payload, callback) {
  let attempt = 0;
  const send = () => socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err, ack) => {
    if (isBusy(err, ack) && attempt < BUSY_RETRIES) {
      const delay = busyDelay(attempt, ack.error);
      attempt += 1;
      showBusy(delay);
      setTimeout(send, delay);
      return;
    }
    clearBusy(socket);
    if (err || !ack || ack.ok !== true) callback(ackError(err, ack), ack || null);
    else callback(null, ack);
  });
  send();
}

/**
 * Connect and keep the connection badge and fatal errors up to date.
 * handlers: {on: {"event:name": fn}, onState, onRequested, onUpdated, onReceived, onEnded}.
 * Returns the socket, or null when the Socket.IO client did not load.
 */
export function connect(handlers) {
  const badge = $("[data-role=connection]");
  const badgeText = $("[data-role=connection-text]");
  const fatal = $("[data-role=fatal]");

  function setConnection(state, text) {
    if (badge) badge.setAttribute("data-state", state);
    if (badgeText) badgeText.textContent = text;
  }

  if (typeof window.io !== "function") {
    setConnection("offline", t("Offline"));
    showNotice(fatal, t("Could not load the live connection. Please reload the page."));
    return null;
  }

  const socket = window.io((config.socket_url || "") + "/consult", {
    path: config.socket_path || "/socket.io/",
    auth: { token: config.token, lang: config.lang },
    transports: ["websocket", "polling"]
  });
  let wasConnected = false;

  socket.on("connect", () => {
    setConnection("connected", t("Connected"));
    showNotice(fatal, "");
    if (wasConnected) announce(t("Connected again."));
    wasConnected = true;
  });
  socket.on("disconnect", () => {
    if (socket.active) {
      setConnection("reconnecting", t("Reconnecting…"));
      announce(t("Connection lost. Reconnecting…"));
    } else {
      setConnection("offline", t("Offline"));
    }
  });
  socket.on("connect_error", (err) => {
    if (socket.active) {
      // A transport hiccup: the client retries by itself.
      setConnection("reconnecting", t("Reconnecting…"));
    } else {
      // Refused by the server (e.g. expired link): its message is already translated.
      setConnection("offline", t("Offline"));
      showNotice(fatal, (err && err.message) || t("Could not connect."));
    }
  });

  // Extra events a panel listens to.
  Object.entries(handlers.on || {}).forEach(([name, handler]) => socket.on(name, handler));

  socket.on("consult:state", (data) => {
    if (handlers.onState) handlers.onState(data || {});
    if (data && consultEnded(data.consult) && handlers.onEnded) handlers.onEnded(data.consult);
  });
  const forRequest = (handler) => (data) => {
    if (data && data.request && handler) handler(data.request);
  };
  socket.on("payment:requested", forRequest(handlers.onRequested));
  socket.on("payment:updated", forRequest(handlers.onUpdated));
  socket.on("payment:received", forRequest(handlers.onReceived));
  socket.on("consult:ended", (data) => {
    if (handlers.onEnded) handlers.onEnded((data && data.consult) || null);
  });
  return socket;
}
