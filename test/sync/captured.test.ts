import {
  aggregateKeysOf,
  assertNoPlaceholder,
  capturedTopic,
  decideFromLegacy,
  decideFromService,
  keyTextOf,
  MappingInvalidError,
  parseMapping,
  PlaceholderValueError,
  qualifiedTableName,
  TOAST_PLACEHOLDER,
  UnsyncableEventError,
  type MappingIssue,
  type SyncState,
} from '../../sync';

function issuesOf(input: unknown): MappingIssue[] {
  try {
    parseMapping(input);
  } catch (error) {
    if (error instanceof MappingInvalidError) return error.issues;
    throw error;
  }
  throw new Error('expected the mapping to be rejected');
}

const legacy = { captured: true, table: 'lib.books', key: 'id', fields: { id: 'id', title: 'title', order: 'order' } };
const service = { table: 'titles', key: 'id', version: 'revision', origin: 'written_by', fields: { id: 'title_id', title: 'name', order: 'sort_order', revision: 'revision' } };

describe('captured mapping sides', () => {
  it('takes a captured legacy side without version or origin; the service version needs no source', () => {
    const mapping = parseMapping({ capture: { topicPrefix: 'shop' }, aggregates: { book: { owner: 'service', legacy, service } } });
    const book = mapping.aggregates.get('book')!;
    expect(mapping.capture).toEqual({ topicPrefix: 'shop' });
    expect(book.legacy).toMatchObject({ captured: true, versionField: undefined, versionColumn: undefined, originColumn: undefined });
    expect(book.service).toMatchObject({ captured: false, versionField: 'revision' });
    // The sync sets the service's version: the translation leaves it out.
    expect(book.toService({ id: 1, title: 'Dune', order: 3 })).toEqual({ id: 1, title: 'Dune', order: 3 });
    expect(book.toLegacy({ id: 1, title: 'Dune', order: 3, revision: 7 })).toEqual({ id: 1, title: 'Dune', order: 3 });
  });

  it('reports every captured-side problem at once, each with its path', () => {
    const issues = issuesOf({
      aggregates: {
        a: { owner: 'service', legacy: { ...legacy, version: 'id', origin: 'last_writer' }, service },
        b: { owner: 'service', legacy, service: { ...service, captured: true } },
        c: { owner: 'service', legacy: { ...legacy, captured: false }, service: { ...service, version: undefined } },
      },
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'capture.topicPrefix', message: expect.stringContaining('required when a side is captured (a, b)') },
        { path: 'aggregates.a.legacy.version', message: expect.stringContaining('a captured side has no version') },
        { path: 'aggregates.a.legacy.origin', message: expect.stringContaining('a captured side has no origin column') },
        { path: 'aggregates.b.service.captured', message: expect.stringContaining('only the legacy side can be captured') },
        { path: 'aggregates.c.legacy.version', message: expect.stringContaining('required') },
        { path: 'aggregates.c.service.version', message: expect.stringContaining('required') },
      ]),
    );
  });

  it('refuses a topic prefix Kafka cannot take', () => {
    expect(issuesOf({ capture: { topicPrefix: 'no spaces' }, aggregates: { book: { owner: 'service', legacy, service } } })).toEqual([
      { path: 'capture.topicPrefix', message: expect.stringContaining('topic prefix') },
    ]);
  });

  it('names captured topics <prefix>.<schema>.<table>, unqualified tables in public', () => {
    expect(qualifiedTableName('books')).toBe('public.books');
    expect(qualifiedTableName('Lib.Books')).toBe('lib.books');
    expect(capturedTopic('shop', 'lib.book_copies')).toBe('shop.lib.book_copies');
  });
});

