// pages/nodes.js: the Nodes pages.
//
// list (#/nodes) shows every node with its address, role (server or
// client), gossip status, a leader mark, the services on it and its
// checks. detail (#/nodes/<name>) shows one node, its service instances
// and its checks.
//
// Nodes come from the catalog (/v1/catalog/nodes, blocking) joined by
// name with the gossip pool (/v1/agent/members: the role tag, and Status
// 1 alive, 2 leaving, 3 left, 4 failed), so a member not yet in the
// catalog, or a catalog node without an agent, is shown too. Members and
// /v1/status/leader have no blocking query (no X-Consul-Index): api.live
// polls them. The leader is the member whose Addr and server port
// (Tags.port) make the address /v1/status/leader answers.
import { live } from '../api.js';
import { h, render, badge, tags, table, worst } from '../dom.js';
import {
  STATUSES, watchCatalog, checksByNode, instanceHealth, checksTable, counts, tickAgo,
  serviceHref, nodeHref, hostPort,
} from './services.js';

// pollEvery is how often members and the leader are re-read (ms).
const pollEvery = 3000;

const gossipStatus = { 1: ['alive', 'passing'], 2: ['leaving', 'warning'], 3: ['left', 'plain'], 4: ['failed', 'critical'] };

// watchMembers calls onData({members, leader}) with the gossip members by
// name and the leader's server address, whenever either is read; it
// returns a stop function.
function watchMembers(onData) {
  let members = null, leader = null;
  const emit = () => { if (members && leader !== null) onData({ members, leader }); };
  const stopMembers = live('/v1/agent/members', data => {
    members = new Map((data || []).map(m => [m.Name, m]));
    emit();
  }, { pollEvery });
  const stopLeader = live('/v1/status/leader', data => { leader = data || ''; emit(); }, { pollEvery });
  return () => { stopMembers(); stopLeader(); };
}

// role is a member's role: server, client, or '' when it is not a member.
function role(m) {
  if (!m) return '';
  const r = m.Tags?.role;
  return r === 'consul' ? 'server' : r === 'node' ? 'client' : (r || '');
}

function isLeader(m, leader) {
  return !!m && !!leader && role(m) === 'server' && hostPort(m.Addr, m.Tags?.port) === leader;
}

function roleCell(m) {
  const r = role(m);
  return h('td', { dataset: { role: r || 'none' } }, r || h('span', { class: 'muted' }, 'not a member'));
}

function gossipCell(m) {
  if (!m) return h('td', { dataset: { gossip: 'none' } }, h('span', { class: 'muted' }, '—'));
  const [text, cls] = gossipStatus[m.Status] || [`status ${m.Status}`, 'plain'];
  return h('td', { dataset: { gossip: text } }, badge(cls, text));
}

function leaderMark(m, leader) {
  return isLeader(m, leader) ? [' ', h('span', { dataset: { leader: '' } }, badge('leader'))] : null;
}

// list renders #/nodes.
export function list(el) {
  const body = h('div', { id: 'nodes-body' }, h('p', { class: 'empty' }, 'Loading…'));
  const summary = h('span', { class: 'muted', id: 'nodes-summary' });
  render(el, h('div', { class: 'page-nodes' }, h('h1', null, 'Nodes ', summary), body));

  let nodes = null, gossip = null, catalog = null;
  const show = () => {
    if (!nodes || !gossip || !catalog) return;
    const byName = new Map(nodes.map(n => [n.Node, n]));
    const names = [...new Set([...byName.keys(), ...gossip.members.keys()])].sort();
    const index = checksByNode(catalog.checks);
    const servicesOn = new Map(); // node -> service name -> statuses of its instances
    for (const inst of catalog.instances) {
      if (!servicesOn.has(inst.Node)) servicesOn.set(inst.Node, new Map());
      const m = servicesOn.get(inst.Node);
      if (!m.has(inst.ServiceName)) m.set(inst.ServiceName, []);
      m.get(inst.ServiceName).push(instanceHealth(index, inst.Node, inst.ServiceID));
    }
    summary.textContent = `(${names.length})`;
    if (!names.length) { render(body, h('p', { class: 'empty' }, 'No nodes.')); return; }
    const rows = names.map(name => {
      const n = byName.get(name), m = gossip.members.get(name);
      const svcs = [...(servicesOn.get(name) || new Map())].sort(([a], [b]) => a.localeCompare(b));
      const nodeChecks = index.get(name);
      const allChecks = nodeChecks ? [...nodeChecks.node, ...[...nodeChecks.services.values()].flat()] : [];
      const byStatus = { passing: 0, warning: 0, critical: 0 };
      for (const c of allChecks) byStatus[STATUSES.includes(c.Status) ? c.Status : 'critical']++;
      return h('tr', { dataset: { node: name, leader: isLeader(m, gossip.leader) ? 'true' : 'false' } },
        h('td', null, n ? h('a', { href: nodeHref(name) }, name) : name, leaderMark(m, gossip.leader)),
        h('td', { class: 'mono' }, n?.Address || m?.Addr || ''),
        roleCell(m),
        gossipCell(m),
        h('td', { class: 'node-services' }, svcs.length
          ? svcs.map(([s, statuses]) => h('span', { class: 'node-service', dataset: { service: s, status: worst(statuses) } },
            h('span', { class: `dot ${worst(statuses)}`, title: worst(statuses) }), h('a', { href: serviceHref(s) }, s),
            statuses.length > 1 ? ` ×${statuses.length}` : ''))
          : h('span', { class: 'muted' }, 'none')),
        h('td', { class: 'node-checks', dataset: byStatus }, allChecks.length
          ? h('span', { class: 'counts' }, STATUSES.filter(s => byStatus[s]).map(s => badge(s, `${byStatus[s]} ${s}`)))
          : h('span', { class: 'muted' }, 'none')));
    });
    render(body, table(['Node', 'Address', 'Role', 'Gossip', 'Services', 'Checks'], rows, { id: 'nodes' }));
  };
  const stops = [
    live('/v1/catalog/nodes', data => { nodes = data || []; show(); }),
    watchMembers(data => { gossip = data; show(); }),
    watchCatalog(data => { catalog = data; show(); }),
  ];
  return () => stops.forEach(stop => stop());
}

