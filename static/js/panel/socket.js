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

/** Emit and wait for the ack; callback(errorMessage|null, ack). */
export function request(socket, event, payload, callback) {
  socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err, ack) => {
    if (err || !ack || ack.ok !== true) callback(ackError(err, ack), ack || null);
    else callback(null, ack);
  });
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
