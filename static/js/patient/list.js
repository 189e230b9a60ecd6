/* The patient's payment requests (what can be paid first) and the confirmation of what was paid. */
import { isOpen, isPaid, problemText, requestLabel, statuses, t } from "../panel/config.js";
import { $, announce, el } from "../panel/dom.js";
import { formatDateTime, money } from "../panel/format.js";
import { reconcile, sortRequests } from "../panel/requests.js";
import { gateList, inWaitingRoom, renderGate, showing as waitingRoomShowing } from "./gate.js";
import { amountOf, state } from "./state.js";
import { buildVipps, fillVipps, offered as vippsOffered } from "./vipps.js";

const list = $("[data-role=request-list]");
const section = $("[data-role=requests-section]");
const nothing = $("[data-role=nothing-pending]");
const confirmation = $("[data-role=confirmation]");
const confirmationList = $("[data-role=confirmation-list]");

export { gateList, list };

function title(r) {
  return t("Payment requested: {amount} — {description}", { amount: amountOf(r), description: r.description || "" });
}

function buildItem(id) {
  // The Pay now clicks reach one listener on the list (patient.js).
  return el("li", { "data-request-id": id }, [
    el("p", { className: "request__title", "data-role": "title" }),
    el("div", { className: "request__meta" }, [
      el("span", { className: "status", "data-role": "status" }),
      el("span", { "data-role": "time" })
    ]),
    el("p", { className: "request__note", "data-role": "note", hidden: true }),
    el("div", { className: "request__actions" }, [
      // With Vipps offered the patient chooses: *Pay with Vipps* or *Pay now by card*.
      vippsOffered ? el("button", { type: "button", className: "button button--vipps", "data-role": "vipps",
        text: t("Pay with Vipps") }) : null,
      el("button", { type: "button", className: vippsOffered ? "button button--secondary" : "button button--primary",
        "data-role": "pay", text: vippsOffered ? t("Pay now by card") : t("Pay now") }),
      el("a", {
        className: "button button--secondary",
        "data-role": "checkout-link",
        target: "_blank",
        rel: "noopener",
        hidden: true,
        text: t("Open the payment page")
      })
    ]),
    vippsOffered ? buildVipps(id) : null
  ]);
}

function note(r, payable) {
  if (payable && state.fallbackLinks[r.id]) {
    return t("Your browser blocked the new window. Use the link to open the payment page.");
  }
  // A decline, or the page left or timed out: said in words, live.
  const problem = problemText(r);
  if (r.method === "vipps" && r.vipps && r.vipps.state === "AUTHORIZED" && !state.ended) {
    return t("Approved in Vipps. Completing the payment…");
  }
  if (r.method === "vipps" && r.status === statuses.request.CHECKOUT_OPEN && !state.ended) {
    // The Vipps part of the item says what to do while this panel knows the flow.
    return state.vipps[r.id] ? "" : t("The payment is waiting in Vipps on your phone. Open Vipps and approve it; this panel updates by itself.");
  }
  if (r.status === statuses.request.CHECKOUT_OPEN && !state.ended) {
    return problem || t("The payment page is open in another window. Finish paying there; this panel updates by itself.");
  }
  if (problem && !isPaid(r.status)) return problem;
  if (r.status === statuses.request.FAILED) return t("The payment did not go through. No money was taken.");
  return "";
}

function fillItem(li, r) {
  const description = r.description || "";
  li.setAttribute("data-status", r.status);
  if (r.onward) li.setAttribute("data-onward", r.onward); else li.removeAttribute("data-onward");
  li.querySelector("[data-role=title]").textContent = isOpen(r.status)
    ? title(r)
    : t("{amount} — {description}", { amount: amountOf(r), description: description });
  const status = li.querySelector("[data-role=status]");
  status.textContent = requestLabel(r);
  status.className = "status status--" + r.status;
  const when = r.paid_at || r.created_at;
  li.querySelector("[data-role=time]").textContent = when ? formatDateTime(when) : "";

  const payable = isOpen(r.status) && !state.ended;
  const busy = !!state.busy[r.id];
  const pay = li.querySelector("[data-role=pay]");
  pay.hidden = !payable;
  pay.disabled = !payable || busy;
  const what = { amount: amountOf(r), description: description };
  // In the waiting room the heading says what and why; a hold is authorised, not paid, and by card only.
  const gated = inWaitingRoom(r);
  const hold = gated && r.kind === statuses.policy.HOLD;
  // A card on file is saved in the waiting room, not paid: by card only, charged after the call.
  const saveCard = gated && r.kind === statuses.policy.CARD_ON_FILE;
  // The heading above says what and why; "Requested" and its time would only repeat it.
  li.querySelector("[data-role=title]").hidden = gated;
  li.querySelector(".request__meta").hidden = gated;
  if (gated) {
    pay.className = "button button--primary";
    pay.textContent = hold ? t("Authorise card") : saveCard ? t("Save your card") : t("Pay by card");
    pay.setAttribute("aria-label", hold ? t("Authorise card: up to {amount}", what)
      : saveCard ? t("Save your card for {description}", what)
        : t("Pay by card: {amount} — {description}", what));
  } else {
    pay.setAttribute("aria-label", vippsOffered ? t("Pay now by card: {amount} — {description}", what)
      : t("Pay now: {amount} — {description}", what));
  }
  if (busy) pay.setAttribute("aria-busy", "true"); else pay.removeAttribute("aria-busy");
  const vipps = li.querySelector("[data-role=vipps]");
  if (vipps) {
    vipps.hidden = !payable || hold || saveCard;
    vipps.disabled = !payable || busy;
    vipps.setAttribute("aria-label", t("Pay with Vipps: {amount} — {description}", what));
    fillVipps(li, r);
  }

  const link = li.querySelector("[data-role=checkout-link]");
  if (payable && state.fallbackLinks[r.id]) {
    link.href = state.fallbackLinks[r.id];
    link.hidden = false;
  } else {
    link.removeAttribute("href");
    link.hidden = true;
  }

  const noteNode = li.querySelector("[data-role=note]");
  const text = note(r, payable);
  noteNode.textContent = text;
  noteNode.hidden = !text;
}

