/* Modal dialogs: the native <dialog>, with a plain attribute where it is missing. */

export function showDialog(node) {
  if (typeof node.showModal === "function") node.showModal();
  else node.setAttribute("open", "");
}

export function hideDialog(node) {
  if (typeof node.close === "function" && node.open) node.close();
  else node.removeAttribute("open");
}

/**
 * Give focus back to what had it before a dialog opened, if it is still on the
 * page and usable (and shown, when mustBeShown); otherwise to the fallback.
 */
export function returnFocus(target, fallback, mustBeShown) {
  if (target && typeof target.focus === "function" && document.contains(target) &&
      !target.disabled && !(mustBeShown && target.hidden)) {
    target.focus();
  } else if (fallback) {
    fallback.focus();
  }
}
