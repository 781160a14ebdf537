// @ts-check
// The console page's script, served as it is at /console.js: it asks for the admin token (kept in the tab's
// sessionStorage), then polls /api/status, /api/series and /api/events and draws everything with the DOM and SVG.
// Every text from the server goes in as textContent. Type-checked against the API's types (rollout/console/api.ts).
'use strict';

/**
 * @typedef {import('../api').ConsoleStatus} ConsoleStatus
 * @typedef {import('../api').ConsoleSeries} ConsoleSeries
 * @typedef {import('../api').ConsoleEvents} ConsoleEvents
 * @typedef {import('../api').ConsolePlan} ConsolePlan
 * @typedef {Array<[number, number]>} Points
 * @typedef {{ side: 'legacy' | 'extracted', label: string, colour: string, points: Points }} ChartSeries
 * @typedef {{ startS: number, endS: number, format: (value: number) => string, testid: string, max?: number, floor?: number }} ChartOptions
 */

const REFRESH_MS = Number(document.body.dataset.refreshMs) || 2000;
const TOKEN_KEY = 'strangler-console-token';
const state = { token: sessionStorage.getItem(TOKEN_KEY) || '' };

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found;
}

/**
 * @param {string} selector
 * @returns {Element}
 */
function one(selector) {
  const found = document.querySelector(selector);
  if (!found) throw new Error(`the page has no ${selector}`);
  return found;
}

/**
 * @param {string} tag
 * @param {Record<string, unknown>} [attributes]
 * @param {unknown} [children]
 * @returns {HTMLElement}
 */
function el(tag, attributes, children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of /** @type {unknown[]} */ ([]).concat(children === undefined ? [] : children)) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

/** @param {number | null | undefined} value */
const percent = (value) => (value === undefined || value === null ? '-' : (value * 100).toFixed(2) + '%');
/** @param {number | null | undefined} value */
const millis = (value) => (value === undefined || value === null ? '-' : (value * 1000).toFixed(0) + ' ms');

/**
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<any>} the API's JSON answer; each caller names its type
 */
async function api(path, init) {
  const response = await fetch(path, Object.assign({}, init, { headers: Object.assign({ authorization: 'Bearer ' + state.token, 'content-type': 'application/json' }, (init || {}).headers) }));
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) {
    signOut('The token was refused.');
    throw new Error('unauthorised');
  }
  if (!response.ok) throw new Error(body.error ? body.error.code + ': ' + body.error.message : 'HTTP ' + response.status);
  return body;
}

/** @param {string} [message] */
function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = '';
  byId('console').hidden = true;
  byId('login').hidden = false;
  byId('login-error').textContent = message || '';
}

/**
 * @param {string} testid
 * @param {number | null | undefined} value
 * @param {unknown} text
 */
function figure(testid, value, text) {
  return el('td', { class: 'number', 'data-testid': testid, 'data-value': value === undefined || value === null ? '' : value }, text);
}

/**
 * @param {string} route
 * @param {ConsolePlan | undefined} plan
 */
function actionsFor(route, plan) {
  if (!plan) return el('td', {}, '-');
  const status = plan.state ? plan.state.status : 'not started';
  /** @type {Record<string, string[]>} */
  const commands = { progressing: ['pause', 'abort'], paused: ['resume', 'abort'] };
  const allowed = commands[status] || ['start'];
  return el(
    'td',
    {},
    allowed.map((command) => {
      const button = el('button', { type: 'button', 'data-testid': command + '-' + route }, command);
      button.addEventListener('click', () => runCommand(route, command));
      return button;
    }),
  );
}

/**
 * @param {string} route
 * @param {string} command
 */
async function runCommand(route, command) {
  const reason = command === 'abort' ? prompt('Why abort the rollout of ' + route + '?', '') : undefined;
  if (reason === null) return;
  try {
    await api('/api/rollouts/' + encodeURIComponent(route) + '/' + command, { method: 'POST', body: JSON.stringify(reason ? { reason } : {}) });
    await refresh();
  } catch (error) {
    byId('problem').textContent = command + ' ' + route + ': ' + /** @type {Error} */ (error).message;
  }
}

