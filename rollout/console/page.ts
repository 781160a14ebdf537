/**
 * The console page: static HTML, CSS and script, no data. The script asks for the admin token (kept in the tab's
 * sessionStorage), then polls /api/status, /api/series and /api/events and draws everything with the DOM and SVG,
 * so it needs nothing from the network but this server. Every text from the server goes in as textContent.
 */
export function consolePage(options: { refreshMs: number }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>strangler-fig migration console</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>strangler-fig migration console</h1><span id="updated" data-testid="updated">not loaded</span></header>
<form id="login" data-testid="login">
  <label>Admin token <input id="token" name="token" type="password" autocomplete="off" required></label>
  <button type="submit">Open</button>
  <p id="login-error" class="error" role="alert"></p>
</form>
<main id="console" hidden>
  <p id="problem" class="error" role="alert" data-testid="problem"></p>
  <section><h2>Routes</h2><table id="routes" data-testid="routes"><thead><tr>
    <th>Route</th><th>Rollout</th><th>Step</th><th>Status</th><th>Last minute on the new side</th><th>Failed legacy / new (5m)</th><th>p99 legacy / new (5m)</th><th>Mismatches (1h)</th><th>Circuit</th><th>Actions</th>
  </tr></thead><tbody></tbody></table>
  <p id="health" data-testid="health"></p></section>
  <section><h2>Proxy replicas</h2><table id="replicas" data-testid="replicas"><thead><tr>
    <th>Admin API</th><th>State</th><th>Flags</th><th>Configuration</th><th>Loaded</th><th>Last reload</th>
  </tr></thead><tbody></tbody></table></section>
  <section><h2>Over time</h2><div id="charts" data-testid="charts"></div></section>
  <section class="halves">
    <div><h2>Rollout events</h2><table id="events" data-testid="events"><thead><tr><th>At</th><th>Route</th><th>Event</th><th>Step</th><th>Weight</th><th>Detail</th></tr></thead><tbody></tbody></table></div>
    <div><h2>Legacy still answers</h2><table id="inventory" data-testid="inventory"><thead><tr><th>Requests</th><th>Method</th><th>Endpoint</th><th>Route</th></tr></thead><tbody></tbody></table></div>
  </section>
</main>
<script>const REFRESH_MS = ${options.refreshMs};
${SCRIPT}</script>
</body>
</html>`;
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1b1f24; background: #f6f7f9; }
header { display: flex; align-items: baseline; gap: 1rem; padding: .75rem 1.25rem; background: #1f3b2d; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; }
main, form { padding: .5rem 1.25rem 1.5rem; }
h2 { font-size: 1rem; margin: 1rem 0 .5rem; }
table { border-collapse: collapse; background: #fff; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e3e6ea; white-space: nowrap; }
th { font-weight: 600; background: #eef1f4; }
td.number { font-variant-numeric: tabular-nums; text-align: right; }
.error { color: #b42318; }
.halves { display: grid; grid-template-columns: 1fr 1fr; gap: 1.25rem; }
.halves table td:last-child { white-space: normal; }
#charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: .75rem; }
.chart { background: #fff; border: 1px solid #e3e6ea; padding: .4rem .6rem; }
.chart h3 { font-size: .85rem; margin: 0 0 .2rem; font-weight: 600; }
.legend span { margin-right: .8rem; font-size: .8rem; }
.legacy { color: #6b7280; } .extracted { color: #15803d; }
svg { display: block; width: 100%; height: 110px; }
button { margin-right: .25rem; }
.status-rolled_back, .status-aborted { color: #b42318; font-weight: 600; }
.status-paused { color: #b45309; font-weight: 600; }
.status-succeeded { color: #15803d; font-weight: 600; }
`;

const SCRIPT = String.raw`
'use strict';
const state = { token: sessionStorage.getItem('strangler-console-token') || '' };

function el(tag, attributes, children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of [].concat(children === undefined ? [] : children)) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}
const percent = (value) => (value === undefined || value === null ? '-' : (value * 100).toFixed(2) + '%');
const millis = (value) => (value === undefined || value === null ? '-' : (value * 1000).toFixed(0) + ' ms');

async function api(path, init) {
  const response = await fetch(path, Object.assign({}, init, { headers: Object.assign({ authorization: 'Bearer ' + state.token, 'content-type': 'application/json' }, (init || {}).headers) }));
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) { signOut('The token was refused.'); throw new Error('unauthorised'); }
  if (!response.ok) throw new Error(body.error ? body.error.code + ': ' + body.error.message : 'HTTP ' + response.status);
  return body;
}

function signOut(message) {
  sessionStorage.removeItem('strangler-console-token');
  state.token = '';
  document.getElementById('console').hidden = true;
  document.getElementById('login').hidden = false;
  document.getElementById('login-error').textContent = message || '';
}

function figure(testid, value, text) {
  return el('td', { class: 'number', 'data-testid': testid, 'data-value': value === undefined || value === null ? '' : value }, text);
}

function actionsFor(route, plan) {
  if (!plan) return el('td', {}, '-');
  const status = plan.state ? plan.state.status : 'not started';
  const allowed = { progressing: ['pause', 'abort'], paused: ['resume', 'abort'] }[status] || ['start'];
  return el('td', {}, allowed.map((command) => {
    const button = el('button', { type: 'button', 'data-testid': command + '-' + route }, command);
    button.addEventListener('click', () => runCommand(route, command));
    return button;
  }));
}

async function runCommand(route, command) {
  const reason = command === 'abort' ? prompt('Why abort the rollout of ' + route + '?', '') : undefined;
  if (reason === null) return;
  try {
    await api('/api/rollouts/' + encodeURIComponent(route) + '/' + command, { method: 'POST', body: JSON.stringify(reason ? { reason } : {}) });
    await refresh();
  } catch (error) {
    document.getElementById('problem').textContent = command + ' ' + route + ': ' + error.message;
  }
}

function renderStatus(report) {
  const body = document.querySelector('#routes tbody');
  body.replaceChildren(...report.routes.map((route) => {
    const plan = report.plans.find((candidate) => candidate.route === route.route);
    const status = route.rollout ? route.rollout.status : '-';
    return el('tr', { 'data-route': route.route }, [
      el('td', {}, route.route),
      figure('rollout-' + route.route, route.rolloutPercent, route.rolloutPercent === null ? '-' : route.rolloutPercent + '%'),
      el('td', { 'data-testid': 'step-' + route.route }, route.rollout ? route.rollout.step : '-'),
      el('td', { 'data-testid': 'status-' + route.route, class: 'status-' + status.replace(' ', '_'), title: route.rollout && route.rollout.reason ? route.rollout.reason : '' }, status + (route.rollout && route.rollout.reason ? ' (' + route.rollout.reason + ')' : '')),
      figure('split-' + route.route, route.lastMinute.extractedPercent, route.lastMinute.extractedPercent + '% of ' + (route.lastMinute.legacy + route.lastMinute.extracted)),
      el('td', { class: 'number' }, [el('span', { 'data-testid': 'errors-legacy-' + route.route, 'data-value': route.errorRatio.legacy ?? '' }, percent(route.errorRatio.legacy)), ' / ', el('span', { 'data-testid': 'errors-extracted-' + route.route, 'data-value': route.errorRatio.extracted ?? '' }, percent(route.errorRatio.extracted))]),
      el('td', { class: 'number' }, [el('span', { 'data-testid': 'p99-legacy-' + route.route, 'data-value': route.p99Seconds.legacy ?? '' }, millis(route.p99Seconds.legacy)), ' / ', el('span', { 'data-testid': 'p99-extracted-' + route.route, 'data-value': route.p99Seconds.extracted ?? '' }, millis(route.p99Seconds.extracted))]),
      figure('mismatches-' + route.route, route.shadowMismatchesLastHour, route.shadowMismatchesLastHour === undefined ? '?' : route.shadowMismatchesLastHour),
      el('td', {}, route.circuit),
      actionsFor(route.route, plan),
    ]);
  }));
  const lag = Object.entries(report.syncLagSeconds).map(([relay, seconds]) => relay + ' ' + seconds.toFixed(1) + ' s').join(', ') || 'no relay reporting';
  const drift = Object.entries(report.driftRows).map(([aggregate, rows]) => aggregate + ' ' + rows).join(', ') || 'no verify run reported';
  document.getElementById('health').textContent = 'Sync lag: ' + lag + '. Drift rows: ' + drift + '. Flags: ' + (report.flagsReady ? 'ready' : 'NOT ready') +
    '. Last config reload: ' + (report.reloadFailed === undefined ? '?' : report.reloadFailed ? 'FAILED' : 'ok') + '.' + (report.prometheusError ? ' Prometheus: ' + report.prometheusError : '');
  document.getElementById('routes').setAttribute('data-at', report.at);
  const time = (iso) => new Date(iso).toLocaleTimeString();
  document.querySelector('#replicas tbody').replaceChildren(...report.replicas.map((replica) => {
    if (replica.error !== undefined) return el('tr', { 'data-replica': replica.url, 'data-state': 'unreachable' }, [el('td', {}, replica.url), el('td', { class: 'error' }, 'unreachable'), el('td', { colspan: 4 }, replica.error.split('\n')[0])]);
    const reload = replica.config.lastReload;
    return el('tr', { 'data-replica': replica.url, 'data-state': 'ok', 'data-digest': replica.config.digest }, [
      el('td', {}, replica.url),
      el('td', {}, 'ok'),
      el('td', { class: replica.flagsReady ? '' : 'error' }, replica.flagsReady ? 'ready' : 'NOT ready'),
      el('td', {}, replica.config.digest),
      el('td', {}, time(replica.config.loadedAt)),
      el('td', { class: reload && !reload.ok ? 'error' : '' }, reload === null ? 'none' : (reload.ok ? 'ok ' : 'FAILED ') + time(reload.at) + (reload.ok ? '' : ': ' + (reload.error || '').split('\n')[0])),
    ]);
  }));
  document.querySelector('#inventory tbody').replaceChildren(...report.legacyEndpoints.slice(0, 50).map((entry) =>
    el('tr', {}, [el('td', { class: 'number' }, entry.requests), el('td', {}, entry.method), el('td', {}, entry.endpoint), el('td', {}, entry.route)])));
}

function chart(title, series, options) {
  const width = 320, height = 110, pad = 28;
  const all = series.flatMap((one) => one.points.map((point) => point[1]));
  const top = options.max !== undefined ? options.max : Math.max(options.floor, ...all) * 1.1;
  const x = (t) => pad + ((t - options.startS) / (options.endS - options.startS)) * (width - pad - 4);
  const y = (v) => height - 14 - (v / top) * (height - 22);
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  const add = (tag, attributes, text) => {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    svg.append(node);
  };
  add('line', { x1: pad, y1: y(0), x2: width - 4, y2: y(0), stroke: '#c8cdd3' });
  add('line', { x1: pad, y1: y(top), x2: width - 4, y2: y(top), stroke: '#eef1f4' });
  add('text', { x: 2, y: y(top) + 4, 'font-size': 9, fill: '#6b7280' }, options.format(top));
  add('text', { x: 2, y: y(0), 'font-size': 9, fill: '#6b7280' }, options.format(0));
  add('text', { x: pad, y: height - 2, 'font-size': 9, fill: '#6b7280' }, '-' + Math.round((options.endS - options.startS) / 60) + ' min');
  add('text', { x: width - 24, y: height - 2, 'font-size': 9, fill: '#6b7280' }, 'now');
  for (const one of series) {
    if (one.points.length) add('polyline', { points: one.points.map((point) => x(point[0]).toFixed(1) + ',' + y(point[1]).toFixed(1)).join(' '), fill: 'none', stroke: one.colour, 'stroke-width': 1.6, 'data-side': one.side, 'data-last': one.points[one.points.length - 1][1] });
  }
  const legend = el('div', { class: 'legend' }, series.map((one) => el('span', { class: one.side }, '\u25A0 ' + one.label + ' ' + (one.points.length ? options.format(one.points[one.points.length - 1][1]) : '-'))));
  return el('div', { class: 'chart', 'data-testid': options.testid }, [el('h3', {}, title), svg, legend]);
}

function renderSeries(data) {
  const range = { startS: data.startS, endS: data.endS };
  const sides = (pair) => [
    { side: 'legacy', label: 'legacy', colour: '#6b7280', points: pair.legacy },
    { side: 'extracted', label: 'new', colour: '#15803d', points: pair.extracted },
  ];
  document.getElementById('charts').replaceChildren(...Object.entries(data.routes).flatMap(([route, series]) => [
    chart(route + ': share on the new side', [{ side: 'extracted', label: 'new', colour: '#15803d', points: series.extractedShare }], Object.assign({ max: 1, format: (v) => Math.round(v * 100) + '%', testid: 'chart-share-' + route }, range)),
    chart(route + ': failed requests', sides(series.errorRatio), Object.assign({ floor: 0.01, format: (v) => (v * 100).toFixed(1) + '%', testid: 'chart-errors-' + route }, range)),
    chart(route + ': p99 latency', sides(series.p99Seconds), Object.assign({ floor: 0.01, format: (v) => (v * 1000).toFixed(0) + ' ms', testid: 'chart-p99-' + route }, range)),
  ]));
}

function renderEvents(events) {
  document.querySelector('#events tbody').replaceChildren(...events.slice().reverse().map((event) => {
    const detail = event.kind === 'analysis' ? String(event.detail.result) + (event.detail.reason ? ': ' + event.detail.reason : '') : Object.entries(event.detail).map(([key, value]) => key + '=' + (typeof value === 'string' ? value : JSON.stringify(value))).join(' ');
    return el('tr', { 'data-kind': event.kind }, [el('td', {}, new Date(event.at).toLocaleTimeString()), el('td', {}, event.route), el('td', {}, event.kind), el('td', {}, event.stepIndex === null ? '-' : event.stepIndex + 1), el('td', {}, event.weight === null ? '-' : event.weight + '%'), el('td', {}, detail)]);
  }));
}

let timer;
async function refresh() {
  clearTimeout(timer);
  try {
    const [report, series, events] = await Promise.all([api('/api/status'), api('/api/series'), api('/api/events?limit=40')]);
    renderStatus(report);
    renderSeries(series);
    renderEvents(events.events);
    document.getElementById('problem').textContent = '';
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (error) {
    if (!state.token) return;
    document.getElementById('problem').textContent = 'Could not refresh: ' + error.message;
  }
  if (state.token) timer = setTimeout(refresh, REFRESH_MS);
}

document.getElementById('login').addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = document.getElementById('token').value;
  sessionStorage.setItem('strangler-console-token', state.token);
  open();
});
function open() {
  document.getElementById('login').hidden = true;
  document.getElementById('console').hidden = false;
  refresh();
}
if (state.token) open();
`;
