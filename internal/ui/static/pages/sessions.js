// pages/sessions.js: sessions and the locks they hold (#/sessions).
//
// Three live queries feed the page: the sessions (GET /v1/session/list),
// the keys (GET /v1/kv/?recurse, of which the locked ones are kept: a key is
// locked while its Session names a live session) and, on muster, the fair
// locks' queues (GET /v1/lock/waiters/?recurse, an extension: one query for
// every queue, so the page holds three connections however many locks
// there are). Each answer re-renders the page from the latest three.
import { put, live } from '../api.js';
import { h, render, table, tags } from '../dom.js';

// dur formats a Go duration in nanoseconds ("15s", "1.5s", "250ms").
function dur(ns) {
  if (!ns) return '0s';
  if (ns < 1e6) return `${ns / 1e3}µs`;
  if (ns < 1e9) return `${ns / 1e6}ms`;
  return `${+(ns / 1e9).toFixed(3)}s`;
}

function kvHash(key) { return '#/kv/' + key.split('/').map(encodeURIComponent).join('/'); }

// sessionAnchor is the id of a session's row; a link to it scrolls there
// (the hash is the router's, so the link scrolls by hand).
function sessionAnchor(id) { return `session-${id}`; }
function sessionLink(id, label, attrs = {}) {
  return h('a', {
    href: '#/sessions', class: 'mono', ...attrs,
    onclick: ev => {
      ev.preventDefault();
      const row = document.getElementById(sessionAnchor(id));
      if (!row) return;
      row.scrollIntoView({ block: 'center' });
      row.classList.remove('flash');
      void row.offsetWidth; // restart the highlight
      row.classList.add('flash');
    },
  }, label);
}

