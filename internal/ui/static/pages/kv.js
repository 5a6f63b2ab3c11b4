// pages/kv.js: the Key/Value browser (#/kv/<folder/> and #/kv/<key>).
//
// A path ending in "/" (or empty) is a folder: one level of keys, listed
// with GET /v1/kv/<folder>?keys&separator=/ (as Consul's UI does), with a
// form to create a key or a sub-folder. Any other path is a key: its value
// as UTF-8 text in an editor, and its metadata (flags, lock holder, lock and
// raft indexes, muster's fencing token).
//
// Writes are compare-and-set, so two editors never overwrite each other
// silently: a save sends ?cas=<the ModifyIndex the editor loaded>, a create
// ?cas=0 ("only if absent"), a delete DELETE ?cas=<index>. A false answer
// means someone else wrote first: the page shows their value and lets the
// user reload or overwrite deliberately. Both views follow the agent live;
// while the user edits, a change on the server is announced, never
// written over the user's text.
import { get, put, del, live, decodeValue } from '../api.js';
import { h, render, table } from '../dom.js';

// kvPath is the API path of a key or folder, each segment escaped.
function kvPath(key) { return '/v1/kv/' + encodeSegments(key); }
// kvHash is the UI route of a key or folder.
function kvHash(key) { return '#/kv/' + encodeSegments(key); }
function encodeSegments(key) { return key.split('/').map(encodeURIComponent).join('/'); }

// parentOf is the folder holding key ("a/b/" for "a/b/c" and "a/b/c/").
function parentOf(key) {
  const trimmed = key.endsWith('/') ? key.slice(0, -1) : key;
  const i = trimmed.lastIndexOf('/');
  return i < 0 ? '' : trimmed.slice(0, i + 1);
}

// text decodes a value as UTF-8; ok is false when it is not valid UTF-8
// (binary), which the editor would not round-trip.
function text(b64) {
  if (b64 === null || b64 === undefined) return { value: '', ok: true };
  try {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    return { value: new TextDecoder('utf-8', { fatal: true }).decode(bytes), ok: true };
  } catch {
    return { value: decodeValue(b64), ok: false };
  }
}

function breadcrumb(path) {
  const parts = path.split('/');
  const crumbs = [h('a', { href: '#/kv/' }, 'Key/Value')];
  let acc = '';
  parts.forEach((p, i) => {
    if (p === '' && i === parts.length - 1) return; // the trailing "/" of a folder
    const last = i === parts.length - 1;
    acc += p + (last ? '' : '/');
    crumbs.push(h('span', { class: 'muted' }, '/'));
    crumbs.push(last ? h('span', null, p) : h('a', { href: kvHash(acc) }, p || '(empty)'));
  });
  return h('div', { class: 'breadcrumb', 'data-kv-path': path }, crumbs);
}

// message shows an inline result of a form action (kind: ok or error).
function message(el, kind, ...content) {
  el.hidden = content.length === 0;
  el.className = `kv-message ${kind}`;
  render(el, ...content);
}

// browse is the #/kv/... route: a folder or a key.
export function browse(el, [path = '']) {
  return path === '' || path.endsWith('/') ? folder(el, path) : key(el, path);
}

