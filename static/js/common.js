/* Shared helpers for the ConsultPay panels: translations, money, dates,
   announcements and the Socket.IO connection. No framework, no build step. */
(function () {
  "use strict";

  function readJSON(id) {
    var el = document.getElementById(id);
    if (!el) return {};
    try {
      return JSON.parse(el.textContent || "{}") || {};
    } catch (e) {
      return {};
    }
  }

  var strings = readJSON("i18n");
  var config = readJSON("config");
  var lang = config.lang || document.documentElement.lang || "nb";
  // Intl knows "nb-NO" better than bare "nb" on some engines.
  var locale = lang === "nb" ? "nb-NO" : lang;

  /** Translate an English msgid and fill {name} placeholders. */
  function t(msgid, params) {
    var text = Object.prototype.hasOwnProperty.call(strings, msgid) && strings[msgid]
      ? strings[msgid] : msgid;
    if (params) {
      text = text.replace(/\{(\w+)\}/g, function (whole, key) {
        return Object.prototype.hasOwnProperty.call(params, key) ? String(params[key]) : whole;
      });
    }
    return text;
  }

  var formatters = {};
  function currencyFormat(currency) {
    if (!formatters[currency]) {
      formatters[currency] = new Intl.NumberFormat(locale, { style: "currency", currency: currency });
    }
    return formatters[currency];
  }

  /** Minor-unit digits of a currency: 2 for NOK, 0 for JPY. */
  function exponent(currency) {
    return currencyFormat(currency).resolvedOptions().maximumFractionDigits;
  }

  /** Format integer minor units, e.g. money(45000, "NOK") → "NOK 450.00". */
  function money(minor, currency) {
    var exp = exponent(currency);
    return currencyFormat(currency).format(Number(minor) / Math.pow(10, exp));
  }

  var STATUS_LABELS = {
    requested: "Requested",
    checkout_open: "Checkout open",
    paid: "Paid",
    cancelled: "Cancelled",
    expired: "Expired",
    failed: "Failed",
    refunded: "Refunded",
    partially_refunded: "Partially refunded"
  };

  function statusLabel(status) {
    return STATUS_LABELS[status] ? t(STATUS_LABELS[status]) : String(status || "");
  }

  function toDate(value) {
    if (value === null || value === undefined || value === "") return null;
    var d;
    if (typeof value === "number") {
      d = new Date(value < 1e12 ? value * 1000 : value); // seconds or milliseconds
    } else {
      d = new Date(value);
    }
    return isNaN(d.getTime()) ? null : d;
  }

  function formatDateTime(value) {
    var d = toDate(value);
    if (!d) return value ? String(value) : "";
    try {
      return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(d);
    } catch (e) {
      return d.toLocaleString(locale);
    }
  }

  function timestamp(value) {
    var d = toDate(value);
    return d ? d.getTime() : 0;
  }

  /**
   * Parse what a person typed ("450", "450,50", "1 234.5") into integer minor
   * units without floats. Mirrors to_minor() in the Python i18n module.
   * Returns {ok: true, value} or {ok: false, error: translated message}.
   */
  function parseAmount(text, currency) {
    var exp = exponent(currency);
    var raw = String(text || "").trim().replace(/(\d)[ \u00a0\u202f\u2009](?=\d)/g, "$1");
    if (raw === "") return { ok: false, error: t("Enter an amount.") };
    if (raw.charAt(0) === "-" || raw.charAt(0) === "\u2212") {
      return { ok: false, error: t("The amount cannot be negative.") };
    }
    if (!/^[0-9.,]*[0-9][0-9.,]*$/.test(raw)) {
      return { ok: false, error: t("Enter the amount as a number, for example 450 or 450,50.") };
    }
    var decimalSep = "", groupSep = "";
    var hasComma = raw.indexOf(",") !== -1, hasDot = raw.indexOf(".") !== -1;
    if (hasComma && hasDot) {
      decimalSep = raw.lastIndexOf(",") > raw.lastIndexOf(".") ? "," : ".";
      groupSep = decimalSep === "," ? "." : ",";
    } else if (hasComma || hasDot) {
      var sep = hasComma ? "," : ".";
      if (raw.split(sep).length > 2) groupSep = sep; else decimalSep = sep;
    }
    var whole = raw, fraction = "";
    if (decimalSep) {
      var at = raw.lastIndexOf(decimalSep);
      whole = raw.slice(0, at);
      fraction = raw.slice(at + 1);
      if (whole.indexOf(decimalSep) !== -1 || fraction === "" || !/^[0-9]+$/.test(fraction)) {
        return { ok: false, error: t("Enter the amount as a number, for example 450 or 450,50.") };
      }
    }
    if (groupSep) {
      var groupRe = new RegExp("^[0-9]{1,3}(?:\\" + groupSep + "[0-9]{3})+$");
      if (!groupRe.test(whole)) {
        return { ok: false, error: t("Enter the amount as a number, for example 450 or 450,50.") };
      }
      whole = whole.split(groupSep).join("");
    }
    if (whole === "") whole = "0";
    if (!/^[0-9]+$/.test(whole)) {
      return { ok: false, error: t("Enter the amount as a number, for example 450 or 450,50.") };
    }
    if (fraction.length > exp) {
      return {
        ok: false,
        error: exp === 0 ? t("This currency has no decimals.") : t("Use at most two decimals.")
      };
    }
    while (fraction.length < exp) fraction += "0";
    var digits = (whole + fraction).replace(/^0+(?=\d)/, "");
    var value = Number(digits);
    if (!Number.isSafeInteger(value)) {
      return { ok: false, error: t("The amount is too large.") };
    }
    if (value <= 0) return { ok: false, error: t("The amount must be greater than zero.") };
    return { ok: true, value: value };
  }

  var liveRegion = null;
  var liveTimer = null;
  /** Say something politely to screen readers (the visible UI changes separately). */
  function announce(message) {
    if (!liveRegion) liveRegion = document.getElementById("live-status");
    if (!liveRegion) return;
    // Clearing first makes repeated identical messages be read again.
    liveRegion.textContent = "";
    clearTimeout(liveTimer);
    liveTimer = setTimeout(function () { liveRegion.textContent = message; }, 60);
  }

  function $(selector, root) {
    return (root || document).querySelector(selector);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var v = attrs[key];
        if (v === null || v === undefined || v === false) return;
        if (key === "text") node.textContent = v;
        else if (key === "className") node.className = v;
        else node.setAttribute(key, v === true ? "" : String(v));
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function showNotice(node, message) {
    if (!node) return;
    if (message) {
      node.textContent = message;
      node.hidden = false;
    } else {
      node.textContent = "";
      node.hidden = true;
    }
  }

  /** The message of a failed ack: the server's (translated) text, or a generic one. */
  function ackError(err, ack) {
    if (err) return t("The server did not answer. Please try again.");
    if (ack && ack.error && ack.error.message) return ack.error.message;
    return t("Something went wrong. Please try again.");
  }

  /** Emit with a 10 s timeout; callback(errorMessage|null, ack). */
  function request(socket, event, payload, callback) {
    socket.timeout(10000).emit(event, payload, function (err, ack) {
      if (err || !ack || ack.ok !== true) {
        callback(ackError(err, ack), ack || null);
      } else {
        callback(null, ack);
      }
    });
  }

  var ENDED_STATES = { ended: true, closed: true, finished: true };
  function consultEnded(consult) {
    return !!(consult && ENDED_STATES[consult.status]);
  }

  /**
   * Connect to the /consult namespace and keep the connection badge and fatal
   * errors up to date. handlers: {onState, onRequested, onUpdated, onReceived, onEnded}.
   */
  function connect(handlers) {
    var badge = $("[data-role=connection]");
    var badgeText = $("[data-role=connection-text]");
    var fatal = $("[data-role=fatal]");

    function setConnection(state, text) {
      if (badge) badge.setAttribute("data-state", state);
      if (badgeText) badgeText.textContent = text;
    }

    if (typeof window.io !== "function") {
      setConnection("offline", t("Offline"));
      showNotice(fatal, t("Could not load the live connection. Please reload the page."));
      return null;
    }

    var socket = window.io((config.socket_url || "") + "/consult", {
      path: config.socket_path || "/socket.io/",
      auth: { token: config.token },
      transports: ["websocket", "polling"]
    });
    var wasConnected = false;

    socket.on("connect", function () {
      setConnection("connected", t("Connected"));
      showNotice(fatal, "");
      if (wasConnected) announce(t("Connected again."));
      wasConnected = true;
    });
    socket.on("disconnect", function () {
      if (socket.active) {
        setConnection("reconnecting", t("Reconnecting…"));
        announce(t("Connection lost. Reconnecting…"));
      } else {
        setConnection("offline", t("Offline"));
      }
    });
    socket.on("connect_error", function (err) {
      if (socket.active) {
        // A transport hiccup: the client retries by itself.
        setConnection("reconnecting", t("Reconnecting…"));
      } else {
        // Refused by the server (e.g. expired link): its message is already translated.
        setConnection("offline", t("Offline"));
        showNotice(fatal, (err && err.message) || t("Could not connect."));
      }
    });

    // Extra events a panel listens to: {"event:name": function (data) {…}}.
    Object.keys(handlers.on || {}).forEach(function (name) { socket.on(name, handlers.on[name]); });

    socket.on("consult:state", function (data) {
      if (handlers.onState) handlers.onState(data || {});
      if (data && consultEnded(data.consult) && handlers.onEnded) handlers.onEnded(data.consult);
    });
    socket.on("payment:requested", function (data) {
      if (data && data.request && handlers.onRequested) handlers.onRequested(data.request);
    });
    socket.on("payment:updated", function (data) {
      if (data && data.request && handlers.onUpdated) handlers.onUpdated(data.request);
    });
    socket.on("payment:received", function (data) {
      if (data && data.request && handlers.onReceived) handlers.onReceived(data.request);
    });
    socket.on("consult:ended", function (data) {
      if (handlers.onEnded) handlers.onEnded((data && data.consult) || null);
    });
    return socket;
  }

  /** Newest first; ties keep a stable order by id. */
  function sortRequests(list) {
    return list.slice().sort(function (a, b) {
      var d = timestamp(b.created_at) - timestamp(a.created_at);
      return d !== 0 ? d : String(a.id).localeCompare(String(b.id));
    });
  }

  window.ConsultPay = {
    config: config,
    lang: lang,
    locale: locale,
    t: t,
    money: money,
    exponent: exponent,
    parseAmount: parseAmount,
    statusLabel: statusLabel,
    formatDateTime: formatDateTime,
    announce: announce,
    $: $,
    el: el,
    showNotice: showNotice,
    request: request,
    connect: connect,
    consultEnded: consultEnded,
    sortRequests: sortRequests
  };
})();
