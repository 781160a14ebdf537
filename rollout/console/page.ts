import fs from 'node:fs';
import path from 'node:path';

/** Where the page loads its script from (browser/console.js, served as it is). */
export const CONSOLE_SCRIPT_PATH = '/console.js';
const SCRIPT_FILE = path.join(__dirname, 'browser', 'console.js');
let script: string | undefined;

/** The page's script, read once. */
export function consoleScript(): string {
  script ??= fs.readFileSync(SCRIPT_FILE, 'utf8');
  return script;
}

/**
 * The console page: static HTML and CSS, and the script (browser/console.js) from this server, no data. The script
 * asks for the admin token, then polls the API and draws everything with the DOM and SVG, so the page needs nothing
 * from the network but this server.
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
<body data-refresh-ms="${options.refreshMs}">
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
<script src="${CONSOLE_SCRIPT_PATH}"></script>
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
