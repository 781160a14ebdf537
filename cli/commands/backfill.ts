import { backfill, type BackfillProgress } from '../../sync';
import { integerOption, parseCommandArgs, type Command } from '../command';
import { DATABASE_OPTIONS, DATABASE_OPTIONS_HELP, databaseName, openMigrationTarget } from './migration-args';

const help = `Usage: strangler backfill <aggregate...|all> --mapping <file> --service <url> [options]

Copies existing legacy rows of the named aggregates (as declared in the mapping, or all) into the service's
database while both sides keep taking writes, translated through the mapping (tables, columns, units and
vocabularies may differ). Before reading a row, the mapping is checked against both live schemas and every
missing table or column is reported. Chunked; resumable (a checkpoint table strangler_sync_backfill in the
service database records the last copied key, so after Ctrl-C or a crash the next run continues there); a row
is written only where the service's version is older, so newer rows that sync already delivered are never
overwritten. No outbox event is written. Progress goes to stderr.

A captured legacy side (captured: true in the mapping) has no version: a document is copied where the service
lacks it or holds different content (compared by the hash of the normalized translated document), and the sync
state (strangler_sync_state, service database) is initialised, under the same per-key locks strangler sync takes;
a key the sync already keeps is decided as a captured change would be (a concurrent service write is recorded
as a conflict, never overwritten).

Options:
${DATABASE_OPTIONS_HELP}
  --chunk-size <n>      rows per chunk and per service transaction (default 500)
  --restart             forget the checkpoint and start from the first row
  -h, --help            this text

Examples:
  npx strangler backfill product --mapping mapping.yaml --legacy postgres://app@db/shop --service postgres://app@db/catalog
  STRANGLER_MAPPING=mapping.yaml STRANGLER_SERVICE_URL=postgres://app@db/catalog npx strangler backfill all --chunk-size 1000`;

function progressLine(label: string, progress: BackfillProgress): string {
  const width = 30;
  const ratio = progress.total === 0 ? 1 : Math.min(1, progress.scanned / progress.total);
  const filled = Math.round(ratio * width);
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}% ${progress.scanned}/${progress.total} copied ${progress.copied} skipped ${progress.skipped}`;
}

export const backfillCommand: Command = {
  name: 'backfill',
  summary: 'copy legacy rows of mapped aggregates into a service database (chunked, resumable)',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...DATABASE_OPTIONS,
      'chunk-size': { type: 'string', default: '500' },
      restart: { type: 'boolean', default: false },
    });
    const chunkSize = integerOption('chunk-size', values['chunk-size'], { min: 1 });
    const target = await openMigrationTarget(positionals, values);
    const service = databaseName(target.urls.service);
    const abort = new AbortController();
    const interrupt = () => abort.abort();
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    try {
      for (const stores of target.aggregates) {
        const aggregateType = stores.mapping.aggregateType;
        const label = `${aggregateType} -> ${service}`;
        const draw = (progress: BackfillProgress) => {
          if (process.stderr.isTTY) process.stderr.write(`\r${progressLine(label, progress)}`);
        };
        const result = await backfill(
          stores,
          target.pools,
          { chunkSize, checkpointName: `${aggregateType}:${service}`, restart: values.restart, legacyOrigin: target.mapping.origins.legacy },
          draw,
          abort.signal,
        );
        if (process.stderr.isTTY) process.stderr.write('\n');
        if (result.alreadyComplete) {
          console.log(`${label}: already complete (${result.copied} copied, ${result.skipped} skipped); use --restart to run again`);
        } else {
          console.log(`${progressLine(label, result)}${result.resumedAfterKey ? ` (resumed after ${result.resumedAfterKey})` : ''}`);
        }
        if (abort.signal.aborted) {
          console.log('interrupted: run the same command again to resume');
          return 130;
        }
      }
      return 0;
    } finally {
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
      await target.close();
    }
  },
};
