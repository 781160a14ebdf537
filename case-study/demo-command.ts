import path from 'node:path';
import pino from 'pino';
import { integerOption, parseCommandArgs, shareOption, UsageError, type Command } from '../cli/command';
import { up, resolveEnvironment, unleashBaseUrl } from '../infra';
import { CASE_STUDY_MAPPING_FILE } from './mapping';
import { CaseStudyStack, DEMO_USER, type StackOptionsInput } from '.';
import { DEFAULT_MIX, DEFAULT_SHOPPERS, runTraffic } from './traffic';

const help = `Usage: npm start -- [options]
       npm run demo:traffic -- [options]

demo: starts the whole e-commerce case study on this machine and runs until Ctrl-C:
  - infrastructure through infra/ (Postgres, Kafka, Unleash, Prometheus; reused when already running);
  - databases strangler_legacy, strangler_users, strangler_catalog, strangler_payments, strangler_orders;
  - the users (:3101), catalog (:3102), payments (:3103) and orders (:3104) services, each on its own schema,
    and the legacy monolith (:3000), which sends every aggregate's writes to the service that owns it; each
    with its CDC relay to Kafka and its sync consumer;
  - Unleash flags shop-<route> and shop-<route>-shadow for the routes users, products, payments, orders;
  - the strangler proxy on :8080 (admin :8090, token strangler-admin-token), every route on legacy;
  - seed data in an empty legacy database, through the monolith (user ${DEMO_USER.email} / ${DEMO_USER.password},
    12 products).
Ctrl-C (SIGINT) or SIGTERM stops everything in reverse order; infrastructure keeps running
(npm run infra -- down stops it).

Options:
  --port-offset <n>      add n to every port above (default 0), to run beside another demo
  --database-prefix <p>  databases <p>_legacy, <p>_users, ... (default strangler)
  --instance <name>      names relays (replication slots), consumer groups, proxy app (default shop)
  --flag-prefix <p>      flag names <p>-<route> (default shop)
  --topic-prefix <p>     Kafka topics <p><aggregatetype> (default outbox.event.)
  --relay-mode <mode>    cdc (default: one replication slot per database, 5 in all; Postgres allows 10
                         by default) or polling (no slot)
  --no-seed              do not seed an empty legacy database

demo traffic: sends realistic mixed traffic through the proxy (browse, register, log in, order, pay with
approved and declined test cards, cancel, restock products that run low, so writes never stop) and prints a
live summary of answers per route and status.
  --proxy <url>          proxy URL (default http://127.0.0.1:8080)
  --shoppers <n>         distinct signed-up shoppers (default 200; rollouts are sticky per user, so a 10 %
                         rollout needs many users to show about 10 %)
  --concurrency <n>      requests in flight at once (default 4)
  --duration-s <s>       stop after s seconds (default: until Ctrl-C)
  --revisit-after-ms <n> how soon a shopper looks at a placed order and its payment again (default 0: at
                         once; the proxy's read-your-writes makes the other side wait for the write)
  --order-share <x>      share of visits that place an order, 0 to 1 (default ${DEFAULT_MIX.orderShare}: a write-heavy
                         shop; real shops convert a few percent of visits)
  --cancel-share <x>     share of revisited orders that get cancelled, 0 to 1 (default ${DEFAULT_MIX.cancelShare})
  -h, --help             this text`;

/**
 * Resolves on the first SIGINT/SIGTERM and absorbs later ones until dispose(): under `npm start` one Ctrl-C
 * can reach this process twice (from the terminal, and relayed by npm), and an unhandled second SIGINT would kill
 * it in the middle of stopping.
 */
