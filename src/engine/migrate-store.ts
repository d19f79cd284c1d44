import type { SyncStore } from '../ports/store.js';
import { copyCustomerRecords, type RecordsCopy } from '../store/customers/copy-records.js';

export interface MigrationResult {
  readonly customers: number;
  readonly runs: number;
  readonly directories: number;
  /** Customer management: customers whose management fields were copied, requests, history, directory addresses. */
  readonly records: RecordsCopy;
}

/**
 * Copies everything a store holds (customers with their state, the run journal, per-directory state)
 * into another store. Idempotent: repeating it, whole or after an interruption, converges.
 */
export async function migrateStore(from: SyncStore, to: SyncStore, onProgress?: (customers: number) => void): Promise<MigrationResult> {
  let customers = 0;
  for await (const batch of from.exportCustomers(1000)) {
    await to.importCustomers(batch);
    customers += batch.length;
    onProgress?.(customers);
  }
  const runs = await from.listRuns({ limit: Number.MAX_SAFE_INTEGER });
  for (const run of runs) await to.recordRun(run);
  const states = await from.getDirectoryStates();
  for (const [id, state] of Object.entries(states)) await to.putDirectoryState(id, state);
  const records = await copyCustomerRecords(from.records, to.records);
  return { customers, runs: runs.length, directories: Object.keys(states).length, records };
}