// folder lists one level under prefix and creates keys and folders in it.
function folder(el, prefix) {
  let left = false; // the user navigated away: a late answer must not move them
  const list = h('div', { id: 'kv-list' }, h('p', { class: 'empty' }, 'Loading…'));
  const name = h('input', { type: 'text', id: 'kv-new-key', placeholder: 'name, or name/ for a folder', 'aria-label': 'new key name' });
  const value = h('textarea', { id: 'kv-new-value', placeholder: 'value (UTF-8 text)', 'aria-label': 'new key value' });
  const status = h('div', { id: 'kv-message', role: 'status', hidden: true });
  const create = h('button', { class: 'primary', id: 'kv-create', type: 'submit' }, 'Create');
  name.addEventListener('input', () => { value.hidden = name.value.endsWith('/'); });

  async function onCreate(ev) {
    ev.preventDefault();
    const rel = name.value.trim();
    if (!rel) { message(status, 'error', 'Give the key a name.'); return; }
    const full = prefix + rel;
    const isFolder = full.endsWith('/');
    create.disabled = true;
    try {
      // cas=0: only if absent, so an existing key is never overwritten.
      const ok = await put(kvPath(full), isFolder ? '' : value.value, { query: { cas: 0 } });
      if (!ok) {
        message(status, 'error', `"${full}" already exists: `, h('a', { href: kvHash(full) }, 'open it'), '.');
        return;
      }
      message(status);
      name.value = ''; value.value = ''; value.hidden = false;
      if (!left) location.hash = kvHash(full); // a folder opens as a folder, a key in its editor
    } catch (err) {
      message(status, 'error', `Create failed: ${err.message}`);
    } finally {
      create.disabled = false;
    }
  }

  async function onDeleteFolder() {
    if (!confirm(`Delete the folder "${prefix}" and every key under it?`)) return;
    try {
      await del(kvPath(prefix), { query: { recurse: true } });
      if (!left) location.hash = kvHash(parentOf(prefix));
    } catch (err) {
      message(status, 'error', `Delete failed: ${err.message}`);
    }
  }

  render(el,
    breadcrumb(prefix),
    h('div', { class: 'toolbar' },
      h('h1', { class: 'kv-title' }, prefix === '' ? 'Key/Value' : prefix),
      prefix !== '' && h('button', { class: 'danger', id: 'kv-delete-folder', onclick: onDeleteFolder }, 'Delete folder')),
    list,
    h('h2', null, 'Create'),
    h('form', { class: 'panel kv-create', onsubmit: onCreate },
      h('label', { class: 'kv-name' }, h('span', { class: 'muted' }, prefix), name),
      value,
      h('div', { class: 'toolbar' }, create,
        h('span', { class: 'muted' }, 'A name ending in "/" creates a folder. Existing keys are never overwritten.')),
      status));

  const stop = live(kvPath(prefix), keys => {
    const rows = (keys || []).filter(k => k !== prefix).map(k => {
      const rel = k.slice(prefix.length);
      const isFolder = k.endsWith('/');
      return h('tr', { dataset: isFolder ? { folder: k } : { key: k } },
        h('td', { class: 'mono' }, h('a', { href: kvHash(k) }, rel)),
        h('td', null, isFolder ? 'folder' : 'key'));
    });
    render(list, rows.length
      ? table(['Name', 'Kind'], rows, { 'data-kv-list': prefix })
      : h('p', { class: 'empty', 'data-kv-list': prefix }, 'No keys here yet.'));
  }, { query: { keys: true, separator: '/' } });
  return () => { left = true; stop(); };
}

