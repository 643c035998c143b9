// A local stand-in for https://cdn.shopify.com/shopifycloud/app-bridge.js, for where Shopify's
// CDN cannot be reached: the local demo's admin preview (web/demo/admin_preview.py) and the
// browser tests. It does what the real script does for the admin's pages, no more:
//
// - `window.shopify`: idToken(), toast.show(), saveBar and modal minimal APIs;
// - idToken() asks the demo for a fresh session token (GET /demo/admin/id-token?shop=…, which
//   only the local demo answers; the browser tests answer it themselves) and keeps it until
//   shortly before it expires, as App Bridge gets one from Shopify admin;
// - wraps `fetch` so requests to our own origin carry `Authorization: Bearer <ID token>`;
// - on /auth/patch-id-token, reloads the `shopify-reload` URL with `id_token` appended (the
//   bounce that makes plain page navigation work);
// - <s-app-nav>: the app's menu (drawn as a bar here; Shopify puts it in the admin sidebar);
//   its links navigate as the admin does, with shop, host and a fresh id_token;
// - <form data-save-bar>: the contextual save bar once a field changes (Save submits the
//   form, Discard resets it).
(function () {
  "use strict";
  const ID_TOKEN_URL = "/demo/admin/id-token";
  const toasts = [];
  window.__appBridge = { toasts: toasts };

  const page = new URL(window.location.href);
  const shop = page.searchParams.get("shop") || "";
  const host = page.searchParams.get("host") || "";
  const realFetch = window.fetch.bind(window);

  // The token and when to stop using it (ms): 10 s before its `exp`, as a margin for clocks.
  let cached = { token: "", until: 0 };
  function idToken() {
    if (cached.token && Date.now() < cached.until) return Promise.resolve(cached.token);
    const url = ID_TOKEN_URL + "?" + new URLSearchParams({ shop: shop }).toString();
    return realFetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("App Bridge stand-in: no ID token (" + response.status + ")");
        return response.json();
      })
      .then(function (body) {
        const claims = JSON.parse(atob(body.id_token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
        cached = { token: body.id_token, until: claims.exp * 1000 - 10000 };
        return body.id_token;
      });
  }

  // `path` (same origin) as Shopify admin loads an app page: shop, host and a fresh id_token.
  function withToken(path) {
    return idToken().then(function (token) {
      const target = new URL(path, window.location.origin);
      if (shop) target.searchParams.set("shop", shop);
      if (host) target.searchParams.set("host", host);
      target.searchParams.set("embedded", "1");
      target.searchParams.set("id_token", token);
      return target.pathname + target.search;
    });
  }

  if (page.pathname === "/auth/patch-id-token") {
    const target = new URL(page.searchParams.get("shopify-reload") || "/app", page.origin);
    if (target.origin === page.origin) {
      withToken(target.pathname + target.search).then(function (url) { window.location.replace(url); });
    }
    return;
  }

  window.fetch = function (input, init) {
    const url = new URL(typeof input === "string" ? input : input.url, window.location.href);
    if (url.origin !== window.location.origin) return realFetch(input, init);
    return idToken().then(function (token) {
      const options = Object.assign({}, init || {});
      const headers = new Headers(options.headers || (typeof input === "string" ? undefined : input.headers));
      headers.set("Authorization", "Bearer " + token);
      options.headers = headers;
      return realFetch(input, options);
    });
  };

  function toastHost() {
    let el = document.getElementById("ab-toasts");
    if (!el) {
      el = document.createElement("div");
      el.id = "ab-toasts";
      el.setAttribute("role", "status");
      el.setAttribute("aria-live", "polite");
      el.style.cssText = "position:fixed;left:50%;bottom:24px;transform:translateX(-50%);display:flex;flex-direction:column;gap:8px;z-index:1000;";
      document.body.append(el);
    }
    return el;
  }

  window.shopify = {
    config: { apiKey: (document.querySelector('meta[name="shopify-api-key"]') || {}).content, shop: shop, host: host },
    idToken: idToken,
    toast: {
      show: function (message, options) {
        const isError = Boolean(options && options.isError);
        toasts.push({ message: message, isError: isError });
        const el = document.createElement("div");
        el.className = "ab-toast" + (isError ? " ab-toast-error" : "");
        el.textContent = message;
        el.style.cssText = "background:" + (isError ? "#8e1f0b" : "#1a1a1a") + ";color:#fff;padding:10px 16px;border-radius:10px;font:500 13px/1.4 system-ui,sans-serif;box-shadow:0 4px 12px rgba(0,0,0,.2);";
        toastHost().append(el);
        window.setTimeout(function () { el.remove(); }, (options && options.duration) || 5000);
        return String(toasts.length);
      },
      hide: function () {},
    },
    saveBar: {
      show: function () { saveBar().hidden = false; return Promise.resolve(); },
      hide: function () { saveBar().hidden = true; return Promise.resolve(); },
      toggle: function () { saveBar().hidden = !saveBar().hidden; return Promise.resolve(); },
    },
    modal: {
      show: function (id) { const m = document.getElementById(id); if (m && m.showOverlay) m.showOverlay(); return Promise.resolve(); },
      hide: function (id) { const m = document.getElementById(id); if (m && m.hideOverlay) m.hideOverlay(); return Promise.resolve(); },
    },
  };

  // The contextual save bar, for forms marked data-save-bar.
  let saveBarForm = null;
  function saveBar() {
    let bar = document.getElementById("ab-save-bar");
    if (!bar) {
      bar = document.createElement("div");
      bar.id = "ab-save-bar";
      bar.hidden = true;
      bar.setAttribute("role", "region");
      bar.setAttribute("aria-label", "Unsaved changes");
      bar.style.cssText = "position:fixed;top:0;left:0;right:0;z-index:999;background:#1a1a1a;color:#fff;display:flex;align-items:center;justify-content:space-between;padding:10px 20px;font:600 13px system-ui,sans-serif;";
      const label = document.createElement("span");
      label.textContent = "Unsaved changes";
      const actions = document.createElement("span");
      actions.style.cssText = "display:flex;gap:8px;";
      const discard = document.createElement("button");
      discard.type = "button";
      discard.textContent = "Discard";
      discard.style.cssText = "background:#303030;color:#fff;border:1px solid #555;border-radius:8px;padding:6px 12px;cursor:pointer;";
      const save = document.createElement("button");
      save.type = "button";
      save.textContent = "Save";
      save.style.cssText = "background:#fff;color:#1a1a1a;border:0;border-radius:8px;padding:6px 12px;cursor:pointer;";
      discard.addEventListener("click", function () { if (saveBarForm) saveBarForm.reset(); bar.hidden = true; });
      save.addEventListener("click", function () { if (saveBarForm) saveBarForm.requestSubmit(); });
      actions.append(discard, save);
      bar.append(label, actions);
      document.body.append(bar);
    }
    return bar;
  }

  function watchSaveBars() {
    document.querySelectorAll("form[data-save-bar]").forEach(function (form) {
      function changed() { saveBarForm = form; saveBar().hidden = false; }
      form.addEventListener("input", changed);
      form.addEventListener("change", changed);
      form.addEventListener("submit", function () { saveBar().hidden = true; });
      form.addEventListener("reset", function () { saveBar().hidden = true; });
    });
  }

  // <s-app-nav>: the admin's menu for the app. Links load the page as the admin would.
  class AppNav extends HTMLElement {
    connectedCallback() {
      if (this.rendered) return;
      const render = () => {
        this.rendered = true;
        const nav = document.createElement("nav");
        nav.setAttribute("aria-label", "Loyalty");
        nav.className = "ab-app-nav";
        Array.from(this.querySelectorAll("s-link, a")).forEach((link) => {
          const a = document.createElement("a");
          const href = link.getAttribute("href") || "/app";
          const target = new URL(href, window.location.origin);
          if (shop) target.searchParams.set("shop", shop);
          if (host) target.searchParams.set("host", host);
          target.searchParams.set("embedded", "1");
          a.href = target.pathname + target.search; // without a token, a new tab bounces for one
          a.addEventListener("click", (event) => {
            if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
            event.preventDefault();
            withToken(a.getAttribute("href")).then((url) => window.location.assign(url));
          });
          a.textContent = link.textContent.trim();
          const current = window.location.pathname;
          const active = href === "/app" ? current === "/app" : current === href || current.startsWith(href + "/");
          if (active) a.setAttribute("aria-current", "page");
          nav.append(a);
        });
        this.replaceChildren(nav);
      };
      if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", render);
      else render();
    }
  }
  customElements.define("s-app-nav", AppNav);

  const style = document.createElement("style");
  style.textContent = [
    "s-app-nav{display:block;background:#1a1a1a;padding:0 16px;}",
    ".ab-app-nav{display:flex;gap:4px;max-width:1000px;margin:0 auto;}",
    ".ab-app-nav a{color:#e3e3e3;text-decoration:none;font:500 13px/1 system-ui,sans-serif;padding:12px 10px;border-bottom:2px solid transparent;}",
    ".ab-app-nav a[aria-current=page]{color:#fff;border-bottom-color:#fff;}",
  ].join("\n");
  document.head.append(style);

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watchSaveBars);
  else watchSaveBars();
})();
