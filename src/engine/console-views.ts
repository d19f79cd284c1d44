import { explainUser, type Explanation } from '../core/explain.js';
import { policyFromConfig } from '../config/load-config.js';
import type { CustomerEvent } from '../core/customer-model.js';
import { leaseNameFor, type RunRecord, type StoredCustomer } from '../ports/store.js';
import { createHeldPlanRecords } from '../store/held-plan-records.js';
import { recordsFor } from './customers/records.js';
import { readSnapshots, type EngineDeps } from './run-sync.js';

/**
 * What the admin console shows, read through the engine (its pages never touch the store): the run
 * journal, what a run changed, series for the charts, each directory's state, a live explanation.
 */

export async function recentRuns(deps: EngineDeps, limit: number): Promise<RunRecord[]> {
  return deps.store.listRuns({ limit });
}

/** How many runs the console looks back over to find one by id. */
const RUN_LOOKBACK = 500;

export interface RunChanges {
  readonly run: RunRecord;
  /** History lines the run wrote, by kind (created, updated, renamed, deactivated, reactivated, …), at most `limit`. */
  readonly events: readonly CustomerEvent[];
  readonly totalEvents: number;
  /** The username of each customer the events name. */
  readonly usernames: Readonly<Record<string, string>>;
}

export async function runChanges(deps: EngineDeps, runId: string, limit = 500): Promise<RunChanges | null> {
  const run = (await deps.store.listRuns({ limit: RUN_LOOKBACK })).find((r) => r.runId === runId);
  if (run === undefined) return null;
  const events = createHeldPlanRecords(deps.store.records);
  const [list, totalEvents] = await Promise.all([events.eventsOfRun(runId, limit), events.countEventsOfRun(runId)]);
  const customers = await recordsFor(deps.store, deps.loaded).customers.byKeys([...new Set(list.map((e) => e.customerKey))]);
  const usernames: Record<string, string> = {};
  for (const [key, c] of customers) usernames[key] = c.username;
  return { run, events: list, totalEvents, usernames };
}

/**
 * One point per run that made a plan, oldest first: directory customers after it, seat leaks, licence
 * violations (a seat leak under policy "fail", a customer default group that is licensed, a failed
 * post-apply re-check) and, apart from them, rejections by a safety rule (too many deactivations, an
 * empty read): those protect customers, not licences.
 */
export interface RunPoint {
  readonly runId: string;
  readonly at: string;
  readonly outcome: RunRecord['outcome'];
  /** Active directory customers the plan left (created + updated + reactivated + unchanged + withheld). */
  readonly customers: number;
  readonly leaks: number;
  readonly licenceViolations: number;
  readonly safetyRejections: number;
}

const SAFETY_RULES: ReadonlySet<string> = new Set(['too-many-deactivations', 'empty-snapshot']);

export async function runSeries(deps: EngineDeps, limit = 100): Promise<RunPoint[]> {
  const runs = await deps.store.listRuns({ limit });
  return runs
    .filter((r) => r.summary !== null && r.outcome !== 'dry-run')
    .map((r) => {
      const s = r.summary as NonNullable<RunRecord['summary']>;
      const applied = r.outcome === 'success' || r.outcome === 'partial' || r.outcome === 'withheld';
      return {
        runId: r.runId,
        at: r.startedAt,
        outcome: r.outcome,
        customers: applied ? s.create + s.update + s.reactivate + s.unchanged + s.withheld : s.update + s.unchanged + s.withheld + s.deactivate,
        leaks: r.seatLeaks.length,
        licenceViolations: r.violations.filter((v) => !SAFETY_RULES.has(v.kind)).length + (r.verification === 'failed' ? 1 : 0),
        safetyRejections: r.violations.filter((v) => SAFETY_RULES.has(v.kind)).length,
      };
    })
    .reverse();
}

export interface DirectoryStatus {
  readonly id: string;
  readonly type: string;
  /** The last run that tried to read it: when, how it went, what it counted. */
  readonly lastRead: { readonly runId: string; readonly at: string; readonly status: string; readonly users: number | null; readonly groups: number | null; readonly note: string | null } | null;
  /** The last complete, trusted read (the count-drop gate's reference). */
  readonly lastSuccess: { readonly at: string | null; readonly users: number } | null;
  /** Who holds its sync lease now, if anyone. */
  readonly lease: { readonly holder: string; readonly until: string } | null;
}


export async function directoryStatuses(deps: EngineDeps): Promise<DirectoryStatus[]> {
  const [runs, states] = await Promise.all([deps.store.listRuns({ limit: 200 }), deps.store.getDirectoryStates()]);
  const out: DirectoryStatus[] = [];
  for (const dir of deps.loaded.config.directories) {
    const run = runs.find((r) => r.directories.some((d) => d.directoryId === dir.id && d.status !== 'not-read'));
    const read = run?.directories.find((d) => d.directoryId === dir.id);
    const state = states[dir.id];
    out.push({
      id: dir.id,
      type: dir.type,
      lastRead: run === undefined || read === undefined ? null : { runId: run.runId, at: run.startedAt, status: read.status, users: read.users, groups: read.groups, note: read.note },
      lastSuccess: state?.lastTrustedUsers === undefined ? null : { at: state.lastTrustedAt ?? null, users: state.lastTrustedUsers },
      lease: await leaseHolder(deps, leaseNameFor(dir.id)),
    });
  }
  return out;
}

/** Who holds a directory's sync lease now, read without claiming it (a run is never made to wait). */
async function leaseHolder(deps: EngineDeps, name: string): Promise<DirectoryStatus['lease']> {
  try {
    const held = await deps.store.peekLease(name);
    return held === null ? null : { holder: held.holder, until: held.expiresAt };
  } catch (error) {
    deps.logger.warn({ lease: name, err: (error as Error).message }, 'console: the lease holder could not be read');
    return { holder: 'unknown (the store did not answer)', until: '' };
  }
}

/** `explain USER` for the console: why this username is (not) a customer, read from the directories now. */
export async function explainLive(deps: EngineDeps, username: string): Promise<{ explanation: Explanation; stored: StoredCustomer[]; unreadDirectories: { directoryId: string; code: string; message: string }[] }> {
  const { snapshots, failures } = await readSnapshots(deps, deps.loaded.config.directories);
  const explanation = explainUser(username, policyFromConfig(deps.loaded.config), snapshots);
  return { explanation, stored: await deps.store.findByUsername(username), unreadDirectories: failures };
}
