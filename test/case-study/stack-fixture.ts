import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { CaseStudyStack, SERVICES, SHOP_ROUTES, type StackOptionsInput } from '../../case-study';
import { UnleashAdmin } from '../helpers';
import { silentLogger } from './fixtures';

/**
 * A whole case-study stack with names of its own (databases, replication slots, consumer groups, topics, flags)
 * and free ports, so it runs beside the demo and beside other tests. stop() also drops what it created.
 */
export class TestStack {
  readonly stack: CaseStudyStack;
  private readonly backupDir: string;

  constructor(prefix: string, overrides: Partial<StackOptionsInput> = {}) {
    const name = `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
    this.backupDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-unleash-'));
    this.stack = new CaseStudyStack(
      {
        databasePrefix: name,
        instanceName: name,
        topicPrefix: `${name}.event.`,
        flagPrefix: name.replace(/_/g, '-'),
        ports: { proxy: 0, admin: 0, legacy: 0, users: 0, catalog: 0, payments: 0, orders: 0 },
        unleash: { backupDir: this.backupDir, refreshIntervalMs: 500 },
        seed: false,
        relayHeartbeatMs: 500,
        stopTimeoutMs: 3_000,
        driftCheckIntervalMs: 0,
        ...overrides,
      },
      { logger: silentLogger },
    );
  }

  async stop(): Promise<void> {
    await this.stack.stop();
    const admin = new UnleashAdmin();
    for (const route of SHOP_ROUTES) {
      for (const kind of ['route', 'shadow'] as const) await admin.deleteFlag(this.stack.flagName(route.id, kind)).catch(() => undefined);
    }
    const { databaseUrl, databasePrefix } = this.stack.options;
    for (const origin of ['legacy', ...SERVICES.map((service) => service.name)]) await dropDatabase(databaseUrl, `${databasePrefix}_${origin}`);
    fs.rmSync(this.backupDir, { recursive: true, force: true });
  }
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query('select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = $1 and not active', [name]);
    await client.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await client.end();
  }
}

/** Polls `probe` until it returns a truthy value; fails with the last value after `timeoutMs`. */