// list is the #/sessions route.
export function list(el) {
  let sessions = null; // null until the first answer
  let held = null;     // locked KV entries
  let queues = null;   // waiters (muster), [] when none, undefined when not served
  const status = h('div', { id: 'sessions-message', class: 'kv-message error', role: 'alert', hidden: true });
  const sessionsBox = h('div', { id: 'sessions' }, h('p', { class: 'empty' }, 'Loading…'));
  const locksBox = h('div', { id: 'locks' }, h('p', { class: 'empty' }, 'Loading…'));

  async function invalidate(sess, button) {
    if (!confirm(`Invalidate session ${sess.Name ? `"${sess.Name}" ` : ''}${sess.ID}? Its locks are released (or its keys deleted, by its behavior).`)) return;
    button.disabled = true;
    status.hidden = true;
    try {
      await put('/v1/session/destroy/' + encodeURIComponent(sess.ID));
    } catch (err) {
      status.hidden = false;
      status.textContent = `Invalidate ${sess.ID} failed: ${err.message}`;
      button.disabled = false;
    }
  }

  function renderSessions() {
    if (sessions === null) return;
    if (sessions.length === 0) {
      render(sessionsBox, h('p', { class: 'empty' }, 'No sessions.'));
      return;
    }
    const locksOf = new Map();
    for (const e of held || []) locksOf.set(e.Session, [...(locksOf.get(e.Session) || []), e.Key]);
    const byNode = new Map();
    for (const s of sessions) byNode.set(s.Node, [...(byNode.get(s.Node) || []), s]);
    const nodes = [...byNode.keys()].sort();
    render(sessionsBox, nodes.map(node => {
      const list = byNode.get(node).sort((a, b) => (a.Name || '').localeCompare(b.Name || '') || a.CreateIndex - b.CreateIndex);
      const rows = list.map(s => {
        const button = h('button', { class: 'danger', 'data-invalidate': s.ID }, 'Invalidate');
        button.addEventListener('click', () => invalidate(s, button));
        const checks = [...(s.NodeChecks || []), ...(s.ServiceChecks || []).map(c => c.ID)];
        const keys = locksOf.get(s.ID) || [];
        return h('tr', { id: sessionAnchor(s.ID), dataset: { session: s.ID } },
          h('td', null, h('div', null, s.Name || h('span', { class: 'muted' }, '(no name)')),
            h('div', { class: 'mono muted' }, s.ID)),
          h('td', null, s.TTL || '—'),
          h('td', null, s.Behavior),
          h('td', null, dur(s.LockDelay)),
          h('td', null, checks.length ? tags(checks) : h('span', { class: 'muted' }, 'none')),
          h('td', { 'data-held': s.ID }, keys.length
            ? keys.map(k => h('div', null, h('a', { class: 'mono', href: kvHash(k) }, k)))
            : h('span', { class: 'muted' }, '—')),
          h('td', null, button));
      });
      return h('section', { class: 'sessions-node', dataset: { node } },
        h('h3', null, 'Node ', h('a', { href: '#/nodes/' + encodeURIComponent(node) }, node),
          h('span', { class: 'muted' }, ` · ${list.length} session${list.length === 1 ? '' : 's'}`)),
        table(['Session', 'TTL', 'Behavior', 'Lock-delay', 'Checks', 'Locks held', ''], rows));
    }));
  }

  function renderLocks() {
    if (held === null) return;
    const names = new Map((sessions || []).map(s => [s.ID, s.Name]));
    const waitersOf = new Map();
    for (const w of queues || []) waitersOf.set(w.Key, [...(waitersOf.get(w.Key) || []), w]);
    // Locked keys, and keys with a queue but no holder (inside a lock-delay).
    const byKey = new Map(held.map(e => [e.Key, e]));
    for (const k of waitersOf.keys()) if (!byKey.has(k)) byKey.set(k, { Key: k });
    const keys = [...byKey.keys()].sort();
    if (keys.length === 0) {
      render(locksBox, h('p', { class: 'empty' }, 'No key is locked.'));
      return;
    }
    const now = Date.now();
    const rows = keys.map(k => {
      const e = byKey.get(k);
      const waiters = waitersOf.get(k) || [];
      const queue = queues === undefined ? h('span', { class: 'muted' }, 'not available')
        : waiters.length === 0 ? h('span', { class: 'muted' }, 'none')
        : h('ol', { class: 'waiters' }, waiters.map(w => {
          const until = Date.parse(w.Deadline);
          return h('li', { dataset: { waiter: w.Session, position: String(w.Position) } },
            sessionLink(w.Session, names.get(w.Session) || w.Session),
            h('span', { class: 'muted' }, until <= now ? ' (gave up)' : ` until ${new Date(until).toLocaleTimeString()}`));
        }));
      return h('tr', { dataset: { lock: k } },
        h('td', null, h('a', { class: 'mono', href: kvHash(k) }, k)),
        h('td', { 'data-holder': e.Session || '' }, e.Session
          ? sessionLink(e.Session, names.get(e.Session) ? `${names.get(e.Session)} (${e.Session})` : e.Session)
          : h('span', { class: 'muted' }, 'free (lock-delay)')),
        h('td', { class: 'num' }, e.LockIndex ?? '—'),
        h('td', { class: 'num', 'data-fencing-token': e.FencingToken || '' }, e.FencingToken || '—'),
        h('td', { 'data-queue': k }, queue));
    });
    render(locksBox, table(['Key', 'Holder', 'LockIndex', 'Fencing token', 'Queue (first in line first)'], rows));
  }

  render(el,
    h('h1', null, 'Sessions & locks'),
    status,
    h('h2', null, 'Sessions'),
    sessionsBox,
    h('h2', null, 'Locks'),
    h('p', { class: 'muted' }, 'Keys held by a session, the fencing token of the acquisition, and the sessions queued for a fair lock (acquire with wait).'),
    locksBox);

  const stops = [
    live('/v1/session/list', data => { sessions = data || []; renderSessions(); renderLocks(); }),
    live('/v1/kv/', data => {
      held = (data || []).filter(e => e.Session);
      renderSessions(); renderLocks();
    }, { query: { recurse: true } }),
    // Not served by Consul (404 → null): the queue column says so.
    live('/v1/lock/waiters/', data => { queues = data ?? undefined; renderLocks(); }, { query: { recurse: true } }),
  ];
  return () => stops.forEach(stop => stop());
}
