import { Pool } from 'pg';
import { applyConflict, isMySqlUrl, listConflicts, loadMappingFile, openAggregates, type ConflictRow } from '../../sync';
import { integerOption, parseCommandArgs, UsageError, type Command } from '../command';
import { databaseUrl } from '../environment';
import { DATABASE_OPTIONS, DATABASE_OPTIONS_HELP, legacyConnection, reachable } from './migration-args';

const help = `Usage: strangler conflicts list [--aggregate <name>] [--all] [--json] --service <url>
       strangler conflicts apply <id> --keep <legacy|service> --mapping <file> --legacy <url> --service <url>

Where the legacy side of an aggregate is captured (captured: true in the mapping), both sides can write the same
aggregate at once. The sync keeps the owner's write and records the other one, with both row images, in
strangler_sync_conflicts (service database) under Postgres 18's conflict names: insert_exists,
update_origin_differs, update_missing, delete_origin_differs (and update_exists, delete_missing), counted in
strangler_sync_conflicts_total{aggregatetype,kind}. No accepted write is dropped silently.

  list    the open conflicts, oldest first: id, when, aggregate, key, kind, which side was kept, and both images
          (legacy's document in legacy's shape, the service's in the service's; "-" where that side had no row)
  apply   re-applies the image of the side you keep to both sides: into legacy as it was (or translated from the
          service's), in a transaction marked with the service's origin (so the sync does not bring it back), and
          into the service with its version raised by one (no outbox event). A missing image deletes the aggregate
          on both sides. The sync state records the new agreement and the conflict is marked resolved. Re-running
          it on a resolved conflict is refused.

Options:
  --aggregate <name>    list: only this aggregate's conflicts
  --all                 list: resolved conflicts too (with when and how)
  --json                list: one JSON document (an array) instead of text
  --keep <side>         apply: legacy or service (required)
  --limit <n>           list: at most this many (default 1000)
${DATABASE_OPTIONS_HELP}
  -h, --help            this text

list needs only the service database; apply needs the mapping and both databases.

Examples:
  npx strangler conflicts list --service postgres://app@db/catalog
  npx strangler conflicts list --aggregate book --json
  npx strangler conflicts apply 42 --keep legacy --mapping mapping.yaml --legacy postgres://app@db/shop --service postgres://app@db/catalog
  npx strangler conflicts apply 7 --keep service --mapping mapping.yaml --legacy mysql://sync@db/blog --service postgres://app@db/posts`;

function image(value: unknown): string {
  if (value === null || value === undefined) return '-';
  const text = JSON.stringify(value);
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

function describe(conflict: ConflictRow): string {
  const head = `#${conflict.id}  ${conflict.detectedAt.toISOString()}  ${conflict.aggregate} ${conflict.key}  ${conflict.kind}  kept ${conflict.kept}`;
  const resolved = conflict.resolvedAt ? `\n  resolved ${conflict.resolvedAt.toISOString()}: ${conflict.resolution ?? ''}` : '';
  return `${head}${resolved}\n  legacy:  ${image(conflict.legacyImage)}\n  service: ${image(conflict.serviceImage)}`;
}

export const conflictsCommand: Command = {
  name: 'conflicts',
  summary: 'list the writes that lost to a concurrent write of the other side (captured legacy), or re-apply the side you pick',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...DATABASE_OPTIONS,
      aggregate: { type: 'string' },
      all: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      keep: { type: 'string' },
      limit: { type: 'string', default: '1000' },
    });
    const [action, ...rest] = positionals;
    if (action !== 'list' && action !== 'apply') throw new UsageError(action === undefined ? 'name an action: list or apply' : `unknown action '${action}' (list or apply)`);
    const serviceUrl = values.service ?? process.env.STRANGLER_SERVICE_URL;
    if (!serviceUrl) throw new UsageError('--service <url> is required: the conflicts are in the service database (or set STRANGLER_SERVICE_URL)');

    if (action === 'list') {
      if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}' (list takes options only)`);
      if (values.keep !== undefined) throw new UsageError('--keep is an option of apply, not list');
      const limit = integerOption('limit', values.limit, { min: 1 });
      const pool = new Pool({ connectionString: serviceUrl, max: 1 });
      try {
        await reachable(pool, 'service', serviceUrl);
        const conflicts = await listConflicts(pool, { aggregate: values.aggregate, includeResolved: values.all, limit });
        if (values.json) console.log(JSON.stringify(conflicts));
        else if (conflicts.length === 0) console.log(values.all ? 'no conflicts recorded' : 'no open conflicts');
        else for (const conflict of conflicts) console.log(describe(conflict));
        return 0;
      } finally {
        await pool.end();
      }
    }

    if (rest.length !== 1) throw new UsageError(rest.length === 0 ? 'apply needs the conflict id (as conflicts list prints it)' : `unexpected argument '${rest[1]}' (apply takes one id)`);
    const id = rest[0]!.replace(/^#/, '');
    if (!/^\d+$/.test(id)) throw new UsageError(`the conflict id must be a number, got '${rest[0]}'`);
    if (values.keep === undefined) throw new UsageError('--keep <legacy|service> is required: the side whose image is applied to both sides');
    if (values.keep !== 'legacy' && values.keep !== 'service') throw new UsageError(`--keep must be legacy or service, got '${values.keep}'`);
    if (values.aggregate !== undefined || values.all || values.json) throw new UsageError('--aggregate, --all and --json are options of list, not apply');
    const file = values.mapping ?? process.env.STRANGLER_MAPPING;
    if (!file) throw new UsageError('--mapping <file> is required with apply (or set STRANGLER_MAPPING)');
    const legacyUrl = values.legacy ?? process.env.STRANGLER_LEGACY_URL ?? databaseUrl(process.env);
    const mapping = loadMappingFile(file);
    const captured = [...mapping.aggregates.values()].filter((aggregate) => aggregate.legacy.captured);
    if (captured.length === 0) throw new UsageError(`${file} declares no aggregate with a captured legacy side: it records no conflicts`);
    if (isMySqlUrl(serviceUrl)) throw new UsageError('--service takes a postgres:// URL: the conflicts and the sync state live in Postgres');
    const pools = { legacy: legacyConnection(legacyUrl, 1), service: new Pool({ connectionString: serviceUrl, max: 1 }) };
    try {
      await reachable(pools.legacy, 'legacy', legacyUrl);
      await reachable(pools.service, 'service', serviceUrl);
      const stores = await openAggregates(mapping, captured, pools);
      const resolved = await applyConflict(id, values.keep, { stores, pools, origins: mapping.origins });
      console.log(`conflict #${resolved.id} (${resolved.aggregate} ${resolved.key}, ${resolved.kind}): ${values.keep}'s image applied to both sides; resolved`);
      return 0;
    } finally {
      await Promise.all([pools.legacy.end(), pools.service.end()]);
    }
  },
};
