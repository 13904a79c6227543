// The application form: remove resource rows, focus a new row, confirm the submission.
// The form works without this file: every button also posts the form to the server.
(function () {
  "use strict";

  // Remove a resource row in the page, then let the estimate and the autosave catch up
  // (both listen for "rowsChanged" on the body).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-remove-row]");
    if (!button) {
      return;
    }
    event.preventDefault();
    var row = button.closest("[data-row]");
    if (row) {
      row.remove();
    }
    document.body.dispatchEvent(new CustomEvent("rowsChanged"));
    var add = document.getElementById("add-row");
    if (add) {
      add.focus();
    }
  });

  // A row fetched by "Add a resource" takes the focus, so keyboard users land in it.
  document.addEventListener("htmx:load", function (event) {
    var element = event.detail && event.detail.elt;
    if (element && element.matches && element.matches("[data-row][data-focus]")) {
      var select = element.querySelector("select");
      if (select) {
        select.focus();
      }
    }
  });

  // Buttons with data-confirm ask before their form is sent (forms with data-confirm are
  // handled by app.js).
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = button && button.dataset ? button.dataset.confirm : "";
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
