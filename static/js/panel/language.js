/* The patient's language switch: the links carry ?lang=; the choice is kept in
   localStorage, so a panel opened again from the plain join link comes back in it. */
import { config } from "./config.js";

const KEY = "consultpay.lang";
const switcher = document.querySelector("[data-role=language-switch]");

function stored() {
  try {
    return window.localStorage.getItem(KEY);
  } catch (e) {
    return null; // storage blocked (a strict framed context): the link alone still works
  }
}

if (switcher) {
  const offered = Array.from(switcher.querySelectorAll("a[data-lang]")).map((a) => a.getAttribute("data-lang"));
  switcher.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-lang]");
    if (!link) return;
    try {
      window.localStorage.setItem(KEY, link.getAttribute("data-lang"));
    } catch (e) {
      /* not kept: the URL still carries it */
    }
  });
  const saved = stored();
  const params = new URLSearchParams(window.location.search);
  const current = String(config.lang || "").split("-")[0];
  if (!params.has("lang") && saved && offered.includes(saved) && saved !== current) {
    params.set("lang", saved);
    window.location.replace(window.location.pathname + "?" + params.toString());
  }
}