function shutdownSignal(): { received: Promise<NodeJS.Signals>; dispose(): void } {
  let resolveSignal!: (signal: NodeJS.Signals) => void;
  const received = new Promise<NodeJS.Signals>((resolve) => (resolveSignal = resolve));
  const onSignal = (signal: NodeJS.Signals) => resolveSignal(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    received,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

async function traffic(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    proxy: { type: 'string', default: 'http://127.0.0.1:8080' },
    concurrency: { type: 'string' },
    shoppers: { type: 'string' },
    'duration-s': { type: 'string' },
    'revisit-after-ms': { type: 'string' },
    'order-share': { type: 'string' },
    'cancel-share': { type: 'string' },
  });
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const concurrency = integerOption('concurrency', values.concurrency, { min: 1, fallback: 4 });
  const shoppers = integerOption('shoppers', values.shoppers, { min: 1, fallback: DEFAULT_SHOPPERS });
  const revisitAfterMs = integerOption('revisit-after-ms', values['revisit-after-ms'], { min: 0, fallback: 0 });
  const mix = { orderShare: shareOption('order-share', values['order-share'], DEFAULT_MIX.orderShare), cancelShare: shareOption('cancel-share', values['cancel-share'], DEFAULT_MIX.cancelShare) };
  const durationS = values['duration-s'] === undefined ? undefined : integerOption('duration-s', values['duration-s'], { min: 1 });
  const controller = new AbortController();
  const shutdown = shutdownSignal();
  void shutdown.received.then(() => controller.abort());
  const timer = durationS === undefined ? undefined : setTimeout(() => controller.abort(), durationS * 1_000);
  try {
    const summary = await runTraffic({ proxyUrl: values.proxy, concurrency, shoppers, revisitAfterMs, mix, signal: controller.signal, live: process.stderr });
    console.log(summary.table());
    return summary.unexpected() > 0 ? 1 : 0;
  } finally {
    clearTimeout(timer);
    shutdown.dispose();
  }
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the whole e-commerce case study (npm start); `traffic` generates traffic',
  help,
  async run(argv) {
    if (argv[0] === 'traffic') return traffic(argv.slice(1));
    const { values, positionals } = parseCommandArgs(argv, {
      'port-offset': { type: 'string' },
      'database-prefix': { type: 'string' },
      instance: { type: 'string' },
      'flag-prefix': { type: 'string' },
      'topic-prefix': { type: 'string' },
      'relay-mode': { type: 'string' },
      'no-seed': { type: 'boolean', default: false },
    });
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const offset = integerOption('port-offset', values['port-offset'], { min: 0, fallback: 0 });
    const relayMode = values['relay-mode'];
    if (relayMode !== undefined && relayMode !== 'cdc' && relayMode !== 'polling') throw new UsageError('--relay-mode must be cdc or polling');
    const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
    const log = (line: string) => process.stderr.write(`[demo] ${line}\n`);

    log('bringing up infrastructure (Postgres, Kafka, Unleash, Prometheus)...');
    const services = await up({ log: (line) => log(`infra: ${line}`) });
    const prometheusRunning = services.some((service) => service.name === 'prometheus' && service.healthy);
    const ports = { proxy: 8080, admin: 8090, legacy: 3000, users: 3101, catalog: 3102, payments: 3103, orders: 3104 };
    const options: StackOptionsInput = {
      ports: Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, port + offset])) as typeof ports,
      databasePrefix: values['database-prefix'],
      instanceName: values.instance,
      flagPrefix: values['flag-prefix'],
      topicPrefix: values['topic-prefix'],
      relayMode,
      seed: !values['no-seed'],
    };
    const stack = new CaseStudyStack(options, { logger });
    // Listening from here on: a Ctrl-C during start-up lets start() finish (or fail), then stops everything.
    const shutdown = shutdownSignal();
    try {
      return await runDemo(stack, shutdown.received, log, prometheusRunning);
    } finally {
      shutdown.dispose();
    }
  },
};

async function runDemo(stack: CaseStudyStack, interrupted: Promise<NodeJS.Signals>, log: (line: string) => void, prometheusRunning: boolean): Promise<number> {
  let signalled: NodeJS.Signals | undefined;
  void interrupted.then((signal) => (signalled = signal));
  log('starting services, monolith, relays, sync consumers, flags and proxy...');
  await stack.start();
  if (signalled) {
    await stack.stop();
    return 130;
  }
  const env = resolveEnvironment();
  const mappingFile = path.relative(process.cwd(), CASE_STUDY_MAPPING_FILE) || CASE_STUDY_MAPPING_FILE;
  const catalog = stack.node('catalog').databaseUrl;
  const steps: [command: string, comment: string][] = [
    [`npx strangler backfill product --service ${catalog}`, `copy legacy rows into ${stack.options.databasePrefix}_catalog`],
    [`npx strangler verify product --service ${catalog}`, '0 drift before going on'],
    [`npx strangler flip products 100 --flag ${stack.flagName('products', 'shadow')} --wait-ms 0`, 'shadow reads; 0 turns shadow off'],
    ['npx strangler flip products 10', 'then 50, then 100'],
    [`npx strangler verify product --service ${catalog} --attempts 10 --interval-ms 1000`, '0 drift after each step'],
    ['npx strangler flip products 0', 'roll back: everyone on legacy again'],
  ];
  const width = Math.max(...steps.map(([command]) => command.length));
  console.log(
    [
      '',
      'strangler-fig e-commerce case study is running.',
      '',
      `  proxy          ${stack.proxyUrl}            e.g. curl ${stack.proxyUrl}/api/products`,
      `  proxy admin    ${stack.adminUrl}            curl -H 'authorization: Bearer ${stack.options.adminToken}' ${stack.adminUrl}/routes`,
      `  Unleash UI     ${unleashBaseUrl(env.unleashUrl)}            login admin / unleash4all`,
      `  Prometheus     ${prometheusRunning ? env.prometheusUrl : 'not running (not installed; see the infra line above)'}`,
      ...stack.nodes.map((node) => `  ${node.origin.padEnd(14)} ${node.app.url}   database ${node.database}`),
      `  demo user      ${DEMO_USER.email} / ${DEMO_USER.password}`,
      '',
      'Migrate a route (here: products) step by step (README: "Migrating a route, step by step"):',
      `  export STRANGLER_ADMIN_URL=${stack.adminUrl} STRANGLER_ADMIN_TOKEN=${stack.options.adminToken} UNLEASH_ADMIN_TOKEN='${env.unleashAdminToken}'`,
      `  export STRANGLER_MAPPING=${mappingFile} STRANGLER_LEGACY_URL=${stack.node('legacy').databaseUrl}`,
      ...steps.map(([command, comment]) => `  ${command.padEnd(width)}  # ${comment}`),
      '',
      'Traffic: npm run demo:traffic        Stop: Ctrl-C',
    ].join('\n'),
  );
  const signal = await interrupted;
  log(`${signal}: stopping proxy, consumers, relays and apps...`);
  await stack.stop();
  log('stopped');
  return 0;
}
