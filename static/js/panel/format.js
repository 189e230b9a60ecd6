/* Money and dates in the page's language. Money is integer minor units, never floats. */
import { config, locale, t } from "./config.js";

const formatters = {};
function currencyFormat(currency) {
  if (!formatters[currency]) {
    formatters[currency] = new Intl.NumberFormat(locale, { style: "currency", currency: currency });
  }
  return formatters[currency];
}

/** Minor-unit digits of a currency: 2 for NOK, 0 for JPY. */
export function exponent(currency) {
  return currencyFormat(currency).resolvedOptions().maximumFractionDigits;
}

/** Format integer minor units, e.g. money(45000, "NOK") → "NOK 450.00". */
export function money(minor, currency) {
  return currencyFormat(currency).format(Number(minor) / Math.pow(10, exponent(currency)));
}

/** Minor units as an amount field shows them (no floats): 45000 → "450,00" in nb. */
export function amountForInput(minor, currency) {
  const exp = exponent(currency);
  let digits = String(Math.max(0, Math.floor(Number(minor) || 0)));
  if (exp === 0) return digits;
  while (digits.length <= exp) digits = "0" + digits;
  const decimal = String(config.lang).split("-")[0] === "en" ? "." : ",";
  return digits.slice(0, -exp) + decimal + digits.slice(-exp);
}

function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  // A number is seconds or milliseconds since the epoch.
  const d = typeof value === "number" ? new Date(value < 1e12 ? value * 1000 : value) : new Date(value);
  return isNaN(d.getTime()) ? null : d;
}

export function formatDateTime(value) {
  const d = toDate(value);
  if (!d) return value ? String(value) : "";
  try {
    return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(d);
  } catch (e) {
    return d.toLocaleString(locale);
  }
}

export function timestamp(value) {
  const d = toDate(value);
  return d ? d.getTime() : 0;
}

const NOT_A_NUMBER = "Enter the amount as a number, for example 450 or 450,50.";

/**
 * Parse what a person typed ("450", "450,50", "1 234.5") into integer minor
 * units without floats. Mirrors to_minor() in the Python i18n module.
 * Returns {ok: true, value} or {ok: false, error: translated message}.
 */
export function parseAmount(text, currency) {
  const exp = exponent(currency);
  const raw = String(text || "").trim().replace(/(\d)[ \u00a0\u202f\u2009](?=\d)/g, "$1");
  if (raw === "") return { ok: false, error: t("Enter an amount.") };
  if (raw.charAt(0) === "-" || raw.charAt(0) === "\u2212") {
    return { ok: false, error: t("The amount cannot be negative.") };
  }
  if (!/^[0-9.,]*[0-9][0-9.,]*$/.test(raw)) {
    return { ok: false, error: t("Enter the amount as a number, for example 450 or 450,50.") };
  }
  let decimalSep = "", groupSep = "";
  const hasComma = raw.indexOf(",") !== -1, hasDot = raw.indexOf(".") !== -1;
  if (hasComma && hasDot) {
    decimalSep = raw.lastIndexOf(",") > raw.lastIndexOf(".") ? "," : ".";
    groupSep = decimalSep === "," ? "." : ",";
  } else if (hasComma || hasDot) {
    const sep = hasComma ? "," : ".";
    if (raw.split(sep).length > 2) groupSep = sep; else decimalSep = sep;
  }
  let whole = raw, fraction = "";
  if (decimalSep) {
    const at = raw.lastIndexOf(decimalSep);
    whole = raw.slice(0, at);
    fraction = raw.slice(at + 1);
    if (whole.indexOf(decimalSep) !== -1 || fraction === "" || !/^[0-9]+$/.test(fraction)) {
      return { ok: false, error: t(NOT_A_NUMBER) };
    }
  }
  if (groupSep) {
    const groupRe = new RegExp("^[0-9]{1,3}(?:\\" + groupSep + "[0-9]{3})+$");
    if (!groupRe.test(whole)) return { ok: false, error: t(NOT_A_NUMBER) };
    whole = whole.split(groupSep).join("");
  }
  if (whole === "") whole = "0";
  if (!/^[0-9]+$/.test(whole)) return { ok: false, error: t(NOT_A_NUMBER) };
  if (fraction.length > exp) {
    return {
      ok: false,
      error: exp === 0 ? t("This currency has no decimals.") : t("Use at most two decimals.")
    };
  }
  while (fraction.length < exp) fraction += "0";
  const value = Number((whole + fraction).replace(/^0+(?=\d)/, ""));
  if (!Number.isSafeInteger(value)) return { ok: false, error: t("The amount is too large.") };
  if (value <= 0) return { ok: false, error: t("The amount must be greater than zero.") };
  return { ok: true, value: value };
}
