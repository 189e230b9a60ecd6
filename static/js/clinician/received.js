/* The "Payment received" popup: one line per payment, focus back where it was. */
import { t } from "../panel/config.js";
import { hideDialog, returnFocus, showDialog } from "../panel/dialogs.js";
import { $, announce, el } from "../panel/dom.js";
import { money } from "../panel/format.js";
import { currencyOf, patientName } from "./state.js";

const dialog = $("[data-role=received-dialog]");
const dialogList = $("[data-role=received-list]");
const ok = $("[data-role=received-ok]");
const amountInput = $("#amount");

let focusBefore = null;

/** Add the payment to the popup, opening it if it is not open yet. */
export function showReceived(r) {
  const alreadyOpen = dialog.open;
  const line = t("{amount} for “{description}”", {
    amount: money(r.amount, currencyOf(r)),
    description: r.description || ""
  });
  const name = patientName(r.patient_id);
  dialogList.appendChild(el("li", { "data-request-id": r.id }, [
    el("strong", { text: line }),
    name ? el("br") : null,
    name ? el("span", { className: "muted", text: name }) : null
  ]));
  if (!dialog.open) {
    focusBefore = document.activeElement;
    showDialog(dialog);
  }
  ok.focus();
  // Opening the alertdialog is announced by itself; later ones join its list quietly.
  if (alreadyOpen) {
    announce(t("Payment received: {amount} — {description}", {
      amount: money(r.amount, currencyOf(r)),
      description: r.description || ""
    }));
  }
}

export function initReceived() {
  dialog.addEventListener("close", () => {
    dialogList.textContent = "";
    const target = focusBefore;
    focusBefore = null;
    returnFocus(target, amountInput, false);
  });
  ok.addEventListener("click", () => hideDialog(dialog));
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !dialog.open) hideDialog(dialog); // fallback without native dialog
  });
}
