/* Ask before an action that cannot be undone or that reaches the patient: one modal
   dialog on the page ([data-role=confirm-dialog]), opened by the person's own click, so
   moving focus into it is expected; Escape or Back answers no, and focus goes back. */
import { hideDialog, returnFocus, showDialog } from "./dialogs.js";
import { $, el } from "./dom.js";

const dialog = $("[data-role=confirm-dialog]");
let answer = null;
let opener = null;

function finish(yes) {
  const done = answer;
  answer = null;
  hideDialog(dialog);
  returnFocus(opener, null, true);
  opener = null;
  if (done) done(yes);
}

/**
 * Ask; resolves true (confirmed) or false. lines: [label, value] pairs shown as a list.
 * With danger, the safe button (Back) has the focus first.
 */
export function askToConfirm({ title, intro, lines, confirmLabel, danger }) {
  if (!dialog) return Promise.resolve(true);
  if (answer) finish(false);
  opener = document.activeElement;
  $("[data-role=confirm-title]", dialog).textContent = title;
  $("[data-role=confirm-intro]", dialog).textContent = intro || "";
  const list = $("[data-role=confirm-lines]", dialog);
  list.textContent = "";
  (lines || []).forEach(([label, value]) => {
    list.appendChild(el("div", {}, [el("dt", { text: label }), el("dd", { text: value })]));
  });
  const yes = $("[data-role=confirm-yes]", dialog);
  yes.textContent = confirmLabel;
  yes.className = "button " + (danger ? "button--danger" : "button--primary");
  return new Promise((resolve) => {
    answer = resolve;
    showDialog(dialog);
    (danger ? $("[data-role=confirm-back]", dialog) : yes).focus();
  });
}

export function initConfirm() {
  if (!dialog) return;
  $("[data-role=confirm-yes]", dialog).addEventListener("click", () => finish(true));
  $("[data-role=confirm-back]", dialog).addEventListener("click", () => finish(false));
  // Escape closes a native modal dialog with a "cancel" event: that is a no.
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    finish(false);
  });
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !dialog.open) finish(false); // fallback without native dialog
  });
}
