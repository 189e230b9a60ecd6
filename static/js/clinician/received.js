/* The "Payment received" popup: one line per payment, focus back where it was.
   It never takes the focus from a field being typed in (a digit typed as it opened was
   lost): then it opens without a backdrop and without moving focus, and the payment is
   announced through the live region instead. */
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
let quiet = false;

/** Someone is typing in this field: a text field with something in it. */
function beingTypedIn(node) {
  if (!node || node === document.body) return false;
  if (node.isContentEditable) return true;
  const textLike = node.tagName === "TEXTAREA" ||
    (node.tagName === "INPUT" && /^(text|search|email|tel|url|number|password)$/i.test(node.type || "text"));
  return textLike && !node.readOnly && !node.disabled && node.value !== "";
}

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
    quiet = beingTypedIn(focusBefore);
    if (quiet) {
      // Shown, not modal, and the focus stays in the field.
      dialog.setAttribute("data-mode", "notice");
      dialog.setAttribute("aria-modal", "false");
      dialog.setAttribute("open", "");
    } else {
      dialog.removeAttribute("data-mode");
      dialog.setAttribute("aria-modal", "true");
      showDialog(dialog);
    }
  }
  if (!quiet) ok.focus();
  // Opening the modal alertdialog is announced by itself; otherwise the live region says it.
  if (alreadyOpen || quiet) {
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
    const wasQuiet = quiet;
    quiet = false;
    // Opened without taking the focus: give it back only if the person moved into the popup.
    if (wasQuiet && !dialog.contains(document.activeElement) && document.activeElement !== document.body) return;
    returnFocus(target, amountInput, false);
  });
  ok.addEventListener("click", () => hideDialog(dialog));
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !dialog.open) hideDialog(dialog); // fallback without native dialog
  });
}
