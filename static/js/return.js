/* Checkout return page: local times and a close button for script-opened windows. */
(function () {
  "use strict";
  var lang = document.documentElement.lang || "nb";
  var locale = lang === "nb" ? "nb-NO" : lang;
  Array.prototype.forEach.call(document.querySelectorAll("time[datetime]"), function (node) {
    var d = new Date(node.getAttribute("datetime"));
    if (isNaN(d.getTime())) return;
    try {
      node.textContent = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(d);
    } catch (e) { /* keep the server's text */ }
  });

  var close = document.querySelector("[data-role=close-window]");
  // Browsers only let scripts close windows that scripts opened (our Pay now window).
  if (close && window.history.length <= 2) {
    close.hidden = false;
    close.addEventListener("click", function () {
      window.close();
      // Still here: the browser refused, so stop offering a button that does nothing.
      setTimeout(function () { close.hidden = true; }, 300);
    });
  }
})();