function receipt(r) {
  // The receipt's short number, never the request's long id (a screen reader would spell it out).
  const rows = [
    [t("Amount"), amountOf(r)],
    [t("Description"), r.description || ""],
    [t("Paid at"), formatDateTime(r.paid_at)]
  ];
  if (r.receipt) rows.push([t("Receipt number"), r.receipt.number]);
  if (r.refunded_amount) {
    rows.push([t("Refunded"), money(r.refunded_amount, r.currency || state.consult.currency)]);
  }
  const details = el("dl", { className: "details" }, rows.map((row) => el("div", null, [
    el("dt", { text: row[0] }),
    el("dd", { text: row[1] })
  ])));
  if (!r.receipt) return details;
  // Opened in a new window: the call goes on in this one.
  const links = el("p", { className: "receipt-links" }, [
    el("a", { href: r.receipt.url, target: "_blank", rel: "noopener", "data-role": "receipt-link",
      text: t("View receipt {number}", { number: r.receipt.number }) }),
    " · ",
    el("a", { href: r.receipt.url + "?format=pdf", target: "_blank", rel: "noopener",
      text: t("Receipt (PDF) {number}", { number: r.receipt.number }) })
  ]);
  return el("div", null, [details, links]);
}

function renderConfirmation(sorted) {
  const paid = sorted.filter((r) => isPaid(r.status));
  confirmation.hidden = paid.length === 0;
  reconcile(
    confirmationList,
    paid,
    "data-paid-request-id",
    (id) => el("div", { className: "confirmation__item", "data-paid-request-id": id }),
    (node, r) => node.replaceChildren(receipt(r))
  );
}

export function render() {
  // What can still be paid comes first; then the rest, newest first.
  // The waiting room's request is drawn there, above everything, until it is paid.
  renderGate(buildItem, fillItem);
  const all = sortRequests(Array.from(state.requests.values()));
  const sorted = all.filter((r) => !inWaitingRoom(r))
    .sort((a, b) => (isOpen(b.status) ? 1 : 0) - (isOpen(a.status) ? 1 : 0));
  reconcile(list, sorted, "data-request-id", buildItem, fillItem);
  section.hidden = sorted.length === 0;
  // An amount on its way by SMS is still asked for: "no payment is requested" would not be true.
  const bySms = [statuses.onward.MEDIPAY_SMS, statuses.onward.MEDIPAY_QUEUE];
  nothing.hidden = waitingRoomShowing() || sorted.some((r) => isOpen(r.status) || bySms.includes(r.onward));
  renderConfirmation(all);
}

/** Take the server's view of one request, draw it, and say what changed. */
export function upsert(r) {
  if (!r || !r.id) return;
  const before = state.requests.get(r.id);
  const problemBefore = before ? problemText(before) : "";
  state.requests.set(r.id, r);
  if (!isOpen(r.status)) {
    delete state.fallbackLinks[r.id];
    delete state.vipps[r.id];
  }
  render();
  if (!before && isOpen(r.status)) {
    announce(title(r));
  } else if (before && before.status !== r.status) {
    if (isPaid(r.status) && !isPaid(before.status)) {
      const what = { amount: amountOf(r), description: r.description || "", reference: r.receipt ? r.receipt.number : "" };
      announce(t("Thank you! Your payment has been received.") + " " + (r.receipt
        ? t("{amount} for “{description}”. Reference: {reference}.", what)
        : t("{amount} for “{description}”", what)));
    } else {
      announce(t("{description}: {status}", { description: r.description || "", status: requestLabel(r) }));
    }
  } else if (before && problemText(r) && problemText(r) !== problemBefore) {
    announce(problemText(r));
  } else if (before && r.onward && r.onward !== before.onward) {
    announce(t("{description}: {status}", { description: r.description || "", status: requestLabel(r) }));
  }
}
