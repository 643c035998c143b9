// The local Shopify page (web/demo/shopify.py): draws what the local Shopify holds, from the
// state embedded in the page, then from state.json each second. Values are set as text, never
// as HTML (a metafield value is whatever the app wrote).
(function () {
  "use strict";
  const POLL_MS = 1000;
  const main = document.querySelector("main[data-state-url]");
  const status = document.getElementById("status");

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    for (const child of children || []) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function shown(field) {
    if (field.type !== "json") return field.value;
    try {
      return JSON.stringify(JSON.parse(field.value), null, 2);
    } catch (_) {
      return field.value;
    }
  }

  function metafieldTable(fields) {
    if (!fields.length) return el("p", { class: "empty" }, ["No metafields yet."]);
    const rows = fields.map((field) =>
      el("tr", {}, [
        el("th", { scope: "row" }, [`${field.namespace}.${field.key}`]),
        el("td", { class: "type" }, [field.type]),
        el("td", {}, [
          field.type === "json" ? el("pre", {}, [shown(field)]) : el("code", {}, [field.value]),
        ]),
      ])
    );
    const head = el("tr", {}, [
      el("th", { scope: "col" }, ["Metafield"]),
      el("th", { scope: "col", class: "type-head" }, ["Type"]),
      el("th", { scope: "col" }, ["Value"]),
    ]);
    return el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)]);
  }

  function draw(state) {
    document.getElementById("shop-gid").textContent = state.shop.id;
    document.getElementById("shop-metafields").replaceChildren(
      metafieldTable(state.shop.metafields)
    );
    document.getElementById("customers").replaceChildren(
      ...state.customers.map((customer) =>
        el("article", { class: "customer", "data-customer": customer.id }, [
          el("h3", {}, [customer.name || customer.id]),
          el("p", { class: "gid" }, [[customer.email, customer.id].filter(Boolean).join(" · ")]),
          metafieldTable(customer.metafields),
        ])
      )
    );
    const requests = state.requests.map((call) =>
      el("li", { class: call.refused ? "refused" : "" }, [
        el("code", {}, [call.operation || "(anonymous)"]),
        ` ${call.status}${call.refused ? " · refused" : ""}`,
      ])
    );
    document.getElementById("requests").replaceChildren(
      ...(requests.length ? requests : [el("li", { class: "empty" }, ["None yet."])])
    );
  }

  async function poll() {
    try {
      const response = await fetch(main.dataset.stateUrl, { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      draw(await response.json());
      status.textContent = `Live: updated ${new Date().toLocaleTimeString()}.`;
      status.classList.remove("offline");
    } catch (error) {
      status.textContent = `Not reachable (${error.message}); trying again.`;
      status.classList.add("offline");
    }
    setTimeout(poll, POLL_MS);
  }

  draw(JSON.parse(document.getElementById("state").textContent));
  setTimeout(poll, POLL_MS);
})();
