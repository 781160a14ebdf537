import fs from 'node:fs';
import path from 'node:path';
import type { ErrorCodeInfo } from '../errors';
import { CLI_ERROR_CODES } from '../cli/command';
import { INFRA_ERROR_CODES } from '../infra/errors';
import { OUTBOX_ERROR_CODES } from '../outbox/errors';
import { ROLLOUT_ERROR_CODES } from '../rollout/errors';
import { CASE_ERROR_CODES } from '../service-kit/errors';
import { PROXY_ERROR_CODES } from '../strangler-proxy/errors';
import { SYNC_ERROR_CODES } from '../sync/errors';

export const ERRORS_FILE = path.join(__dirname, 'errors.md');

/** One component's catalogue: the folders whose code throws its errors, and the prefixes its codes carry. */
export interface ErrorComponent {
  name: string;
  /** One line on what the component is and where its errors come from. */
  summary: string;
  dirs: readonly string[];
  prefixes: readonly string[];
  codes: Readonly<Record<string, ErrorCodeInfo>>;
}

export const ERROR_COMPONENTS: readonly ErrorComponent[] = [
  { name: 'strangler-proxy', summary: 'The routing proxy, its express middleware, flags and admin clients (`strangler-fig/proxy`, `strangler-fig/express`); errors extend `ProxyError`.', dirs: ['strangler-proxy'], prefixes: ['SFG_PROXY_'], codes: PROXY_ERROR_CODES },
  { name: 'outbox', summary: 'The outbox writer, relays, table capture (`SFG_CAPTURE_`), Kafka publishing and the inbox (`strangler-fig/outbox`); errors extend `OutboxError`.', dirs: ['outbox'], prefixes: ['SFG_OUTBOX_', 'SFG_CAPTURE_'], codes: OUTBOX_ERROR_CODES },
  { name: 'sync', summary: 'Mappings, backfill, verify, the sync consumer and conflicts (`strangler-fig/sync`); errors extend `SyncError`.', dirs: ['sync'], prefixes: ['SFG_SYNC_'], codes: SYNC_ERROR_CODES },
  { name: 'rollout', summary: 'Rollout plans, the controller and the console (`strangler-fig/rollout`); errors extend `RolloutError`.', dirs: ['rollout'], prefixes: ['SFG_ROLLOUT_'], codes: ROLLOUT_ERROR_CODES },
  { name: 'cli', summary: 'The `strangler` command (`strangler-fig/cli`); a `UsageError` exits 2, any other error 1 with its code printed.', dirs: ['cli'], prefixes: ['SFG_CLI_'], codes: CLI_ERROR_CODES },
  { name: 'case study', summary: 'The demo monolith and services (service-kit, legacy-monolith, extracted, case-study): the `error.code` of their JSON error bodies; errors extend `CaseStudyError`.', dirs: ['service-kit', 'legacy-monolith', 'extracted', 'case-study'], prefixes: ['SFG_CASE_'], codes: CASE_ERROR_CODES },
  { name: 'infra', summary: 'The local services the demo and the tests start (`npm run infra`); errors are `InfraError`s.', dirs: ['infra'], prefixes: ['SFG_INFRA_'], codes: INFRA_ERROR_CODES },
];

export function renderErrors(components: readonly ErrorComponent[] = ERROR_COMPONENTS): string {
  const lines = [
    '# Error codes',
    '',
    'Every error strangler-fig throws carries a stable `code` (`SFG_<COMPONENT>_<PROBLEM>`), `retriable` (whether trying',
    'again may help) and, when there is one, the underlying `cause`; its `name` is its class\'s name. The codes are the',
    'same in logs, metrics (`code` labels), DLQ headers (`sfg.error.code`) and HTTP error bodies. Each component declares',
    'its codes in one `as const` list beside its error classes, so a throw with an unknown code fails the typecheck.',
    'Generated from those lists by `npm run docs:errors`; `test/docs/errors.test.ts` fails when this file, the lists and',
    'the throw sites disagree.',
    '',
    ...components.map((component) => `- [${component.name}](#${component.name.replace(/ /g, '-')}): ${component.prefixes.map((prefix) => `\`${prefix}\``).join(', ')}`),
  ];
  for (const component of components) {
    lines.push('', `## ${component.name}`, '', component.summary);
    for (const [code, info] of Object.entries(component.codes)) {
      lines.push('', `### \`${code}\``, '', info.means, '', `**What to do:** ${info.fix}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

if (require.main === module) {
  const check = process.argv.includes('--check');
  const text = renderErrors();
  if (check) {
    if (fs.readFileSync(ERRORS_FILE, 'utf8') !== text) {
      console.error('docs/errors.md is out of date: run npm run docs:errors');
      process.exit(1);
    }
    console.log('docs/errors.md matches the lists');
  } else {
    fs.writeFileSync(ERRORS_FILE, text);
    console.log(`wrote ${path.relative(process.cwd(), ERRORS_FILE)} (${ERROR_COMPONENTS.reduce((sum, component) => sum + Object.keys(component.codes).length, 0)} codes)`);
  }
}
