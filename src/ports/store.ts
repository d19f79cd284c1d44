import type { CurrentCustomer, CustomerRecord, DeactivationReason, PlanAction, SyncPlan } from '../core/model.js';
import type { IncrementalStore } from './incremental-store.js';
import type { ApplicationAccess } from './licence-source.js';
import type { RecordDriver } from './record-driver.js';

/** Who started a run: `cli`, `schedule` (serve's cron), `api` (POST /runs) or `console:USERNAME`. */
export type RunTrigger = 'cli' | 'schedule' | 'api' | `console:${string}`;

export interface LoadCurrentOptions {
  /**
   * The users this run read, by directory and externalId. A store may take a stored customer's
   * externalId, and its username when it is spelled the same, from the matching user instead of
   * keeping copies of its own: at a million customers that is some 80 MB fewer held while planning.
   * A hint only: what loadCurrent returns is equal with or without it.
   */
  readonly readUsers?: (directoryId: string, externalId: string) => { readonly externalId: string; readonly username: string } | undefined;
}

/**
 * The store port, shaped to the domain. Every adapter passes test/helpers/store-conformance.ts unchanged.
 *
 * - `loadCurrent` is compact (ids, username, content hash, state): never whole documents.
 * - `applyActions` is idempotent and needs no multi-document transaction: writes are upserts keyed by
 *   (directoryId, externalId), so repeating an apply, whole or after a crash half-way, converges.
 *   It refuses (ERR_STORE_INVARIANT) any customer carrying a licensed group, before writing anything
 *   of that call; the adapters also refuse such a write at the storage layer, whoever makes it.
 * - With `fence`, every write command (each chunk of a batch) is refused (ERR_LEASE_LOST) once a
 *   lease's token has moved on: a writer stops at its first write after its lease moved on.
 * - `revision` grows with every applied batch and every customer write outside a sync (invitations,
 *   signups, migrations); saved and held plans compare it to detect a changed store.
 */
export interface SyncStore {
  readonly kind: 'sqlite' | 'mongodb';
  /** Where the data lives, for people (never with credentials). */
  readonly label: string;
  /** The same store's records for the customer-management operations (src/store/customers/). */
  readonly records: RecordDriver;
  /** The normalised directory snapshots and scoped customer loads of incremental runs. */
  readonly incremental: IncrementalStore;
  loadCurrent(options?: LoadCurrentOptions): Promise<CurrentCustomer[]>;
  revision(): Promise<number>;
  applyActions(actions: readonly PlanAction[], options: ApplyOptions): Promise<ApplyResult>;
  /** Customers that carry a licensed group: must always be empty (the post-apply check). */
  findLicensedCustomers(licensedGroups: readonly string[], limit: number): Promise<StoredCustomer[]>;
  listCustomers(query: CustomerQuery): Promise<CustomerPage>;
  findByUsername(username: string): Promise<StoredCustomer[]>;
  recordRun(run: RunRecord): Promise<void>;
  listRuns(query: { readonly limit: number; readonly directoryId?: string }): Promise<RunRecord[]>;
  getDirectoryStates(): Promise<Record<string, DirectoryState>>;
  putDirectoryState(directoryId: string, state: DirectoryState): Promise<void>;
  /**
   * The last complete read of a licence source (Jira's application access), with its time: kept so
   * that a failed read later never shrinks the licensed set. Replaced whole.
   */
  saveLicenceRead(read: LicenceRead): Promise<void>;
  loadLicenceRead(source: LicenceRead['source']): Promise<LicenceRead | null>;
  /**
   * Widens the groups this store refuses on a customer (its own check and the storage-layer one) by
   * `groups`, for as long as it is open: the licence source's groups. Never narrows what it was opened with.
   */
  guardLicensedGroups(groups: readonly string[]): Promise<void>;
  /** Every customer, whole, in batches: for `store migrate-from`. */
  exportCustomers(batchSize: number): AsyncIterable<StoredCustomer[]>;
  /** Writes whole customers as they are (state and timestamps kept); idempotent. */
  importCustomers(customers: readonly StoredCustomer[]): Promise<void>;
  acquireLease(request: LeaseRequest): Promise<LeaseResult>;
  renewLease(lease: Lease, ttlMs: number): Promise<boolean>;
  releaseLease(lease: Lease): Promise<void>;
  /** Who holds a lease now, without claiming it (the console's directories page); null when it is free. */
  peekLease(name: string): Promise<{ readonly holder: string; readonly expiresAt: string } | null>;
  /** Removes expired leases whose name starts with `prefix` (per-tick claims of the scheduler). */
  pruneLeases(prefix: string): Promise<number>;
  close(): Promise<void>;
}

