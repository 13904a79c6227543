// Formsets on the pilot form: "Add a partner / milestone / metric" clones the empty row kept in
// a <template> and bumps the management form's TOTAL_FORMS. Without JavaScript one empty row
// is always there; save and edit again for more.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-formset-add]");
  if (!button) {
    return;
  }
  const prefix = button.dataset.formsetAdd;
  const total = document.getElementById(`id_${prefix}-TOTAL_FORMS`);
  const template = document.getElementById(`${prefix}-empty`);
  const rows = document.getElementById(`${prefix}-rows`);
  if (!total || !template || !rows) {
    return;
  }
  const index = Number(total.value);
  const html = template.innerHTML.replace(/__prefix__/g, String(index));
  rows.insertAdjacentHTML("beforeend", html);
  total.value = String(index + 1);
  const first = rows.lastElementChild && rows.lastElementChild.querySelector("input, select, textarea");
  if (first) {
    first.focus();
  }
});
