/* What both panels do with payment requests: keep them by id, order them,
   and draw them into a list without losing focus. */
import { timestamp } from "./format.js";

/** The requests of a consult:state, by id. */
export function byId(list) {
  const requests = new Map();
  (list || []).forEach((r) => { if (r && r.id) requests.set(r.id, r); });
  return requests;
}

/** Newest first; ties keep a stable order by id. */
export function sortRequests(list) {
  return list.slice().sort((a, b) => {
    const d = timestamp(b.created_at) - timestamp(a.created_at);
    return d !== 0 ? d : String(a.id).localeCompare(String(b.id));
  });
}

/**
 * Make container's children match items, in order: one child per item, found
 * by its `attribute` (the item's id), built once by build(id) and filled by
 * fill(node, item) on every call. A child is moved only when out of place, so
 * a focused button in it keeps focus; children of items gone are removed.
 */
export function reconcile(container, items, attribute, build, fill) {
  const existing = new Map();
  Array.from(container.children).forEach((node) => existing.set(node.getAttribute(attribute), node));
  items.forEach((item, index) => {
    const node = existing.get(item.id) || build(item.id);
    existing.delete(item.id);
    fill(node, item);
    if (container.children[index] !== node) container.insertBefore(node, container.children[index] || null);
  });
  existing.forEach((node) => node.remove());
}

/**
 * One click listener for the buttons of every item in the container:
 * handlers[button's data-role](request id, button).
 */
export function onItemAction(container, handlers) {
  container.addEventListener("click", (event) => {
    const target = event.target.closest("button[data-role]");
    const item = target && target.closest("[data-request-id]");
    const handler = target && handlers[target.getAttribute("data-role")];
    if (item && handler) handler(item.getAttribute("data-request-id"), target);
  });
}

/** A fresh idempotency key. */
export function newKey() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID();
  }
  // Older browsers / non-secure contexts: random enough for deduplication.
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => ("0" + b.toString(16)).slice(-2)).join("");
}

/** The consult as the page knows it, updated by the server's view of it. */
export function mergeConsult(consult, update) {
  return update ? Object.assign({}, consult, update) : consult;
}