/** @param {ConsoleStatus} report */
function renderStatus(report) {
  one('#routes tbody').replaceChildren(
    ...report.routes.map((route) => {
      const plan = report.plans.find((candidate) => candidate.route === route.route);
      const status = route.rollout ? route.rollout.status : '-';
      const reason = route.rollout && route.rollout.reason ? route.rollout.reason : '';
      return el('tr', { 'data-route': route.route }, [
        el('td', {}, route.route),
        figure('rollout-' + route.route, route.rolloutPercent, route.rolloutPercent === null ? '-' : route.rolloutPercent + '%'),
        el('td', { 'data-testid': 'step-' + route.route }, route.rollout ? route.rollout.step : '-'),
        el('td', { 'data-testid': 'status-' + route.route, class: 'status-' + status.replace(' ', '_'), title: reason }, status + (reason ? ' (' + reason + ')' : '')),
        figure('split-' + route.route, route.lastMinute.extractedPercent, route.lastMinute.extractedPercent + '% of ' + (route.lastMinute.legacy + route.lastMinute.extracted)),
        el('td', { class: 'number' }, [
          el('span', { 'data-testid': 'errors-legacy-' + route.route, 'data-value': route.errorRatio.legacy ?? '' }, percent(route.errorRatio.legacy)),
          ' / ',
          el('span', { 'data-testid': 'errors-extracted-' + route.route, 'data-value': route.errorRatio.extracted ?? '' }, percent(route.errorRatio.extracted)),
        ]),
        el('td', { class: 'number' }, [
          el('span', { 'data-testid': 'p99-legacy-' + route.route, 'data-value': route.p99Seconds.legacy ?? '' }, millis(route.p99Seconds.legacy)),
          ' / ',
          el('span', { 'data-testid': 'p99-extracted-' + route.route, 'data-value': route.p99Seconds.extracted ?? '' }, millis(route.p99Seconds.extracted)),
        ]),
        figure('mismatches-' + route.route, route.shadowMismatchesLastHour, route.shadowMismatchesLastHour === undefined ? '?' : route.shadowMismatchesLastHour),
        el('td', {}, route.circuit),
        actionsFor(route.route, plan),
      ]);
    }),
  );
  const lag = Object.entries(report.syncLagSeconds).map(([relay, seconds]) => relay + ' ' + seconds.toFixed(1) + ' s').join(', ') || 'no relay reporting';
  const drift = Object.entries(report.driftRows).map(([aggregate, rows]) => aggregate + ' ' + rows).join(', ') || 'no verify run reported';
  byId('health').textContent =
    'Sync lag: ' + lag + '. Drift rows: ' + drift + '. Flags: ' + (report.flagsReady ? 'ready' : 'NOT ready') +
    '. Last config reload: ' + (report.reloadFailed === undefined ? '?' : report.reloadFailed ? 'FAILED' : 'ok') + '.' +
    (report.prometheusError ? ' Prometheus: ' + report.prometheusError : '');
  byId('routes').setAttribute('data-at', String(report.at));
  /** @param {string} iso */
  const time = (iso) => new Date(iso).toLocaleTimeString();
  one('#replicas tbody').replaceChildren(
    ...report.replicas.map((replica) => {
      const config = replica.config;
      if (replica.error !== undefined || !config) {
        const why = replica.error ?? 'it reported no configuration';
        return el('tr', { 'data-replica': replica.url, 'data-state': 'unreachable' }, [el('td', {}, replica.url), el('td', { class: 'error' }, 'unreachable'), el('td', { colspan: 4 }, why.split('\n')[0])]);
      }
      const reload = config.lastReload;
      return el('tr', { 'data-replica': replica.url, 'data-state': 'ok', 'data-digest': config.digest }, [
        el('td', {}, replica.url),
        el('td', {}, 'ok'),
        el('td', { class: replica.flagsReady ? '' : 'error' }, replica.flagsReady ? 'ready' : 'NOT ready'),
        el('td', {}, config.digest),
        el('td', {}, time(config.loadedAt)),
        el('td', { class: reload && !reload.ok ? 'error' : '' }, reload === null ? 'none' : (reload.ok ? 'ok ' : 'FAILED ') + time(reload.at) + (reload.ok ? '' : ': ' + (reload.error || '').split('\n')[0])),
      ]);
    }),
  );
  one('#inventory tbody').replaceChildren(
    ...report.legacyEndpoints.slice(0, 50).map((entry) => el('tr', {}, [el('td', { class: 'number' }, entry.requests), el('td', {}, entry.method), el('td', {}, entry.endpoint), el('td', {}, entry.route)])),
  );
}

/**
 * @param {string} title
 * @param {ChartSeries[]} series
 * @param {ChartOptions} options
 */
