import { Registry } from 'prom-client';
import pino from 'pino';
import { createDriftGauge, DriftMonitor, verify, type DriftCheck, type VerifyReport } from '../../sync';
import { integerOption, parseCommandArgs, UsageError, type Command } from '../command';
import { boundPort, serveMetrics } from '../metrics-server';
import { DATABASE_OPTIONS, DATABASE_OPTIONS_HELP, databaseName, openMigrationTarget } from './migration-args';

const help = `Usage: strangler verify <aggregate...|all> --mapping <file> --service <url> [options]

Compares the named aggregates (as declared in the mapping, or all) between legacy and the service, row by
row by key, version and content: legacy rows are translated through the mapping and both sides compared in
one normalized form. The mapping is first checked against both live schemas. Prints the drift: rows
missing in the service, missing in legacy (written on the new side and not synced back), stale (different
versions) and different (same version, different content), with examples. Exits 1 when any drift
remains, 0 when none. A captured legacy side has no version: its rows compare by content only (the hash of
the normalized translated document against the service's without its version), so drift is missing or
different, never stale.

Sync is asynchronous, so a verify during traffic can see rows in flight: --attempts re-runs the comparison
until it is clean or the attempts are used up.

The result is exported as the gauge strangler_sync_drift_rows{aggregatetype}:
  --metrics-port <port> keeps the command running after the first comparison, serving GET /metrics on
  that port and re-verifying every --interval-ms until Ctrl-C (add the port to Prometheus' targets). The
  gauge then counts settled drift: rows that drift the same way in two checks in a row, so rows still in
  flight through the sync never fire an alert (the drift monitor the case study runs);
  --prometheus prints the gauge in Prometheus text format on stdout after the report (for a
  node_exporter textfile collector or a pushgateway).

Options:
${DATABASE_OPTIONS_HELP}
  --chunk-size <n>      rows per read (default 1000)
  --examples <n>        examples printed per kind of drift (default 5)
  --attempts <n>        comparisons before reporting drift (default 1)
  --interval-ms <ms>    wait between attempts, and between runs with --metrics-port (default 2000)
  --metrics-port <port> serve the drift gauge and keep verifying (see above)
  --prometheus          print the gauge in Prometheus text format
  --json                print the reports as one JSON line instead of text
  -h, --help            this text

Examples:
  npx strangler verify product --mapping mapping.yaml --legacy postgres://app@db/shop --service postgres://app@db/catalog
  npx strangler verify all --attempts 10 --interval-ms 1000      (with STRANGLER_MAPPING, STRANGLER_SERVICE_URL set)
  npx strangler verify all --metrics-port 9466`;

function describe(report: VerifyReport, service: string): string {
  const { counts } = report;
  const lines = [
    `${report.aggregateType} (legacy ${report.sourceRows} rows, ${service} ${report.targetRows} rows): ` +
      (report.driftRows === 0
        ? 'no drift'
        : `${report.driftRows} drifting: ${counts.missingInTarget} missing in ${service}, ${counts.missingInSource} missing in legacy, ${counts.stale} stale, ${counts.different} different`),
  ];
  for (const example of report.examples) {
    lines.push(`  ${example.kind.padEnd(15)} ${example.id} legacy v${example.sourceVersion ?? '-'} ${service} v${example.targetVersion ?? '-'}`);
  }
  return lines.join('\n');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'compare legacy and service rows of an aggregate; exit 1 on drift',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...DATABASE_OPTIONS,
      'chunk-size': { type: 'string', default: '1000' },
      examples: { type: 'string', default: '5' },
      attempts: { type: 'string', default: '1' },
      'interval-ms': { type: 'string', default: '2000' },
      'metrics-port': { type: 'string' },
      prometheus: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    });
    const parsed = {
      chunkSize: integerOption('chunk-size', values['chunk-size'], { min: 1 }),
      maxExamples: integerOption('examples', values.examples, { min: 0 }),
      attempts: integerOption('attempts', values.attempts, { min: 1 }),
      intervalMs: integerOption('interval-ms', values['interval-ms'], { min: 0 }),
    };
    const metricsPort = values['metrics-port'] === undefined ? undefined : integerOption('metrics-port', values['metrics-port'], { min: 0 });
    if (metricsPort !== undefined && metricsPort > 65_535) throw new UsageError(`--metrics-port must be a port number, got '${metricsPort}'`);

    const target = await openMigrationTarget(positionals, values);
    const service = databaseName(target.urls.service);
    const registry = new Registry();
    const drift = createDriftGauge(registry);

    const verifyAll = async (): Promise<{ report: VerifyReport; service: string }[]> => {
      const results = [];
      for (const stores of target.aggregates) {
        const report = await verify(stores, target.pools, parsed);
        // Served, the gauge is the drift monitor's settled drift only: a raw count first would flap to 0 and back.
        if (metricsPort === undefined) drift.set({ aggregatetype: report.aggregateType }, report.driftRows);
        results.push({ report, service });
      }
      return results;
    };
    const print = (results: { report: VerifyReport; service: string }[]) => {
      if (values.json) console.log(JSON.stringify(results.map(({ report }) => report)));
      else for (const { report, service } of results) console.log(describe(report, service));
    };

    try {
      let results = await verifyAll();
      for (let attempt = 1; attempt < parsed.attempts && results.some(({ report }) => report.driftRows > 0); attempt += 1) {
        await sleep(parsed.intervalMs);
        results = await verifyAll();
      }
      print(results);
      if (values.prometheus) process.stdout.write(await registry.metrics());
      if (metricsPort !== undefined) {
        const targets = target.aggregates.map((stores) => ({ stores, pools: target.pools }));
        const printChecks = (checks: DriftCheck[]) => {
          print(checks.map(({ report }) => ({ report, service })));
          for (const { report, settledRows } of checks) if (!values.json) console.log(`  ${report.aggregateType}: ${settledRows} settled (published)`);
        };
        const monitor = new DriftMonitor(targets, { intervalMs: parsed.intervalMs, chunkSize: parsed.chunkSize, maxExamples: parsed.maxExamples }, { gauge: drift, logger: pino({ level: 'warn' }), onCheck: printChecks });
        await serveAndWatch(registry, metricsPort, monitor);
      }
      return results.some(({ report }) => report.driftRows > 0) ? 1 : 0;
    } finally {
      await target.close();
    }
  },
};

/** Serves GET /metrics and runs the drift monitor (from its first check on) until SIGINT/SIGTERM. */
async function serveAndWatch(registry: Registry, port: number, monitor: DriftMonitor): Promise<void> {
  const server = await serveMetrics(registry, port, '127.0.0.1');
  console.error(`serving strangler_sync_drift_rows on http://127.0.0.1:${boundPort(server, port)}/metrics; Ctrl-C to stop`);
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  monitor.start();
  await stopped;
  await monitor.stop();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
