// VIP tier form: a live preview of how many customers each tier would hold with the threshold
// being typed (GET /app/api/vip-tiers/preview), and how many customers a save moved.
(function () {
  "use strict";
  const admin = window.LoyaltyAdmin;
  const form = document.getElementById("tier-form");
  if (!admin || !form) return;
  const tierId = form.dataset.tierId;
  const rows = document.querySelector("[data-preview-rows]");
  const without = document.querySelector("[data-preview-without]");
  const warning = document.querySelector("[data-preview-warning]");
  let timer = null;
  let latest = 0;

  function cell(text) {
    const el = document.createElement("s-table-cell");
    el.textContent = text;
    return el;
  }

  async function refresh() {
    const values = admin.formValues(form);
    const threshold = values.points_required;
    if (typeof threshold !== "number" || threshold < 0) return; // nothing sensible to preview
    const query = new URLSearchParams({ points_required: String(threshold) });
    if (tierId) query.set("tier_id", tierId);
    if (values.name) query.set("name", values.name);
    const request = ++latest;
    const result = await admin.api("GET", "/vip-tiers/preview?" + query.toString());
    if (!result.ok || request !== latest) return;
    rows.replaceChildren();
    result.body.data.forEach(function (row) {
      const tr = document.createElement("s-table-row");
      if (row.attributes.edited) tr.setAttribute("data-edited", "");
      const name = row.attributes.name + (row.attributes.edited ? " (this tier)" : "");
      tr.append(
        cell(name),
        cell(row.attributes.points_required.toLocaleString("en")),
        cell(row.attributes.customers.toLocaleString("en"))
      );
      rows.append(tr);
    });
    without.textContent = result.body.meta.without_tier.toLocaleString("en");
    warning.hidden = !result.body.meta.duplicate_threshold;
  }

  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 250);
  });

  form.addEventListener("admin:saved", function (event) {
    // The customers are re-placed by a background job (loyalty.tiers.placement).
    const placing = event.detail && event.detail.meta ? event.detail.meta.placing_customers : false;
    if (placing) {
      event.preventDefault();
      admin.go(form.dataset.go, form.dataset.toast + ": moving customers to their tiers in the background");
    }
  });
})();