describe('aggregate keys of captured changes', () => {
  const main = { table: 'lib.books', keyColumn: 'id', keyType: 'integer' };
  const joined = { table: 'lib.copies', keyColumn: 'book_id', keyType: 'bigint' };

  it('takes the key from after, or from before on a delete', () => {
    expect(aggregateKeysOf({ before: null, after: { id: 7, title: 'x' }, op: 'c' }, main)).toEqual(['7']);
    expect(aggregateKeysOf({ before: null, after: { id: 7, title: TOAST_PLACEHOLDER }, op: 'u' }, main)).toEqual(['7']);
    expect(aggregateKeysOf({ before: { id: 7 }, after: null, op: 'd' }, main)).toEqual(['7']);
  });

  it('names both aggregates when a joined row moves, and none for a tombstone', () => {
    expect(aggregateKeysOf({ before: { id: 1, book_id: 3 }, after: { id: 1, book_id: 4 }, op: 'u' }, joined)).toEqual(['4', '3']);
    expect(aggregateKeysOf({ before: { id: 1, book_id: 3 }, after: { id: 1, book_id: 3 }, op: 'u' }, joined)).toEqual(['3']);
    expect(aggregateKeysOf(null, joined)).toEqual([]);
  });

  it('refuses a delete whose record lacks the joined key column (replica identity DEFAULT without it)', () => {
    expect(() => aggregateKeysOf({ before: { id: 1 }, after: null, op: 'd' }, joined)).toThrow(UnsyncableEventError);
    expect(() => aggregateKeysOf('nonsense', joined)).toThrow(/not a change event envelope/);
  });

  it("reads keys of any type in Debezium's encodings", () => {
    expect(keyTextOf('b3c4a1de-0000-4000-8000-000000000001', 'uuid')).toBe('b3c4a1de-0000-4000-8000-000000000001');
    expect(keyTextOf('select', 'text')).toBe('select');
    expect(keyTextOf(9007199254740991, 'bigint')).toBe('9007199254740991');
    // decimal.handling.mode=precise: unscaled big-endian two's complement, base64; the scale comes from the column.
    expect(keyTextOf(Buffer.from([0x04, 0xd2]).toString('base64'), 'numeric(10,2)')).toBe('12.34');
    expect(keyTextOf(Buffer.from([0xfb, 0x2e]).toString('base64'), 'numeric(10,2)')).toBe('-12.34');
    expect(keyTextOf(Buffer.from([0x05]).toString('base64'), 'numeric(10,2)')).toBe('0.05');
    expect(keyTextOf({ scale: 1, value: Buffer.from([0x7b]).toString('base64') }, 'numeric')).toBe('12.3');
    expect(keyTextOf('12.30', 'numeric(10,2)')).toBe('12.30');
    expect(keyTextOf(12.5, 'numeric')).toBe('12.5');
    expect(keyTextOf(null, 'integer')).toBeUndefined();
    expect(() => keyTextOf(1_700_000_000_000, 'timestamp without time zone')).toThrow(/temporal keys/);
    expect(() => keyTextOf({ nested: true }, 'integer')).toThrow(UnsyncableEventError);
  });
});

describe('never a TOAST placeholder written', () => {
  it('refuses a document holding the placeholder anywhere, naming the field', () => {
    expect(() => assertNoPlaceholder({ id: 1, lines: [{ note: 'ok' }, { note: TOAST_PLACEHOLDER }] }, 'book 1 -> service')).toThrow(PlaceholderValueError);
    expect(() => assertNoPlaceholder({ id: 1, body: TOAST_PLACEHOLDER }, 'book 1')).toThrow(/field 'body'/);
    expect(() => assertNoPlaceholder({ id: 1, body: 'x'.repeat(5_000) }, 'book 1')).not.toThrow();
  });
});

