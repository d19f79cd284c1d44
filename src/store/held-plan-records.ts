import type { CustomerEvent } from '../core/customer-model.js';
import type { SyncPlan } from '../core/model.js';
import type { RecordDriver } from '../ports/record-driver.js';
import { CUSTOMER_EVENTS, HELD_PLANS } from './records/collections.js';

export type HeldPlanStatus = 'held' | 'approved' | 'discarded' | 'stale' | 'superseded';

/** A rejected plan kept for review: its violations, and who approved or discarded it. */
export interface HeldPlan {
  /** The run that made (and was rejected with) the plan. */
  readonly id: string;
  readonly createdAt: string;
  readonly storeRevision: number;
  readonly status: HeldPlanStatus;
  readonly reasons: readonly string[];
  readonly deactivations: number;
  readonly plan: SyncPlan;
  readonly decidedBy: string | null;
  readonly decidedAt: string | null;
  readonly appliedRunId: string | null;
  /** How the decision went: the applying run's outcome, or why applying was refused. */
  readonly outcome: string | null;
}

export type HeldPlanSummary = Omit<HeldPlan, 'plan'>;

/** Held plans and the history lines of one run, over the store's record driver (both stores). */
export function createHeldPlanRecords(driver: RecordDriver) {
  const toPlan = (doc: Record<string, unknown>): HeldPlan => ({
    id: doc['id'] as string,
    createdAt: doc['createdAt'] as string,
    storeRevision: Number(doc['storeRevision']),
    status: doc['status'] as HeldPlanStatus,
    reasons: (doc['reasons'] as string[] | null) ?? [],
    deactivations: Number(doc['deactivations'] ?? 0),
    plan: doc['plan'] as SyncPlan,
    decidedBy: (doc['decidedBy'] as string | null) ?? null,
    decidedAt: (doc['decidedAt'] as string | null) ?? null,
    appliedRunId: (doc['appliedRunId'] as string | null) ?? null,
    outcome: (doc['outcome'] as string | null) ?? null,
  });
  return {
    async insert(plan: HeldPlan): Promise<void> {
      await driver.insertMany(HELD_PLANS, [{ ...plan }]);
    },
    /**
     * Plans still held other than `id` (or only those in `among`) give way to the run `id` (a newer
     * held plan, or a run that applied changes); `why` is added to the outcome.
     */
    async supersede(id: string, options: { readonly why?: string; readonly among?: readonly string[] } = {}): Promise<number> {
      const which = options.among === undefined ? { id: { $ne: id } } : { id: { $in: options.among.filter((a) => a !== id) } };
      return driver.updateMany(HELD_PLANS, { status: 'held', ...which }, { status: 'superseded', outcome: `superseded by ${id}${options.why ?? ''}` });
    },
    /** Keeps the `keep` most recent decided plans (approved, discarded, stale, superseded); deletes older ones. */
    async prune(keep: number): Promise<number> {
      const old = await driver.find(HELD_PLANS, { status: { $ne: 'held' } }, { sort: [{ field: 'createdAt', order: 'desc' }, { field: 'id', order: 'desc' }], skip: keep, limit: 1000 });
      return old.length === 0 ? 0 : driver.deleteMany(HELD_PLANS, { id: { $in: old.map((d) => d['id'] as string) } });
    },
    async list(limit: number): Promise<HeldPlanSummary[]> {
      const docs = await driver.find(HELD_PLANS, {}, { sort: [{ field: 'createdAt', order: 'desc' }, { field: 'id', order: 'desc' }], limit });
      return docs.map((d) => {
        const { plan, ...rest } = toPlan(d);
        void plan; // the list leaves the (large) plan out
        return rest;
      });
    },
    async get(id: string): Promise<HeldPlan | null> {
      const [doc] = await driver.find(HELD_PLANS, { id }, { limit: 1 });
      return doc === undefined ? null : toPlan(doc);
    },
    /** Moves a plan from `held` to a decision; false when someone decided first. */
    async decide(id: string, set: { status: 'approved' | 'discarded'; decidedBy: string; decidedAt: string; outcome?: string; appliedRunId?: string }): Promise<boolean> {
      return (await driver.updateMany(HELD_PLANS, { id, status: 'held' }, { ...set })) === 1;
    },
    async record(id: string, set: { outcome: string; appliedRunId?: string; status?: 'stale' | 'held'; decidedBy?: null; decidedAt?: null }): Promise<void> {
      await driver.updateMany(HELD_PLANS, { id }, { ...set });
    },
    /** The history lines a run wrote (created, updated, deactivated with its reason, …), at most `limit`. */
    async eventsOfRun(runId: string, limit: number): Promise<CustomerEvent[]> {
      const docs = await driver.find(CUSTOMER_EVENTS, { runId }, { sort: [{ field: 'kind', order: 'asc' }, { field: 'customerKey', order: 'asc' }], limit });
      return docs as unknown as CustomerEvent[];
    },
    async countEventsOfRun(runId: string): Promise<number> {
      return driver.count(CUSTOMER_EVENTS, { runId });
    },
  };
}

export type HeldPlanRecords = ReturnType<typeof createHeldPlanRecords>;
