// pages/services.js: the Services pages.
//
// list (#/services) shows every service with its instances counted by
// health, its tags, and a search box filtering by name or tag as the user
// types. detail (#/services/<name>) shows each instance (node,
// address:port, weight, tags, meta) with its checks' status, output and
// last change.
//
// Both follow the agent with blocking queries. The list watches
// /v1/catalog/services (wakes when any service is registered or removed)
// and /v1/health/state/any (wakes when any check changes); when the
// services change it re-reads each service's instances once from
// /v1/catalog/service/<name>, since no single public endpoint lists every
// instance. An instance's health is the worst of its own checks and its
// node's, as in Consul's health API.
//
// Last change: Consul's health API has no timestamp for a check's last
// status change, and muster adds none. The page shows the check's
// ModifyIndex (the Raft index of its last write) and, when this page saw
// the status change, how long ago it saw it (noted in memory, so it
// survives moving between pages but not a reload).
//
// watchCatalog, checksTable, instanceHealth and tickAgo are also used by
// pages/nodes.js.
import { get, live, reportError } from '../api.js';
import { h, render, badge, tags, table, worst, ago } from '../dom.js';

export const STATUSES = ['passing', 'warning', 'critical'];

// filter is the search box's text. The router has no query strings, so it
// is kept in memory: it survives a visit to a service's page and back.
let filter = '';

// seen maps node + check ID to {status, since}: the status this page last
// saw and when it saw it change (null: not seen changing).
const seen = new Map();

// noteCheck records check's status in seen and returns its entry.
function noteCheck(c) {
  const key = `${c.Node}\u0000${c.CheckID}`;
  const prev = seen.get(key);
  if (prev && prev.status === c.Status) return prev;
  const entry = { status: c.Status, since: prev ? Date.now() : null };
  seen.set(key, entry);
  return entry;
}

// watchCatalog calls onData({services, instances, checks}) whenever the
// catalog's services or any check changes: services maps name to tags (as
// /v1/catalog/services), instances are CatalogService entries, checks are
// every check (/v1/health/state/any). It returns a stop function. A failed
// read of the instances is reported to the banner and retried.
export function watchCatalog(onData) {
  const ctrl = new AbortController();
  const source = {}; // the instance reads' place in the error banner
  let services = null, instances = null, checks = null, retry = null, reading = null;
  const emit = () => {
    if (!ctrl.signal.aborted && services && instances && checks) onData({ services, instances, checks });
  };
  // readInstances re-reads every service's instances; a newer read
  // cancels the one in flight, whose answer would be stale.
  const readInstances = async () => {
    reading?.abort();
    clearTimeout(retry);
    const my = reading = new AbortController();
    const signal = AbortSignal.any([ctrl.signal, my.signal]);
    try {
      const lists = await mapLimit(Object.keys(services), 4,
        name => get(`/v1/catalog/service/${encodeURIComponent(name)}`, { signal }));
      if (signal.aborted) return;
      reportError(null, source);
      instances = lists.flatMap(r => r.data || []);
      emit();
    } catch (err) {
      if (signal.aborted || err.name === 'AbortError') return;
      my.abort(); // mapLimit's other workers: stop reading
      reportError(err, source);
      retry = setTimeout(readInstances, 2000);
    }
  };
  const stopServices = live('/v1/catalog/services', data => {
    services = data || {};
    readInstances();
  });
  const stopChecks = live('/v1/health/state/any', data => {
    checks = data || [];
    for (const c of checks) noteCheck(c);
    emit();
  });
  return () => {
    ctrl.abort();
    clearTimeout(retry);
    reportError(null, source);
    stopServices();
    stopChecks();
  };
}

// mapLimit maps items through the async fn, at most limit at a time (the
// browser has few connections per host, and the live queries hold some).
async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// checksByNode indexes checks: node -> {node: [node checks], services: Map(service ID -> [checks])}.
export function checksByNode(checks) {
  const out = new Map();
  for (const c of checks) {
    let n = out.get(c.Node);
    if (!n) out.set(c.Node, n = { node: [], services: new Map() });
    if (!c.ServiceID) n.node.push(c);
    else {
      if (!n.services.has(c.ServiceID)) n.services.set(c.ServiceID, []);
      n.services.get(c.ServiceID).push(c);
    }
  }
  return out;
}