function chart(title, series, options) {
  const width = 320;
  const height = 110;
  const pad = 28;
  const all = series.flatMap((line) => line.points.map((point) => point[1]));
  const top = options.max !== undefined ? options.max : Math.max(options.floor ?? 0, ...all) * 1.1;
  /** @param {number} t */
  const x = (t) => pad + ((t - options.startS) / (options.endS - options.startS)) * (width - pad - 4);
  /** @param {number} v */
  const y = (v) => height - 14 - (v / top) * (height - 22);
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  /**
   * @param {string} tag
   * @param {Record<string, string | number>} attributes
   * @param {string} [text]
   */
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
  for (const line of series) {
    const last = line.points[line.points.length - 1];
    if (last) {
      const points = line.points.map((point) => x(point[0]).toFixed(1) + ',' + y(point[1]).toFixed(1)).join(' ');
      add('polyline', { points, fill: 'none', stroke: line.colour, 'stroke-width': 1.6, 'data-side': line.side, 'data-last': last[1] });
    }
  }
  const legend = el(
    'div',
    { class: 'legend' },
    series.map((line) => {
      const last = line.points[line.points.length - 1];
      return el('span', { class: line.side }, '\u25A0 ' + line.label + ' ' + (last ? options.format(last[1]) : '-'));
    }),
  );
  return el('div', { class: 'chart', 'data-testid': options.testid }, [el('h3', {}, title), svg, legend]);
}

/** @param {ConsoleSeries} data */
function renderSeries(data) {
  const range = { startS: data.startS, endS: data.endS };
  /**
   * @param {{ legacy: Points, extracted: Points }} pair
   * @returns {ChartSeries[]}
   */
  const sides = (pair) => [
    { side: 'legacy', label: 'legacy', colour: '#6b7280', points: pair.legacy },
    { side: 'extracted', label: 'new', colour: '#15803d', points: pair.extracted },
  ];
  byId('charts').replaceChildren(
    ...Object.entries(data.routes).flatMap(([route, series]) => [
      chart(route + ': share on the new side', [{ side: 'extracted', label: 'new', colour: '#15803d', points: series.extractedShare }], { ...range, max: 1, format: (v) => Math.round(v * 100) + '%', testid: 'chart-share-' + route }),
      chart(route + ': failed requests', sides(series.errorRatio), { ...range, floor: 0.01, format: (v) => (v * 100).toFixed(1) + '%', testid: 'chart-errors-' + route }),
      chart(route + ': p99 latency', sides(series.p99Seconds), { ...range, floor: 0.01, format: (v) => (v * 1000).toFixed(0) + ' ms', testid: 'chart-p99-' + route }),
    ]),
  );
}

/** @param {ConsoleEvents['events']} events */
function renderEvents(events) {
  one('#events tbody').replaceChildren(
    ...events
      .slice()
      .reverse()
      .map((event) => {
        const detail =
          event.kind === 'analysis'
            ? String(event.detail.result) + (event.detail.reason ? ': ' + event.detail.reason : '')
            : Object.entries(event.detail).map(([key, value]) => key + '=' + (typeof value === 'string' ? value : JSON.stringify(value))).join(' ');
        return el('tr', { 'data-kind': event.kind }, [
          el('td', {}, new Date(event.at).toLocaleTimeString()),
          el('td', {}, event.route),
          el('td', {}, event.kind),
          el('td', {}, event.stepIndex === null ? '-' : event.stepIndex + 1),
          el('td', {}, event.weight === null ? '-' : event.weight + '%'),
          el('td', {}, detail),
        ]);
      }),
  );
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;
async function refresh() {
  clearTimeout(timer);
  try {
    /** @type {[ConsoleStatus, ConsoleSeries, ConsoleEvents]} */
    const [report, series, events] = await Promise.all([api('/api/status'), api('/api/series'), api('/api/events?limit=40')]);
    renderStatus(report);
    renderSeries(series);
    renderEvents(events.events);
    byId('problem').textContent = '';
    byId('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (error) {
    if (!state.token) return;
    byId('problem').textContent = 'Could not refresh: ' + /** @type {Error} */ (error).message;
  }
  if (state.token) timer = setTimeout(refresh, REFRESH_MS);
}

function open() {
  byId('login').hidden = true;
  byId('console').hidden = false;
  void refresh();
}

byId('login').addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = /** @type {HTMLInputElement} */ (byId('token')).value;
  sessionStorage.setItem(TOKEN_KEY, state.token);
  open();
});
if (state.token) open();
