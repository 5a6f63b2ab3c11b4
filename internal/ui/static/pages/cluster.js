// pages/cluster.js: placeholder, replaced by the page's implementation.
import { h, render } from '../dom.js';
export function status(el, params) { render(el, h('h1', null, 'cluster')); return () => {}; }
