// API keys page: a new key is shown once, with a copy button; the list is reloaded when the
// merchant says they have stored it (the secret is never written anywhere but this page).
(function () {
  "use strict";
  const admin = window.LoyaltyAdmin;
  const form = document.getElementById("create-key");
  const panel = document.querySelector("[data-new-key]");
  if (!admin || !form || !panel) return;
  const secret = panel.querySelector("[data-secret]");

  form.addEventListener("admin:saved", function (event) {
    event.preventDefault();
    secret.textContent = event.detail.data.attributes.key;
    panel.hidden = false;
    form.hidden = true;
    secret.focus();
  });

  panel.querySelector("[data-copy]").addEventListener("click", async function () {
    try {
      await navigator.clipboard.writeText(secret.textContent);
      admin.toast("Key copied");
    } catch (error) {
      // No clipboard permission (some browsers in iframes): select it for Ctrl/Cmd+C instead.
      const range = document.createRange();
      range.selectNodeContents(secret);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      admin.toast("Press Ctrl+C (or ⌘C) to copy the selected key");
    }
  });

  panel.querySelector("[data-done]").addEventListener("click", function () {
    secret.textContent = "";
    admin.reload("Key created");
  });
})();
