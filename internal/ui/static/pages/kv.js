// pages/kv.js: placeholder, replaced by the page's implementation.
import { h, render } from '../dom.js';
export function browse(el, params) { render(el, h('h1', null, 'kv')); return () => {}; }
