// Referrals page: the programme form. Like admin.js's forms, except that the fraud rules are
// checkboxes here and one list in the API (`disabled_checks`: the rules switched off).
(function () {
  "use strict";
  const form = document.getElementById("referral-programme");
  if (!form) return;
  const admin = window.LoyaltyAdmin;

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (form.dataset.busy) return;
    form.dataset.busy = "1";
    admin.clearErrors(form);
    const values = admin.formValues(form);
    const disabled = [];
    form.querySelectorAll("[data-check]").forEach(function (box) {
      delete values[box.getAttribute("name")];
      if (!box.checked) disabled.push(box.dataset.check);
    });
    values.disabled_checks = disabled;
    try {
      const result = await admin.api("PATCH", "/referrals/programme", values);
      if (result.ok) admin.reload(form.dataset.toast);
      else admin.showErrors(form, result.body);
    } finally {
      delete form.dataset.busy;
    }
  });
})();
