import type { RequestRecord } from '../../core/customer-model.js';
import type { RecordDriver } from '../../ports/record-driver.js';
import { REQUESTS } from '../records/collections.js';
import { IN_CHUNK, type CustomerStore } from './customer-store.js';

export interface UpsertResult {
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
  /** Customers whose request counts changed (old and new reporters). */
  readonly reporters: readonly string[];
}

/**
 * Requests, written once over the record driver: idempotent by request id (a repeated import writes
 * nothing new), moved in bulk from one customer to another, and counted per customer onto the
 * customers themselves (so that the list can sort by open requests in the store).
 */
export function createRequestStore(driver: RecordDriver, customers: CustomerStore) {
  const store = {
    async byIds(ids: readonly string[]): Promise<Map<string, RequestRecord>> {
      const out = new Map<string, RequestRecord>();
      for (let i = 0; i < ids.length; i += IN_CHUNK) {
        for (const doc of await driver.find(REQUESTS, { id: { $in: ids.slice(i, i + IN_CHUNK) } })) out.set(doc['id'] as string, toRequest(doc));
      }
      return out;
    },

    /** New requests are inserted, changed ones updated, the rest left alone; then the counts of every reporter touched are set again. */
    async upsert(requests: readonly RequestRecord[], now: string, batchSize = 1000): Promise<UpsertResult> {
      let created = 0;
      let updated = 0;
      let unchanged = 0;
      const reporters = new Set<string>();
      for (let i = 0; i < requests.length; i += batchSize) {
        const batch = requests.slice(i, i + batchSize);
        const existing = await store.byIds(batch.map((r) => r.id));
        const fresh = batch.filter((r) => !existing.has(r.id));
        const changed = batch.filter((r) => {
          const old = existing.get(r.id);
          return old !== undefined && (old.reporterKey !== r.reporterKey || old.status !== r.status || old.createdAt !== r.createdAt || old.resolvedAt !== r.resolvedAt);
        });
        created += await driver.insertMany(REQUESTS, fresh.map((r) => ({ ...r, updatedAt: now })));
        await driver.updateEach(
          REQUESTS,
          changed.map((r) => ({ key: [r.id], set: { reporterKey: r.reporterKey, status: r.status, createdAt: r.createdAt, resolvedAt: r.resolvedAt, updatedAt: now } })),
        );
        updated += changed.length;
        unchanged += batch.length - fresh.length - changed.length;
        for (const r of [...fresh, ...changed]) reporters.add(r.reporterKey);
        for (const r of changed) reporters.add((existing.get(r.id) as RequestRecord).reporterKey);
      }
      await store.recount([...reporters]);
      return { created, updated, unchanged, reporters: [...reporters].sort() };
    },

    /** Re-points every request of `from` to `to` (and remembers where each came from). */
    async move(from: string, to: string, now: string): Promise<number> {
      return driver.updateMany(REQUESTS, { reporterKey: from }, { reporterKey: to, movedFrom: from, updatedAt: now });
    },

    async countMovedFrom(from: string): Promise<number> {
      return driver.count(REQUESTS, { movedFrom: from });
    },

    async ownedBy(key: string): Promise<RequestRecord[]> {
      return (await driver.find(REQUESTS, { reporterKey: key }, { sort: [{ field: 'createdAt', order: 'asc' }, { field: 'id', order: 'asc' }] })).map(toRequest);
    },

    /** Sets open and closed counts on these customers from their requests (zero is stored as nothing). */
    async recount(keys: readonly string[]): Promise<void> {
      const unique = [...new Set(keys)];
      for (let i = 0; i < unique.length; i += IN_CHUNK) {
        const chunk = unique.slice(i, i + IN_CHUNK);
        const counts = new Map(chunk.map((k) => [k, { open: 0, closed: 0 }]));
        for (const g of await driver.countBy(REQUESTS, { reporterKey: { $in: chunk } }, ['reporterKey', 'status'])) {
          const entry = counts.get(g.values['reporterKey'] as string);
          if (entry !== undefined) entry[g.values['status'] === 'closed' ? 'closed' : 'open'] += g.count;
        }
        await customers.updateEach([...counts].map(([key, c]) => ({ key, set: { openRequests: c.open === 0 ? null : c.open, closedRequests: c.closed === 0 ? null : c.closed } })));
      }
    },
  };
  return store;
}

export type RequestStore = ReturnType<typeof createRequestStore>;

function toRequest(doc: Record<string, unknown>): RequestRecord {
  return {
    id: doc['id'] as string,
    reporterKey: doc['reporterKey'] as string,
    status: doc['status'] === 'closed' ? 'closed' : 'open',
    createdAt: doc['createdAt'] as string,
    resolvedAt: (doc['resolvedAt'] as string | null) ?? null,
    source: (doc['source'] as string | null) ?? 'import',
  };
}
