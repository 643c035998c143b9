// The embedded admin's shared script: JSON calls to /app/api (App Bridge adds the ID token to
// every fetch to our origin), field-level error messages from the API's 422 `source.pointer`,
// toasts, and the declarative wiring the server-rendered pages use:
//
//   <form data-api="POST /earning-rules" data-go="/app/rules?…" data-toast="Added">
//       fields are the descendants with a `name`; data-type="int" | "bool", data-nullable
//   <s-button data-api="POST /customers/1/exclude" data-toast="Excluded">
//   <s-switch data-api-on="POST …/activate" data-api-off="POST …/deactivate">
//
// On success a form or button dispatches a cancelable `admin:saved` event (detail: the JSON
// body); unless a page script cancels it, the page reloads (or goes to data-go) and shows the
// toast. Nothing here builds HTML from API data except through textContent.
(function () {
  "use strict";

  const FLASH_KEY = "loyalty:flash";

  function toast(message, options) {
    if (window.shopify && window.shopify.toast) {
      window.shopify.toast.show(message, { isError: Boolean(options && options.error) });
    }
  }

  function flash(message) {
    if (message) sessionStorage.setItem(FLASH_KEY, message);
  }

  function reload(message) {
    flash(message);
    window.location.reload();
  }

  function go(url, message) {
    flash(message);
    window.location.assign(url);
  }

  // One call to the admin API. Resolves to {ok, status, body}; a network failure resolves to
  // status 0 with an error the caller shows like any other.
  async function api(method, path, body) {
    const init = { method: method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch("/app/api" + path, init);
    } catch (error) {
      return { ok: false, status: 0, body: networkError() };
    }
    let parsed = null;
    const text = await response.text();
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        parsed = null;
      }
    }
    if (!response.ok && !(parsed && parsed.errors)) {
      parsed = { errors: [{ status: String(response.status), detail: "Something went wrong (" + response.status + "). Try again in a moment." }] };
    }
    return { ok: response.ok, status: response.status, body: parsed };
  }

  function networkError() {
    return { errors: [{ status: "0", detail: "The app could not be reached. Check your connection and try again." }] };
  }

  function firstError(body) {
    const error = body && body.errors && body.errors[0];
    return error ? error.detail || error.title || "Something went wrong" : "Something went wrong";
  }

  function parseCall(spec) {
    const space = spec.indexOf(" ");
    return { method: spec.slice(0, space), path: spec.slice(space + 1) };
  }

  // Form values ------------------------------------------------------------------------------

  // The fields are the named elements (Polaris renders its own inputs out of sight).
  function fieldsOf(form) {
    return Array.from(form.querySelectorAll("[name]"));
  }

  function isToggle(el) {
    const tag = el.tagName.toLowerCase();
    return tag === "s-checkbox" || tag === "s-switch" || el.type === "checkbox";
  }

  function valueOf(el) {
    const nullable = "nullable" in el.dataset;
    if (el.closest("[hidden]")) return nullable ? null : undefined;
    if (isToggle(el)) return Boolean(el.checked);
    let value = el.value;
    if (value === undefined || value === null) value = el.getAttribute("value") || "";
    value = String(value);
    const type = el.dataset.type;
    if (type === "bool") return value === "true";
    if (value.trim() === "" && nullable) return null;
    if (type === "int" && /^\s*[+-]?\d+\s*$/.test(value)) return parseInt(value, 10);
    return value; // anything else goes as typed; the API says what is wrong with it
  }

  function formValues(form) {
    const values = {};
    fieldsOf(form).forEach(function (el) {
      if (el.disabled) return;
      const value = valueOf(el);
      if (value !== undefined) values[el.getAttribute("name")] = value;
    });
    return values;
  }

  // Errors -------------------------------------------------------------------------------------

  function setFieldError(el, message) {
    if (message) {
      el.setAttribute("error", message);
      el.error = message;
    } else {
      el.removeAttribute("error");
      el.error = undefined;
    }
  }

  // "action_key has an invalid format" under the field labelled "Action key" reads
  // "Action key has an invalid format".
  function inWords(detail, name, label) {
    const text = String(detail || "");
    if (!label || !text.startsWith(name + " ")) return text;
    return label + text.slice(name.length);
  }

  function clearErrors(form) {
    fieldsOf(form).forEach(function (el) { setFieldError(el, ""); });
    const box = form.querySelector("[data-form-error]");
    if (box) box.hidden = true;
  }

  function showErrors(form, body) {
    const errors = (body && body.errors) || [];
    const general = [];
    let focused = false;
    errors.forEach(function (error) {
      const pointer = error.source && error.source.pointer;
      const name = pointer ? pointer.split("/").filter(Boolean).pop() : null;
      const field = name ? form.querySelector('[name="' + CSS.escape(name) + '"]') : null;
      if (field && !field.closest("[hidden]")) {
        setFieldError(field, inWords(error.detail, name, field.getAttribute("label")));
        if (!focused && typeof field.focus === "function") {
          field.focus();
          focused = true;
        }
      } else {
        general.push(error.detail || error.title);
      }
    });
    const box = form.querySelector("[data-form-error]");
    if (box && general.length) {
      box.hidden = false;
      box.setAttribute("role", "alert");
      const text = box.querySelector("[data-form-error-text]");
      if (text) text.textContent = general.join(" ");
    } else if (general.length) {
      toast(general.join(" "), { error: true });
    }
  }

  // Wiring ----------------------------------------------------------------------------------

  function saved(target, body, message) {
    const event = new CustomEvent("admin:saved", { bubbles: true, cancelable: true, detail: body });
    if (!target.dispatchEvent(event)) return;
    const url = target.dataset.go;
    if (url) go(url, message);
    else reload(message);
  }

  function setBusy(el, busy) {
    if (!el) return;
    if (busy) {
      el.setAttribute("loading", "");
      el.setAttribute("disabled", "");
    } else {
      el.removeAttribute("loading");
      el.removeAttribute("disabled");
    }
  }

  async function submitForm(form) {
    if (form.dataset.busy) return;
    const call = parseCall(form.dataset.api);
    const button = form.querySelector('[type="submit"]');
    form.dataset.busy = "1";
    setBusy(button, true);
    clearErrors(form);
    try {
      const result = await api(call.method, call.path, formValues(form));
      if (result.ok) saved(form, result.body, form.dataset.toast);
      else showErrors(form, result.body);
    } finally {
      delete form.dataset.busy;
      setBusy(button, false);
    }
  }

  async function runButton(el) {
    if (el.dataset.busy) return;
    const call = parseCall(el.dataset.api);
    el.dataset.busy = "1";
    setBusy(el, true);
    try {
      const result = await api(call.method, call.path, el.dataset.body ? JSON.parse(el.dataset.body) : undefined);
      if (result.ok) {
        const modal = el.closest("s-modal");
        if (modal && typeof modal.hideOverlay === "function") modal.hideOverlay();
        saved(el, result.body, el.dataset.toast);
      } else {
        toast(firstError(result.body), { error: true });
      }
    } finally {
      delete el.dataset.busy;
      setBusy(el, false);
    }
  }

  async function runToggle(el) {
    const on = Boolean(el.checked);
    const call = parseCall(on ? el.dataset.apiOn : el.dataset.apiOff);
    const result = await api(call.method, call.path);
    if (result.ok) {
      toast(on ? el.dataset.toastOn || "Switched on" : el.dataset.toastOff || "Switched off");
    } else {
      el.checked = !on; // the change did not happen: show what is stored
      toast(firstError(result.body), { error: true });
    }
  }

  // What a page's fields held when it loaded: App Bridge's save bar "Discard" resets the form.
  function rememberInitial(form) {
    fieldsOf(form).forEach(function (el) {
      el.dataset.initial = isToggle(el) ? String(Boolean(el.checked)) : String(el.value === undefined ? el.getAttribute("value") || "" : el.value);
    });
  }

  function restoreInitial(form) {
    fieldsOf(form).forEach(function (el) {
      if (el.dataset.initial === undefined) return;
      if (isToggle(el)) el.checked = el.dataset.initial === "true";
      else el.value = el.dataset.initial;
      setFieldError(el, "");
    });
    form.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // Sections shown only for some value of a control: data-controls="cap" on the control,
  // data-shown-by="cap" data-shown-when="true" on the section.
  function syncShown(control) {
    const key = control.dataset.controls;
    document.querySelectorAll('[data-shown-by="' + CSS.escape(key) + '"]').forEach(function (section) {
      section.hidden = String(control.value) !== section.dataset.shownWhen;
    });
  }

  // Poll a GET endpoint every `every` ms while `keepGoing(body)` is true.
  function poll(path, every, onBody) {
    let stopped = false;
    async function tick() {
      if (stopped) return;
      const result = await api("GET", path);
      if (result.ok && onBody(result.body) === false) return;
      window.setTimeout(tick, every);
    }
    window.setTimeout(tick, every);
    return function () { stopped = true; };
  }

  function start() {
    const message = sessionStorage.getItem(FLASH_KEY);
    if (message) {
      sessionStorage.removeItem(FLASH_KEY);
      toast(message);
    }
    document.querySelectorAll("form[data-api]").forEach(function (form) {
      rememberInitial(form);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        submitForm(form);
      });
      form.addEventListener("reset", function (event) {
        event.preventDefault();
        restoreInitial(form);
      });
    });
    document.addEventListener("click", function (event) {
      const el = event.target.closest && event.target.closest("[data-api]");
      if (el && el.tagName.toLowerCase() !== "form") {
        event.preventDefault();
        runButton(el);
      }
    });
    document.addEventListener("change", function (event) {
      const target = event.target.closest && event.target.closest("[data-api-on], [data-controls]");
      if (!target) return;
      if (target.dataset.controls) syncShown(target);
      else runToggle(target);
    });
    document.querySelectorAll("[data-controls]").forEach(syncShown);
    watchBackfill();
    watchResync();
    watchThemeEmbed();
    watchDownloads();
  }

  // Long work and small page actions ---------------------------------------------------------

  // The install-time import: the count grows while it runs, then the banner says it is done.
  function watchBackfill() {
    const counters = document.querySelectorAll("[data-backfill-count]");
    if (!counters.length) return;
    poll("/backfill", 2000, function (body) {
      const state = body.data.attributes;
      counters.forEach(function (el) { el.textContent = state.customers_imported.toLocaleString("en"); });
      if (state.in_progress) return true;
      document.querySelectorAll("[data-backfill]").forEach(function (el) {
        el.setAttribute("tone", "success");
        el.setAttribute("heading", "Customers imported");
        el.textContent = state.customers_imported.toLocaleString("en") + " customers imported from Shopify.";
      });
      return false;
    });
  }

  // The bulk re-sync: start it, then show how many updates are sent until none are left.
  function watchResync() {
    const box = document.querySelector("[data-resync]");
    if (!box) return;
    const button = box.querySelector("[data-resync-start]");
    const progress = box.querySelector("[data-resync-progress]");
    const bar = box.querySelector("[data-bar]");
    const text = box.querySelector("[data-resync-text]");
    function show(state) {
      progress.hidden = false;
      bar.max = Math.max(state.total, 1);
      bar.value = state.done;
      box.dataset.state = state.state;
      if (state.state === "running") {
        let message = state.done.toLocaleString("en") + " of " + state.total.toLocaleString("en") + " updates sent";
        if (state.retrying) message += "; " + state.retrying.toLocaleString("en") + " waiting to retry (" + state.last_error + ")";
        text.textContent = message + "…";
        button.setAttribute("disabled", "");
      } else {
        text.textContent = "Done: all " + state.total.toLocaleString("en") + " updates sent.";
        button.removeAttribute("disabled");
      }
    }
    function follow() {
      poll("/resync", 2000, function (body) {
        show(body.data.attributes);
        return body.data.attributes.state === "running";
      });
    }
    button.addEventListener("click", async function () {
      if (button.hasAttribute("disabled")) return;
      button.setAttribute("loading", "");
      const result = await api("POST", "/resync");
      button.removeAttribute("loading");
      if (!result.ok) {
        toast(firstError(result.body), { error: true });
        return;
      }
      show(result.body.data.attributes);
      toast("Re-sync started");
      follow();
    });
    if (box.dataset.state === "running") follow();
  }

  // The merchant's word that the theme app embed is on (the app cannot see the theme).
  function watchThemeEmbed() {
    const box = document.querySelector("[data-theme-embed]");
    if (!box) return;
    box.addEventListener("change", async function () {
      const confirmed = Boolean(box.checked);
      const result = await api("PUT", "/setup/theme-embed", { confirmed: confirmed });
      if (!result.ok) {
        box.checked = !confirmed;
        toast(firstError(result.body), { error: true });
        return;
      }
      reload(confirmed ? "Storefront step done" : "Storefront step marked as not done");
    });
  }

  // Compliance exports: fetched with the ID token like every API call, then saved as a file.
  function watchDownloads() {
    document.addEventListener("click", async function (event) {
      const button = event.target.closest && event.target.closest("[data-download]");
      if (!button) return;
      const id = button.dataset.download;
      let response;
      try {
        response = await fetch("/app/api/data-requests/" + encodeURIComponent(id) + "/download");
      } catch (error) {
        toast(firstError(networkError()), { error: true });
        return;
      }
      if (!response.ok) {
        toast("The file could not be downloaded (" + response.status + ")", { error: true });
        return;
      }
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = "data-request-" + id + ".json";
      document.body.append(link);
      link.click();
      link.remove();
      window.setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
      toast("Downloaded");
    });
  }

  window.LoyaltyAdmin = {
    api: api,
    toast: toast,
    flash: flash,
    reload: reload,
    go: go,
    poll: poll,
    formValues: formValues,
    showErrors: showErrors,
    clearErrors: clearErrors,
    firstError: firstError,
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
