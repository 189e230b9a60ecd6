/* Small DOM helpers: find, build, show a notice, mark a field invalid, tell screen readers. */

export function $(selector, root) {
  return (root || document).querySelector(selector);
}

/** Build an element: attrs (text, className, plain attributes) and children (nodes or strings). */
export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([key, v]) => {
    if (v === null || v === undefined || v === false) return;
    if (key === "text") node.textContent = v;
    else if (key === "className") node.className = v;
    else node.setAttribute(key, v === true ? "" : String(v));
  });
  (children || []).forEach((child) => {
    if (child === null || child === undefined) return;
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  });
  return node;
}

/** Show a notice with this message, or hide it when there is none. */
export function showNotice(node, message) {
  if (!node) return;
  node.textContent = message || "";
  node.hidden = !message;
}

/** A field's error under it, tied to the field for screen readers; null clears it. */
export function setFieldError(input, errorNode, message) {
  if (!input || !errorNode) return;
  const described = (input.getAttribute("aria-describedby") || "").split(/\s+/)
    .filter((id) => id && id !== errorNode.id);
  if (message) {
    errorNode.textContent = message;
    errorNode.hidden = false;
    input.setAttribute("aria-invalid", "true");
    described.push(errorNode.id);
  } else {
    errorNode.textContent = "";
    errorNode.hidden = true;
    input.removeAttribute("aria-invalid");
  }
  if (described.length) input.setAttribute("aria-describedby", described.join(" "));
  else input.removeAttribute("aria-describedby");
}

/** Clear a field's error as soon as the person types in it (a select: picks something). */
export function clearErrorOnChange(input, errorNode) {
  if (!input) return;
  if (input.tagName === "SELECT") {
    input.addEventListener("change", () => setFieldError(input, errorNode, null));
    return;
  }
  input.addEventListener("input", () => {
    if (input.getAttribute("aria-invalid")) setFieldError(input, errorNode, null);
  });
}

let liveRegion = null;
let liveTimer = null;
/** Say something politely to screen readers (the visible UI changes separately). */
export function announce(message) {
  if (!liveRegion) liveRegion = document.getElementById("live-status");
  if (!liveRegion) return;
  // Clearing first makes repeated identical messages be read again.
  liveRegion.textContent = "";
  clearTimeout(liveTimer);
  liveTimer = setTimeout(() => { liveRegion.textContent = message; }, 60);
}
