// Integrations page: each platform's card drawn from GET /app/api/integrations, and its actions
// (connect with a key, test, turn sync on or off, disconnect). A saved key is never sent back:
// the card shows only the hint the API gives (its last characters). Each card, and the Shopify
// one (GET /integrations/shopify/dead-letters), lists the updates the app gave up on, with
// "Retry all" (POST …/dead-letters/retry); the Shopify card also says when updates are being
// retried after a failure (Shopify has no status of its own: `retrying_count` stands for it). A
// platform card also says how many events may not have reached the platform (the answer was
// lost), with "Send again" (POST …/unconfirmed/resend).
(function () {
  "use strict";
  const admin = window.LoyaltyAdmin;
  if (!admin) return;
  const cards = Array.from(document.querySelectorAll("[data-integration]"));
  const shopify = document.querySelector("[data-dead-letter-source]");

  function when(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
  }

  // What a stored error means for the merchant, in plain words.
  function plain(text) {
    const t = String(text || "");
    if (/\b(401|403)\b|unauthori[sz]ed|forbidden|invalid (api )?key|credentials/i.test(t)) {
      return "The platform refused the API key: it may have been revoked, or it lacks the permissions the app needs. Paste a new key to reconnect.";
    }
    if (/\b429\b|rate.?limit|too many requests/i.test(t)) {
      return "The platform asked the app to slow down. Nothing is lost: the app retries on its own.";
    }
    if (/time(d)? ?out/i.test(t)) {
      return "The platform did not answer in time. Nothing is lost: the app retries on its own.";
    }
    if (/\b5\d\d\b|server error|unavailable/i.test(t)) {
      return "The platform had a problem on its side. Nothing is lost: the app retries on its own.";
    }
    return "The platform did not accept an update from the app.";
  }

  function badge(text, tone) {
    const el = document.createElement("s-badge");
    el.setAttribute("tone", tone);
    el.textContent = text;
    return el;
  }

  function line(text) {
    const el = document.createElement("s-text");
    el.setAttribute("tone", "subdued");
    el.textContent = text;
    return el;
  }

  function render(card, attributes) {
    const status = card.querySelector("[data-status]");
    const stack = document.createElement("s-stack");
    stack.setAttribute("gap", "small-200");
    const connected = Boolean(attributes && attributes.connected);
    const enabled = Boolean(attributes && attributes.enabled);
    // The last error counts only while it is newer than the last success.
    const showError = connected && attributes.last_error && (!attributes.last_success_at || attributes.last_error_at > attributes.last_success_at);
    if (!connected) {
      stack.append(badge("Not connected", "neutral"), line("Paste an API key below to connect."));
    } else {
      stack.append(
        !enabled ? badge("Connected, sync off", "warning")
          : showError ? badge("Sync failing", "critical")
          : badge("Syncing", "success"));
      if (attributes.credential_hint) stack.append(line("Key " + attributes.credential_hint));
      stack.append(line(attributes.last_success_at ? "Last synced " + when(attributes.last_success_at) : "Nothing synced yet."));
    }
    status.replaceChildren(stack);
    const failed = card.querySelector("[data-last-error]");
    failed.hidden = !showError;
    if (showError) {
      failed.querySelector("[data-plain]").textContent = plain(attributes.last_error) + " (" + when(attributes.last_error_at) + ")";
      failed.querySelector("[data-raw]").textContent = "What the platform said: " + attributes.last_error;
    }
    card.querySelector('[data-when="disconnected"]').hidden = connected;
    card.querySelector('[data-when="connected"]').hidden = !connected;
    card.querySelector("[data-actions]").hidden = !connected;
    card.querySelector('[data-action="enable"]').hidden = enabled;
    card.querySelector('[data-action="disable"]').hidden = !enabled;
    if (attributes) renderDead(card, attributes);
    renderUnconfirmed(card, attributes);
  }

  // The unconfirmed events of one platform card: hidden when there are none.
  function renderUnconfirmed(card, attributes) {
    const box = card.querySelector("[data-unconfirmed]");
    const count = attributes ? Number(attributes.unconfirmed_count || 0) : 0;
    box.hidden = count === 0;
    card.dataset.unconfirmed = String(count);
    if (count === 0) return;
    box.querySelector("[data-unconfirmed-summary]").textContent =
      (count === 1 ? "1 event" : count + " events") + " may not have reached " + card.dataset.label +
      ": the answer was lost. Sending again may show some twice.";
  }

  function cell(content) {
    const el = document.createElement("s-table-cell");
    if (typeof content === "string") el.textContent = content;
    else el.append(content);
    return el;
  }

  function customerCell(customer) {
    if (!customer) return cell("The shop's programme");
    const link = document.createElement("s-link");
    link.setAttribute("href", "/app/customers/" + encodeURIComponent(customer.shopify_customer_id) + window.location.search);
    link.textContent = customer.name || "Customer " + customer.shopify_customer_id;
    return cell(link);
  }

  // The dead letters of one card: hidden when there are none.
  function renderDead(card, attributes) {
    const box = card.querySelector("[data-dead-letters]");
    const count = attributes ? Number(attributes.dead_letter_count || 0) : 0;
    box.hidden = count === 0;
    card.dataset.deadLetters = String(count);
    if (count === 0) return;
    const letters = attributes.dead_letters || [];
    box.querySelector("[data-dead-summary]").textContent =
      (count === 1 ? "1 update was" : count + " updates were") +
      " still failing after the retry window and are no longer retried on their own." +
      (letters.length < count ? " The newest " + letters.length + " are listed." : "") +
      " Fix the cause, then retry them.";
    box.querySelector("[data-dead-rows]").replaceChildren(...letters.map(function (letter) {
      const row = document.createElement("s-table-row");
      row.append(
        customerCell(letter.customer),
        cell(when(letter.dead_at)),
        cell(String(letter.attempts)),
        cell(letter.last_error || ""));
      return row;
    }));
  }

  function showResult(card, ok, text) {
    const box = card.querySelector("[data-test-result]");
    box.hidden = false;
    box.querySelector("[data-tone]").setAttribute("tone", ok ? "success" : "critical");
    box.querySelector("[data-tone]").setAttribute("heading", ok ? "Connection works" : "Connection failed");
    box.querySelector("[data-text]").textContent = text;
  }

  async function load() {
    const result = await admin.api("GET", "/integrations");
    if (!result.ok) {
      const box = document.querySelector("[data-integrations-error]");
      box.hidden = false;
      box.querySelector("[data-text]").textContent = admin.firstError(result.body);
      cards.forEach(function (card) { card.querySelector("[data-status]").replaceChildren(); });
      return;
    }
    const byPlatform = {};
    result.body.data.forEach(function (row) { byPlatform[row.id] = row.attributes; });
    cards.forEach(function (card) { render(card, byPlatform[card.dataset.integration]); });
    await loadShopify();
  }

  async function loadShopify() {
    if (!shopify) return;
    const result = await admin.api("GET", "/integrations/shopify/dead-letters");
    const status = shopify.querySelector("[data-status]");
    if (!result.ok) {
      status.replaceChildren(line(admin.firstError(result.body)));
      return;
    }
    const attributes = result.body.data.attributes;
    const retrying = Number(attributes.retrying_count || 0);
    status.replaceChildren(retrying ? badge("Sync failing", "critical")
      : attributes.dead_letter_count ? badge("Updates given up", "warning")
      : line("Every update was delivered or is still being retried."));
    const failed = shopify.querySelector("[data-last-error]");
    failed.hidden = retrying === 0;
    if (retrying) {
      const updates = retrying === 1 ? "1 update waits" : retrying + " updates wait";
      const why = attributes.reauth_required
        ? " until the app is opened again in Shopify admin, which reconnects the shop"
        : " because Shopify did not take them. Nothing is lost: the app retries on its own";
      failed.querySelector("[data-plain]").textContent = updates + why +
        (attributes.retry_at ? " (next try " + when(attributes.retry_at) + ")." : ".");
      failed.querySelector("[data-raw]").textContent = "What Shopify said: " + attributes.retrying_error;
    }
    renderDead(shopify, attributes);
  }

  // "Retry all" on a card: its dead letters become pending again and go out at once.
  function wireRetry(card, source, label) {
    const button = card.querySelector("[data-retry-dead-letters]");
    button.addEventListener("click", async function () {
      if (button.hasAttribute("loading")) return;
      button.setAttribute("loading", "");
      try {
        const result = await admin.api("POST", "/integrations/" + source + "/dead-letters/retry");
        if (!result.ok) {
          admin.toast(admin.firstError(result.body), { error: true });
          return;
        }
        const retried = Number(result.body.data.attributes.retried || 0);
        admin.toast(retried === 0 ? "Nothing left to retry"
          : "Retrying " + (retried === 1 ? "1 " + label + " update" : retried + " " + label + " updates"));
        await load();
      } finally {
        button.removeAttribute("loading");
      }
    });
  }

  if (shopify) wireRetry(shopify, shopify.dataset.deadLetterSource, shopify.dataset.label);

  // "Send again" on a platform card: its unconfirmed events go out once more, at once.
  function wireResend(card, platform, label) {
    const button = card.querySelector("[data-resend-unconfirmed]");
    button.addEventListener("click", async function () {
      if (button.hasAttribute("loading")) return;
      button.setAttribute("loading", "");
      try {
        const result = await admin.api("POST", "/integrations/" + platform + "/unconfirmed/resend");
        if (!result.ok) {
          admin.toast(admin.firstError(result.body), { error: true });
          return;
        }
        const resent = Number(result.body.data.attributes.resent || 0);
        admin.toast(resent === 0 ? "Nothing left to send again"
          : "Sending " + (resent === 1 ? "1 event" : resent + " events") + " to " + label + " again");
        await load();
      } finally {
        button.removeAttribute("loading");
      }
    });
  }

  cards.forEach(function (card) {
    const platform = card.dataset.integration;
    const label = card.dataset.label;
    wireRetry(card, platform, label);
    wireResend(card, platform, label);
    const form = card.querySelector("[data-connect]");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      admin.clearErrors(form);
      const field = form.querySelector('[name="api_key"]');
      const result = await admin.api("PUT", "/integrations/" + platform, { api_key: String(field.value || "") });
      if (!result.ok) {
        admin.showErrors(form, result.body);
        return;
      }
      field.value = ""; // never kept on the page once saved
      render(card, result.body.data.attributes);
      admin.toast(label + " connected");
    });
    card.querySelector("[data-actions]").addEventListener("click", async function (event) {
      const button = event.target.closest("[data-action]");
      if (!button || button.hasAttribute("loading")) return;
      const action = button.dataset.action;
      button.setAttribute("loading", "");
      try {
        let result;
        if (action === "disconnect") {
          result = await admin.api("DELETE", "/integrations/" + platform);
          if (result.ok) {
            card.querySelector("[data-test-result]").hidden = true;
            render(card, null);
            admin.toast(label + " disconnected");
          }
        } else {
          result = await admin.api("POST", "/integrations/" + platform + "/" + action);
          if (result.ok && action === "test") {
            const answer = result.body.data.attributes;
            showResult(card, Boolean(answer.ok), answer.detail || (answer.ok ? "The key works." : "The key was refused."));
            await load();  // the test's outcome is recorded on the status: show it
          } else if (result.ok) {
            render(card, result.body.data.attributes);
            admin.toast(action === "enable" ? label + " sync is on" : label + " sync is off");
          }
        }
        if (!result.ok) {
          if (action === "test") showResult(card, false, admin.firstError(result.body));
          else admin.toast(admin.firstError(result.body), { error: true });
        }
      } finally {
        button.removeAttribute("loading");
      }
    });
  });

  load();
})();