describe('the conflict decision table', () => {
  const agreed: SyncState = { known: true, legacyHash: 'L0', serviceVersion: 5 };
  const fresh: SyncState = { known: false, legacyHash: null, serviceVersion: null };

  describe('legacy -> service (read-through)', () => {
    it.each([
      ['an echo or redelivery: legacy as agreed', { state: agreed, legacyHash: 'L0', serviceVersion: 9 }, { action: 'none', outcome: 'stale' }],
      ['a legacy update, service unmoved', { state: agreed, legacyHash: 'L1', serviceVersion: 5 }, { action: 'write', outcome: 'applied', state: { legacyHash: 'L1', serviceVersion: 6 } }],
      ['a legacy insert, never seen', { state: fresh, legacyHash: 'L1', serviceVersion: null }, { action: 'write', outcome: 'applied', state: { legacyHash: 'L1', serviceVersion: 1 } }],
      ['a legacy delete, service unmoved', { state: agreed, legacyHash: null, serviceVersion: 5 }, { action: 'delete', outcome: 'applied', state: { legacyHash: null, serviceVersion: null } }],
      ['the same content on both sides', { state: agreed, legacyHash: 'L1', serviceVersion: 6, serviceHash: 'L1' }, { action: 'none', outcome: 'stale', state: { legacyHash: 'L1', serviceVersion: 6 } }],
      ['both deleted', { state: agreed, legacyHash: null, serviceVersion: null, serviceHash: null }, { action: 'none', outcome: 'stale', state: { legacyHash: null, serviceVersion: null } }],
    ])('%s', (_name, input, expected) => {
      expect(decideFromLegacy({ legacyOwns: false, ...input })).toEqual(expected);
    });

    it.each([
      ['update_origin_differs', { state: agreed, legacyHash: 'L1', serviceVersion: 6, serviceHash: 'S6' }],
      ['insert_exists', { state: fresh, legacyHash: 'L1', serviceVersion: 2, serviceHash: 'S2' }],
      ['update_missing', { state: agreed, legacyHash: 'L1', serviceVersion: null, serviceHash: null }],
      ['delete_origin_differs', { state: agreed, legacyHash: null, serviceVersion: 6, serviceHash: 'S6' }],
    ])('%s: the owner wins, the loser is recorded', (kind, input) => {
      const serviceWins = decideFromLegacy({ ...input, legacyOwns: false });
      expect(serviceWins).toEqual({ action: 'none', outcome: 'conflict', conflict: { kind, kept: 'service' }, state: { legacyHash: input.legacyHash, serviceVersion: input.state.serviceVersion } });
      const legacyWins = decideFromLegacy({ ...input, legacyOwns: true });
      expect(legacyWins).toMatchObject({ outcome: 'conflict', conflict: { kind, kept: 'legacy' }, action: input.legacyHash === null ? 'delete' : 'write' });
      if (input.legacyHash !== null) expect(legacyWins.state).toEqual({ legacyHash: 'L1', serviceVersion: (input.serviceVersion ?? 0) + 1 });
    });

    it('backfill copies over a service row the sync never saw, but not over a concurrent service write', () => {
      expect(decideFromLegacy({ state: fresh, legacyHash: 'L1', serviceVersion: 3, serviceHash: 'old', legacyOwns: false, backfill: true })).toEqual({ action: 'write', outcome: 'applied', state: { legacyHash: 'L1', serviceVersion: 4 } });
      expect(decideFromLegacy({ state: agreed, legacyHash: 'L1', serviceVersion: 6, serviceHash: 'S6', legacyOwns: false, backfill: true }).outcome).toBe('conflict');
    });
  });

  describe('service -> legacy (write-back)', () => {
    it.each([
      ['an old version', { state: agreed, version: 5, targetHash: 'T', legacyHash: 'L9' }, { action: 'none', outcome: 'stale' }],
      ['a newer version, legacy unchanged', { state: agreed, version: 6, targetHash: 'T', legacyHash: 'L0' }, { action: 'write', outcome: 'applied', state: { legacyHash: 'T', serviceVersion: 6 } }],
      ['a service delete, legacy unchanged', { state: agreed, version: 6, targetHash: null, legacyHash: 'L0' }, { action: 'delete', outcome: 'applied', state: { legacyHash: null, serviceVersion: 6 } }],
      ['a re-apply after a crash between the commits', { state: agreed, version: 6, targetHash: 'T', legacyHash: 'T' }, { action: 'none', outcome: 'stale', state: { legacyHash: 'T', serviceVersion: 6 } }],
      ['a new aggregate of the service', { state: fresh, version: 1, targetHash: 'T', legacyHash: null }, { action: 'write', outcome: 'applied', state: { legacyHash: 'T', serviceVersion: 1 } }],
    ])('%s', (_name, input, expected) => {
      expect(decideFromService({ legacyOwns: false, ...input })).toEqual(expected);
    });

    it.each([
      ['update_origin_differs', { state: agreed, version: 6, targetHash: 'T', legacyHash: 'L1' }],
      ['insert_exists', { state: fresh, version: 1, targetHash: 'T', legacyHash: 'L1' }],
      ['update_missing', { state: agreed, version: 6, targetHash: 'T', legacyHash: null }],
      ['delete_origin_differs', { state: agreed, version: 6, targetHash: null, legacyHash: 'L1' }],
    ])('%s: the owner wins, the loser is recorded', (kind, input) => {
      const serviceWins = decideFromService({ ...input, legacyOwns: false });
      expect(serviceWins).toEqual({ action: input.targetHash === null ? 'delete' : 'write', outcome: 'conflict', conflict: { kind, kept: 'service' }, state: { legacyHash: input.targetHash, serviceVersion: input.version } });
      const legacyWins = decideFromService({ ...input, legacyOwns: true });
      expect(legacyWins).toEqual({ action: 'none', outcome: 'conflict', conflict: { kind, kept: 'legacy' }, state: { legacyHash: input.state.legacyHash, serviceVersion: input.version } });
    });
  });

  it('converges whichever direction sees a concurrent pair first (service owns)', () => {
    // Agreed at (L0, 5). Legacy writes L1, the service writes v6 (its document leaves T6 in legacy).
    // Order A: legacy's change first -> conflict kept service; then the service's event applies.
    const a1 = decideFromLegacy({ state: agreed, legacyHash: 'L1', serviceVersion: 6, serviceHash: 'T6', legacyOwns: false });
    const a2 = decideFromService({ state: { known: true, ...a1.state! }, version: 6, targetHash: 'T6', legacyHash: 'L1', legacyOwns: false });
    expect([a1.outcome, a2.outcome, a2.action]).toEqual(['conflict', 'applied', 'write']);
    // Order B: the service's event first -> conflict kept service (written); then legacy's change reads back as stale.
    const b1 = decideFromService({ state: agreed, version: 6, targetHash: 'T6', legacyHash: 'L1', legacyOwns: false });
    const b2 = decideFromLegacy({ state: { known: true, ...b1.state! }, legacyHash: 'T6', serviceVersion: 6, legacyOwns: false });
    expect([b1.outcome, b1.action, b2.outcome]).toEqual(['conflict', 'write', 'stale']);
  });

  it('converges whichever direction sees a concurrent pair first (legacy owns)', () => {
    const a1 = decideFromLegacy({ state: agreed, legacyHash: 'L1', serviceVersion: 6, serviceHash: 'T6', legacyOwns: true });
    const a2 = decideFromService({ state: { known: true, ...a1.state! }, version: 6, targetHash: 'T6', legacyHash: 'L1', legacyOwns: true });
    expect([a1.outcome, a1.action, a2.outcome]).toEqual(['conflict', 'write', 'stale']);
    const b1 = decideFromService({ state: agreed, version: 6, targetHash: 'T6', legacyHash: 'L1', legacyOwns: true });
    const b2 = decideFromLegacy({ state: { known: true, ...b1.state! }, legacyHash: 'L1', serviceVersion: 6, legacyOwns: true });
    expect([b1.outcome, b1.action, b2.outcome, b2.action]).toEqual(['conflict', 'none', 'applied', 'write']);
  });
});