// key views and edits one key. loaded is what the editor's text came from
// (ModifyIndex and Flags, null for a key that does not exist); server is
// the latest entry the live query brought.
function key(el, k) {
  let loaded = null, server = null, dirty = false, left = false;
  const meta = h('div', { class: 'kv-grid kv-meta', id: 'kv-meta' });
  const editor = h('textarea', { id: 'kv-value', spellcheck: 'false', 'aria-label': 'value', readonly: true });
  const notice = h('div', { id: 'kv-changed', class: 'kv-notice', role: 'status', hidden: true });
  const conflict = h('div', { id: 'kv-conflict', class: 'kv-conflict', role: 'alert', hidden: true });
  const status = h('div', { id: 'kv-message', role: 'status', hidden: true });
  const binary = h('p', { id: 'kv-binary', class: 'kv-notice', hidden: true },
    'This value is not valid UTF-8 text: it is shown with replacement characters, and saving would change its bytes.');
  // The editor and both buttons wait for the first answer: until then the
  // page does not know which version (or absence) the user acts on.
  const save = h('button', { class: 'primary', id: 'kv-save', disabled: true, onclick: () => write(loaded ? loaded.ModifyIndex : 0) }, 'Save');
  const remove = h('button', { class: 'danger', id: 'kv-delete', disabled: true, onclick: onDelete }, 'Delete');
  const missing = h('p', { id: 'kv-missing', class: 'empty', hidden: true },
    'This key does not exist (any more). Saving creates it.');

  editor.addEventListener('input', () => {
    dirty = editor.value !== (loaded ? text(loaded.Value).value : '');
  });

  // load puts entry (or null: absent) into the editor, dropping the
  // user's edit.
  function load(entry) {
    loaded = entry;
    dirty = false;
    const t = text(entry?.Value);
    editor.value = t.value;
    editor.readOnly = false;
    binary.hidden = t.ok;
    missing.hidden = !!entry;
    save.disabled = false;
    remove.disabled = !entry;
    conflict.hidden = true;
    showNotice();
    showMeta(entry);
  }

  function showNotice() {
    const changed = (server?.ModifyIndex ?? 0) !== (loaded?.ModifyIndex ?? 0);
    notice.hidden = !changed || !conflict.hidden; // the conflict panel says it already
    if (changed) {
      render(notice, server ? `Changed on the server (ModifyIndex ${server.ModifyIndex}) while you were editing. `
        : 'Deleted on the server while you were editing. ',
      h('button', { id: 'kv-reload', onclick: () => load(server) }, 'Reload (discard my edit)'));
    }
  }

  function showMeta(e) {
    const row = (label, field, v) => [h('span', { class: 'muted' }, label), h('span', { class: 'mono', 'data-field': field }, v)];
    render(meta, e ? [
      row('Flags', 'Flags', String(e.Flags ?? 0)),
      row('Lock holder', 'Session', e.Session ? h('a', { href: '#/sessions', 'data-session-link': e.Session }, e.Session) : '—'),
      row('LockIndex', 'LockIndex', String(e.LockIndex ?? 0)),
      e.FencingToken ? row('Fencing token', 'FencingToken', String(e.FencingToken)) : null,
      row('CreateIndex', 'CreateIndex', String(e.CreateIndex)),
      row('ModifyIndex', 'ModifyIndex', String(e.ModifyIndex)),
    ] : []);
  }

  // write saves the editor's text if the key is still at index cas (0:
  // absent). A refusal shows the conflict.
  async function write(cas) {
    save.disabled = true;
    message(status);
    let ok;
    const sent = editor.value;
    try {
      // The page does not edit flags: keep those of the version written
      // over (a PUT without flags would reset them to 0).
      const base = server && server.ModifyIndex === cas ? server : loaded;
      const query = { cas };
      if (base?.Flags) query.flags = base.Flags;
      ok = await put(kvPath(k), sent, { query });
      if (!ok) await showConflict();
    } catch (err) {
      message(status, 'error', `Save failed: ${err.message}`);
      return;
    } finally {
      save.disabled = false;
    }
    if (!ok) return;
    try {
      // Pick up the new ModifyIndex now, not when the live query catches
      // up, so that a quick second save is not taken for a conflict.
      // "Saved" shows once the page is in step with what was saved.
      const { data } = await get(kvPath(k));
      server = data?.[0] || null;
      if (editor.value === sent) {
        load(server);
      } else {
        // The user typed on while the save was in flight: keep their
        // text, now based on the saved version.
        loaded = server;
        dirty = editor.value !== text(server?.Value).value;
        showMeta(server);
        showNotice();
      }
      message(status, 'ok', 'Saved.');
    } catch (err) {
      message(status, 'ok', `Saved; reading it back failed (${err.message}): the page updates when the agent answers.`);
    }
  }

  async function showConflict() {
    const { data } = await get(kvPath(k));
    const theirs = data?.[0] || null;
    server = theirs;
    const mine = loaded ? `ModifyIndex ${loaded.ModifyIndex}` : 'when it did not exist';
    conflict.hidden = false;
    render(conflict,
      h('strong', null, 'Conflict: not saved. '),
      theirs ? `Someone else changed this key after you loaded it (${mine}; now ModifyIndex ${theirs.ModifyIndex}). Their value:`
        : `Someone else deleted this key after you loaded it (${mine}).`,
      theirs && h('pre', { class: 'output mono', id: 'kv-theirs' }, text(theirs.Value).value),
      h('div', { class: 'toolbar' },
        h('button', { id: 'kv-conflict-reload', onclick: () => load(theirs) }, 'Reload theirs (discard my edit)'),
        // Still a CAS, against the version just shown: a third writer
        // is caught again.
        h('button', { class: 'danger', id: 'kv-overwrite', onclick: () => write(theirs ? theirs.ModifyIndex : 0) }, 'Overwrite with mine')));
    showNotice();
  }

  async function onDelete() {
    if (!loaded) return;
    if (!confirm(`Delete the key "${k}"?`)) return;
    try {
      const ok = await del(kvPath(k), { query: { cas: loaded.ModifyIndex } });
      if (!ok) {
        message(status, 'error', 'Not deleted: the key changed on the server since you loaded it. Reload it first.');
        return;
      }
      if (!left) location.hash = kvHash(parentOf(k));
    } catch (err) {
      message(status, 'error', `Delete failed: ${err.message}`);
    }
  }

  render(el,
    breadcrumb(k),
    h('h1', { class: 'mono kv-title', 'data-kv-key': k }, k),
    h('div', { class: 'panel' }, meta),
    missing, binary, notice, conflict,
    editor,
    h('div', { class: 'toolbar kv-actions' }, save, remove, status));

  const stop = live(kvPath(k), entries => {
    server = entries?.[0] || null;
    if (!dirty) { load(server); return; }
    showMeta(server); // the lock and indexes are facts; only the text is the user's
    showNotice();
  });
  return () => { left = true; stop(); };
}
