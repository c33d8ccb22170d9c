/**
 * PostgreSQL WAL positions (`pg_lsn`, written `16/B374D848`: the high and low 32 bits in hex) as
 * bigints, which compare and sort as the positions do. Undefined for NULL or anything else.
 */
export function parseWalPosition(text: unknown): bigint | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) return undefined;
  const high = text.slice(0, slash);
  const low = text.slice(slash + 1);
  if (!/^[0-9A-Fa-f]{1,8}$/.test(high) || !/^[0-9A-Fa-f]{1,8}$/.test(low)) return undefined;
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

/** A position as PostgreSQL writes it (`16/B374D848`). */
export function formatWalPosition(position: bigint): string {
  return `${(position >> 32n).toString(16).toUpperCase()}/${(position & 0xffffffffn).toString(16).toUpperCase()}`;
}
