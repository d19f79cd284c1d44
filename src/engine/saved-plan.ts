import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { SyncPlan } from '../core/model.js';
import { DirbridgeError } from '../errors.js';
import { afterSync, directoryCustomers } from './customers/after-sync.js';
import { licensingSummary } from './licensing.js';
import { acquireLeases, applyAndVerify, countByDirectory, keepAlive, leaseTtlMs, licensingForRun, newRunId, recorder, withSignal, type EngineDeps, type SyncResult } from './run-sync.js';
import { findStoreLoss, lastAppliedRun, storeLossError } from './store-loss.js';

const FORMAT = 'dirbridge-plan';

const planFileSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  createdAt: z.string(),
  storeRevision: z.int(),
  plan: z.object({
    actions: z.array(z.object({ kind: z.enum(['create', 'update', 'reactivate', 'deactivate']) }).loose()),
    directories: z.array(z.object({ directoryId: z.string(), status: z.string() }).loose()),
    violations: z.array(z.unknown()),
    refused: z.array(z.unknown()).default([]), // plans saved before field limits have none
  }).loose(),
});

export function writePlanFile(path: string, result: SyncResult, createdAt: Date): void {
  const doc = { format: FORMAT, version: 1, createdAt: createdAt.toISOString(), runId: result.runId, storeRevision: result.storeRevision, plan: result.plan };
  writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
}

/**
 * `sync --plan FILE`: applies exactly the saved plan, under the same leases and checks as a sync, and
 * refuses if anything was written to the store since the plan was made.
 */
export async function applySavedPlan(deps: EngineDeps, path: string): Promise<SyncResult> {
  let parsed: z.output<typeof planFileSchema>;
  try {
    parsed = planFileSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (cause) {
    throw new DirbridgeError('ERR_PLAN_FILE', `${path} is not a dirbridge plan file (make one with: dirbridge plan --out ${path})`, { cause });
  }
  const plan = parsed.plan as unknown as SyncPlan;
  if (plan.violations.length > 0) {
    throw new DirbridgeError('ERR_PLAN_REJECTED', `${path} holds a plan that safety rules rejected; it cannot be applied`);
  }
  return applyPlanAsSaved(deps, { plan, storeRevision: parsed.storeRevision });
}

/**
 * Applies a plan exactly as it was made, under the same leases and checks as a sync, refusing
 * (ERR_PLAN_STALE, recorded as a rejected run) when anything was written to the store since. The
 * caller decides whether the plan may be applied at all (a saved plan file: no violations; a held
 * plan: an admin approved it).
 */
export async function applyPlanAsSaved(deps: EngineDeps, saved: { readonly plan: SyncPlan; readonly storeRevision: number }): Promise<SyncResult> {
  const { plan } = saved;
  const clock = deps.clock ?? (() => new Date());
  const startedAt = clock();
  const runId = newRunId(startedAt);
  const record = recorder(deps, runId, startedAt);
  const read = plan.directories.filter((d) => d.status !== 'not-read').map((d) => ({ id: d.directoryId }));
  const ttlMs = leaseTtlMs(deps.loaded);
  const leases = await acquireLeases(deps, read, ttlMs, record);
  const heartbeat = keepAlive(deps.store, leases, ttlMs, deps.logger.child({ runId }));
  deps = withSignal(deps, heartbeat.signal);
  try {
    const revision = await deps.store.revision();
    if (revision !== saved.storeRevision) {
      const message = `the store changed since the plan was made (revision ${saved.storeRevision} → ${revision}); make a new plan`;
      await record({ outcome: 'rejected', plan, written: 0, verification: 'not-run', error: { code: 'ERR_PLAN_STALE', message } });
      throw new DirbridgeError('ERR_PLAN_STALE', message, { details: { runId } });
    }
    // The licensed set in force now guards the store and the post-apply check, whatever it was at plan time.
    const licensing = await licensingForRun(deps, true, record);
    record.licensing = licensingSummary(licensing);
    const [stored, states, runs] = await Promise.all([deps.store.loadCurrent(), deps.store.getDirectoryStates(), deps.store.listRuns({ limit: 50 })]);
    const current = directoryCustomers(stored);
    const loss = findStoreLoss({ directoryIds: read.map((d) => d.id), current, states, lastApplied: lastAppliedRun(runs), dropPercent: deps.loaded.config.safety.countDropPercent });
    if (loss !== null) {
      const error = storeLossError(loss, deps.store.label);
      await record({ outcome: 'rejected', plan, written: 0, verification: 'not-run', error: { code: error.code, message: error.message } });
      throw error;
    }
    const partial = plan.directories.some((d) => d.status === 'failed');
    const { outcome, written } = await applyAndVerify(deps, { runId, plan, leases, record, partial, storedBefore: countByDirectory(current), licensedGroups: licensing.licensedGroups });
    await afterSync(deps, { runId, now: clock().toISOString(), actions: plan.actions, snapshots: [] });
    if (written > 0) await (await import('./held-plans.js')).supersedeHeldPlans(deps, runId);
    return { runId, outcome, plan, written, failures: [], storeRevision: revision, reads: [], licensing: record.licensing };
  } finally {
    heartbeat.stop();
    for (const lease of leases) await deps.store.releaseLease(lease).catch(() => undefined);
  }
}
