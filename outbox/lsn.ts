/** Postgres LSNs ("16/B374D848") as bigints, for comparisons and arithmetic. */
export function parseLsn(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high ?? '0'}`) << 32n) | BigInt(`0x${low ?? '0'}`);
}

export function formatLsn(value: bigint): string {
  return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffffffffn).toString(16).toUpperCase()}`;
}

/**
 * pg-logical-replication reports `lsn + 1` as flushed. Postgres skips on restart every transaction whose commit
 * record starts before the flushed position, and the next commit record may start exactly at this one's end,
 * so we hand it `end - 1` to report exactly `end`.
 */
export function beforeLsn(lsn: string): string {
  const value = parseLsn(lsn);
  return formatLsn(value > 0n ? value - 1n : 0n);
}
