import { InvalidOptionsError, parseRelayOptions } from '../../outbox';
import { relayInput } from '../../cli/commands/relay';

const base = { connectionString: 'postgres://h/db', kafka: { brokers: ['127.0.0.1:9092'] } };

function issues(input: unknown): { path: string; message: string }[] {
  try {
    parseRelayOptions(input);
  } catch (error) {
    if (error instanceof InvalidOptionsError) return error.issues;
    throw error;
  }
  throw new Error('expected the options to be refused');
}

describe('relay options of mode tables', () => {
  it('defaults: name capture, Debezium topic prefix = the name, own slot, publication, lock and DLQ, no migrations', () => {
    const options = parseRelayOptions({ ...base, mode: 'tables', capture: { tables: ['inventory.orders', 'customers'] } });
    expect(options).toMatchObject({
      name: 'capture',
      migrate: false,
      topicPrefix: 'capture.',
      dlqTopic: 'capture.dlq',
      slotName: 'strangler_capture',
      publicationName: 'strangler_capture',
      leadership: { lockKey: 'strangler-relay:tables:strangler_capture' },
      capture: {
        tables: ['inventory.orders', 'customers'],
        topicPrefix: 'capture',
        origin: 'legacy',
        tombstonesOnDelete: true,
        decimalHandlingMode: 'precise',
        intervalHandlingMode: 'numeric',
        binaryHandlingMode: 'bytes',
        unavailableValuePlaceholder: '__debezium_unavailable_value',
      },
    });
  });

  it('takes capture.topicPrefix as topic.prefix and keeps an explicit DLQ topic', () => {
    const options = parseRelayOptions({ ...base, mode: 'tables', name: 'erp', dlqTopic: 'dead', capture: { tables: ['a.b'], topicPrefix: 'legacy.erp' } });
    expect(options).toMatchObject({ name: 'erp', topicPrefix: 'legacy.erp.', dlqTopic: 'dead', slotName: 'strangler_erp', capture: { topicPrefix: 'legacy.erp' } });
  });

  it('parses its own output again unchanged (createRelay and --config re-parse)', () => {
    const options = parseRelayOptions({ ...base, mode: 'tables', capture: { tables: ['a.b'], origin: 'erp' } });
    expect(parseRelayOptions(JSON.parse(JSON.stringify(options)))).toEqual(options);
  });

  it('reports every problem at once with its path', () => {
    expect(
      issues({
        ...base,
        mode: 'tables',
        schema: 'app',
        topicPrefix: 'x.',
        migrate: true,
        capture: { tables: ['ok.table', 'bad"name', ' spaced'], topicPrefix: 'trailing.', origin: '', decimalHandlingMode: 'exact', unknownKey: 1 },
      }).map((issue) => issue.path),
    ).toEqual(
      expect.arrayContaining(['capture.tables.1', 'capture.tables.2', 'capture.topicPrefix', 'capture.origin', 'capture.decimalHandlingMode', 'capture.unknownKey', 'schema', 'topicPrefix', 'migrate']),
    );
  });

  it('requires capture in mode tables, with at least one table, and refuses it in other modes', () => {
    expect(issues({ ...base, mode: 'tables' })).toEqual([{ path: 'capture', message: expect.stringMatching(/required/) }]);
    expect(issues({ ...base, mode: 'tables', capture: { tables: [] } }).map((issue) => issue.path)).toEqual(['capture.tables']);
    expect(issues({ ...base, mode: 'cdc', capture: { tables: ['a.b'] } })).toEqual([{ path: 'capture', message: expect.stringMatching(/only applies to mode 'tables'/) }]);
  });

  it('leaves cdc and polling defaults as they were', () => {
    expect(parseRelayOptions(base)).toMatchObject({ name: 'outbox', mode: 'cdc', topicPrefix: 'outbox.event.', slotName: 'strangler_outbox', migrate: true });
    expect(parseRelayOptions(base).capture).toBeUndefined();
  });
});

describe('strangler relay --mode tables: configuration layers', () => {
  it('flags over the config file over the environment; the outbox variables stay out of mode tables', () => {
    const env = { CAPTURE_TABLES: 'a.one, a.two', CAPTURE_ORIGIN: 'erp', OUTBOX_SCHEMA: 'app', OUTBOX_TOPIC_PREFIX: 'o.', OUTBOX_HEADER_PLACEMENT: 'json' };
    const input = relayInput(env, { capture: { topicPrefix: 'file', origin: 'file-origin' } }, { mode: 'tables', tables: 'b.three', publication: 'owners_pub' });
    expect(input).toMatchObject({ mode: 'tables', publicationName: 'owners_pub', capture: { tables: ['b.three'], topicPrefix: 'file', origin: 'file-origin' } });
    expect(input).not.toHaveProperty('schema');
    expect(input).not.toHaveProperty('topicPrefix');
    expect(input).not.toHaveProperty('headerPlacement');
    expect(parseRelayOptions(input).capture).toMatchObject({ tables: ['b.three'], topicPrefix: 'file', origin: 'file-origin' });
  });

  it('takes the tables from CAPTURE_TABLES when mode tables comes from the environment', () => {
    const input = relayInput({ OUTBOX_RELAY_MODE: 'tables', CAPTURE_TABLES: 'x.y', CAPTURE_TOPIC_PREFIX: 'env' }, {}, {});
    expect(parseRelayOptions(input).capture).toMatchObject({ tables: ['x.y'], topicPrefix: 'env' });
  });
});
