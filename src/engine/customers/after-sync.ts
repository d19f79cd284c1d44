import { customerKeyOf } from '../../core/customer-key.js';
import type { CustomerEvent } from '../../core/customer-model.js';
import { directoryAddresses } from '../../core/directory-addresses.js';
import type { DirectorySnapshot, PlanAction } from '../../core/model.js';
import type { LoadedConfig } from '../../config/load-config.js';
import { LOCAL_DIRECTORY } from '../../core/customer-key.js';
import type { CurrentCustomer } from '../../core/model.js';
import type { Logger } from '../../logger.js';
import type { SyncStore } from '../../ports/store.js';
import { refreshMigrationFlags } from '../../store/customers/migration-flags.js';
import { recordsFor } from './records.js';

/**
 * History lines written per call. Small on purpose: a batch is built, then written, and the larger it
 * is the more of it V8 has moved to the old generation before it is garbage. With a million-customer
 * plan held, a million lines in batches of 5,000 grew the heap by about 250 MB, in batches of 1,000 by
 * 10-250 MB (measured apart).
 */
const EVENT_BATCH = 1000;

/** What a sync plans over: the customers directories own (those no directory owns are never its business). */
export function directoryCustomers(current: readonly CurrentCustomer[]): CurrentCustomer[] {
  return current.filter((c) => c.directoryId !== LOCAL_DIRECTORY);
}

export interface AfterSyncInput {
  readonly runId: string;
  readonly now: string;
  readonly actions: readonly PlanAction[];
  /** Complete reads of this run (their group and licensed-user addresses are kept). */
  readonly snapshots: readonly DirectorySnapshot[];
  /**
   * Incremental reads of this run: the users their changes name, and those users' usernames before and
   * after (only their licensed-user addresses are brought up to date).
   */
  readonly scoped?: readonly { readonly snapshot: DirectorySnapshot; readonly usernames: readonly string[] }[];
  /** The run's licensed set (with Jira's access groups); the configured list when absent. */
  readonly licensedGroups?: readonly string[];
}

/**
 * After a sync applied its plan: each change goes into the customer's history, the addresses of the
 * directories read are kept for the customer rules, and portal-only customers whose address an account
 * now has are flagged `needs migration`. Derived data, refreshed by every run: a failure here is logged
 * and does not fail the sync.
 */
export async function afterSync(deps: { readonly store: SyncStore; readonly loaded: LoadedConfig; readonly logger: Logger }, input: AfterSyncInput): Promise<void> {
  const records = recordsFor(deps.store, deps.loaded);
  try {
    for (let i = 0; i < input.actions.length; i += EVENT_BATCH) {
      await records.customers.appendEvents(input.actions.slice(i, i + EVENT_BATCH).map((a) => syncEvent(a, input.runId, input.now)));
    }
    for (const snapshot of input.snapshots) {
      await records.addresses.replace(snapshot.directoryId, directoryAddresses(snapshot, input.licensedGroups ?? deps.loaded.config.licensing.licensedGroups));
    }
    for (const { snapshot, usernames } of input.scoped ?? []) {
      await records.addresses.replaceUsers(snapshot.directoryId, usernames, directoryAddresses(snapshot, input.licensedGroups ?? deps.loaded.config.licensing.licensedGroups));
    }
    const flags = await refreshMigrationFlags(records.customers, { now: input.now, runId: input.runId });
    if (flags.flagged > 0) deps.logger.info({ runId: input.runId, ...flags }, 'portal-only customers need migration: an account has their address');
  } catch (error) {
    deps.logger.warn({ runId: input.runId, err: (error as Error).message }, 'customer history, directory addresses or migration flags were not brought up to date; the next sync does it');
  }
}

/**
 * The history line of one action, as one object literal per kind: a million of them are made in a full
 * first sync, and an object spread from a shared base and then extended is about twice the size (its
 * added fields go to a separate property store), garbage that grew the heap by hundreds of MB.
 */
function syncEvent(action: PlanAction, runId: string, now: string): CustomerEvent {
  const target = action.kind === 'deactivate' ? action : action.customer;
  const key = customerKeyOf(target);
  switch (action.kind) {
    case 'create':
      return { id: `${runId}:${key}:created`, customerKey: key, at: now, kind: 'created', runId, actor: 'sync', detail: { directory: action.customer.directoryId, groups: action.customer.groups } };
    case 'reactivate':
      return { id: `${runId}:${key}:reactivated`, customerKey: key, at: now, kind: 'reactivated', runId, actor: 'sync', detail: null };
    case 'deactivate':
      return { id: `${runId}:${key}:deactivated`, customerKey: key, at: now, kind: 'deactivated', runId, actor: 'sync', detail: { reason: action.reason } };
    case 'update':
      return action.previousUsername === action.customer.username
        ? { id: `${runId}:${key}:updated`, customerKey: key, at: now, kind: 'updated', runId, actor: 'sync', detail: null }
        : { id: `${runId}:${key}:renamed`, customerKey: key, at: now, kind: 'renamed', runId, actor: 'sync', detail: { from: action.previousUsername, to: action.customer.username } };
  }
}
