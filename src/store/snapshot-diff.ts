import { createHash } from 'node:crypto';

/**
 * What both stores share to save a whole snapshot as the difference from the rows they hold: rows of
 * the new snapshot sorted by key, and looked up by the keys of the stored rows as these are read (in
 * chunks, never all at once), so that each stored row is found unchanged, changed or gone, and the rows
 * never found are new. Stored rows that come in the same order are found one after the other; in any
 * other order (a server that sorts strings another way, or does not sort) by binary search: the order
 * only changes the speed, never the result.
 */
export class SortedRows<T> {
  readonly rows: readonly T[];
  private readonly keyOf: (row: T) => string;
  private readonly seen: Uint8Array;
  private next = 0;

  /** `rows` are sorted by key and unique (sortedUnique). */
  constructor(rows: readonly T[], keyOf: (row: T) => string) {
    this.rows = rows;
    this.keyOf = keyOf;
    this.seen = new Uint8Array(rows.length);
  }

  /** The index of the row with this key, marked as found; -1 when the new snapshot has none (the stored row is gone). */
  find(key: string): number {
    const at = this.next < this.rows.length && this.keyOf(this.rows[this.next] as T) === key ? this.next : this.search(key);
    if (at >= 0) {
      this.seen[at] = 1;
      this.next = at + 1;
    }
    return at;
  }

  /** Indexes of the rows no stored key named (the new rows), in key order. */
  *unseen(): Generator<number> {
    for (let i = 0; i < this.rows.length; i++) if (this.seen[i] === 0) yield i;
  }

  private search(key: string): number {
    let low = 0;
    let high = this.rows.length - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const k = this.keyOf(this.rows[mid] as T);
      if (k === key) return mid;
      if (k < key) low = mid + 1;
      else high = mid - 1;
    }
    return -1;
  }
}

/**
 * Rows sorted by key (UTF-16 order), one per key: of rows with the same key the last one is kept, as a
 * store writing them in turn would keep it. A new array of the same row objects, never copies of them.
 */
export function sortedUnique<T>(rows: readonly T[], keyOf: (row: T) => string): T[] {
  const sorted = [...rows].sort((a, b) => compare(keyOf(a), keyOf(b)));
  let kept = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (i + 1 < sorted.length && keyOf(sorted[i] as T) === keyOf(sorted[i + 1] as T)) continue;
    sorted[kept++] = sorted[i] as T;
  }
  sorted.length = kept;
  return sorted;
}

/** Sorted, without repeats: a group's members or children as a store keeps them. */
export function sortedSet(values: readonly string[]): string[] {
  const sorted = [...values].sort(); // the default sort: UTF-16 order, as compare()
  let kept = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[kept - 1]) sorted[kept++] = sorted[i] as string;
  sorted.length = kept;
  return sorted;
}

const HASH_CHUNK = 2000;

/**
 * A digest of a list of strings (a group's member ids, sorted), fed in chunks: a list of a third of a
 * million ids is never joined into one string. JSON keeps ids apart whatever characters they hold.
 */
export function listDigest(values: readonly string[]): string {
  const hash = createHash('sha1');
  for (let i = 0; i < values.length; i += HASH_CHUNK) hash.update(JSON.stringify(values.slice(i, i + HASH_CHUNK)));
  return hash.digest('base64');
}

/** A digest of one row's content (its canonical JSON text). */
export function textDigest(text: string): string {
  return createHash('sha1').update(text).digest('base64');
}

export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
