import { createHash, randomBytes } from 'node:crypto';
import { sha1, uuidV5 } from '../../outbox/capture/event-id';

/** UUID v5 as RFC 9562 defines it, through node:crypto. */
function reference(namespace: Buffer, name: string): string {
  const bytes = createHash('sha1').update(namespace).update(name).digest();
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

describe('capture event ids: SHA-1 and UUID v5 in JavaScript', () => {
  it('SHA-1 equals node:crypto for every length around the block boundaries', () => {
    for (let length = 0; length < 300; length += 1) {
      const bytes = randomBytes(length);
      expect(sha1(bytes).toString('hex')).toBe(createHash('sha1').update(bytes).digest('hex'));
    }
    expect(sha1(Buffer.from('abc')).toString('hex')).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
  });

  it('UUID v5 equals the RFC construction, for ASCII and multi-byte names, short and long', () => {
    const namespace = Buffer.from('6ba7b8109dad11d180b400c04fd430c8', 'hex'); // RFC 9562's DNS namespace
    expect(uuidV5(namespace, 'www.example.com')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
    const names = ['', 'shop/290226080/inventory.order_lines/u/{"order_id":1,"line_no":1}', 'ключ/✓', 'x'.repeat(1_000)];
    for (let index = 0; index < 500; index += 1) names.push(`db/${index * 7919}/s.t/c/{"id":${index}}`);
    for (const name of names) expect(uuidV5(namespace, name)).toBe(reference(namespace, name));
  });
});