// instanceHealth is the worst status of an instance's checks and its node's.
export function instanceHealth(index, node, serviceID) {
  const n = index.get(node);
  if (!n) return 'passing';
  return worst([...n.node, ...(n.services.get(serviceID) || [])].map(c => c.Status));
}

// counts shows how many instances are passing, warning and critical.
export function counts(byStatus) {
  const shown = STATUSES.filter(s => byStatus[s]);
  return h('span', { class: 'counts' },
    shown.length ? shown.map(s => h('span', { dataset: { count: s } }, badge(s, `${byStatus[s]} ${s}`)))
      : h('span', { class: 'muted' }, 'no instances'));
}

// lastChange is a check's "last change" cell: its ModifyIndex, and how long
// ago this page saw its status change (kept current by tickAgo).
export function lastChange(c) {
  const entry = noteCheck(c);
  return h('span', { class: 'last-change', title: 'ModifyIndex: the Raft index of the check\'s last write. '
    + 'The time is when this page saw the status change (the API has no timestamp).' },
    h('span', { class: 'mono' }, `index ${c.ModifyIndex}`),
    entry.since ? [' · changed ', h('span', { dataset: { since: entry.since } }, ago(entry.since))] : null);
}

// tickAgo keeps the [data-since] times under el current; it returns a stop function.
export function tickAgo(el) {
  const t = setInterval(() => {
    for (const s of el.querySelectorAll('[data-since]')) s.textContent = ago(Number(s.dataset.since));
  }, 1000);
  return () => clearInterval(t);
}

// checksTable lists checks: status, name (and type), output, last change;
// withService adds the service each belongs to.
export function checksTable(checks, { withService = false } = {}) {
  if (!checks.length) return h('p', { class: 'empty' }, 'No checks.');
  const rows = checks.map(c => h('tr', { dataset: { check: c.CheckID, checkStatus: c.Status } },
    h('td', null, badge(c.Status)),
    h('td', null, c.Name, ' ', h('span', { class: 'muted' }, [c.Type, c.ServiceID ? '' : 'node check'].filter(Boolean).join(' · ')),
      h('div', { class: 'muted mono' }, c.CheckID)),
    withService ? h('td', null, c.ServiceName ? h('a', { href: serviceHref(c.ServiceName) }, c.ServiceName) : '') : null,
    h('td', { class: 'check-output' }, c.Output ? h('pre', { class: 'output mono' }, c.Output) : h('span', { class: 'muted' }, 'no output'),
      c.Notes ? h('div', { class: 'muted' }, c.Notes) : null),
    h('td', null, lastChange(c))));
  const headers = ['Status', 'Check', withService ? 'Service' : null, 'Output', 'Last change'].filter(Boolean);
  return table(headers, rows, { class: 'checks' });
}

export function serviceHref(name) { return `#/services/${encodeURIComponent(name)}`; }
export function nodeHref(name) { return `#/nodes/${encodeURIComponent(name)}`; }

// hostPort joins an address and a port, bracketing IPv6 addresses.
export function hostPort(addr, port) {
  if (!port) return addr || '';
  return `${addr.includes(':') ? `[${addr}]` : addr}:${port}`;
}

// matches says whether a service's name or one of its tags contains q.
function matches(name, tagList, q) {
  if (!q) return true;
  const lc = q.toLowerCase();
  return name.toLowerCase().includes(lc) || (tagList || []).some(t => t.toLowerCase().includes(lc));
}

