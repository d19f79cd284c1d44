import type { CollectionSpec, RecordDoc, RecordDriver } from '../../ports/record-driver.js';
import { COLLECTIONS, CUSTOMERS } from '../records/collections.js';

/** The customer fields only customer management writes (a sync's own fields travel with the customers themselves). */
const MANAGEMENT = ['accountType', 'origin', 'openRequests', 'closedRequests', 'needsMigrationTo', 'successorKey', 'migrationTo', 'migrationDone', 'invitationStatus', 'invitation'] as const;
const PAGE = 1000;

export interface RecordsCopy {
  readonly customers: number;
  readonly [collection: string]: number;
}

/**
 * For `store migrate-from`, after the customers are copied: their management fields, then requests,
 * history and directory addresses. Idempotent: records the target has are left as they are.
 */
export async function copyCustomerRecords(from: RecordDriver, to: RecordDriver): Promise<RecordsCopy> {
  const counts: Record<string, number> = { customers: 0 };
  await pages(from, CUSTOMERS, async (docs) => {
    const updates = docs.filter((d) => MANAGEMENT.some((f) => d[f] !== null)).map((d) => ({ key: CUSTOMERS.key.map((k) => String(d[k])), set: Object.fromEntries(MANAGEMENT.map((f) => [f, d[f] ?? null])) }));
    counts['customers'] = (counts['customers'] ?? 0) + (await to.updateEach(CUSTOMERS, updates));
  });
  for (const spec of COLLECTIONS.filter((s) => s !== CUSTOMERS)) {
    counts[spec.name] = 0;
    await pages(from, spec, async (docs) => {
      counts[spec.name] = (counts[spec.name] ?? 0) + (await to.insertMany(spec, docs));
    });
  }
  return counts as RecordsCopy;
}

async function pages(driver: RecordDriver, spec: CollectionSpec, fn: (docs: RecordDoc[]) => Promise<void>): Promise<void> {
  const sort = spec.key.map((field) => ({ field, order: 'asc' as const }));
  for (let skip = 0; ; skip += PAGE) {
    const docs = await driver.find(spec, {}, { sort, skip, limit: PAGE });
    if (docs.length > 0) await fn(docs);
    if (docs.length < PAGE) return;
  }
}
