// Classification wizard: after HTMX swaps in the next questions, move focus to the first
// unanswered one when the previously focused control is gone, so keyboard users keep their place.
document.body.addEventListener("htmx:afterSettle", (event) => {
  if (!event.target || event.target.id !== "wizard-body") {
    return;
  }
  if (document.activeElement && document.activeElement !== document.body) {
    return;
  }
  const next = document.querySelector("#wizard-body .question.unanswered input");
  if (next) {
    next.focus({ preventScroll: false });
  }
});