// list renders #/services.
export function list(el) {
  let last = null;
  const body = h('div', { id: 'services-body' }, h('p', { class: 'empty' }, 'Loading…'));
  const search = h('input', {
    type: 'search', id: 'service-search', placeholder: 'Filter by name or tag', value: filter,
    'aria-label': 'Filter services by name or tag',
    oninput: e => { filter = e.target.value; if (last) show(last); },
  });
  const summary = h('span', { class: 'muted', id: 'services-summary' });
  render(el, h('div', { class: 'page-services' },
    h('h1', null, 'Services'), h('div', { class: 'toolbar' }, search, summary), body));

  const show = data => {
    last = data;
    const index = checksByNode(data.checks);
    const byService = new Map();
    for (const inst of data.instances) {
      let n = byService.get(inst.ServiceName);
      if (!n) byService.set(inst.ServiceName, n = { passing: 0, warning: 0, critical: 0, total: 0 });
      n[instanceHealth(index, inst.Node, inst.ServiceID)]++;
      n.total++;
    }
    const names = Object.keys(data.services).sort();
    const shown = names.filter(name => matches(name, data.services[name], filter));
    summary.textContent = filter ? `${shown.length} of ${names.length} services` : `${names.length} services`;
    if (!shown.length) {
      render(body, h('p', { class: 'empty' }, names.length ? `No service matches “${filter}”.` : 'No services registered.'));
      return;
    }
    const rows = shown.map(name => {
      const n = byService.get(name) || { passing: 0, warning: 0, critical: 0, total: 0 };
      return h('tr', { dataset: { service: name, passing: n.passing, warning: n.warning, critical: n.critical } },
        h('td', null, h('a', { href: serviceHref(name) }, name)),
        h('td', { class: 'num' }, n.total),
        h('td', null, counts(n)),
        h('td', null, tags(data.services[name])));
    });
    render(body, table(['Service', 'Instances', 'Health', 'Tags'], rows, { id: 'services' }));
  };
  return watchCatalog(show);
}

// detail renders #/services/<name>.
export function detail(el, [name]) {
  const body = h('div', { id: 'service-body' }, h('p', { class: 'empty' }, 'Loading…'));
  const summary = h('span', { id: 'service-summary' });
  render(el, h('div', { class: 'page-services' },
    h('div', { class: 'breadcrumb' }, h('a', { href: '#/services' }, 'Services'), h('span', { class: 'muted' }, '/')),
    h('h1', null, name, ' ', summary), body,
    h('p', { class: 'note muted' }, 'Last change: the check\'s ModifyIndex (the Raft index of its last write), '
      + 'and when this page saw its status change; Consul\'s health API has no timestamp for it.')));
  const stopLive = live(`/v1/health/service/${encodeURIComponent(name)}`, data => {
    const entries = (data || []).slice().sort((a, b) =>
      a.Node.Node.localeCompare(b.Node.Node) || a.Service.ID.localeCompare(b.Service.ID));
    const n = { passing: 0, warning: 0, critical: 0 };
    for (const e of entries) n[worst(e.Checks.map(c => c.Status))]++;
    render(summary, counts(n));
    if (!entries.length) {
      render(body, h('p', { class: 'empty' }, `No instances of ${name}: it is not registered, or its last instance was removed.`));
      return;
    }
    render(body, entries.map(instancePanel));
  });
  const stopTick = tickAgo(el);
  return () => { stopLive(); stopTick(); };
}

// instancePanel shows one ServiceEntry: the instance and its checks.
function instancePanel(e) {
  const s = e.Service, node = e.Node;
  const status = worst(e.Checks.map(c => c.Status));
  const w = s.Weights || { Passing: 1, Warning: 1 };
  const meta = Object.entries(s.Meta || {});
  return h('section', { class: 'panel instance', dataset: { instance: s.ID, node: node.Node, status } },
    h('h2', null, badge(status), ' ', h('span', { class: 'mono' }, s.ID), ' ',
      h('span', { class: 'muted' }, 'on '), h('a', { href: nodeHref(node.Node) }, node.Node)),
    h('div', { class: 'kv-grid' },
      h('span', { class: 'muted' }, 'Address'), h('span', { class: 'mono', dataset: { field: 'address' } }, hostPort(s.Address || node.Address, s.Port)),
      h('span', { class: 'muted' }, 'Weight'), h('span', { dataset: { field: 'weight' } }, `${w.Passing} passing · ${w.Warning} warning`),
      h('span', { class: 'muted' }, 'Tags'), h('span', { dataset: { field: 'tags' } }, s.Tags?.length ? tags(s.Tags) : h('span', { class: 'muted' }, 'none')),
      h('span', { class: 'muted' }, 'Meta'), h('span', { dataset: { field: 'meta' } }, meta.length
        ? meta.sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => h('span', { class: 'meta mono' }, `${k}=${v}`))
        : h('span', { class: 'muted' }, 'none'))),
    checksTable(e.Checks));
}
