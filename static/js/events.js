// Event form: show the venue for on-site and hybrid events, the link for online and hybrid ones.
(function () {
  "use strict";
  function sync(form) {
    var checked = form.querySelector('input[name="mode"]:checked');
    var mode = checked ? checked.value : "on_site";
    var place = form.querySelector('[name="place"]');
    var link = form.querySelector('[name="link"]');
    if (place) place.closest(".field").classList.toggle("is-hidden", mode === "online");
    if (link) link.closest(".field").classList.toggle("is-hidden", mode === "on_site");
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.event-form").forEach(function (form) {
      sync(form);
      form.addEventListener("change", function (event) {
        if (event.target.name === "mode") sync(form);
      });
    });
  });
})();
