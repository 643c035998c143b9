/* Loyalty widget: refreshes the blocks from the app proxy, claims ways to earn, runs the panel.
   Nothing here shows an outcome the API did not return. Rewards are loyalty-rewards.js (its own
   file: theme check limits each script's size) and referrals (the share panel, a friend's
   invitation) are loyalty-referral.js, imported when a page shows them: an app block at once; the
   launcher's panel (its root carries data-lw-lazy) only when it first opens, so a page view with
   the panel closed fetches neither script nor their proxy calls. On that first open the panel
   carries data-lw-loading until the scripts have started their loads (which mark what they fill),
   and `lw:open` on the document tells a script already loaded to pick the panel up. Rewards and
   this tell each other that points moved with an `lw:points` event, and each reloads what it
   shows.
   This is the source: `make widget` minifies it into extensions/loyalty-widget/assets/, the file
   the theme extension ships (scripts/build-widget.js); commit both. */
(() => {
const groups = new Map(); // proxy path -> {roots, me, rules, notes, busy, retry}
let T = {}; // strings
const q = (el, s) => el.querySelector(s);
const qa = (el, s) => Array.from(el.querySelectorAll(s));
const fill = (s, v) => String(s).replace(/\[(\w+)\]/g, (m, k) => (k in v ? v[k] : m));
const num = (n) => Number(n || 0).toLocaleString(T.locale);
const form = (n) => new Intl.PluralRules(T.locale).select(n);
const pts = (n) => fill(T['points_' + form(n)] || T.points_other, { count: num(n) });
const day = (iso) => new Date(iso).toLocaleDateString(T.locale, { dateStyle: 'medium' });
const text = (el, s) => { if (el && el.textContent !== s) el.textContent = s; };
const make = (tag, cls, s) => {
  const el = document.createElement(tag);
  el.className = cls;
  el.textContent = s;
  return el;
};

async function call(g, path, post) {
  try {
    const res = await fetch(g.proxy + path, { method: post ? 'POST' : 'GET', headers: { Accept: 'application/json' } });
    return { status: res.status, body: await res.json(), wait: res.headers.get('Retry-After') };
  } catch (e) {
    return { status: 0 }; // offline, or not the app's JSON
  }
}

function alert(g, message, retry) {
  g.retry = retry;
  g.roots.forEach((root) => qa(root, '[data-lw-alert]').forEach((box) => {
    text(q(box, '[data-lw-alert-text]'), message || '');
    box.hidden = !message;
  }));
}

// Loads can overlap (the first one and an `lw:points` reload): only the latest one's answers are
// shown, so an older answer arriving last never draws the balance as it was. Each root carries
// data-lw-loading (rendered by the Liquid) until the latest load has been drawn, failed or not.
async function load(g) {
  const n = (g.loads = (g.loads || 0) + 1);
  g.roots.forEach((root) => root.setAttribute('data-lw-loading', ''));
  const [me, list] = await Promise.all([call(g, '/customer'), call(g, '/earning-rules')]);
  if (n !== g.loads) return; // a newer load is on its way
  if (me.status !== 200 || list.status !== 200) alert(g, T.load_failed, () => load(g));
  else {
    alert(g, '');
    g.me = me.body.data.attributes;
    g.rules = list.body.data.map((r) => ({ id: r.id, ...r.attributes }));
    render(g);
  }
  g.roots.forEach((root) => root.removeAttribute('data-lw-loading'));
}

function render(g) {
  const m = g.me;
  const state = !m.signed_in ? 'visitor' : m.status === 'excluded' ? 'excluded' : 'member';
  g.roots.forEach((root) => {
    ['visitor', 'member', 'excluded'].forEach((s) => root.classList.toggle('lw--' + s, s === state));
    qa(root, '[aria-busy]').forEach((el) => el.removeAttribute('aria-busy'));
    if (m.signed_in) {
      qa(root, '[data-lw-field]').forEach((el) => {
        const f = el.dataset.lwField;
        if (f === 'tier') text(el, m.vip_tier ? m.vip_tier.name : T.no_tier);
        else if (typeof m[f] === 'number') text(el, num(m[f]));
      });
      qa(root, '[data-lw-unit]').forEach((el) => text(el, T['unit_' + form(m.points_balance)] || T.unit_other));
      qa(root, '[data-lw-progress]').forEach((el) => progress(el, m));
      qa(root, '[data-lw-history]').forEach((el) => history(g, el, m.history || []));
    } else {
      qa(root, '[data-lw-tiers]').forEach((el) => list(el, m.tiers || [], (t) => [
        ['lw-tiers__name', t.name], ['lw-tiers__threshold', fill(T.tier_threshold, { points: pts(t.points_required) })]]));
    }
    qa(root, '[data-lw-rules]').forEach((el) => rules(g, el, state === 'member'));
  });
}

function progress(el, m) {
  const next = m.next_tier;
  const pct = next ? Math.round((m.progress_to_next_tier || 0) * 100) : 100;
  const bar = q(el, '[role=progressbar]');
  el.hidden = !next && !m.vip_tier;
  text(q(el, '[data-lw-field=next_tier]'),
    next ? fill(T.next_tier, { points: pts(m.points_to_next_tier), tier: next.name }) : T.top_tier);
  bar.setAttribute('aria-valuenow', pct);
  bar.firstElementChild.style.width = pct + '%';
}

// A list: each item is spans of [class, text], empty ones left out.
function list(el, items, spans) {
  el.textContent = '';
  items.forEach((item) => {
    const li = document.createElement('li');
    spans(item).forEach(([cls, s]) => s && li.append(make('span', cls, s)));
    el.append(li);
  });
}

function history(g, el, items) {
  list(el, items, (h) => {
    const rule = g.rules.find((r) => r.action === h.action);
    return [
      ['lw-history__label', rule ? rule.label : h.action.replace(/_/g, ' ')],
      ['lw-history__points', (h.points > 0 ? '+' : '') + num(h.points)],
      ['lw-history__meta', h.status === 'rejected' ? T.history_rejected
        : h.status === 'pending' && h.points_due_at && fill(T.history_pending, { date: day(h.points_due_at) })],
    ];
  });
  if (!items.length) el.append(make('li', 'lw-history__note', T.history_empty));
}

// Rule items are updated in place (by id), so focus and live regions survive.
function rules(g, el, member) {
  const tpl = el.previousElementSibling;
  let prev = null;
  qa(el, '[data-lw-placeholder]').forEach((li) => li.remove());
  g.rules.forEach((r) => {
    let li = qa(el, '[data-lw-rule]').find((x) => x.dataset.lwRule === r.id);
    if (!li) {
      li = tpl.content.firstElementChild.cloneNode(true);
      li.dataset.lwRule = r.id;
    }
    const want = prev ? prev.nextElementSibling : el.firstElementChild;
    if (li !== want) el.insertBefore(li, want);
    prev = li;
    rule(g, li, r, member);
  });
  while (prev && prev.nextElementSibling) prev.nextElementSibling.remove();
  if (!prev) el.textContent = '';
}

function rule(g, li, r, member) {
  const note = g.notes[r.id] || {};
  const busy = !!g.busy[r.id];
  const btn = q(li, '[data-lw-claim]');
  const status = q(li, '.lw-rule__status');
  text(q(li, '.lw-rule__label'), r.label);
  text(q(li, '.lw-rule__points'), pts(r.points) + (r.category === 'purchase' ? ' ' + T.per_currency : ''));
  if (btn && !(member && r.claimable && !r.gone)) btn.remove();
  else if (btn) {
    btn.dataset.lwClaim = r.id;
    btn.setAttribute('aria-disabled', String(busy || !!r.completed));
    btn.toggleAttribute('aria-busy', busy);
    text(btn.firstElementChild, r.completed ? T.completed : busy ? T.claiming : note.retry ? T.retry : T.claim);
    text(btn.lastElementChild, r.label);
  }
  status.className = 'lw-rule__status' + (note.kind ? ' lw-rule__status--' + note.kind : '');
  text(status, note.text || '');
}

// Award statuses other than 201/409: the string to show.
const FAILED = { 401: 'sign_in', 403: 'excluded', 404: 'unavailable', 422: 'not_claimable', 429: 'rate_limited' };

async function claim(g, id) {
  const r = g.rules.find((x) => x.id === id);
  if (!r || r.completed || r.gone || g.busy[id]) return;
  // In the click itself (popup blockers); not again on a retry.
  if (!(g.notes[id] || {}).retry && r.call_to_action_url) window.open(r.call_to_action_url, '_blank', 'noopener');
  g.busy[id] = true;
  g.notes[id] = {};
  render(g);
  const res = await call(g, '/earning-rules/' + encodeURIComponent(id) + '/award', true);
  const s = res.status;
  const a = s === 201 && res.body.data.attributes;
  let note = { kind: 'error', text: T.claim_failed, retry: true }; // never a guessed success
  delete g.busy[id];
  if (a) {
    const pending = a.status === 'pending';
    r.completed = true;
    g.me[pending ? 'pending_points' : 'points_balance'] += a.points;
    note = { kind: 'ok', text: fill(T[pending ? 'pending' : 'awarded'], { points: pts(a.points), date: pending && day(a.points_due_at) }) };
  } else if (s === 409) {
    r.completed = true;
    note = { kind: 'info', text: T.already_claimed };
  } else if (FAILED[s]) {
    note = { kind: 'error', text: fill(T[FAILED[s]], { seconds: res.wait || 60 }) };
    if (s === 403) g.me.status = 'excluded';
    r.gone = s === 404 || s === 422;
  }
  g.notes[id] = note;
  render(g);
  if (a) document.dispatchEvent(new Event('lw:points')); // balance, tier, history as the app has them now
}

// The dialog: focus stays inside while open, returns to the launcher.
function panel(root) {
  const btn = q(root, '[data-lw-launcher]');
  const dlg = q(root, '[data-lw-panel]');
  if (!btn) return;
  const toggle = (open, restore) => {
    dlg.hidden = !open;
    btn.setAttribute('aria-expanded', String(open));
    if (open || restore) (open ? dlg : btn).focus();
    if (open && root.hasAttribute('data-lw-lazy')) extras(root, dlg);
  };
  btn.addEventListener('click', () => toggle(dlg.hidden, true));
  q(dlg, '[data-lw-close]').addEventListener('click', () => toggle(false, true));
  root.addEventListener('keydown', (e) => {
    if (dlg.hidden) return;
    if (e.key === 'Escape') return toggle(false, true);
    // Tab stops: only what is on screen.
    const f = qa(dlg, 'a[href], button').filter((el) => el.getClientRects().length);
    const at = document.activeElement;
    const to = e.key !== 'Tab' ? null
      : e.shiftKey ? (at === f[0] || !dlg.contains(at) || at === dlg) && f[f.length - 1]
        : (at === f[f.length - 1] || !dlg.contains(at)) && f[0];
    if (to) {
      e.preventDefault();
      to.focus();
    }
  });
  document.addEventListener('focusin', (e) => {
    if (!dlg.hidden && !dlg.contains(e.target) && e.target !== btn) dlg.focus();
  });
  document.addEventListener('click', (e) => {
    if (!dlg.hidden && !root.contains(e.target)) toggle(false);
  });
}

function init() {
  const strings = q(document, 'script[data-lw-strings]');
  if (!strings) return;
  T = JSON.parse(strings.textContent);
  const fresh = new Set();
  qa(document, '[data-lw-root]').forEach((root) => {
    if (root.lwGroup) return;
    const proxy = '/' + (root.dataset.lwProxy || 'apps/loyalty').replace(/^\/+|\/+$/g, '');
    if (!groups.has(proxy)) groups.set(proxy, { proxy, roots: [], notes: {}, busy: {} });
    root.lwGroup = groups.get(proxy);
    root.lwGroup.roots.push(root);
    fresh.add(root.lwGroup);
    panel(root);
  });
  qa(document, 'time[data-lw-date]').forEach((el) => text(el, day(el.dateTime)));
  // What app blocks show, at once; a friend's link just followed too: the panel may open itself.
  const shown = (s) => qa(document, s).some((el) => !el.closest('[data-lw-lazy]'));
  scripts(shown, /[?&]ref=/.test(location.search) && !!q(document, '[data-lw-invite]'));
  fresh.forEach(load);
}

// The scripts for what `has` finds: rewards; referrals, for a member's share panel or a visitor
// who came through a friend's link (now or before: the code is kept). Imports resolve against
// this script's own URL (the extension's assets) and load each file once.
function scripts(has, invited) {
  const wanted = [];
  let ref = /[?&]ref=/.test(location.search);
  try { ref = ref || !!localStorage.getItem('lw:ref'); } catch (e) {} // storage refused
  if (has('[data-lw-rewards]')) wanted.push(import('./loyalty-rewards.js'));
  if (invited || has('[data-lw-referral]') || (ref && has('[data-lw-invite]'))) wanted.push(import('./loyalty-referral.js'));
  return Promise.all(wanted);
}

// The panel's first open: its scripts, then `lw:open` for one already loaded (each script's
// init skips what it has; its load marks the lists until drawn), and the panel stops loading.
function extras(root, dlg) {
  root.removeAttribute('data-lw-lazy');
  dlg.setAttribute('data-lw-loading', '');
  const done = () => dlg.removeAttribute('data-lw-loading');
  scripts((s) => !!q(root, s)).then(() => document.dispatchEvent(new Event('lw:open'))).then(done, done);
}

document.addEventListener('click', (e) => {
  const g = e.target.closest && (e.target.closest('[data-lw-root]') || {}).lwGroup;
  if (!g) return;
  const btn = e.target.closest('[data-lw-claim]');
  if (btn && g.me) claim(g, btn.dataset.lwClaim);
  else if (e.target.closest('[data-lw-retry]') && g.retry) g.retry();
});
document.addEventListener('shopify:section:load', init);
document.addEventListener('lw:points', () => groups.forEach(load));
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
})();
