// Reward form: show the fields the chosen type uses. A section carries data-kinds (the types
// it belongs to) and/or data-variable ("true" for a points range, "false" for a fixed cost);
// admin.js sends nothing from a hidden section, so a type's unused fields never reach the API.
(function () {
  "use strict";
  const form = document.getElementById("reward-form");
  if (!form) return;
  const kindField = form.querySelector("[data-reward-kind]");
  const variableField = form.querySelector("[data-reward-variable]");
  const VARIABLE_KINDS = ["fixed_amount", "store_credit"];

  function sync() {
    const kind = String(kindField.value);
    const variable = VARIABLE_KINDS.includes(kind) && String(variableField.value) === "true";
    form.querySelectorAll("[data-kinds], [data-variable]").forEach(function (section) {
      const kinds = section.dataset.kinds ? section.dataset.kinds.split(" ") : null;
      const wanted = section.dataset.variable;
      const kindOk = !kinds || kinds.includes(kind);
      const variableOk = wanted === undefined || wanted === String(variable);
      section.hidden = !(kindOk && variableOk);
    });
  }

  form.addEventListener("change", function (event) {
    // The form itself: App Bridge's save bar "Discard" put every field back (admin.js).
    if (event.target === form || event.target.closest("[data-reward-kind], [data-reward-variable]")) sync();
  });
  form.addEventListener("input", function (event) {
    if (event.target.closest("[data-reward-kind], [data-reward-variable]")) sync();
  });
  // Polaris renders its controls after the document is parsed; the values are there by then.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", sync);
  else sync();
})();
