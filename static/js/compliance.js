// Compliance pages: the dossier's print button. Everything works without it (use the browser's print).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});
