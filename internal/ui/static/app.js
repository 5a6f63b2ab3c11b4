// app.js: the UI's shell. It routes location.hash to a page, shows the
// agent it talks to, and owns the error banner.
//
// A page module exports functions (el, params) => stop: each renders into
// el, keeps it live (api.live), and returns a function that stops its
// queries when the user navigates away.
import { get, onError, reportError, clearErrors } from './api.js';
import * as services from './pages/services.js';
import * as nodes from './pages/nodes.js';
import * as kv from './pages/kv.js';
import * as sessions from './pages/sessions.js';
import * as cluster from './pages/cluster.js';

// routes: [pattern, nav section, page]. Captures are URI-decoded params.
const routes = [
  [/^\/services\/?$/, 'services', services.list],
  [/^\/services\/(.+)$/, 'services', services.detail],
  [/^\/nodes\/?$/, 'nodes', nodes.list],
  [/^\/nodes\/(.+)$/, 'nodes', nodes.detail],
  [/^\/kv\/(.*)$/, 'kv', kv.browse],
  [/^\/kv$/, 'kv', kv.browse],
  [/^\/sessions\/?$/, 'sessions', sessions.list],
  [/^\/cluster\/?$/, 'cluster', cluster.status],
];

const main = document.getElementById('main');
let stop = null;

function route() {
  const path = location.hash.replace(/^#/, '');
  if (!path) { location.replace('#/services'); return; } // fires hashchange
  if (stop) { stop(); stop = null; }
  clearErrors(); // the last page's errors are not this one's
  for (const [re, section, page] of routes) {
    const m = path.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.nav === section);
    main.replaceChildren();
    let params;
    try {
      params = m.slice(1).map(p => decodeURIComponent(p ?? ''));
    } catch { // a hand-typed "%" that is not an escape
      reportError(new Error(`Bad address: ${path} (a literal "%" is written %25)`));
      return;
    }
    stop = page(main, params) || null;
    return;
  }
  location.replace('#/services');
}

const banner = document.getElementById('error');
onError(err => {
  banner.hidden = !err;
  banner.textContent = err ? String(err.message || err) : '';
});

async function showAgent() {
  try {
    const { data } = await get('/v1/agent/self');
    const c = data?.Config || {};
    document.getElementById('agent').textContent =
      `${c.NodeName || ''} · ${c.Datacenter || ''} · ${c.Server ? 'server' : 'client'} · ${c.Version || ''}`;
  } catch { /* the pages report errors */ }
}

window.addEventListener('hashchange', route);
route();
showAgent();