export interface ApplyOptions {
  readonly runId: string;
  /** ISO timestamp written as updatedAt / deactivatedAt. */
  readonly now: string;
  readonly fence?: readonly Lease[];
  readonly batchSize?: number;
  /** Called after each committed batch (progress, lease renewal). */
  readonly onBatch?: (written: number) => void | Promise<void>;
  /**
   * Called after each write command the store sends (a batch goes out in several chunks on MongoDB;
   * the embedded store writes a batch at once). With `written` so far. Tests pause a writer here.
   */
  readonly onChunk?: (written: number) => void | Promise<void>;
  /** Once aborted, nothing more is written: checked before every write command, as the fence is. */
  readonly signal?: AbortSignal;
}

export interface ApplyResult {
  readonly written: number;
}

export interface StoredCustomer extends CustomerRecord {
  readonly active: boolean;
  readonly deactivatedReason: DeactivationReason | null;
  readonly deactivatedAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly lastRunId: string | null;
}

export interface CustomerQuery {
  /** Matches username, e-mail or display name, case-insensitively, as a substring. */
  readonly search?: string;
  readonly directoryId?: string;
  readonly state?: 'active' | 'inactive' | 'all';
  /** 1-based. */
  readonly page?: number;
  readonly pageSize?: number;
}

export interface CustomerPage {
  readonly items: StoredCustomer[];
  readonly total: number;
  readonly page: number;
  readonly pageSize: number;
}

export const DEFAULT_PAGE_SIZE = 20;

/**
 * `withheld`: applied, but deactivations were held back (a suspect read, an incremental read) and
 * wait for review. `lease-lost`: the run's lease moved on before it finished (it wrote nothing after).
 */
export type RunOutcome = 'success' | 'partial' | 'withheld' | 'failed' | 'rejected' | 'dry-run' | 'skipped' | 'lease-lost';

export interface RunRecord {
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly outcome: RunOutcome;
  /** Who ran it: host, process id, trigger (a held plan approved in the console is its approver's run). */
  readonly actor: { readonly host: string; readonly pid: number; readonly trigger: RunTrigger };
  readonly directories: SyncPlan['directories'];
  readonly summary: SyncPlan['summary'] | null;
  readonly seatLeaks: SyncPlan['seatLeaks'];
  readonly violations: SyncPlan['violations'];
  /** Missing customer groups and unresolved member references (absent from records of older versions). */
  readonly warnings?: SyncPlan['warnings'];
  readonly written: number;
  /** The post-apply re-check of the invariant: no stored customer carries a licensed group. */
  readonly verification: 'passed' | 'failed' | 'not-run';
  readonly error: { readonly code: string; readonly message: string } | null;
  /** Where the run's licensed set came from and whether it was stale (absent from older records, and before it was known). */
  readonly licensing?: RunLicensing;
}

/** A run's licensed set: the configured list, or Jira's access groups plus it (read now, or stale). */
export interface RunLicensing {
  readonly source: 'config' | 'jira';
  readonly status: 'configured' | 'read' | 'stale' | 'unsupported';
  readonly label: string | null;
  readonly readAt: string | null;
  readonly licensedGroups: readonly string[];
  readonly warnings: readonly string[];
}

export interface DirectoryState {
  /** User count of the last complete read that was not suspect (the count-drop gate's reference). */
  readonly lastTrustedUsers?: number;
  readonly lastTrustedAt?: string;
  /**
   * The directory's stored customers (active and not) after the last apply. A sync never deletes one,
   * so a store holding far fewer was emptied around dirbridge (ERR_STORE_SUSPECT).
   */
  readonly customers?: number;
}

export interface LicenceRead {
  readonly source: 'jira';
  /** Where it was read (the Jira base URL), for people. */
  readonly label: string;
  readonly readAt: string;
  readonly applications: readonly ApplicationAccess[];
}

export interface LeaseRequest {
  readonly name: string;
  readonly owner: string;
  readonly ttlMs: number;
}

/** A held lease. `token` grows with every acquisition: the fencing token. */
export interface Lease {
  readonly name: string;
  readonly owner: string;
  readonly token: number;
  readonly expiresAt: string;
}

export type LeaseResult =
  | { readonly acquired: true; readonly lease: Lease }
  | { readonly acquired: false; readonly holder: string; readonly expiresAt: string };

export function leaseNameFor(directoryId: string): string {
  return `sync:${directoryId}`;
}
