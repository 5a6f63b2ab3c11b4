// dom.js: tiny helpers to build the pages without a framework.

// h builds an element: h('a', {href: '#/x', class: 'y'}, 'text', child...).
// Attributes starting with "on" are event listeners; null/false children
// and attributes are skipped; arrays of children are flattened.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// render replaces el's content.
export function render(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

// badge shows a health status (passing, warning, critical) or any label.
export function badge(status, text) {
  const cls = ['passing', 'warning', 'critical', 'leader'].includes(status) ? status : 'plain';
  return h('span', { class: `badge ${cls}`, dataset: { status } }, text || status);
}

export function tags(list) {
  return (list || []).map(t => h('span', { class: 'tag' }, t));
}

// table builds a scrollable table; rows are arrays of cells (nodes or text).
export function table(headers, rows, attrs = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', attrs,
      h('thead', null, h('tr', null, headers.map(t => h('th', null, t)))),
      h('tbody', null, rows.map(r => Array.isArray(r) ? h('tr', null, r.map(c => c instanceof Node && c.tagName === 'TD' ? c : h('td', null, c))) : r))));
}

// worst is the worst of a list of statuses.
export function worst(statuses) {
  if (statuses.includes('critical')) return 'critical';
  if (statuses.includes('warning')) return 'warning';
  return 'passing';
}

// ago says how long ago a time was, roughly ("3s ago").
export function ago(date) {
  const t = typeof date === 'string' ? Date.parse(date) : date;
  if (!t || Number.isNaN(t) || t <= 0) return '';
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}
