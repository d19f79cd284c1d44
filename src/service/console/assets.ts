import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Chart.js's browser build, served from node_modules (never a CDN: the console works offline). */
export function chartJsPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('chart.js')), 'chart.umd.min.js');
}

/**
 * Progressive enhancement: a table marked data-chart becomes a Chart.js chart drawn above it; the
 * table stays (folded into a details element) for screen readers and for copying numbers. A column
 * marked data-axis="y1" is drawn against a second y-axis on the right.
 */
export const CONSOLE_JS = `'use strict';
document.addEventListener('DOMContentLoaded', function () {
  if (typeof window.Chart !== 'function') return;
  var colors = ['#1f5fa8', '#c0392b', '#8e44ad', '#27ae60'];
  document.querySelectorAll('table[data-chart]').forEach(function (table) {
    var holder = document.querySelector('[data-chart-for="' + table.id + '"]');
    if (!holder) return;
    var heads = Array.prototype.slice.call(table.querySelectorAll('thead th'));
    var rows = Array.prototype.slice.call(table.querySelectorAll('tbody tr'));
    var labels = rows.map(function (tr) { return tr.querySelector('th').textContent; });
    var datasets = heads.slice(1).map(function (th, i) {
      return { label: th.textContent, yAxisID: th.getAttribute('data-axis') || 'y', data: rows.map(function (tr) { return Number(tr.querySelectorAll('td')[i].textContent); }), borderColor: colors[i % colors.length], backgroundColor: colors[i % colors.length], tension: th.getAttribute('data-axis') ? 0 : 0.2 };
    });
    var title = function (text) { return text ? { display: true, text: text } : { display: false }; };
    var scales = { y: { beginAtZero: true, position: 'left', ticks: { precision: 0 }, title: title(table.getAttribute('data-y-title')) } };
    if (datasets.some(function (d) { return d.yAxisID === 'y1'; })) {
      scales.y1 = { beginAtZero: true, position: 'right', grace: 1, ticks: { precision: 0 }, grid: { drawOnChartArea: false }, title: title(table.getAttribute('data-y1-title')) };
    }
    var canvas = document.createElement('canvas');
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', table.querySelector('caption').textContent);
    holder.appendChild(canvas);
    new window.Chart(canvas, { type: table.getAttribute('data-chart'), data: { labels: labels, datasets: datasets }, options: { animation: false, maintainAspectRatio: false, scales: scales } });
    var details = document.createElement('details');
    var summary = document.createElement('summary');
    summary.textContent = 'Show the numbers';
    table.parentNode.insertBefore(details, table);
    details.appendChild(summary);
    details.appendChild(table);
  });
});
`;

export const CONSOLE_CSS = `:root { --fg: #1d2330; --muted: #5b6475; --line: #d5dae3; --bg: #f5f7fa; --accent: #1f5fa8; --bad: #b3261e; --warn: #8a5a00; --good: #1e7a3a; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); }
body { margin: 0; background: var(--bg); line-height: 1.45; }
a { color: var(--accent); }
a:focus, button:focus, input:focus, select:focus, textarea:focus, summary:focus { outline: 3px solid #ffbf47; outline-offset: 1px; }
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: .5em; }
.skip:focus { left: .5em; }
.top { display: flex; flex-wrap: wrap; align-items: center; gap: 1em; background: #22304a; color: #fff; padding: .5em 1.5em; }
.top a, .top .link { color: #fff; }
.brand { font-weight: 700; letter-spacing: .02em; }
.top nav ul { display: flex; flex-wrap: wrap; gap: .25em 1em; list-style: none; margin: 0; padding: 0; }
.top nav a { text-decoration: none; padding: .25em 0; }
.top nav a[aria-current="page"] { border-bottom: 3px solid #ffbf47; }
.who { margin-left: auto; display: flex; gap: .75em; align-items: center; }
.role { color: #c9d3e6; }
main { padding: 1em 1.5em 3em; max-width: 1200px; }
h1 { font-size: 1.6em; margin: .3em 0 .6em; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8em 1.2em; margin: 0 0 1em; }
.narrow { max-width: 24em; }
label { display: block; font-weight: 600; margin-bottom: .2em; }
.check label { display: inline; font-weight: normal; margin-left: .4em; }
input, select, textarea { font: inherit; padding: .35em .5em; border: 1px solid #8a93a5; border-radius: 4px; }
textarea { width: 100%; max-width: 36em; }
button, .button { font: inherit; background: var(--accent); color: #fff; border: 0; border-radius: 4px; padding: .45em .9em; cursor: pointer; text-decoration: none; display: inline-block; }
button.danger { background: var(--bad); }
button.link { background: none; padding: 0; text-decoration: underline; }
form.inline { display: inline; }
.filters { display: flex; flex-wrap: wrap; gap: .2em 1em; align-items: flex-end; }
.filters p { margin: .3em 0; }
table.data { border-collapse: collapse; width: 100%; background: #fff; margin: 0 0 1em; font-size: .95em; }
table.data caption { text-align: left; font-weight: 600; padding: .4em 0; }
table.data th, table.data td { border-bottom: 1px solid var(--line); padding: .35em .6em; text-align: left; vertical-align: top; }
table.data thead th { background: #e9edf3; }
table.data tbody th { font-weight: 500; }
.num { text-align: right !important; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); font-weight: normal; }
.tag { background: #fff3cd; border: 1px solid #e0c25c; border-radius: 3px; padding: 0 .3em; font-size: .85em; }
.flash { padding: .6em 1em; border-radius: 4px; background: #e6f4ea; border: 1px solid #9ccfaa; }
.flash.error { background: #fdecea; border-color: #e3a29c; }
.warning, .conflict { color: var(--warn); }
.conflict { font-weight: 600; }
.warning-box { border-left: 6px solid var(--bad); }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1.2em; }
.facts dt { font-weight: 600; }
.facts dd { margin: 0; }
.tiles { display: flex; flex-wrap: wrap; gap: 1em; }
.tile { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8em 1.2em; }
.big { display: block; font-size: 1.8em; font-weight: 700; }
.status-pass { color: var(--good); } .status-leak { color: var(--warn); } .status-violation { color: var(--bad); }
.outcome.success { color: var(--good); } .outcome.failed, .outcome.rejected, .outcome.lease-lost { color: var(--bad); } .outcome.withheld, .outcome.partial { color: var(--warn); }
.chart { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 0 0 1em; padding: .8em 1.2em; }
.chart figcaption { font-weight: 600; }
.chart-canvas { position: relative; height: 240px; }
.chart-canvas:empty { display: none; }
.pager { display: flex; gap: 1.5em; }
.actions { display: flex; flex-wrap: wrap; gap: 1em; align-items: center; margin: .5em 0; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
pre { background: #f0f2f6; padding: .6em; overflow: auto; }
`;
