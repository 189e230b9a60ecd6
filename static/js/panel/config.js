/* The page's own data: its config (token, consult, statuses) and its translations.
   The statuses come from the server (app/web/pages.py): the scripts keep no copies. */

function readJSON(id) {
  const node = document.getElementById(id);
  if (!node) return {};
  try {
    return JSON.parse(node.textContent || "{}") || {};
  } catch (e) {
    return {};
  }
}

export const config = readJSON("config");
const strings = readJSON("i18n");

export const lang = config.lang || document.documentElement.lang || "nb";
// Intl knows "nb-NO" better than bare "nb" on some engines.
export const locale = lang === "nb" ? "nb-NO" : lang;

/** The server's statuses: enums by member name, the sets the panels decide by, labels. */
export const statuses = Object.assign(
  {
    request: {}, card: {}, consult: {}, open: [], paid: [], ended_unpaid: [], labels: {}, card_labels: {},
    problem: {}, onward: {}, problem_labels: {}, onward_labels: {}, decline_reasons: {}
  },
  config.statuses || {}
);

const has = (object, key) => Object.prototype.hasOwnProperty.call(object, key);

/** Translate an English msgid and fill {name} placeholders. */
export function t(msgid, params) {
  let text = has(strings, msgid) && strings[msgid] ? strings[msgid] : msgid;
  if (params) {
    text = text.replace(/\{(\w+)\}/g, (whole, key) => (has(params, key) ? String(params[key]) : whole));
  }
  return text;
}

/** Still waiting for the patient: can be paid, or cancelled by the clinician. */
export const isOpen = (status) => statuses.open.includes(status);
/** Paid, whether or not some or all of it went back since. */
export const isPaid = (status) => statuses.paid.includes(status);
/** Ended without being paid: what is owed can go on to MediPay. */
export const isEndedUnpaid = (status) => statuses.ended_unpaid.includes(status);

export function statusLabel(status) {
  return has(statuses.labels, status) ? t(statuses.labels[status]) : String(status || "");
}

/** What went wrong with a request's latest checkout, in words (this panel's reader's); "" when nothing. */
export function problemText(r) {
  const p = r && r.problem;
  if (!p || !has(statuses.problem_labels, p.code)) return "";
  const reasons = statuses.decline_reasons;
  const reason = has(reasons, p.detail || "") ? reasons[p.detail || ""] : reasons[""] || "";
  return t(statuses.problem_labels[p.code], { reason: t(reason) });
}

/** Where an amount not paid in the call went, in words; "" when it has not gone anywhere. */
export function onwardText(r) {
  return r && r.onward && has(statuses.onward_labels, r.onward) ? t(statuses.onward_labels[r.onward]) : "";
}

/** A request's state in words: where its amount went, once it ended unpaid; else its status. */
export function requestLabel(r) {
  if (r.method === "vipps" && r.status === statuses.request.CHECKOUT_OPEN) {
    // Approved in the app, the capture under way; else still waiting for the patient in Vipps.
    return r.vipps && r.vipps.state === "AUTHORIZED" ? t("Authorised") : t("Waiting in Vipps");
  }
  return (!isOpen(r.status) && !isPaid(r.status) && onwardText(r)) || statusLabel(r.status);
}

/** A bill card's status in the page's language (in bokmål the cash desk's own words). */
export function cardLabel(card) {
  const code = card && card.status;
  return has(statuses.card_labels, code) ? t(statuses.card_labels[code]) : String((card && card.status_label) || code || "");
}

export function consultEnded(consult) {
  return !!consult && consult.status === statuses.consult.ENDED;
}
