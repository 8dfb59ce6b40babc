// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // A second click on "Book" while the first request is on its way would ask for
  // the same time again; the server would answer "taken" to the second one.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
    form.querySelectorAll("button[data-once]").forEach(function (button) {
      button.dataset.label = button.textContent;
      button.setAttribute("aria-disabled", "true");
      button.textContent = button.textContent.trim() + "…";
    });
  });

  // Coming back with the Back button restores the page as it was left: sendable again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-sent]").forEach(function (form) {
      delete form.dataset.sent;
      form.querySelectorAll("button[data-once]").forEach(function (button) {
        button.removeAttribute("aria-disabled");
        if (button.dataset.label) button.textContent = button.dataset.label;
      });
    });
  });

  // The private link: one tap selects it, and a copy button where the browser can copy.
  document.querySelectorAll("input[data-copy]").forEach(function (input) {
    input.addEventListener("focus", function () { input.select(); });
    if (!navigator.clipboard) return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.textContent = "Copy link";
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(input.value).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy link"; }, 2000);
      });
    });
    var row = document.createElement("div");
    row.className = "copy-row";
    input.parentNode.insertBefore(row, input);
    row.appendChild(input);
    row.appendChild(button);
  });
})();
