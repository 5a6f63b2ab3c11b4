// pages/cluster.js: the Cluster page (#/cluster).
//
// It shows the datacenter and version of the agent the UI talks to
// (/v1/agent/self), and the Raft servers: the configuration
// (/v1/operator/raft/configuration: who leads, who votes) joined by server
// ID with the leader's health report (/v1/operator/autopilot/health: each
// server's serf status, last contact with the leader, log index and term,
// commit index, health, and the cluster's failure tolerance).
//
// Neither endpoint blocks, so the page asks again every POLL_MS. The
// health report answers 429 when a server is unhealthy (Consul's way of
// failing a load balancer's check); that answer is data, not an error, so
// it is read here with fetch rather than api.get. Failures go to the
// shared error banner; the last good view stays on screen.
import { get, reportError, sleep, APIError } from '../api.js';
import { h, render, badge, table, ago } from '../dom.js';

const POLL_MS = 2000;

export function status(el) {
  const ctrl = new AbortController();
  render(el, h('div', { class: 'page-cluster' }, h('h1', null, 'Cluster'), h('p', { class: 'empty' }, 'Loading…')));
  (async () => {
    while (!ctrl.signal.aborted) {
      const signal = ctrl.signal;
      const [self, conf, health] = await Promise.allSettled([
        get('/v1/agent/self', { signal }),
        get('/v1/operator/raft/configuration', { signal }),
        getHealth(signal),
      ]);
      if (signal.aborted) return;
      const failed = [self, conf, health].find(r => r.status === 'rejected');
      reportError(failed ? failed.reason : null);
      if (conf.status === 'fulfilled' || health.status === 'fulfilled') {
        draw(el, {
          self: self.status === 'fulfilled' ? self.value.data : null,
          conf: conf.status === 'fulfilled' ? conf.value.data : null,
          health: health.status === 'fulfilled' ? health.value : null,
        });
      }
      await sleep(POLL_MS, signal);
    }
  })();
  return () => ctrl.abort();
}

// getHealth reads the autopilot health report, which comes with 200
// (healthy) or 429 (some server is not); anything else is an APIError.
async function getHealth(signal) {
  const path = '/v1/operator/autopilot/health';
  let resp;
  try {
    resp = await fetch(path, { signal, cache: 'no-store' });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new APIError(`agent unreachable: ${err.message}`, 0);
  }
  if (resp.status !== 200 && resp.status !== 429) {
    const text = (await resp.text()).trim();
    throw new APIError(`GET ${path}: HTTP ${resp.status}${text ? ': ' + text : ''}`, resp.status,
      resp.headers.get('X-Muster-Error-Code') || '');
  }
  return resp.json();
}

// rows joins the Raft configuration and the health report by server ID;
// either may be missing (its request failed).
function rows(conf, health) {
  const byID = new Map();
  for (const s of conf?.Servers || []) {
    byID.set(s.ID, { id: s.ID, name: s.Node, address: s.Address, leader: s.Leader, voter: s.Voter });
  }
  for (const s of health?.Servers || []) {
    const r = byID.get(s.ID) || { id: s.ID, name: s.Name, address: s.Address, leader: s.Leader, voter: s.Voter };
    byID.set(s.ID, Object.assign(r, { health: s }));
  }
  return [...byID.values()].sort((a, b) => (b.leader - a.leader) || a.name.localeCompare(b.name));
}

function draw(el, { self, conf, health }) {
  // Re-rendering must not throw away where the user scrolled the table to.
  const scroll = el.querySelector('.table-wrap')?.scrollLeft || 0;
  const cfg = self?.Config || {};
  const servers = rows(conf, health);
  const leader = servers.find(s => s.leader);
  const voters = servers.filter(s => s.voter).length;
  render(el, h('div', { class: 'page-cluster' },
    h('h1', null, 'Cluster'),
    h('div', { class: 'panel kv-grid', id: 'cluster-summary' },
      h('span', { class: 'muted' }, 'Datacenter'), h('span', { id: 'cluster-dc' }, cfg.Datacenter || '—'),
      h('span', { class: 'muted' }, 'Version'), h('span', { id: 'cluster-version' }, cfg.Version || '—'),
      h('span', { class: 'muted' }, 'Leader'), h('span', { id: 'cluster-leader' }, leader ? leader.name : 'none known'),
      h('span', { class: 'muted' }, 'Servers'), h('span', { id: 'cluster-servers' }, `${servers.length} (${voters} voting)`),
      h('span', { class: 'muted' }, 'Health'), h('span', { id: 'cluster-health' }, health
        ? badge(health.Healthy ? 'passing' : 'critical', health.Healthy ? 'healthy' : 'unhealthy')
        : h('span', { class: 'muted' }, 'unknown')),
      h('span', { class: 'muted' }, 'Failure tolerance'), h('span', { id: 'cluster-tolerance', title: 'servers that can fail with a quorum left' },
        health ? String(health.FailureTolerance) : '—')),
    h('h2', null, 'Raft peers'),
    servers.length === 0
      ? h('p', { class: 'empty' }, 'No Raft servers known.')
      : table(['Server', 'Address', 'Voter', 'Serf', 'Health', 'Last contact', 'Last index', 'Commit index', 'Term', 'Stable since'],
        servers.map(peerRow), { id: 'raft-peers' }),
    h('p', { class: 'muted note' }, 'Last contact is the time since the server last heard from the leader; ',
      'a server is healthy when it is alive, heard from the leader within 200 ms, and its log has the leader\'s term ',
      'and trails it by at most 250 entries (Consul\'s autopilot defaults).')));
  const wrap = el.querySelector('.table-wrap');
  if (wrap) wrap.scrollLeft = scroll;
}

function peerRow(s) {
  const hl = s.health;
  const num = v => h('td', { class: 'num' }, hl && hl.LastIndex ? String(v) : '—');
  return h('tr', { dataset: { server: s.name, id: s.id, leader: String(!!s.leader), healthy: hl ? String(hl.Healthy) : 'unknown', serfStatus: hl?.SerfStatus || 'unknown' } },
    h('td', { class: 'peer-name' }, h('span', { class: 'mono' }, s.name), ' ', s.leader ? badge('leader') : null),
    h('td', { class: 'mono' }, s.address),
    h('td', null, s.voter ? 'yes' : 'no'),
    h('td', { class: 'serf' }, hl ? badge(serfClass(hl.SerfStatus), hl.SerfStatus) : '—'),
    h('td', { class: 'health' }, hl ? badge(hl.Healthy ? 'passing' : 'critical', hl.Healthy ? 'healthy' : 'unhealthy') : '—'),
    h('td', { class: 'num last-contact' }, hl ? contact(hl.LastContact, s.leader) : '—'),
    num(hl?.LastIndex), num(hl?.CommitIndex), num(hl?.LastTerm),
    h('td', { class: 'stable-since', title: hl?.StableSince || '' }, hl ? ago(hl.StableSince) : '—'));
}

function serfClass(status) {
  if (status === 'alive') return 'passing';
  if (status === 'failed' || status === 'none') return 'critical';
  return 'warning'; // leaving, left
}

// contact shows a Go duration string; negative ("-1ns") means the server
// did not answer or never heard from a leader.
function contact(d, leader) {
  if (!d || d.startsWith('-')) return 'unknown';
  if (leader) return 'leader';
  return d.replace(/(\.\d)\d+/, '$1'); // 12.345678ms -> 12.3ms
}
