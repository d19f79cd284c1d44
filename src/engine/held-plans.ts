import type { DeactivationReason, DirectorySnapshot, SyncPlan } from '../core/model.js';
import { planSync } from '../core/plan-sync.js';
import { policyFromConfig } from '../config/load-config.js';
import { directoryCustomers } from './customers/after-sync.js';
import { DirbridgeError, isDirbridgeError } from '../errors.js';
import { createHeldPlanRecords, type HeldPlan, type HeldPlanSummary } from '../store/held-plan-records.js';
import { applyPlanAsSaved } from './saved-plan.js';
import type { EngineDeps, SyncResult } from './run-sync.js';

export type { HeldPlan, HeldPlanSummary };

/**
 * Plans held for approval. A sync whose plan a safety rule rejected (too many deactivations, an empty
 * read of a directory that owns customers) keeps the plan, and so does a sync that withheld
 * deactivations after a suspect read (the withheld deactivations alone); an admin reviews exactly which customers it
 * would deactivate and why, then approves it (applied exactly as saved, refused when the store moved on,
 * as `sync --plan` does) or discards it. Both are recorded with who did it. A plan rejected by
 * onLicensedMembership "fail" is never held: no one may approve a seat leak.
 */
const HOLDABLE = new Set(['too-many-deactivations', 'empty-snapshot']);

export function isHoldable(plan: SyncPlan): boolean {
  return plan.violations.length > 0 && plan.violations.every((v) => HOLDABLE.has(v.kind));
}

const records = (deps: Pick<EngineDeps, 'store'>) => createHeldPlanRecords(deps.store.records);

/** Called by a sync whose plan was rejected (never by a dry run): keeps the plan when a safety rule is all that stopped it. */
export async function holdRejectedPlan(deps: EngineDeps, held: { readonly runId: string; readonly plan: SyncPlan; readonly storeRevision: number; readonly now: string }): Promise<boolean> {
  if (!isHoldable(held.plan)) return false;
  const deactivations = held.plan.actions.filter((a) => a.kind === 'deactivate').length;
  return keep(deps, {
    id: held.runId,
    createdAt: held.now,
    storeRevision: held.storeRevision,
    status: 'held',
    reasons: held.plan.violations.map((v) => deps.loaded.secrets.scrub(v.message)),
    deactivations,
    plan: held.plan,
    decidedBy: null,
    decidedAt: null,
    appliedRunId: null,
    outcome: null,
  });
}

/** How many decided (approved, discarded, stale, superseded) plans are kept for the record. */
const DECIDED_KEPT = 100;

/**
 * Stores a held plan; plans held before it are superseded (the newest read is the one to decide on),
 * and only the last DECIDED_KEPT decided plans are kept. The run's own outcome stands whatever
 * happens here: a plan that cannot be kept (a store error; on MongoDB, a plan past the 16 MB document
 * limit, some 50,000 changes) is logged with the reason, and the run is reported as it would be
 * without the console.
 */
async function keep(deps: EngineDeps, plan: HeldPlan): Promise<boolean> {
  try {
    await records(deps).insert(plan);
    await records(deps).supersede(plan.id);
    await records(deps).prune(DECIDED_KEPT);
  } catch (error) {
    deps.logger.warn({ runId: plan.id, code: isDirbridgeError(error) ? error.code : 'ERR_STORE', err: deps.loaded.secrets.scrub((error as Error).message) }, 'the plan could not be held for approval');
    return false;
  }
  deps.logger.info({ runId: plan.id, deactivations: plan.deactivations }, 'plan held for approval');
  return true;
}

/**
 * Called after a run that applied everything but deactivations a suspect read withheld: the same
 * snapshots are planned again against the store as it now is, allowing those deactivations, and that
 * plan is held for an admin to approve. Runs with incremental reads are left out (their snapshots hold
 * only the users the changes name).
 */
export async function holdWithheldDeactivations(
  deps: EngineDeps,
  run: { readonly runId: string; readonly plan: SyncPlan; readonly snapshots: readonly DirectorySnapshot[]; readonly failedDirectories: readonly string[] },
): Promise<boolean> {
  const suspect = run.plan.directories.filter((d) => d.status === 'suspect');
  if (suspect.length === 0) return false;
  const [stored, storeRevision] = await Promise.all([deps.store.loadCurrent(), deps.store.revision()]);
  const plan = planSync({
    policy: policyFromConfig(deps.loaded.config),
    snapshots: [...run.snapshots],
    failedDirectories: [...run.failedDirectories],
    current: directoryCustomers(stored),
    allowDeactivations: Number.MAX_SAFE_INTEGER,
  });
  const deactivations = plan.actions.filter((a) => a.kind === 'deactivate');
  if (deactivations.length === 0 || plan.violations.length > 0) return false;
  const now = (deps.clock?.() ?? new Date()).toISOString();
  return keep(deps, {
    id: run.runId,
    createdAt: now,
    storeRevision,
    status: 'held',
    reasons: suspect.map((d) => deps.loaded.secrets.scrub(`directory ${d.directoryId}: ${d.note ?? 'suspect read'}`)),
    deactivations: deactivations.length,
    plan,
    decidedBy: null,
    decidedAt: null,
    appliedRunId: null,
    outcome: null,
  });
}

