/* Loyalty rewards: fills the rewards lists and "my rewards" from the app proxy, redeems for the
   signed-in customer (the app proxy says who; nothing here names a customer), copies codes.
   Nothing here shows an outcome the API did not return. Imported by loyalty-widget.js (strings,
   panel, balance) when a page has snippets/loyalty-rewards.liquid, in the launcher's panel only
   once it has opened (then `lw:open`: until then the panel's root carries data-lw-lazy and is
   left alone); after a redemption it fires
   `lw:points` on the document so the widget reloads the balance, and reloads itself on the
   widget's.
   This is the source: `make widget` minifies it into extensions/loyalty-widget/assets/ (commit
   both). */
(() => {
const groups = new Map(); // proxy path -> {proxy, roots, list, codes, me, notes, busy, keys}
let T = {}; // strings (snippets/loyalty-strings.liquid)
const q = (el, s) => el.querySelector(s);
const qa = (el, s) => Array.from(el.querySelectorAll(s));
const fill = (s, v) => String(s).replace(/\[(\w+)\]/g, (m, k) => (k in v ? v[k] : m));
const num = (n) => Number(n || 0).toLocaleString(T.locale);
const pts = (n) => fill(T['points_' + new Intl.PluralRules(T.locale).select(n)] || T.points_other, { count: num(n) });
const day = (iso) => new Date(iso).toLocaleDateString(T.locale, { dateStyle: 'medium' });
const text = (el, s) => { if (el && el.textContent !== s) el.textContent = s; };
const note = (s) => {
  const li = document.createElement('li');
  li.className = 'lw-rule lw-rule--note';
  li.textContent = s;
  return li;
};

async function call(g, path, body) {
  try {
    const res = await fetch(g.proxy + path, body
      ? { method: 'POST', headers: { Accept: 'application/json', 'Content-Type': 'application/json' }, body: JSON.stringify(body) }
      : { headers: { Accept: 'application/json' } });
    return { status: res.status, body: await res.json(), wait: res.headers.get('Retry-After') };
  } catch (e) {
    return { status: 0, body: {} }; // offline, or not the app's JSON
  }
}

// As the widget's loads: the latest answers win, and the lists carry data-lw-loading (rendered by
// the Liquid) until they have been drawn.
async function load(g) {
  const n = (g.loads = (g.loads || 0) + 1);
  const lists = () => g.roots.flatMap((root) => qa(root, '[data-lw-rewards], [data-lw-codes]'));
  lists().forEach((el) => el.setAttribute('data-lw-loading', ''));
  const signedIn = g.roots.some((root) => q(root, '[data-lw-codes]')); // rendered for a customer
  const [offers, mine] = await Promise.all([call(g, '/rewards'), signedIn && call(g, '/my-rewards')]);
  if (n !== g.loads) return; // a newer load is on its way
  const flat = (r) => ({ id: r.id, ...r.attributes });
  if (offers.status !== 200) g.failed = true;
  else {
    g.failed = false;
    g.me = offers.body.meta; // {signed_in, points_balance}
    g.list = offers.body.data.map(flat);
    // Store credit has no code: "my rewards" lists codes.
    g.codes = mine.status === 200 ? mine.body.data.map(flat).filter((c) => c.discount_code) : [];
  }
  render(g);
  lists().forEach((el) => el.removeAttribute('data-lw-loading'));
}

function render(g) {
  g.roots.forEach((root) => {
    const member = g.me && g.me.signed_in && !root.classList.contains('lw--excluded');
    qa(root, '[data-lw-rewards]').forEach((el) => {
      if (g.failed) return el.replaceChildren(note(T.load_failed));
      keyed(el, g.list, 'lwReward', (li, r) => reward(g, li, r, member));
      if (!g.list.length) el.append(note(T.rewards_empty));
    });
    qa(root, '[data-lw-codes]').forEach((el) => {
      keyed(el, g.codes || [], 'lwCode', code);
      if (!(g.codes || []).length) el.append(note(T.codes_empty));
    });
  });
}

// Items are updated in place by id, so focus and live regions survive; new ones are cloned from
// the <template> just before the list.
function keyed(el, items, key, draw) {
  const tpl = el.previousElementSibling;
  let prev = null;
  el.removeAttribute('aria-busy');
  Array.from(el.children).forEach((li) => li.dataset[key] || li.remove());
  items.forEach((r) => {
    let li = Array.from(el.children).find((x) => x.dataset[key] === r.id);
    if (!li) {
      li = tpl.content.firstElementChild.cloneNode(true);
      li.dataset[key] = r.id;
    }
    const want = prev ? prev.nextElementSibling : el.firstElementChild;
    if (li !== want) el.insertBefore(li, want);
    prev = li;
    draw(li, r);
  });
  while (prev && prev.nextElementSibling) prev.nextElementSibling.remove();
}

function reward(g, li, r, member) {
  const n = g.notes[r.id] || {};
  const busy = !!g.busy[r.id];
  const btn = q(li, '[data-lw-redeem]');
  const box = q(li, '[data-lw-new-code]');
  const status = q(li, '.lw-rule__status');
  const can = member && r.redeemable;
  text(q(li, '.lw-rule__label'), r.name);
  text(q(li, '.lw-reward__description'), r.description);
  text(q(li, '.lw-rule__points'), r.is_variable
    ? fill(T.points_range, { min: num(r.min_points), max: pts(r.max_points) }) : pts(r.points_cost));
  text(q(li, '.lw-reward__why'), r.minimum_tier && !r.tier_allowed ? fill(T.tier_only, { tier: r.minimum_tier })
    : !member ? '' : r.limit_reached ? T.limit_reached
      : r.points_needed ? fill(T.points_needed, { points: pts(r.points_needed) }) : '');
  if (btn) {
    const input = q(li, '[data-lw-points]');
    btn.hidden = !can;
    btn.setAttribute('aria-disabled', String(busy));
    btn.toggleAttribute('aria-busy', busy);
    text(btn.firstElementChild, busy ? T.redeeming : n.retry ? T.retry : T.redeem);
    text(btn.lastElementChild, r.name);
    input.parentNode.hidden = !(can && r.is_variable);
    li.classList.toggle('lw-reward--amount', can && r.is_variable); // its own row: see the CSS
    if (r.is_variable && !input.value) { // as many points as they have, in range and step
      const most = Math.min(r.max_points, g.me.points_balance);
      Object.assign(input, { min: r.min_points, max: r.max_points, step: r.points_step, value: most - (most % r.points_step) });
    }
  }
  status.className = 'lw-rule__status' + (n.kind ? ' lw-rule__status--' + n.kind : '');
  text(status, n.text || '');
  if (!n.code) box.textContent = '';
  else {
    if (!box.firstElementChild) box.append(q(li.closest('[data-lw-root]'), '[data-lw-code-template]').content.firstElementChild.cloneNode(true));
    code(box.firstElementChild, n.code);
  }
}

function code(li, c) {
  const a = q(li, '[data-lw-apply]'); // the cart page only
  text(q(li, '.lw-code__name'), c.reward_name);
  text(q(li, '.lw-code__value'), c.discount_code);
  text(q(li, '.lw-code__meta'), c.expires_at ? fill(T.code_expires, { date: day(c.expires_at) }) : '');
  q(li, '[data-lw-copy]').dataset.lwCopy = c.discount_code;
  if (a) a.href = a.dataset.lwApply + encodeURIComponent(c.discount_code) + '?redirect=' + encodeURIComponent(a.dataset.lwRedirect);
}

async function redeem(g, li) {
  const id = li.dataset.lwReward;
  const r = g.list.find((x) => x.id === id);
  if (!r || g.busy[id]) return;
  // One key per redemption the shopper means, kept until the app has answered for it: a retry
  // after a lost answer replays the first redemption instead of spending twice.
  const body = { idempotency_key: (g.keys[id] = g.keys[id] || crypto.randomUUID()) };
  if (r.is_variable) body.points = Number(q(li, '[data-lw-points]').value);
  g.busy[id] = true;
  g.notes[id] = {};
  render(g);
  const res = await call(g, '/rewards/' + encodeURIComponent(id) + '/redeem', body);
  const s = res.status;
  const a = s > 199 && s < 300 && res.body.data.attributes;
  const e = (res.body.errors || [])[0] || {};
  const m = e.meta || {};
  delete g.busy[id];
  if (a || (s > 399 && s < 500) || s === 503) delete g.keys[id]; // settled: nothing spent, or done
  g.notes[id] = a
    ? { kind: 'ok', text: a.discount_code ? T.redeemed : T.credited, code: a.discount_code && a }
    : { kind: 'error', retry: !T['e_' + e.code], text: fill(T['e_' + e.code] || T.redeem_failed, {
      points: pts(m.points_required - m.points_balance), min: num(r.min_points), max: num(r.max_points), seconds: res.wait || 60 }) };
  render(g);
  if (a || e.code === 'insufficient_points') document.dispatchEvent(new Event('lw:points'));
}

async function copy(btn) {
  try {
    await navigator.clipboard.writeText(btn.dataset.lwCopy);
    text(btn, T.copied);
  } catch (e) { // no clipboard access: select the code for the shopper to copy
    getSelection().selectAllChildren(q(btn.closest('[data-lw-code]'), '.lw-code__value'));
    text(btn, T.copy_manually);
  }
}

function init() {
  const strings = q(document, 'script[data-lw-strings]');
  if (!strings) return;
  T = JSON.parse(strings.textContent);
  const fresh = new Set();
  qa(document, '[data-lw-root]').forEach((root) => {
    // The launcher's panel (data-lw-lazy) waits for its first open (`lw:open`).
    if (root.lwRewards || !q(root, '[data-lw-rewards]') || root.hasAttribute('data-lw-lazy')) return;
    const proxy = '/' + (root.dataset.lwProxy || 'apps/loyalty').replace(/^\/+|\/+$/g, '');
    if (!groups.has(proxy)) groups.set(proxy, { proxy, roots: [], notes: {}, busy: {}, keys: {} });
    root.lwRewards = groups.get(proxy);
    root.lwRewards.roots.push(root);
    fresh.add(root.lwRewards);
  });
  fresh.forEach(load);
}

document.addEventListener('click', (e) => {
  const g = e.target.closest && (e.target.closest('[data-lw-root]') || {}).lwRewards;
  const spend = g && e.target.closest('[data-lw-redeem]');
  const cp = g && e.target.closest('[data-lw-copy]');
  if (spend && g.list) redeem(g, spend.closest('[data-lw-reward]'));
  else if (cp) copy(cp);
});
document.addEventListener('shopify:section:load', init);
document.addEventListener('lw:open', init);
document.addEventListener('lw:points', () => groups.forEach(load));
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
})();
