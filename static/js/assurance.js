// Fairness and drift forms: once a CSV is chosen, offer its header's column names in the
// column fields (a <datalist>). The form works without this; the server checks everything.
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || input.type !== "file" || !input.dataset.csvHeader) {
    return;
  }
  const list = document.getElementById(input.dataset.csvHeader);
  const status = document.getElementById(`${input.dataset.csvHeader}-status`);
  const file = input.files && input.files[0];
  if (!list || !file) {
    return;
  }
  const reader = new FileReader();
  reader.onload = () => {
    const text = String(reader.result || "").replace(/^\uFEFF/, "");
    const firstLine = text.split(/\r?\n/, 1)[0] || "";
    const delimiter = [",", ";", "\t"].reduce((best, d) => (firstLine.split(d).length > firstLine.split(best).length ? d : best), ",");
    const names = firstLine.split(delimiter).map((n) => n.trim().replace(/^"|"$/g, "")).filter(Boolean);
    list.replaceChildren(...names.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      return option;
    }));
    if (status) {
      status.textContent = names.length ? `Columns in the file: ${names.join(", ")}` : "";
    }
  };
  reader.readAsText(file.slice(0, 65536));
});
