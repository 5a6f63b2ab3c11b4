// pages/sessions.js: placeholder, replaced by the page's implementation.
import { h, render } from '../dom.js';
export function list(el, params) { render(el, h('h1', null, 'sessions')); return () => {}; }
