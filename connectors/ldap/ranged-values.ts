/**
 * Active Directory ranged attribute retrieval: a group with more members than the server's value
 * limit (MaxValRange, 1500) comes back as `member;range=0-1499` instead of `member`; the client asks
 * for `member;range=1500-*` and so on until a range ends in `*`. A group read any other way would look
 * short or empty.
 */
export type RangeFetcher = (dn: string, attribute: string) => Promise<Record<string, unknown>>;

const RANGE = /^(.+);range=(\d+)-(\d+|\*)$/i;

/** Every value of `attribute`, following ranges until the last one. */
export async function readRangedValues(entry: Record<string, unknown>, attribute: string, fetch: RangeFetcher): Promise<string[]> {
  const plain = entry[attribute] ?? findKey(entry, attribute);
  let ranged = findRanged(entry, attribute);
  if (ranged === null) return toStrings(plain);
  const values = [...toStrings(ranged.values)];
  let guard = 0;
  while (ranged.end !== '*') {
    if (++guard > 100_000) throw new Error(`ranged retrieval of ${attribute} on ${String(entry['dn'])} does not end`);
    const next = Number(ranged.end) + 1;
    const more = await fetch(String(entry['dn']), `${attribute};range=${next}-*`);
    const found = findRanged(more, attribute);
    if (found === null || found.start !== next) throw new Error(`ranged retrieval of ${attribute} on ${String(entry['dn'])} returned no range starting at ${next}`);
    values.push(...toStrings(found.values));
    ranged = found;
  }
  return values;
}

function findRanged(entry: Record<string, unknown>, attribute: string): { start: number; end: string; values: unknown } | null {
  for (const [key, values] of Object.entries(entry)) {
    const match = RANGE.exec(key);
    if (match !== null && (match[1] as string).toLowerCase() === attribute.toLowerCase()) {
      return { start: Number(match[2]), end: match[3] as string, values };
    }
  }
  return null;
}

function findKey(entry: Record<string, unknown>, attribute: string): unknown {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  return key === undefined ? undefined : entry[key];
}

function toStrings(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
}
