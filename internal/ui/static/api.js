// api.js: the UI's only way to the agent, through its public HTTP API on the
// same origin. Errors carry the HTTP status and muster's stable error code.

export class APIError extends Error {
  constructor(message, status = 0, code = '') {
    super(message);
    this.status = status; // 0: the agent could not be reached
    this.code = code;     // X-Muster-Error-Code, '' from Consul or the network
  }
}

async function request(method, path, { body, signal, query } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== false) url.searchParams.set(k, v === true ? '' : v);
  }
  let resp;
  try {
    resp = await fetch(url, { method, body, signal, cache: 'no-store' });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new APIError(`agent unreachable: ${err.message}`, 0);
  }
  if (!resp.ok && resp.status !== 404) {
    const text = (await resp.text()).trim();
    const what = resp.status === 403 ? 'permission denied' : `HTTP ${resp.status}`;
    throw new APIError(`${method} ${url.pathname}: ${what}${text ? ': ' + text : ''}`, resp.status,
      resp.headers.get('X-Muster-Error-Code') || '');
  }
  return resp;
}

// get reads JSON. A 404 answers null. index is X-Consul-Index (0 if absent).
export async function get(path, opts = {}) {
  const resp = await request('GET', path, opts);
  const index = Number(resp.headers.get('X-Consul-Index') || 0);
  if (resp.status === 404) return { data: null, index, headers: resp.headers };
  const text = await resp.text();
  return { data: text ? JSON.parse(text) : null, index, headers: resp.headers };
}

// put sends body (a string, or an object sent as JSON) and returns the
// decoded answer (true/false for KV writes).
export async function put(path, body, opts = {}) {
  const data = body === undefined || typeof body === 'string' ? body : JSON.stringify(body);
  const resp = await request('PUT', path, { ...opts, body: data });
  if (resp.status === 404) throw new APIError(`PUT ${path}: not found`, 404);
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

export async function del(path, opts = {}) {
  const resp = await request('DELETE', path, opts);
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

// The shared error banner. Each source of errors (a live query, a page)
// reports and clears only its own, so one query's success does not hide
// another's failure; the banner shows the latest error still standing.
const errorListeners = new Set();
const errors = new Map(); // source -> error, oldest report first
export function onError(fn) { errorListeners.add(fn); return () => errorListeners.delete(fn); }
// reportError shows err (null: clears) for source (by default, the page's).
export function reportError(err, source = errors) {
  errors.delete(source);
  if (err) errors.set(source, err);
  const latest = [...errors.values()].pop() || null;
  for (const fn of errorListeners) fn(latest);
}
// clearErrors empties the banner (the router calls it on a page change).
export function clearErrors() {
  errors.clear();
  for (const fn of errorListeners) fn(null);
}

// live keeps calling onData with the answer of a blocking GET of path,
// re-asking with ?index= as soon as each answer arrives, so the page follows
// the agent without polling. Errors are reported to the banner and retried
// with backoff (up to 10 s); a success clears this query's error. It returns
// a stop function. opts.query adds query parameters; opts.wait is the
// blocking wait.
export function live(path, onData, opts = {}) {
  const ctrl = new AbortController();
  const source = {}; // this query's place in the banner
  let index = 0, delay = 250;
  (async () => {
    while (!ctrl.signal.aborted) {
      try {
        const sent = index;
        const query = { ...(opts.query || {}), index: index || undefined, wait: index ? (opts.wait || '60s') : undefined };
        const res = await get(path, { signal: ctrl.signal, query });
        if (ctrl.signal.aborted) return;
        // An index that goes backwards (a restored snapshot, another
        // server) restarts the query, as Consul's docs advise.
        index = res.index > index ? res.index : (res.index < index ? 0 : index);
        delay = 250;
        reportError(null, source);
        onData(res.data, res);
        if (!res.index) await sleep(opts.pollEvery || 2000, ctrl.signal); // not a blocking endpoint
        // The index did not move: the wait ran out, or the endpoint sets an
        // index but does not block. Pause, so that the latter is not asked
        // in a tight loop (a change meanwhile is answered at once).
        else if (sent && res.index <= sent) await sleep(1000, ctrl.signal);
      } catch (err) {
        if (ctrl.signal.aborted || err.name === 'AbortError') return;
        reportError(err, source);
        index = 0;
        await sleep(delay, ctrl.signal);
        delay = Math.min(delay * 2, 10000);
      }
    }
  })();
  return () => { ctrl.abort(); reportError(null, source); };
}

// sleep waits ms, or less if signal aborts.
export function sleep(ms, signal) {
  return new Promise(resolve => {
    if (signal?.aborted) { resolve(); return; }
    const done = () => { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

// Base64 helpers for KV values (UTF-8 safe).
export function decodeValue(b64) {
  if (b64 === null || b64 === undefined) return '';
  const bin = atob(b64);
  const bytes = Uint8Array.from(bin, c => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}
