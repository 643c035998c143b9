/* Loyalty referrals. For a member: their referral link with copy and share links (email,
   WhatsApp, X, Facebook: plain links with URL-encoded text, no third-party script) and what the
   friend and they each get. For a visitor who arrives with `?ref=CODE` (a friend's link to the
   shop's home): the code is kept in localStorage, the panel opens once with the friend's offer
   and a link to the landing page (/apps/loyalty/r/CODE) where they give their email for their
   code. Imported by loyalty-widget.js when the launcher's panel first opens (then `lw:open`:
   until then its root carries data-lw-lazy and is left alone, unless this page's address has the
   friend's code, when the panel may have to open itself); reads GET /referral from the app
   proxy, which names nobody but the signed-in customer. The sections it fills carry
   data-lw-loading until it has drawn the answer or given up.
   This is the source: `make widget` minifies it into extensions/loyalty-widget/assets/ (commit
   both). */
(() => {
const KEY = 'lw:ref';
const CODE = /^[A-Za-z0-9_-]{1,64}$/;
let T = {}; // strings (snippets/loyalty-strings.liquid)
const q = (el, s) => el.querySelector(s);
const qa = (el, s) => Array.from(el.querySelectorAll(s));
const fill = (s, v) => String(s).replace(/\[(\w+)\]/g, (m, k) => (k in v ? v[k] : m));
const enc = encodeURIComponent;
const num = (n, o) => new Intl.NumberFormat(T.locale, o).format(n);
// A reward in the shopper's words: "$5.00 off", "10% off", "free shipping", else its name.
const gift = (w) => !w ? '' : w.kind === 'fixed_amount' ? fill(T.ref_off, { amount: num(w.value, { style: 'currency', currency: w.currency }) })
  : w.kind === 'percentage' ? fill(T.ref_off, { amount: num(w.value / 100, { style: 'percent', maximumFractionDigits: 2 }) })
    : w.kind === 'free_shipping' ? T.ref_free_shipping : w.name;
const pts = (n) => fill(T['points_' + new Intl.PluralRules(T.locale).select(n)] || T.points_other, { count: num(n) });

// The friend's code: from this page's address (kept for the next pages), else as kept.
function kept() {
  const fresh = new URLSearchParams(location.search).get('ref');
  let ref = fresh;
  try {
    if (fresh && CODE.test(fresh)) localStorage.setItem(KEY, fresh);
    else ref = localStorage.getItem(KEY);
  } catch (e) {} // storage refused: the code lasts this page
  return { ref: ref && CODE.test(ref) ? ref : null, fresh: !!fresh };
}

async function load(root, visit) {
  const proxy = '/' + (root.dataset.lwProxy || 'apps/loyalty').replace(/^\/+|\/+$/g, '');
  const parts = qa(root, '[data-lw-referral], [data-lw-invite]');
  parts.forEach((el) => el.setAttribute('data-lw-loading', ''));
  let r;
  try {
    const res = await fetch(proxy + '/referral', { headers: { Accept: 'application/json' } });
    if (res.status === 200) r = (await res.json()).data.attributes;
  } catch (e) {} // the panel shows what Liquid rendered
  if (r) draw(root, visit, proxy, r);
  parts.forEach((el) => el.removeAttribute('data-lw-loading'));
}

function draw(root, visit, proxy, r) {
  const offer = {
    friend: gift(r.friend_reward),
    you: [r.advocate_points && pts(r.advocate_points), gift(r.advocate_reward)].filter(Boolean).join(' + '),
  };
  qa(root, '[data-lw-referral]').forEach((el) => {
    el.hidden = !r.url;
    if (!r.url) return;
    q(el, '[data-lw-offer]').textContent = fill(T.ref_offer, offer);
    q(el, '[data-lw-ref-url]').value = r.url;
    const v = { url: enc(r.url), text: enc(fill(T.ref_message, offer)), subject: enc(T.ref_subject) };
    qa(el, '[data-lw-share]').forEach((a) => { a.href = fill(a.dataset.lwShare, v); });
  });
  const invited = visit.ref && r.enabled && visit.ref.toUpperCase() !== String(r.code).toUpperCase();
  qa(root, '[data-lw-invite]').forEach((el) => {
    el.hidden = !invited;
    if (!invited) return;
    q(el, '[data-lw-invite-offer]').textContent = fill(T.ref_invite, offer);
    q(el, '[data-lw-invite-link]').href = proxy + '/r/' + enc(visit.ref);
  });
  const launcher = q(root, '[data-lw-launcher]');
  if (invited && visit.fresh && launcher && launcher.getAttribute('aria-expanded') !== 'true') launcher.click();
}

async function copy(btn) {
  const box = q(btn.closest('[data-lw-referral]'), '[data-lw-ref-url]');
  const status = q(btn.closest('[data-lw-referral]'), '[data-lw-ref-status]');
  try {
    await navigator.clipboard.writeText(box.value);
    status.textContent = T.ref_copied;
  } catch (e) { // no clipboard access: select the link for the shopper to copy
    box.select();
    status.textContent = T.ref_copy_manually;
  }
}

function init() {
  const strings = q(document, 'script[data-lw-strings]');
  if (!strings) return;
  T = JSON.parse(strings.textContent);
  const visit = kept();
  qa(document, '[data-lw-root]').forEach((root) => {
    // A visitor without a friend's code has nothing to ask the app for; the launcher's closed
    // panel waits for its first open, unless the friend's link was just followed.
    if (root.lwReferral || (root.hasAttribute('data-lw-lazy') && !visit.fresh)) return;
    if (!(q(root, '[data-lw-referral]') || (visit.ref && q(root, '[data-lw-invite]')))) return;
    root.lwReferral = true;
    load(root, visit);
  });
}

document.addEventListener('click', (e) => {
  const btn = e.target.closest && e.target.closest('[data-lw-copy-link]');
  if (btn) copy(btn);
});
document.addEventListener('shopify:section:load', init);
document.addEventListener('lw:open', init);
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
})();