// detail renders #/nodes/<name>.
export function detail(el, [name]) {
  const info = h('div', { id: 'node-info' });
  const svcBody = h('div', { id: 'node-services' }, h('p', { class: 'empty' }, 'Loading…'));
  const checkBody = h('div', { id: 'node-checks' }, h('p', { class: 'empty' }, 'Loading…'));
  const mark = h('span', { id: 'node-mark' });
  render(el, h('div', { class: 'page-nodes' },
    h('div', { class: 'breadcrumb' }, h('a', { href: '#/nodes' }, 'Nodes'), h('span', { class: 'muted' }, '/')),
    h('h1', null, name, mark), info,
    h('h2', null, 'Services'), svcBody,
    h('h2', null, 'Checks'), checkBody,
    h('p', { class: 'note muted' }, 'Last change: the check\'s ModifyIndex (the Raft index of its last write), '
      + 'and when this page saw its status change; Consul\'s health API has no timestamp for it.')));

  let node, services, checks = null, gossip = null;
  const show = () => {
    if (node === undefined || !gossip) return;
    const m = gossip.members.get(name);
    render(mark, leaderMark(m, gossip.leader));
    if (!node && !m) {
      render(info, h('p', { class: 'empty' }, `Node ${name} is not in the catalog nor in the gossip pool.`));
    } else {
      const r = role(m);
      const [gtext, gcls] = m ? (gossipStatus[m.Status] || [`status ${m.Status}`, 'plain']) : [];
      const meta = Object.entries(node?.Meta || {}).filter(([, v]) => v !== '');
      render(info, h('div', { class: 'panel kv-grid' },
        h('span', { class: 'muted' }, 'Address'), h('span', { class: 'mono', dataset: { field: 'address' } }, node?.Address || m?.Addr || ''),
        h('span', { class: 'muted' }, 'Role'), h('span', { dataset: { field: 'role', role: r || 'none' } }, r || 'not a member'),
        h('span', { class: 'muted' }, 'Gossip'), h('span', { dataset: { field: 'gossip', gossip: gtext || 'none' } }, m ? badge(gcls, gtext) : '—'),
        h('span', { class: 'muted' }, 'Datacenter'), h('span', null, node?.Datacenter || m?.Tags?.dc || ''),
        h('span', { class: 'muted' }, 'Node ID'), h('span', { class: 'mono' }, node?.ID || m?.Tags?.id || ''),
        h('span', { class: 'muted' }, 'Meta'), h('span', null, meta.length
          ? meta.map(([k, v]) => h('span', { class: 'meta mono' }, `${k}=${v}`)) : h('span', { class: 'muted' }, 'none'))));
    }
    if (!node) {
      render(svcBody, h('p', { class: 'empty' }, 'Not in the catalog: no services.'));
    } else if (!services.length) {
      render(svcBody, h('p', { class: 'empty' }, 'No services.'));
    } else if (checks) {
      const index = checksByNode(checks);
      const rows = services.slice().sort((a, b) => a.Service.localeCompare(b.Service) || a.ID.localeCompare(b.ID))
        .map(s => {
          const status = instanceHealth(index, name, s.ID);
          return h('tr', { dataset: { service: s.Service, instance: s.ID, status } },
            h('td', null, h('a', { href: serviceHref(s.Service) }, s.Service)),
            h('td', { class: 'mono' }, s.ID),
            h('td', { class: 'mono' }, hostPort(s.Address || node.Address, s.Port)),
            h('td', null, tags(s.Tags)),
            h('td', null, badge(status)));
        });
      render(svcBody, table(['Service', 'ID', 'Address', 'Tags', 'Health'], rows, { id: 'node-service-table' }));
    }
    if (checks) render(checkBody, checksTable(checks, { withService: true }));
  };
  const enc = encodeURIComponent(name);
  const stops = [
    live(`/v1/catalog/node-services/${enc}`, data => {
      node = data?.Node || null;
      services = data?.Services || [];
      show();
    }),
    live(`/v1/health/node/${enc}`, data => { checks = data || []; show(); }),
    watchMembers(data => { gossip = data; show(); }),
    tickAgo(el),
  ];
  return () => stops.forEach(stop => stop());
}
