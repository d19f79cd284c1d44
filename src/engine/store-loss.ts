import type { CurrentCustomer } from '../core/model.js';
import { DirbridgeError } from '../errors.js';
import type { DirectoryState, RunRecord } from '../ports/store.js';

export interface StoreLossInput {
  /** The directories this run reads. */
  readonly directoryIds: readonly string[];
  /** Every stored customer (loadCurrent). */
  readonly current: readonly CurrentCustomer[];
  /** Stored customers per directory, when `current` holds only some of them (an incremental run). */
  readonly stored?: ReadonlyMap<string, number> | undefined;
  readonly states: Readonly<Record<string, DirectoryState>>;
  /** The latest journal entry of a run that applied, for stores whose directory state predates the customer counts. */
  readonly lastApplied: RunRecord | undefined;
  /** safety.countDropPercent: how much smaller than recorded the store may be before it is suspect. */
  readonly dropPercent: number;
}

/**
 * A sync never hard-deletes a customer, so a directory's stored customers only grow between syncs.
 * When the directory state (the customer count recorded after the last apply), or for older stores the
 * journal, says customers existed and the store now holds none or far fewer (more than
 * `dropPercent` fewer), the store was emptied, dropped or restored from something else around
 * dirbridge: recreating everyone would silently lose every deactivated record and its history.
 * Returns what was lost, per directory, or null when the store looks whole.
 */
export function findStoreLoss(input: StoreLossInput): string | null {
  const stored = new Map<string, number>(input.stored ?? []);
  if (input.stored === undefined) for (const c of input.current) stored.set(c.directoryId, (stored.get(c.directoryId) ?? 0) + 1);
  const lost: string[] = [];
  for (const id of input.directoryIds) {
    const recorded = input.states[id]?.customers;
    if (recorded === undefined || recorded === 0) continue;
    const now = stored.get(id) ?? 0;
    if (now === 0 || now < recorded * (1 - input.dropPercent / 100)) lost.push(`${id}: ${now} stored, ${recorded} after the last sync`);
  }
  if (lost.length > 0) return lost.join('; ');
  // No counts recorded yet (a store written by an older version): the journal's last applied run.
  const counted = input.directoryIds.some((id) => input.states[id]?.customers !== undefined);
  const summary = input.lastApplied?.summary;
  const total = input.stored === undefined ? input.current.length : [...stored.values()].reduce((a, b) => a + b, 0);
  if (!counted && total === 0 && summary !== undefined && summary !== null) {
    const had = summary.unchanged + summary.update + summary.deactivate + summary.reactivate + summary.create;
    if (had > 0) return `the store holds no customers; the last applied run (${input.lastApplied?.runId ?? ''}) had ${had}`;
  }
  return null;
}

const APPLIED = new Set<RunRecord['outcome']>(['success', 'partial', 'withheld']);

export function lastAppliedRun(runs: readonly RunRecord[]): RunRecord | undefined {
  return runs.find((r) => APPLIED.has(r.outcome));
}

export function storeLossError(loss: string, storeLabel: string): DirbridgeError {
  return new DirbridgeError(
    'ERR_STORE_SUSPECT',
    `the store lost customers since the last sync (${loss}): it was emptied, dropped or replaced around dirbridge (${storeLabel}). ` +
      'Nothing was applied: recreating everyone would lose every deactivated customer and its history. Restore the store from a backup, ' +
      'or run `dirbridge sync --rebuild-store` to recreate the customers from the directories',
  );
}
