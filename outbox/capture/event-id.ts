/**
 * UUID v5 (SHA-1 of a namespace and a name, RFC 9562) for the captured changes' ids. SHA-1 is computed here in
 * JavaScript: for the ~100 bytes of a change's name it costs a fraction of a microsecond, where a call into
 * node:crypto costs a few (the binding, the Hash object, the digest Buffer); test/outbox/capture-event-id.test.ts
 * compares it with node:crypto.
 */

const words = new Int32Array(80);
let scratch = Buffer.allocUnsafe(256);
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

const hex32 = (word: number) => HEX[word >>> 24]! + HEX[(word >>> 16) & 0xff]! + HEX[(word >>> 8) & 0xff]! + HEX[word & 0xff]!;

/** SHA-1 of `length` bytes of `data` (which has room for the padding: 72 bytes past `length`), as five words. */
function sha1Words(data: Buffer, length: number): [number, number, number, number, number] {
  const blocks = ((length + 8) >>> 6) + 1;
  const end = blocks * 64;
  data[length] = 0x80;
  data.fill(0, length + 1, end - 4);
  data.writeUInt32BE((length * 8) >>> 0, end - 4);
  data.writeUInt32BE(Math.floor((length * 8) / 2 ** 32), end - 8);
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  for (let offset = 0; offset < end; offset += 64) {
    for (let index = 0; index < 16; index += 1) {
      const at = offset + index * 4;
      words[index] = (data[at]! << 24) | (data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!;
    }
    for (let index = 16; index < 80; index += 1) {
      const word = words[index - 3]! ^ words[index - 8]! ^ words[index - 14]! ^ words[index - 16]!;
      words[index] = (word << 1) | (word >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let index = 0; index < 80; index += 1) {
      let mixed: number;
      if (index < 20) mixed = ((b & c) | (~b & d)) + 0x5a827999;
      else if (index < 40) mixed = (b ^ c ^ d) + 0x6ed9eba1;
      else if (index < 60) mixed = ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc;
      else mixed = (b ^ c ^ d) + 0xca62c1d6;
      const next = (((a << 5) | (a >>> 27)) + mixed + e + words[index]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = next;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  return [h0, h1, h2, h3, h4];
}

/** SHA-1 of the bytes, as node:crypto's digest gives it (for the tests and for anyone who wants the whole hash). */
export function sha1(bytes: Uint8Array): Buffer {
  const data = Buffer.allocUnsafe(bytes.length + 72);
  data.set(bytes);
  const digest = Buffer.allocUnsafe(20);
  sha1Words(data, bytes.length).forEach((word, index) => digest.writeInt32BE(word, index * 4));
  return digest;
}

/** The UUID v5 of `name` (UTF-8) in the namespace whose 16 bytes are given. */
export function uuidV5(namespace: Buffer, name: string): string {
  const length = 16 + Buffer.byteLength(name);
  if (scratch.length < length + 72) scratch = Buffer.allocUnsafe(2 * (length + 72));
  namespace.copy(scratch, 0, 0, 16);
  scratch.write(name, 16);
  const [h0, h1, h2, h3] = sha1Words(scratch, length);
  const versioned = (h1 & ~0xf000) | 0x5000; // version 5 in the 7th byte's high nibble
  const variant = (h2 & 0x3fffffff) | 0x80000000; // variant 10 in the 9th byte's two high bits
  const second = hex32(versioned);
  const third = hex32(variant);
  return `${hex32(h0)}-${second.slice(0, 4)}-${second.slice(4)}-${third.slice(0, 4)}-${third.slice(4)}${hex32(h3)}`;
}