/**
 * Called after a run wrote to the store (a sync, `sync --plan`): the plans still held were made
 * against a store that has moved on, so none could be approved any more (the revision check would
 * refuse it); they are marked superseded by that run, so that they are neither counted as waiting nor
 * offered for approval. A failure here is logged; the run's outcome stands.
 */
export async function supersedeHeldPlans(deps: EngineDeps, runId: string): Promise<void> {
  try {
    // Only plans made before this run's writes: one held meanwhile by another directory's run was made against the store as it is now.
    const [revision, plans] = await Promise.all([deps.store.revision(), records(deps).list(DECIDED_KEPT + 10)]);
    const older = plans.filter((p) => p.status === 'held' && p.storeRevision < revision).map((p) => p.id);
    const n = older.length === 0 ? 0 : await records(deps).supersede(runId, { why: ', which applied changes after it was held', among: older });
    if (n > 0) deps.logger.info({ runId, plans: n }, 'held plans superseded: this run changed the store they were made against');
  } catch (error) {
    deps.logger.warn({ runId, code: isDirbridgeError(error) ? error.code : 'ERR_STORE', err: deps.loaded.secrets.scrub((error as Error).message) }, 'held plans could not be marked superseded');
  }
}

export async function listHeldPlans(deps: EngineDeps, limit = 100): Promise<HeldPlanSummary[]> {
  return records(deps).list(limit);
}

export interface HeldDeactivation {
  readonly directoryId: string;
  readonly externalId: string;
  readonly username: string;
  readonly reason: DeactivationReason;
}

export async function getHeldPlan(deps: EngineDeps, id: string): Promise<{ held: HeldPlan; deactivations: HeldDeactivation[] }> {
  const held = await records(deps).get(id);
  if (held === null) throw new DirbridgeError('ERR_PLAN_NOT_FOUND', `no held plan ${id}`);
  const deactivations = held.plan.actions.flatMap((a) => (a.kind === 'deactivate' ? [{ directoryId: a.directoryId, externalId: a.externalId, username: a.username, reason: a.reason }] : []));
  return { held, deactivations };
}

/**
 * Applies a held plan exactly as saved. The decision is claimed first (two admins approving at once:
 * one applies, the other is told it was decided); a store that moved on marks the plan `stale`.
 */
export async function approveHeldPlan(deps: EngineDeps, id: string, by: string): Promise<SyncResult> {
  const { held } = await getHeldPlan(deps, id);
  const store = records(deps);
  const now = (deps.clock?.() ?? new Date()).toISOString();
  if (!(await store.decide(id, { status: 'approved', decidedBy: by, decidedAt: now, outcome: 'applying' }))) {
    throw new DirbridgeError('ERR_USAGE', `held plan ${id} was already ${held.status === 'held' ? 'decided by someone else' : held.status}`);
  }
  deps.logger.info({ plan: id, by }, 'held plan approved: applying it as saved');
  try {
    // The run it starts is the approver's: the journal names `console:USERNAME`, not the process that serves the console.
    const result = await applyPlanAsSaved({ ...deps, trigger: `console:${by}` }, { plan: held.plan, storeRevision: held.storeRevision });
    await store.record(id, { outcome: result.outcome, appliedRunId: result.runId });
    return result;
  } catch (error) {
    const e = isDirbridgeError(error) ? error : new DirbridgeError('ERR_INTERNAL', 'applying the held plan failed', { cause: error });
    const runId = typeof e.details?.['runId'] === 'string' ? { appliedRunId: e.details['runId'] } : {};
    if (e.code === 'ERR_PLAN_STALE') await store.record(id, { status: 'stale', outcome: deps.loaded.secrets.scrub(e.message), ...runId });
    // Nothing of a failed approval stands in the way of another: the store revision check refuses a
    // retry after a failure that wrote something.
    else await store.record(id, { status: 'held', decidedBy: null, decidedAt: null, outcome: `approval by ${by} failed: ${e.code}: ${deps.loaded.secrets.scrub(e.message)}`, ...runId });
    throw e;
  }
}

export async function discardHeldPlan(deps: EngineDeps, id: string, by: string): Promise<void> {
  const { held } = await getHeldPlan(deps, id);
  const now = (deps.clock?.() ?? new Date()).toISOString();
  if (!(await records(deps).decide(id, { status: 'discarded', decidedBy: by, decidedAt: now, outcome: 'discarded' }))) {
    throw new DirbridgeError('ERR_USAGE', `held plan ${id} was already ${held.status === 'held' ? 'decided by someone else' : held.status}`);
  }
  deps.logger.info({ plan: id, by }, 'held plan discarded');
}
