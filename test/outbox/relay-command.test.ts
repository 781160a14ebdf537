import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../../cli/command';
import { relayCommand, relayInput } from '../../cli/commands/relay';

describe('strangler relay command', () => {
  it('layers defaults < environment < config file < flags', () => {
    const input = relayInput(
      { DATABASE_URL: 'postgres://env/db', KAFKA_BROKERS: 'k1:9092,k2:9092', OUTBOX_RELAY_MODE: 'polling', OUTBOX_RELAY_NAME: 'from_env' },
      { name: 'from_file', kafka: { clientId: 'file-client' } },
      { name: 'from_flag' },
    );
    expect(input).toEqual({
      connectionString: 'postgres://env/db',
      mode: 'polling',
      name: 'from_flag',
      kafka: { brokers: ['k1:9092', 'k2:9092'], clientId: 'file-client' },
    });
  });

  it('takes the header placement from OUTBOX_HEADER_PLACEMENT, and a config file overrides it', () => {
    expect(relayInput({ OUTBOX_HEADER_PLACEMENT: 'json' }, {}, {})).toMatchObject({ headerPlacement: 'json' });
    expect(relayInput({ OUTBOX_HEADER_PLACEMENT: 'json' }, { headerPlacement: 'both' }, {})).toMatchObject({ headerPlacement: 'both' });
  });

  it('names every bad field of a config file and exits through UsageError (code 2)', async () => {
    const file = path.join(os.tmpdir(), `relay-bad-${process.pid}.yaml`);
    fs.writeFileSync(file, 'mode: stream\nonUnpublishable: drop\nheaderPlacement: single\nkafka:\n  maxRecordBytes: -1\n');
    try {
      const error = await relayCommand.run(['--config', file]).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toMatch(/mode:/);
      expect((error as Error).message).toMatch(/onUnpublishable:/);
      expect((error as Error).message).toMatch(/headerPlacement:/);
      expect((error as Error).message).toMatch(/kafka\.maxRecordBytes:/);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('refuses unknown keys of a config file, each with its path, instead of running on defaults', async () => {
    const file = path.join(os.tmpdir(), `relay-typo-${process.pid}.yaml`);
    fs.writeFileSync(file, 'onUnpublishabel: stop\nkafka:\n  maxRecordByte: 10\nbatch:\n  maxEvent: 5\n');
    try {
      const error = await relayCommand.run(['--config', file]).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UsageError);
      const message = (error as Error).message;
      for (const key of ['onUnpublishabel', 'kafka.maxRecordByte', 'batch.maxEvent']) expect(message).toContain(`${key}: unknown option`);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('rejects unknown flags and a bad metrics port', async () => {
    await expect(relayCommand.run(['--bogus'])).rejects.toBeInstanceOf(UsageError);
    await expect(relayCommand.run(['--metrics-port', 'x'])).rejects.toThrow(/--metrics-port/);
  });

  it('keeps --forget-position for a MySQL/MariaDB capture and --reset-slot for a Postgres one', async () => {
    const saved = process.env.DATABASE_URL;
    try {
      process.env.DATABASE_URL = 'postgres://app@127.0.0.1:5432/shop';
      await expect(relayCommand.run(['--mode', 'tables', '--tables', 'shop.orders', '--forget-position'])).rejects.toThrow(/--forget-position: only a tables relay on MySQL\/MariaDB/);
      process.env.DATABASE_URL = 'mysql://capture@127.0.0.1:3306/shop';
      await expect(relayCommand.run(['--mode', 'tables', '--tables', 'shop.orders', '--reset-slot'])).rejects.toThrow(/has no slot \(its binlog position: --forget-position\)/);
      await expect(relayCommand.run(['--forget-position'])).rejects.toBeInstanceOf(UsageError);
    } finally {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }
  });

  it('says in --help how to capture MySQL and MariaDB', () => {
    expect(relayCommand.help).toContain('mysql://user:password@host:3306/db');
    expect(relayCommand.help).toContain('--forget-position');
    expect(relayCommand.help).toContain('binlog_row_image=FULL');
  });
});
