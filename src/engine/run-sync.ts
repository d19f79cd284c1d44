import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { LOCAL_DIRECTORY } from '../core/customer-key.js';
import { customerKey, type CurrentCustomer, type DirectorySnapshot, type DirectoryUser, type SyncPlan, type SyncPolicy } from '../core/model.js';
import { planSync, type ScopedRead } from '../core/plan-sync.js';
import { policyFingerprint } from '../core/policy-fingerprint.js';
import type { SnapshotRowChange, SnapshotWrites } from '../ports/incremental-store.js';
import { policyFromConfig, type LoadedConfig } from '../config/load-config.js';
import type { DirectoryConfig } from '../config/schema.js';
import { DirbridgeError, isDirbridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import {
  isIncremental,
  type ChangeSet,
  type CursorResult,
  type DirectoryConnector,
  type FetchOptions,
  type IncrementalConnector,
  type ReadOptions,
  type StoredSnapshotView,
} from '../ports/directory-connector.js';
import { appliedOutcome, withheldError } from './run-outcome.js';
import { leaseNameFor, type Lease, type LoadCurrentOptions, type RunOutcome, type RunRecord, type SyncStore } from '../ports/store.js';
import { afterSync, directoryCustomers } from './customers/after-sync.js';
import { damageWarnings, withWarnings } from './store-damage.js';
import { findStoreLoss, lastAppliedRun, storeLossError } from './store-loss.js';
import { licensingSummary, licensingViolations, resolveLicensing, withLicensing, type Licensing, type LicensingSummary } from './licensing.js';
import type { LicenceSource } from '../ports/licence-source.js';
import { collectAtPhaseBoundary } from './phase-memory.js';

export interface EngineDeps {
  readonly loaded: LoadedConfig;
  readonly store: SyncStore;
  readonly openConnector: (dir: DirectoryConfig) => Promise<DirectoryConnector>;
  readonly logger: Logger;
  readonly clock?: () => Date;
  readonly trigger?: RunRecord['actor']['trigger'];
  readonly onProgress?: (text: string) => void;
  /**
   * Stops a run (`serve` past its grace period): reads end at once, the apply loop after the batch
   * it is writing (every batch is idempotent, so the next run completes it). The run is recorded as
   * failed with the signal's reason (ERR_RUN_ABORTED) and rejects with it.
   */
  readonly signal?: AbortSignal;
  /** Opens the licence source (licensing.source: jira); by default the Jira licensing.jira describes. */
  readonly openLicenceSource?: () => Promise<LicenceSource>;
}

export interface SyncOptions {
  readonly directoryIds?: readonly string[];
  readonly dryRun?: boolean;
  readonly allowDeactivations?: number;
  /** `incremental`: directories that can read changes (Crowd, LDAP) read only what changed since the last sync. */
  readonly mode?: ReadMode;
  /** Accept a store that lost customers (ERR_STORE_SUSPECT) and recreate them from the directories. */
  readonly rebuildStore?: boolean;
}

export interface SyncResult {
  readonly runId: string;
  readonly outcome: RunOutcome;
  readonly plan: SyncPlan;
  readonly written: number;
  readonly failures: readonly { readonly directoryId: string; readonly code: string; readonly message: string }[];
  /** The store revision the plan was made against (saved plans check it). */
  readonly storeRevision: number;
  readonly reads: readonly DirectoryRead[];
  /** Where the licensed set came from, and whether it is stale (Jira could not be read). */
  readonly licensing?: LicensingSummary;
}

export function leaseTtlMs(loaded: LoadedConfig): number {
  return loaded.config.store.leaseTtlSeconds * 1000;
}

export function newRunId(now: Date): string {
  return `run-${now.toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
}

/** fetch → load → plan → refuse or apply → verify the invariant → record the run. */
export async function runSync(deps: EngineDeps, options: SyncOptions = {}): Promise<SyncResult> {
  const clock = deps.clock ?? (() => new Date());
  const startedAt = clock();
  const runId = newRunId(startedAt);
  const log = deps.logger.child({ runId });
  const dirs = selectDirectories(deps.loaded, options.directoryIds);
  let recorded = false;
  const recordRun = recorder(deps, runId, startedAt);
  const record: Recorder = async (fields) => {
    recorded = true;
    await recordRun(fields);
  };

  const ttlMs = leaseTtlMs(deps.loaded);
  const leases = options.dryRun === true ? [] : await acquireLeases(deps, dirs, ttlMs, record);
  const heartbeat = keepAlive(deps.store, leases, ttlMs, log);
  deps = withSignal(deps, heartbeat.signal);
  let unreachable = false;
  try {
    const licensing = await licensingForRun(deps, options.dryRun !== true, record);
    recordRun.licensing = licensingSummary(licensing);
    const policy = withLicensing(policyFromConfig(deps.loaded.config), licensing);
    const read = await readSnapshots(deps, dirs, log, options.mode ?? 'full');
    deps.signal?.throwIfAborted();
    const { snapshots, failures } = read;

    deps.onProgress?.('planning');
    const { plan, storeRevision, storedBefore } = await planAgainstStore(deps, { dirs, read, options, log, record, policy, licensing });

    const base = { runId, plan, failures, storeRevision, reads: read.reads, licensing: licensingSummary(licensing) };
    collectAtPhaseBoundary(log, 'plan made');
    if (plan.violations.length > 0) {
      await record({ outcome: 'rejected', plan, written: 0, verification: 'not-run', error: { code: 'ERR_PLAN_REJECTED', message: plan.violations.map((v) => v.message).join('; ') } });
      if (options.dryRun !== true) await (await import('./held-plans.js')).holdRejectedPlan(deps, { runId, plan, storeRevision, now: clock().toISOString() });
      return { ...base, outcome: 'rejected', written: 0 };
    }
    if (options.dryRun === true) {
      await record({ outcome: 'dry-run', plan, written: 0, verification: 'not-run', error: null });
      return { ...base, outcome: 'dry-run', written: 0 };
    }
    const { outcome, written } = await applyAndVerify(deps, { runId, plan, leases, record, partial: failures.length > 0, storedBefore, licensedGroups: licensing.licensedGroups });
    collectAtPhaseBoundary(log, 'plan applied');
    await saveSnapshots(deps.store, read.toSave, policyFingerprint(policy), log);
    collectAtPhaseBoundary(log, 'snapshots saved');
    const complete = new Set(plan.directories.filter((d) => d.status === 'complete').map((d) => d.directoryId));
    const isScoped = (id: string): boolean => read.scoped[id] !== undefined;
    await afterSync(deps, {
      runId,
      now: clock().toISOString(),
      actions: plan.actions,
      snapshots: snapshots.filter((s) => complete.has(s.directoryId) && !isScoped(s.directoryId)),
      scoped: read.toSave.flatMap((t) => (t.kind === 'rows' && complete.has(t.directoryId) ? [{ snapshot: t.snapshot, usernames: t.usernames }] : [])),
      licensedGroups: licensing.licensedGroups,
    });
    if (written > 0) await (await import('./held-plans.js')).supersedeHeldPlans(deps, runId);
    // Withheld deactivations of whole reads are held for approval (an incremental read's snapshot holds only the users its changes name).
    if (outcome === 'withheld' && Object.keys(read.scoped).length === 0) await (await import('./held-plans.js')).holdWithheldDeactivations(deps, { runId, plan, snapshots, failedDirectories: failures.map((f) => f.directoryId) });
    return { ...base, outcome, written };
  } catch (error) {
    unreachable = storeUnreachable(error);
    if (deps.signal?.aborted === true && !recorded && !unreachable) {
      const e = isDirbridgeError(deps.signal.reason) ? deps.signal.reason : new DirbridgeError('ERR_RUN_ABORTED', 'the run was aborted');
      const outcome: RunOutcome = e.code === 'ERR_LEASE_LOST' ? 'lease-lost' : 'failed';
      await record({ outcome, plan: null, written: 0, verification: 'not-run', error: { code: e.code, message: e.message } }).catch(() => undefined);
    }
    throw error;
  } finally {
    heartbeat.stop();
    // Leases on a store that does not answer expire by themselves (leaseTtlSeconds).
    if (!unreachable) for (const lease of leases) await deps.store.releaseLease(lease).catch(() => undefined);
  }
}

/** A store error saying the store did not answer (down, frozen, unreachable): waiting on it again only delays the report. */
export function storeUnreachable(error: unknown): boolean {
  return isDirbridgeError(error) && error.code === 'ERR_STORE' && error.details?.['unreachable'] === true;
}

/**
 * The engine's deps with a signal that also fires when `extra` does (the heartbeat's lease-lost
 * signal), so reads and the apply loop stop for either reason.
 */
export function withSignal(deps: EngineDeps, extra: AbortSignal): EngineDeps {
  return { ...deps, signal: deps.signal === undefined ? extra : AbortSignal.any([deps.signal, extra]) };
}

/**
 * Loads the store (refusing one that lost customers, ERR_STORE_SUSPECT, unless rebuilding), reports
 * customers changed around dirbridge, and plans.
 */
async function planAgainstStore(
  deps: EngineDeps,
  ctx: { dirs: readonly DirectoryConfig[]; read: ReadResult; options: SyncOptions; log: Logger; record: Recorder; policy: SyncPolicy; licensing: Licensing },
): Promise<{ plan: SyncPlan; storeRevision: number; storedBefore: ReadonlyMap<string, number> }> {
  const { read, options, log, record, policy } = ctx;
  collectAtPhaseBoundary(log, 'directories read');
  const [loaded, states, storeRevision, runs] = await Promise.all([
    loadCustomers(deps.store, read, policy.directories.length, ctx.dirs.map((d) => d.id)),
    deps.store.getDirectoryStates(),
    deps.store.revision(),
    deps.store.listRuns({ limit: 50 }),
  ]);
  const { current, stored } = loaded;
  const loss = findStoreLoss({ directoryIds: ctx.dirs.map((d) => d.id), current, stored, states, lastApplied: lastAppliedRun(runs), dropPercent: deps.loaded.config.safety.countDropPercent });
  if (loss !== null && options.rebuildStore !== true) {
    const error = storeLossError(loss, deps.store.label);
    log.error({ code: error.code }, error.message);
    await record({ outcome: 'rejected', plan: null, written: 0, verification: 'not-run', error: { code: error.code, message: error.message } });
    throw error;
  }
  if (loss !== null) log.warn({ loss }, 'the store lost customers; rebuilding them from the directories (--rebuild-store)');
  const lastTrustedCounts: Record<string, number> = {};
  for (const [id, state] of Object.entries(states)) if (state.lastTrustedUsers !== undefined) lastTrustedCounts[id] = state.lastTrustedUsers;
  const damaged = damageWarnings(current);
  collectAtPhaseBoundary(log, 'customers loaded');
  for (const w of damaged) log.warn({ directory: w.directoryId, count: w.count, examples: w.examples }, w.message);
  const planned = planSync({
    policy,
    snapshots: read.snapshots,
    failedDirectories: read.failures.map((f) => f.directoryId),
    current,
    lastTrustedCounts,
    scoped: read.scoped,
    ...(loaded.activeCustomers === undefined ? {} : { activeCustomers: loaded.activeCustomers }),
    ...(options.allowDeactivations === undefined ? {} : { allowDeactivations: options.allowDeactivations }),
  });
  const plan = licensingViolations(withWarnings(planned, damaged), ctx.licensing);
  log.info({ summary: plan.summary, violations: plan.violations.length, warnings: (plan.warnings ?? []).map((w) => w.message), ...memoryFields() }, 'plan made');
  return { plan, storeRevision, storedBefore: stored ?? countByDirectory(current) };
}

export type ReadMode = 'full' | 'incremental';

export interface DirectoryRead {
  readonly directoryId: string;
  readonly mode: ReadMode;
  /** Why a full read was made when an incremental one was asked for, or how many changes were read. */
  readonly note: string | null;
}

export interface ReadResult {
  readonly snapshots: DirectorySnapshot[];
  readonly failures: { directoryId: string; code: string; message: string }[];
  readonly reads: DirectoryRead[];
  /** Directories read incrementally: their snapshots hold only the users the changes name. */
  readonly scoped: Record<string, ScopedRead>;
  /** What to keep of each read, with its change cursor, once the plan is applied: for the next incremental read. */
  readonly toSave: SnapshotSave[];
}

/** A whole snapshot to store after a full read, or the rows an incremental read changed. */
export type SnapshotSave =
  | { readonly kind: 'whole'; readonly directoryId: string; readonly snapshot: DirectorySnapshot; readonly cursor: string }
  | {
      readonly kind: 'rows';
      readonly directoryId: string;
      readonly rows: SnapshotRowChange;
      readonly cursor: string;
      readonly users: number;
      /** The users the changes name, as they are now (for their addresses). */
      readonly snapshot: DirectorySnapshot;
      /** Their usernames before and after the changes. */
      readonly usernames: readonly string[];
    };

/**
 * Reads each directory in turn; a failed read is reported, never turned into an empty snapshot.
 * A connector that can read changes (Crowd, LDAP) is read from its stored cursor when `mode` is
 * incremental; when it cannot go on from there it says why, and the directory is read whole.
 * An aborted `deps.signal` is not a failed read: it ends the reading at once, rejecting with its reason.
 */
export async function readSnapshots(deps: EngineDeps, dirs: readonly DirectoryConfig[], log: Logger = deps.logger, mode: ReadMode = 'full'): Promise<ReadResult> {
  const result: ReadResult = { snapshots: [], failures: [], reads: [], scoped: {}, toSave: [] };
  const fingerprint = policyFingerprint(policyFromConfig(deps.loaded.config));
  const signal = deps.signal;
  for (const dir of dirs) {
    signal?.throwIfAborted();
    const dirLog = log.child({ directory: dir.id });
    const connector = await deps.openConnector(dir);
    const onProgress = ({ users, groups }: { users: number; groups: number }): void => deps.onProgress?.(`${dir.id}: ${users} users, ${groups} groups read`);
    const onPhaseEnd = (phase: string): void => collectAtPhaseBoundary(dirLog, phase);
    const options: FetchOptions = { onProgress, onPhaseEnd, ...(signal === undefined ? {} : { signal }) };
    try {
      const read = isIncremental(connector) ? await readWithCursor(deps, connector, { id: dir.id, mode, fingerprint }, options, dirLog) : await readWhole(connector, options, dirLog);
      result.snapshots.push(read.snapshot);
      if (read.kind === 'incremental') {
        const { changes } = read;
        result.reads.push({ directoryId: dir.id, mode: 'incremental', note: `${changes.changes} changes` });
        result.scoped[dir.id] = { users: read.users, affected: changes.affectedUserIds };
        const usernames = [...changes.previousUsernames, ...changes.snapshot.users.map((u) => u.username)];
        result.toSave.push({ kind: 'rows', directoryId: dir.id, rows: changes.rows, cursor: changes.cursor, users: read.users, snapshot: changes.snapshot, usernames });
      } else {
        dirLog.info({ users: read.snapshot.users.length, groups: read.snapshot.groups.length, ...memoryFields() }, 'directory read');
        result.reads.push({ directoryId: dir.id, mode: 'full', note: read.note });
        if (read.cursor !== null) result.toSave.push({ kind: 'whole', directoryId: dir.id, snapshot: read.snapshot, cursor: read.cursor });
      }
    } catch (error) {
      signal?.throwIfAborted();
      const wrapped = isDirbridgeError(error) ? error : new DirbridgeError('ERR_DIRECTORY_READ', `directory ${dir.id}: ${(error as Error).message}`, { cause: error });
      dirLog.error({ code: wrapped.code }, wrapped.message);
      result.failures.push({ directoryId: dir.id, code: wrapped.code, message: deps.loaded.secrets.scrub(wrapped.message) });
    } finally {
      await connector.close();
    }
  }
  return result;
}

type CursorRead =
  | { readonly kind: 'incremental'; readonly snapshot: DirectorySnapshot; readonly changes: ChangeSet; readonly users: number }
  | { readonly kind: 'full'; readonly snapshot: DirectorySnapshot; readonly cursor: string | null; readonly note: string | null };

async function readWhole(connector: DirectoryConnector, options: FetchOptions, log: Logger): Promise<CursorRead> {
  log.info('reading directory');
  return { kind: 'full', snapshot: await connector.fetchSnapshot(options), cursor: null, note: null };
}

/**
 * A directory that can read changes: from its stored cursor when asked and possible, else whole, with
 * a cursor for next time. The stored snapshot is used only under the policy it was planned with (its
 * fingerprint): after a config change every user may have another outcome, so the directory is read whole.
 */
async function readWithCursor(
  deps: EngineDeps,
  connector: IncrementalConnector,
  dir: { readonly id: string; readonly mode: ReadMode; readonly fingerprint: string },
  options: FetchOptions,
  log: Logger,
): Promise<CursorRead> {
  const call: ReadOptions = { ...(options.signal === undefined ? {} : { signal: options.signal }), ...(options.onPhaseEnd === undefined ? {} : { onPhaseEnd: options.onPhaseEnd }) };
  let note: string | null = null;
  if (dir.mode === 'incremental') {
    const store = deps.store.incremental;
    const head = await store.head(dir.id);
    let reason = `no stored snapshot and ${connector.cursorName} yet (a first sync, or none could be had last time)`;
    if (head !== null && head.fingerprint !== dir.fingerprint) {
      reason = 'the config changed since the last read (customer or licensed groups, onLicensedMembership, directory order, allUsers or aggregateMemberships): every user is planned again';
    } else if (head !== null) {
      const view: StoredSnapshotView = { groups: await store.groups(dir.id), users: (query) => store.users(dir.id, query), userKeys: () => store.userKeys(dir.id), groupMembers: (ids) => store.groupMembers(dir.id, ids) };
      const result = await connector.fetchChangesSince(view, head.cursor, call);
      if (result.kind === 'changes') {
        const { changes } = result;
        const users = head.users + changes.userDelta;
        log.info({ changes: changes.changes, affectedUsers: changes.affectedUserIds.size, users, ...memoryFields() }, 'incremental read');
        return { kind: 'incremental', snapshot: changes.snapshot, changes, users };
      }
      reason = result.reason;
    }
    log.warn({ reason }, 'incremental read not possible: reading the whole directory');
    note = `full read: ${reason}`;
  }
  const before = await connector.currentCursor(call);
  log.info('reading directory');
  const snapshot = await connector.fetchSnapshot(options);
  const cursor = await cursorAfterRead(connector, before, log, options.signal);
  if (cursor.cursor === null) note = [note, `no ${connector.cursorName} for the next incremental run: ${cursor.reason}`].filter((n) => n !== null).join('; ');
  return { kind: 'full', snapshot, cursor: cursor.cursor, note };
}

/**
 * The customers to plan against: all of them, unless every directory read in this run was read
 * incrementally; then only those the changes name (by key, and, when the config has other
 * directories, by username in every directory, for directory order), with the count of active
 * customers for the deactivation limit.
 */
async function loadCustomers(
  store: SyncStore,
  read: ReadResult,
  configuredDirectories: number,
  readDirectories: readonly string[],
): Promise<{ current: CurrentCustomer[]; activeCustomers?: number; stored?: ReadonlyMap<string, number> }> {
  const scoped = read.snapshots.length > 0 && read.snapshots.every((s) => read.scoped[s.directoryId] !== undefined);
  if (!scoped) return { current: directoryCustomers(await store.loadCurrent({ readUsers: readUsersOf(read.snapshots) })) };
  const byKey = new Map<string, CurrentCustomer>();
  for (const save of read.toSave) {
    if (save.kind !== 'rows') continue;
    const externalIds = [...(read.scoped[save.directoryId]?.affected ?? [])];
    const usernames = configuredDirectories > 1 ? save.usernames : [];
    for (const c of await store.incremental.customers({ directoryId: save.directoryId, externalIds, usernames })) byKey.set(customerKey(c.directoryId, c.externalId), c);
  }
  const stored = new Map<string, number>();
  for (const id of readDirectories) stored.set(id, await store.incremental.countStored(id));
  return { current: directoryCustomers([...byKey.values()]), activeCustomers: await store.incremental.countActive(LOCAL_DIRECTORY), stored };
}

/** The users of this run's reads by directory and externalId (for loadCurrent to share their strings). */
function readUsersOf(snapshots: readonly DirectorySnapshot[]): NonNullable<LoadCurrentOptions['readUsers']> {
  const byDirectory = new Map<string, Map<string, DirectoryUser>>();
  for (const snapshot of snapshots) {
    const users = new Map<string, DirectoryUser>();
    for (const user of snapshot.users) users.set(user.externalId, user);
    byDirectory.set(snapshot.directoryId, users);
  }
  return (directoryId, externalId) => byDirectory.get(directoryId)?.get(externalId);
}

/** Keeps each read for the next incremental run, under the policy it was planned with. */
async function saveSnapshots(store: SyncStore, saves: readonly SnapshotSave[], fingerprint: string, log: Logger): Promise<void> {
  for (const save of saves) {
    const started = performance.now();
    let rows: SnapshotWrites;
    if (save.kind === 'whole') {
      rows = await store.incremental.replace(save.directoryId, save.snapshot, { cursor: save.cursor, fingerprint, users: save.snapshot.users.length, groups: save.snapshot.groups.length });
    } else {
      await store.incremental.apply(save.directoryId, save.rows, { cursor: save.cursor, fingerprint, users: save.users, groups: save.snapshot.groups.length });
      const { users, deletedUsers, groups, deletedGroups } = save.rows;
      rows = { users: { written: users.length, deleted: deletedUsers.length }, groups: { written: groups.length, deleted: deletedGroups.length }, memberships: { written: 0, deleted: 0 } };
    }
    const written = rows.users.written + rows.groups.written + rows.memberships.written;
    const deleted = rows.users.deleted + rows.groups.deleted + rows.memberships.deleted;
    log.child({ directory: save.directoryId }).info({ kind: save.kind, written, deleted, saveMs: Math.round(performance.now() - started), rows, ...memoryFields() }, 'snapshot saved');
  }
}

/**
 * The change cursor to keep with a full read: the one taken after it, else the one taken before it
 * (whose changes made during the read the next incremental run replays, or reads whole when they do
 * not fit). The cursor only serves the next incremental run, so failing to get one is never a failed
 * read: it is logged, and that run reads whole.
 */
async function cursorAfterRead(connector: IncrementalConnector, before: CursorResult, log: Logger, signal: AbortSignal | undefined): Promise<CursorResult> {
  const after: CursorResult = await connector.currentCursor(signal === undefined ? {} : { signal }).catch((error: unknown) => {
    signal?.throwIfAborted();
    return { cursor: null, reason: (error as Error).message };
  });
  if (before.cursor !== null && after.cursor !== null && before.cursor !== after.cursor) {
    log.info({ before: before.cursor, after: after.cursor }, `possible changes during the full read; keeping the later ${connector.cursorName}`);
  }
  if (after.cursor !== null) return after;
  if (before.cursor !== null) {
    log.warn({ reason: after.reason }, `no ${connector.cursorName} after the full read: keeping the one taken before it`);
    return before;
  }
  log.warn({ reason: after.reason }, `no ${connector.cursorName}: the next incremental run will read the whole directory`);
  return after;
}

export interface ApplyContext {
  readonly runId: string;
  readonly plan: SyncPlan;
  readonly leases: readonly Lease[];
  readonly record: Recorder;
  readonly partial: boolean;
  /** Stored customers per directory before the apply, when loaded (else counted after it). */
  readonly storedBefore?: ReadonlyMap<string, number>;
  /** The licensed set in force (the configured list when absent): the post-apply check uses it. */
  readonly licensedGroups?: readonly string[];
}

/** Applies a plan, stores trusted read counts, re-checks the invariant on the stored state, records the run. */
export async function applyAndVerify(deps: EngineDeps, ctx: ApplyContext): Promise<{ outcome: RunOutcome; written: number }> {
  const clock = deps.clock ?? (() => new Date());
  const now = clock().toISOString();
  let written = 0;
  try {
    deps.signal?.throwIfAborted();
    const result = await deps.store.applyActions(ctx.plan.actions, {
      runId: ctx.runId,
      now,
      fence: ctx.leases,
      ...(deps.signal === undefined ? {} : { signal: deps.signal }),
      onBatch: (n) => {
        written = n;
        deps.onProgress?.(`applied ${n} of ${ctx.plan.actions.length} changes`);
        deps.signal?.throwIfAborted(); // between batches: the one written is whole
      },
    });
    written = result.written;
    await confirmLeases(deps.store, ctx.leases, leaseTtlMs(deps.loaded));
    const customers = await customerCounts(deps.store, ctx.plan, ctx.storedBefore);
    for (const dir of ctx.plan.directories) {
      const count = customers[dir.directoryId];
      if (dir.status === 'complete' && dir.users !== null) {
        await deps.store.putDirectoryState(dir.directoryId, { lastTrustedUsers: dir.users, lastTrustedAt: now, ...(count === undefined ? {} : { customers: count }) });
      }
    }
  } catch (error) {
    const e = isDirbridgeError(error) ? error : new DirbridgeError('ERR_STORE', `applying the plan failed: ${(error as Error).message}`, { cause: error });
    const outcome: RunOutcome = e.code === 'ERR_LEASE_LOST' ? 'lease-lost' : 'failed';
    // A store that does not answer cannot take the journal line either: not waited for again.
    if (!storeUnreachable(e)) await ctx.record({ outcome, plan: ctx.plan, written, verification: 'not-run', error: { code: e.code, message: e.message } }).catch(() => undefined);
    throw e;
  }
  const licensed = ctx.licensedGroups ?? deps.loaded.config.licensing.licensedGroups;
  const offenders = await deps.store.findLicensedCustomers(licensed, 10);
  if (offenders.length > 0) {
    const names = offenders.map((c) => `${c.username} (${c.directoryId})`).join(', ');
    const message = `after applying, the store holds customers carrying a licensed group: ${names}`;
    await ctx.record({ outcome: 'failed', plan: ctx.plan, written, verification: 'failed', error: { code: 'ERR_INVARIANT_VIOLATED', message } });
    throw new DirbridgeError('ERR_INVARIANT_VIOLATED', message);
  }
  const outcome = appliedOutcome(ctx.plan, ctx.partial);
  const error = outcome === 'withheld' ? withheldError(ctx.plan) : null;
  await ctx.record({ outcome, plan: ctx.plan, written, verification: 'passed', error });
  deps.logger.info({ runId: ctx.runId, outcome, written, summary: ctx.plan.summary, ...memoryFields() }, 'sync finished');
  return { outcome, written };
}

/**
 * Each directory's stored customers after this apply: those stored before it (when the caller loaded
 * them) plus the customers it created, as a sync never deletes one; else counted in the store.
 */
async function customerCounts(store: SyncStore, plan: SyncPlan, before: ReadonlyMap<string, number> | undefined): Promise<Record<string, number>> {
  const counted = before ?? countByDirectory(await store.loadCurrent());
  const out: Record<string, number> = {};
  for (const dir of plan.directories) out[dir.directoryId] = counted.get(dir.directoryId) ?? 0;
  if (before !== undefined) for (const a of plan.actions) if (a.kind === 'create' && a.customer.directoryId in out) out[a.customer.directoryId] = (out[a.customer.directoryId] ?? 0) + 1;
  return out;
}

export function countByDirectory(current: readonly { directoryId: string }[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of current) out.set(c.directoryId, (out.get(c.directoryId) ?? 0) + 1);
  return out;
}

/**
 * Fenced writes find out that a lease moved on; a run with nothing (more) to write would not. One
 * renewal before the run reports anything: expired or taken over, its result is not to be trusted.
 */
async function confirmLeases(store: SyncStore, leases: readonly Lease[], ttlMs: number): Promise<void> {
  for (const lease of leases) {
    if (!(await store.renewLease(lease, ttlMs))) {
      throw new DirbridgeError('ERR_LEASE_LOST', `lease ${lease.name} expired or was taken over while this run went on (our token ${lease.token}): its result is not trusted; run it again`);
    }
  }
}

export type Recorder = (fields: Pick<RunRecord, 'outcome' | 'written' | 'verification' | 'error'> & { plan: SyncPlan | null }) => Promise<void>;

/** A recorder that also writes, once known, where the run's licensed set came from. */
export type RunRecorder = Recorder & { licensing?: LicensingSummary };

export function recorder(deps: EngineDeps, runId: string, startedAt: Date): RunRecorder {
  const clock = deps.clock ?? (() => new Date());
  const record: RunRecorder = async ({ plan, ...fields }) => {
    await deps.store.recordRun({
      runId,
      startedAt: startedAt.toISOString(),
      finishedAt: clock().toISOString(),
      actor: { host: hostname(), pid: process.pid, trigger: deps.trigger ?? 'cli' },
      directories: plan?.directories ?? [],
      summary: plan?.summary ?? null,
      seatLeaks: plan?.seatLeaks ?? [],
      violations: plan?.violations ?? [],
      warnings: plan?.warnings ?? [],
      ...fields,
      error: fields.error === null ? null : { ...fields.error, message: deps.loaded.secrets.scrub(fields.error.message) },
      ...(record.licensing === undefined ? {} : { licensing: record.licensing }),
    });
  };
  return record;
}

/**
 * The run's licensed set (licensing.ts); kept in the store when the run applies. Refused Jira
 * credentials or permissions fail the run, recorded as such.
 */
export async function licensingForRun(deps: EngineDeps, save: boolean, record: Recorder): Promise<Licensing> {
  try {
    return await resolveLicensing(deps, { save });
  } catch (error) {
    deps.signal?.throwIfAborted();
    const e = isDirbridgeError(error) ? error : new DirbridgeError('ERR_INTERNAL', `resolving the licensed groups failed: ${(error as Error).message}`, { cause: error });
    await record({ outcome: 'failed', plan: null, written: 0, verification: 'not-run', error: { code: e.code, message: e.message } }).catch(() => undefined);
    throw e;
  }
}

/** The process's memory at a phase boundary, for the run log (MiB): resident set and live JS heap. */
function memoryFields(): { rssMb: number; heapMb: number } {
  const { rss, heapUsed } = process.memoryUsage();
  return { rssMb: Math.round(rss / 2 ** 20), heapMb: Math.round(heapUsed / 2 ** 20) };
}

export function selectDirectories(loaded: LoadedConfig, ids: readonly string[] | undefined): DirectoryConfig[] {
  const all = loaded.config.directories;
  if (ids === undefined || ids.length === 0) return [...all];
  const unknown = ids.filter((id) => !all.some((d) => d.id === id));
  if (unknown.length > 0) {
    throw new DirbridgeError('ERR_USAGE', `unknown directory ${unknown.join(', ')}: the config has ${all.map((d) => d.id).join(', ')}`);
  }
  return all.filter((d) => ids.includes(d.id));
}

export function leaseOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export async function acquireLeases(deps: EngineDeps, dirIds: readonly { id: string }[], ttlMs: number, record: Recorder): Promise<Lease[]> {
  const owner = leaseOwner();
  const leases: Lease[] = [];
  for (const dir of dirIds) {
    const result = await deps.store.acquireLease({ name: leaseNameFor(dir.id), owner, ttlMs });
    if (!result.acquired) {
      for (const lease of leases) await deps.store.releaseLease(lease);
      const message = `directory ${dir.id} is being synced by ${result.holder} (lease held until ${result.expiresAt})`;
      await record({ outcome: 'skipped', plan: null, written: 0, verification: 'not-run', error: { code: 'ERR_LEASE_HELD', message } });
      throw new DirbridgeError('ERR_LEASE_HELD', message, { details: { holder: result.holder, expiresAt: result.expiresAt } });
    }
    leases.push(result.lease);
  }
  return leases;
}

export interface Heartbeat {
  /** Aborted (reason ERR_LEASE_LOST) once a renewal finds that a lease expired or was taken over. */
  readonly signal: AbortSignal;
  stop(): void;
}

/**
 * Renews the leases every third of their lifetime. A renewal refused means the lease moved on: the
 * run must stop at once (its writes would be refused anyway), so the heartbeat aborts it. A renewal
 * that fails (store unreachable) is only logged: the next one, or the write fence, decides.
 */
export function keepAlive(store: SyncStore, leases: readonly Lease[], ttlMs: number, log: Logger): Heartbeat {
  const lost = new AbortController();
  const timer = setInterval(() => {
    for (const lease of leases) {
      store.renewLease(lease, ttlMs).then(
        (ok) => {
          if (ok || lost.signal.aborted) return;
          log.warn({ lease: lease.name, token: lease.token }, 'lease lost: the run stops');
          lost.abort(new DirbridgeError('ERR_LEASE_LOST', `lease ${lease.name} expired or was taken over while this run went on (our token ${lease.token}): the run stopped; run it again`));
        },
        (error: unknown) => log.warn({ lease: lease.name, err: (error as Error).message }, 'lease renewal failed'),
      );
    }
  }, Math.max(1000, Math.floor(ttlMs / 3)));
  timer.unref();
  return { signal: lost.signal, stop: () => clearInterval(timer) };
}
