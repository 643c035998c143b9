// A local stand-in for https://cdn.shopify.com/shopifycloud/polaris-1.js, for where Shopify's
// CDN cannot be reached: the local demo's admin preview and the browser tests. It defines the
// `s-*` elements the admin's pages use, minimally and in the light DOM, so the real pages
// render, read as Polaris would (labels, roles, errors) and can be clicked and typed into:
//
// - form fields are form-associated (ElementInternals), expose `value` / `checked` / `error`,
//   render a native control with its <label>, details and error text, and let the control's
//   `input` / `change` events bubble as Polaris's do;
// - <s-button> submits or resets its form (type), follows `href`, and runs `commandFor` /
//   `command` (--show, --hide, --toggle) on an <s-modal>;
// - <s-modal> has showOverlay() / hideOverlay() / toggleOverlay();
// - layout elements (page, section, stack, grid, box, table, badge, banner…) are styled to look
//   roughly like the admin, for the screenshots. It is not Polaris and does not try to be.
(function () {
  "use strict";
  let uid = 0;
  const nextId = (prefix) => prefix + "-" + ++uid;
  const whenParsed = (fn) =>
    document.readyState === "loading" ? document.addEventListener("DOMContentLoaded", fn, { once: true }) : fn();
  // The elements render when their children are parsed (DOMContentLoaded); until then nothing is
  // painted. A first paint of the raw markup, restyled a moment later, is a layout shift of the
  // whole page (bench/admin measured CLS up to 0.56) that Polaris, drawing in its shadow DOM as
  // the page parses, does not make. This runs first, so every element has rendered by the frame.
  document.documentElement.classList.add("sp-pending");
  whenParsed(() => requestAnimationFrame(() => document.documentElement.classList.remove("sp-pending")));

  // Layout and text ------------------------------------------------------------------------------

  class Base extends HTMLElement {
    connectedCallback() {
      if (this._rendered) return;
      whenParsed(() => {
        if (this._rendered) return;
        this._rendered = true;
        this.render();
      });
    }
    render() {}
  }

  const ROLES = {
    "s-table": "table",
    "s-table-header-row": "row",
    "s-table-header": "columnheader",
    "s-table-body": "rowgroup",
    "s-table-row": "row",
    "s-table-cell": "cell",
    "s-unordered-list": "list",
    "s-ordered-list": "list",
    "s-list-item": "listitem",
  };

  class Plain extends Base {
    render() {
      const role = ROLES[this.localName];
      if (role) this.setAttribute("role", role);
      const columns = this.getAttribute("gridtemplatecolumns");
      if (columns) this.style.gridTemplateColumns = columns;
      if (this.localName === "s-heading") {
        this.setAttribute("role", "heading");
        this.setAttribute("aria-level", this.closest("s-section s-section") ? "4" : "3");
      }
      if (this.localName === "s-spinner") {
        this.setAttribute("role", "status");
        this.setAttribute("aria-label", this.getAttribute("accessibilitylabel") || "Loading");
      }
    }
  }

  class Page extends Base {
    render() {
      const header = document.createElement("div");
      header.className = "sp-header";
      const titles = document.createElement("div");
      const crumbs = Array.from(this.querySelectorAll(':scope > [slot="breadcrumb-actions"]'));
      crumbs.forEach((crumb) => {
        crumb.className = "sp-crumb";
        titles.append(crumb);
      });
      const h1 = document.createElement("h1");
      h1.textContent = this.getAttribute("heading") || "";
      titles.append(h1);
      const actions = document.createElement("div");
      actions.className = "sp-actions";
      this.querySelectorAll(':scope > [slot="secondary-actions"], :scope > [slot="primary-action"]').forEach((el) =>
        actions.append(el)
      );
      header.append(titles, actions);
      this.prepend(header);
    }
  }

  class Section extends Base {
    render() {
      const heading = this.getAttribute("heading");
      if (heading) {
        const h2 = document.createElement("h2");
        h2.textContent = heading;
        this.prepend(h2);
        this.setAttribute("aria-label", heading);
      }
      this.setAttribute("role", "region");
    }
  }

  class Banner extends Base {
    static get observedAttributes() {
      return ["heading"];
    }
    render() {
      const tone = this.getAttribute("tone") || "info";
      this.setAttribute("role", tone === "critical" ? "alert" : "status");
      this._title = document.createElement("strong");
      this._title.className = "sb-title";
      this._title.textContent = this.getAttribute("heading") || "";
      this.prepend(this._title);
    }
    attributeChangedCallback() {
      if (this._title) this._title.textContent = this.getAttribute("heading") || "";
    }
  }

  class Link extends Base {
    render() {
      const a = document.createElement("a");
      a.href = this.getAttribute("href") || "#";
      const target = this.getAttribute("target");
      if (target) a.target = target === "_top" ? "_blank" : target;
      const label = this.getAttribute("accessibilitylabel");
      if (label) a.setAttribute("aria-label", label);
      a.append(...this.childNodes);
      this.append(a);
    }
  }

  // Buttons and modals -------------------------------------------------------------------------

  class Button extends Base {
    static get observedAttributes() {
      return ["disabled", "loading"];
    }
    render() {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sb-button";
      const label = this.getAttribute("accessibilitylabel");
      if (label) button.setAttribute("aria-label", label);
      button.append(...this.childNodes);
      this.append(button);
      this._button = button;
      this.sync();
      this.addEventListener("click", (event) => this.activate(event));
    }
    attributeChangedCallback() {
      this.sync();
    }
    sync() {
      if (!this._button) return;
      const busy = this.hasAttribute("loading");
      this._button.disabled = this.hasAttribute("disabled") || busy;
      this._button.setAttribute("aria-busy", String(busy));
    }
    focus() {
      if (this._button) this._button.focus();
    }
    activate(event) {
      if (this.hasAttribute("disabled") || this.hasAttribute("loading")) {
        event.stopImmediatePropagation();
        return;
      }
      const form = this.closest("form");
      const type = this.getAttribute("type");
      if (type === "submit" && form) return form.requestSubmit();
      if (type === "reset" && form) return form.reset();
      const commandFor = this.getAttribute("commandfor");
      if (commandFor) {
        const target = document.getElementById(commandFor);
        const command = this.getAttribute("command") || "--toggle";
        if (target && command === "--show") target.showOverlay();
        if (target && command === "--hide") target.hideOverlay();
        if (target && command === "--toggle") target.toggleOverlay();
        return;
      }
      const href = this.getAttribute("href");
      if (href) {
        if (this.getAttribute("target") === "_blank") window.open(href, "_blank");
        else window.location.assign(href);
      }
    }
  }

  class Modal extends Base {
    render() {
      const dialog = document.createElement("div");
      dialog.className = "sm-dialog";
      dialog.setAttribute("role", "dialog");
      dialog.setAttribute("aria-modal", "true");
      const title = document.createElement("h2");
      title.id = nextId("modal-title");
      title.textContent = this.getAttribute("heading") || "";
      dialog.setAttribute("aria-labelledby", title.id);
      const body = document.createElement("div");
      body.className = "sm-body";
      const footer = document.createElement("div");
      footer.className = "sm-footer";
      const actions = Array.from(this.children).filter((el) => el.getAttribute("slot"));
      Array.from(this.childNodes).forEach((node) => {
        if (!actions.includes(node)) body.append(node);
      });
      actions
        .sort((a, b) => (a.getAttribute("slot") === "primary-action") - (b.getAttribute("slot") === "primary-action"))
        .forEach((el) => footer.append(el));
      dialog.append(title, body, footer);
      this.append(dialog);
      this.addEventListener("keydown", (event) => {
        if (event.key === "Escape") this.hideOverlay();
      });
      this.addEventListener("click", (event) => {
        if (event.target === this) this.hideOverlay();
      });
    }
    showOverlay() {
      this._opener = document.activeElement;
      this.setAttribute("data-open", "");
      const first = this.querySelector(".sm-footer .sb-button");
      if (first) first.focus();
    }
    hideOverlay() {
      this.removeAttribute("data-open");
      if (this._opener && this._opener.focus) this._opener.focus();
    }
    toggleOverlay() {
      if (!this.hasAttribute("data-open")) this.showOverlay();
      else this.hideOverlay();
    }
  }

  // Form fields --------------------------------------------------------------------------------

  class Field extends Base {
    static formAssociated = true;
    static get observedAttributes() {
      return ["error", "disabled"];
    }
    constructor() {
      super();
      this._internals = this.attachInternals ? this.attachInternals() : null;
    }
    get value() {
      return this._control ? this._control.value : this.initialValue();
    }
    set value(v) {
      if (this._control) this._control.value = v == null ? "" : String(v);
      else this.setAttribute("value", v == null ? "" : String(v));
      this.publish();
    }
    get error() {
      return this.getAttribute("error") || undefined;
    }
    set error(message) {
      if (message) this.setAttribute("error", message);
      else this.removeAttribute("error");
    }
    get name() {
      return this.getAttribute("name");
    }
    initialValue() {
      return this.getAttribute("value") || "";
    }
    focus() {
      if (this._control) this._control.focus();
    }
    makeControl() {
      const input = document.createElement("input");
      input.type = this.inputType();
      ["placeholder", "min", "max", "step", "autocomplete"].forEach((name) => {
        if (this.hasAttribute(name)) input.setAttribute(name, this.getAttribute(name));
      });
      input.value = this.initialValue();
      return input;
    }
    inputType() {
      return "text";
    }
    render() {
      const id = nextId("field");
      const control = this.makeControl();
      control.id = id;
      control.className = "sf-control";
      if (this.hasAttribute("required")) control.setAttribute("aria-required", "true");
      const label = document.createElement("label");
      label.htmlFor = id;
      label.className = "sf-label";
      label.textContent = this.getAttribute("label") || "";
      if (this.getAttribute("labelaccessibilityvisibility") === "exclusive") label.classList.add("sf-hidden-label");
      const details = document.createElement("div");
      details.className = "sf-details";
      details.id = id + "-details";
      details.textContent = this.getAttribute("details") || "";
      const error = document.createElement("div");
      error.className = "sf-error";
      error.id = id + "-error";
      this._control = control;
      this._errorEl = error;
      this._detailsEl = details;
      const wrap = document.createElement("div");
      wrap.className = "sf-wrap";
      this.layout(wrap, label, control);
      wrap.append(error, details);
      this.append(wrap);
      control.addEventListener("input", () => this.publish());
      control.addEventListener("change", () => this.publish());
      this.sync();
      this.publish();
    }
    layout(wrap, label, control) {
      wrap.append(label, control);
    }
    attributeChangedCallback() {
      this.sync();
    }
    sync() {
      if (!this._control) return;
      const message = this.getAttribute("error") || "";
      this._errorEl.textContent = message;
      this._control.disabled = this.hasAttribute("disabled");
      this._control.setAttribute("aria-invalid", message ? "true" : "false");
      const described = [message ? this._errorEl.id : "", this._detailsEl.textContent ? this._detailsEl.id : ""]
        .filter(Boolean)
        .join(" ");
      if (described) this._control.setAttribute("aria-describedby", described);
      else this._control.removeAttribute("aria-describedby");
      this.classList.toggle("sf-invalid", Boolean(message));
    }
    publish() {
      if (this._internals) this._internals.setFormValue(this.value);
    }
    formResetCallback() {
      if (this._control) this._control.value = this.initialValue();
      this.publish();
    }
  }

  class NumberField extends Field {
    inputType() {
      return "number";
    }
  }
  class UrlField extends Field {
    inputType() {
      return "url";
    }
  }
  class EmailField extends Field {
    inputType() {
      return "email";
    }
  }
  class PasswordField extends Field {
    inputType() {
      return "password";
    }
  }
  class SearchField extends Field {
    inputType() {
      return "search";
    }
  }
  class TextArea extends Field {
    makeControl() {
      const area = document.createElement("textarea");
      area.rows = Number(this.getAttribute("rows") || 3);
      area.value = this.initialValue();
      return area;
    }
  }

  class Select extends Field {
    initialValue() {
      const options = Array.from(this.querySelectorAll("s-option"));
      const chosen = options.find((o) => o.hasAttribute("selected")) || options[0];
      return this.getAttribute("value") || (chosen ? chosen.getAttribute("value") || "" : "");
    }
    makeControl() {
      const select = document.createElement("select");
      this.querySelectorAll("s-option").forEach((option) => {
        const el = document.createElement("option");
        el.value = option.getAttribute("value") || "";
        el.textContent = option.textContent.trim();
        select.append(el);
      });
      select.value = this.initialValue();
      return select;
    }
  }

  class Toggle extends Field {
    get checked() {
      return this._control ? this._control.checked : this.hasAttribute("checked");
    }
    set checked(on) {
      if (this._control) this._control.checked = Boolean(on);
      else this.toggleAttribute("checked", Boolean(on));
      this.publish();
    }
    get value() {
      return this.getAttribute("value") || "on";
    }
    set value(v) {
      this.setAttribute("value", v);
    }
    makeControl() {
      const input = document.createElement("input");
      input.type = "checkbox";
      input.checked = this.hasAttribute("checked");
      if (this.localName === "s-switch") input.setAttribute("role", "switch");
      return input;
    }
    layout(wrap, label, control) {
      wrap.classList.add("sf-toggle");
      const aria = this.getAttribute("accessibilitylabel");
      if (aria) control.setAttribute("aria-label", aria);
      wrap.append(control, label);
    }
    publish() {
      if (this._internals) this._internals.setFormValue(this.checked ? this.value : null);
    }
    formResetCallback() {
      if (this._control) this._control.checked = this.hasAttribute("checked");
      this.publish();
    }
  }

  const ELEMENTS = {
    "s-page": Page,
    "s-section": Section,
    "s-banner": Banner,
    "s-link": Link,
    "s-button": Button,
    "s-modal": Modal,
    "s-text-field": Field,
    "s-number-field": NumberField,
    "s-url-field": UrlField,
    "s-email-field": EmailField,
    "s-password-field": PasswordField,
    "s-search-field": SearchField,
    "s-text-area": TextArea,
    "s-select": Select,
    "s-checkbox": Toggle,
    "s-switch": Toggle,
  };
  const PLAIN = [
    "s-box", "s-stack", "s-grid", "s-grid-item", "s-heading", "s-text", "s-paragraph", "s-badge",
    "s-divider", "s-spinner", "s-icon", "s-option", "s-table", "s-table-header-row",
    "s-table-header", "s-table-body", "s-table-row", "s-table-cell", "s-unordered-list",
    "s-ordered-list", "s-list-item", "s-button-group", "s-clickable", "s-image", "s-chip",
  ];
  Object.entries(ELEMENTS).forEach(([name, cls]) => customElements.define(name, class extends cls {}));
  PLAIN.forEach((name) => customElements.define(name, class extends Plain {}));

  // Roughly the admin's look, for the screenshots ------------------------------------------------
  const css = `
    html.sp-pending body { visibility: hidden; }
    body { margin: 0; background: #f1f1f1; color: #303030;
      font: 13px/1.45 -apple-system, BlinkMacSystemFont, "Segoe UI", Inter, system-ui, sans-serif; }
    s-page { display: block; max-width: 998px; margin: 0 auto; padding: 20px 24px 64px; }
    .sp-header { display: flex; align-items: flex-end; justify-content: space-between; gap: 12px; margin-bottom: 16px; }
    .sp-header h1 { font-size: 20px; font-weight: 700; margin: 0; }
    .sp-crumb { display: block; font-size: 12px; margin-bottom: 4px; }
    .sp-actions { display: flex; gap: 8px; flex-direction: row-reverse; }
    s-section { display: block; background: #fff; border-radius: 12px; padding: 16px; margin-bottom: 16px;
      box-shadow: 0 1px 0 rgba(26,26,26,.07), 0 0 0 1px rgba(0,0,0,.06); }
    s-section > h2 { font-size: 14px; font-weight: 650; margin: 0 0 12px; }
    form > s-stack { margin-bottom: 16px; }
    s-stack { display: flex; flex-direction: column; }
    s-stack[direction=inline] { flex-direction: row; flex-wrap: wrap; }
    s-stack[gap=base], s-grid[gap=base] { gap: 12px; }
    s-stack[gap=large] { gap: 20px; }
    s-stack[gap=small-200] { gap: 4px; }
    s-stack[gap=small-300] { gap: 2px; }
    s-stack[alignitems=center] { align-items: center; }
    s-stack[alignitems=end] { align-items: flex-end; }
    s-stack[justifycontent=space-between] { justify-content: space-between; }
    s-stack[justifycontent=end] { justify-content: flex-end; }
    s-stack[justifycontent=center] { justify-content: center; }
    s-stack[direction=inline] > s-text-field, s-stack[direction=inline] > s-number-field,
    s-stack[direction=inline] > s-search-field, s-stack[direction=inline] > s-password-field,
    s-stack[direction=inline] > s-select { flex: 1 1 220px; }
    s-grid { display: grid; }
    s-box { display: block; }
    s-box[padding=base] { padding: 12px; }
    s-box[background=subdued] { background: #f7f7f7; }
    s-box[border=base] { border: 1px solid #e3e3e3; }
    s-box[borderradius=base] { border-radius: 10px; }
    s-heading { display: block; font-size: 14px; font-weight: 650; }
    s-box[data-stat] s-heading, s-box[data-balance] s-heading { font-size: 22px; }
    s-paragraph { display: block; margin: 0 0 8px; }
    s-text[tone=subdued] { color: #616161; }
    s-text[type=strong] { font-weight: 650; }
    s-badge { display: inline-flex; padding: 2px 8px; border-radius: 8px; font-size: 12px; font-weight: 550;
      background: #e3e3e3; white-space: nowrap; }
    s-stack > s-badge { align-self: flex-start; }
    s-badge[tone=success] { background: #cdfee1; color: #0c5132; }
    s-badge[tone=critical] { background: #fedad9; color: #8e0b21; }
    s-badge[tone=warning] { background: #ffd6a4; color: #5e4200; }
    s-badge[tone=info] { background: #e0f0ff; color: #00527c; }
    s-banner { display: block; border-radius: 12px; padding: 12px 16px; margin-bottom: 16px; background: #eaf4ff;
      box-shadow: inset 0 0 0 1px rgba(0,0,0,.06); }
    s-banner[tone=success] { background: #e4fbec; }
    s-banner[tone=warning] { background: #fff1e3; }
    s-banner[tone=critical] { background: #fee9e8; }
    s-banner .sb-title { display: block; margin-bottom: 4px; }
    s-banner s-paragraph:last-child { margin-bottom: 0; }
    s-table { display: table; width: 100%; border-collapse: collapse; }
    s-table-header-row, s-table-row { display: table-row; }
    s-table-body { display: table-row-group; }
    s-table-header, s-table-cell { display: table-cell; padding: 8px 12px; border-bottom: 1px solid #ebebeb;
      vertical-align: middle; text-align: left; }
    s-table-header { background: #f7f7f7; font-weight: 550; color: #616161; font-size: 12px; }
    s-table-row[data-edited] s-table-cell { background: #f0f7ff; font-weight: 600; }
    s-option { display: none; }
    s-divider { display: block; border-top: 1px solid #e3e3e3; margin: 12px 0; }
    s-spinner { display: inline-block; width: 20px; height: 20px; border-radius: 50%;
      border: 2px solid #c9c9c9; border-top-color: #303030; animation: sspin 0.8s linear infinite; }
    @keyframes sspin { to { transform: rotate(360deg); } }
    s-link a, .sp-crumb a { color: #005bd3; text-decoration: none; }
    s-link a:hover { text-decoration: underline; }
    .sb-button { font: 550 12px/16px inherit; font-family: inherit; padding: 6px 12px; border-radius: 8px; border: 0;
      background: #fff; color: #303030; cursor: pointer; white-space: nowrap;
      box-shadow: inset 0 -1px 0 #b5b5b5, 0 0 0 1px #e3e3e3; }
    s-button[variant=primary] > .sb-button { background: #303030; color: #fff; box-shadow: inset 0 -1px 0 #000; }
    s-button[tone=critical] > .sb-button { color: #8e1f0b; }
    s-button[variant=primary][tone=critical] > .sb-button { background: #c70a24; color: #fff; }
    s-button[variant=tertiary] > .sb-button { background: transparent; box-shadow: none; }
    .sb-button:disabled { opacity: .55; cursor: default; }
    .sb-button[aria-busy=true]::after { content: " …"; }
    .sf-wrap { display: flex; flex-direction: column; gap: 4px; }
    .sf-label { font-weight: 450; }
    .sf-hidden-label { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
    .sf-control { box-sizing: border-box; width: 100%; min-width: 120px; font: inherit; padding: 6px 12px;
      border: 1px solid #8a8a8a; border-radius: 8px; background: #fdfdfd; color: #303030; }
    textarea.sf-control { resize: vertical; }
    .sf-details { color: #616161; font-size: 12px; }
    .sf-details:empty, .sf-error:empty { display: none; }
    .sf-error { color: #8e1f0b; font-size: 12px; font-weight: 550; }
    .sf-invalid .sf-control { border-color: #8e1f0b; background: #fee9e8; }
    .sf-toggle { display: grid; grid-template-columns: auto 1fr; align-items: center; gap: 4px 8px; }
    .sf-toggle .sf-details, .sf-toggle .sf-error { grid-column: 1 / -1; }
    input[type=checkbox].sf-control { width: auto; min-width: 0; padding: 0; }
    input[role=switch].sf-control { border: 0; appearance: none; width: 32px; height: 18px; border-radius: 9px; background: #b5b5b5;
      position: relative; cursor: pointer; margin: 0; }
    input[role=switch]::after { content: ""; position: absolute; top: 2px; left: 2px; width: 14px; height: 14px;
      border-radius: 50%; background: #fff; transition: left .1s; }
    input[role=switch]:checked { background: #303030; }
    input[role=switch]:checked::after { left: 16px; }
    @media (prefers-reduced-motion: reduce) {
      s-spinner { animation: none; }
      input[role=switch]::after { transition: none; }
    }
    s-modal { display: none; }
    s-modal[data-open] { position: fixed; inset: 0; background: rgba(0,0,0,.5); display: flex;
      align-items: center; justify-content: center; z-index: 500; }
    .sm-dialog { background: #fff; border-radius: 12px; width: min(560px, 92vw); box-shadow: 0 20px 40px rgba(0,0,0,.3); }
    .sm-dialog h2 { font-size: 14px; margin: 0; padding: 14px 16px; border-bottom: 1px solid #e3e3e3; }
    .sm-body { padding: 16px; }
    .sm-footer { display: flex; justify-content: flex-end; gap: 8px; padding: 12px 16px; border-top: 1px solid #e3e3e3; }
    code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; background: #f1f1f1;
      padding: 1px 4px; border-radius: 4px; }
  `;
  const style = document.createElement("style");
  style.textContent = css;
  document.head.append(style);
})();
