import { Pool } from 'pg';
import { backfill, type BackfillProgress } from '../../extracted/migration';
import { integerOption, parseCommandArgs, type Command } from '../command';
import { aggregatesArgument, DATABASE_OPTIONS, DATABASE_OPTIONS_HELP, databasesFor, reachable } from './migration-args';

const help = `Usage: strangler backfill <aggregate|all> [options]

Copies existing legacy rows of an aggregate (user, product, order, payment, or all) into an extracted
service's database while both sides keep taking writes. Chunked; resumable (a checkpoint table
strangler_backfill_checkpoints in the target records the last copied id per chunk, so after Ctrl-C or a
crash the next run continues there); a row is written only where the target's version is older, so newer
rows that sync already delivered are never overwritten. Progress goes to stderr.

Options:
${DATABASE_OPTIONS_HELP}
                        (--service orders seeds the orders service's product and user replicas)
  --chunk-size <n>      rows per chunk and per target transaction (default 500)
  --restart             forget the checkpoint and start from the first row
  -h, --help            this text

Examples:
  npx strangler backfill product
  npx strangler backfill product --service orders
  npx strangler backfill all --chunk-size 1000`;

function progressLine(label: string, progress: BackfillProgress): string {
  const width = 30;
  const ratio = progress.total === 0 ? 1 : Math.min(1, progress.scanned / progress.total);
  const filled = Math.round(ratio * width);
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}% ${progress.scanned}/${progress.total} copied ${progress.copied} skipped ${progress.skipped}`;
}

export const backfillCommand: Command = {
  name: 'backfill',
  summary: 'copy legacy rows of an aggregate into an extracted service (chunked, resumable)',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...DATABASE_OPTIONS,
      'chunk-size': { type: 'string', default: '500' },
      restart: { type: 'boolean', default: false },
    });
    const aggregates = aggregatesArgument(positionals);
    const chunkSize = integerOption('chunk-size', values['chunk-size'], { min: 1 });
    const abort = new AbortController();
    const interrupt = () => abort.abort();
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    try {
      for (const aggregateType of aggregates) {
        const databases = databasesFor(aggregateType, values);
        const source = new Pool({ connectionString: databases.source, max: 2 });
        const target = new Pool({ connectionString: databases.target, max: 2 });
        try {
          await reachable(source, 'legacy (source)', databases.source);
          await reachable(target, `${databases.service} (target)`, databases.target);
          const label = `${aggregateType} -> ${databases.service}`;
          const draw = (progress: BackfillProgress) => {
            if (process.stderr.isTTY) process.stderr.write(`\r${progressLine(label, progress)}`);
          };
          const result = await backfill(
            source,
            target,
            { aggregateType, chunkSize, checkpointName: `${aggregateType}:${databases.service}`, restart: values.restart },
            draw,
            abort.signal,
          );
          if (process.stderr.isTTY) process.stderr.write('\n');
          if (result.alreadyComplete) {
            console.log(`${label}: already complete (${result.copied} copied, ${result.skipped} skipped); use --restart to run again`);
          } else {
            console.log(`${progressLine(label, result)}${result.resumedAfterId ? ` (resumed after ${result.resumedAfterId})` : ''}`);
          }
          if (abort.signal.aborted) {
            console.log('interrupted: run the same command again to resume');
            return 130;
          }
        } finally {
          await Promise.all([source.end(), target.end()]);
        }
      }
      return 0;
    } finally {
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
    }
  },
};
