import type { SyncStore } from '../../src/ports/store.js';
import { COLLECTIONS } from '../../src/store/records/collections.js';

/** Everything a store holds for customers (every collection, in key order) and its revision: for "nothing was written". */
export async function dumpStore(store: SyncStore): Promise<unknown> {
  const out: Record<string, unknown> = { revision: await store.revision(), runs: await store.listRuns({ limit: 1000 }) };
  for (const spec of COLLECTIONS) out[spec.name] = await store.records.find(spec, {}, { sort: spec.key.map((field) => ({ field, order: 'asc' as const })) });
  return out;
}
