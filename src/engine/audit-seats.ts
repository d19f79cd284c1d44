import type { PlanWarning, SeatLeak } from '../core/model.js';
import { planSync } from '../core/plan-sync.js';
import { policyFromConfig } from '../config/load-config.js';
import type { RunRecord, StoredCustomer } from '../ports/store.js';
import { readSnapshots, type EngineDeps } from './run-sync.js';
import { directoryCustomers } from './customers/after-sync.js';
import { auditOrigins, type OriginsAudit } from './customers/audit-origins.js';
import { auditJira, type JiraAuditView } from './audit-jira.js';
import { configuredLicensing, licensingSummary, openConfiguredLicenceSource, resolveFromSource, withLicensing, type Licensing, type LicensingSummary } from './licensing.js';

export type AuditStatus = 'pass' | 'leak' | 'violation';

/** The four views of the invariant, as `dirbridge audit seats` reports them. */
export interface SeatAudit {
  readonly generatedAt: string;
  /** 1. Config: no customer default group is a licensed group (a config failing this never loads). */
  readonly config: {
    readonly customerGroups: readonly string[];
    /** The licensed set in force: the configured list, plus Jira's access groups with licensing.source: jira. */
    readonly licensedGroups: readonly string[];
    /** Customer groups that Jira's application access settings make licensed (a default group or an access group). */
    readonly problems?: readonly string[];
    readonly status: AuditStatus;
  };
  /** 2. Plan: directory users in a customer group and a licensed group. */
  readonly plan: {
    readonly source: 'live' | 'last-run' | 'none';
    readonly runId: string | null;
    readonly seatLeaks: readonly SeatLeak[];
    readonly unreadDirectories: readonly string[];
    /** Customer groups no directory holds, unresolved members of customer and licensed groups: shown, not graded. */
    readonly warnings: readonly PlanWarning[];
    readonly status: AuditStatus;
  };
  /** 3. Store: customers that carry a licensed group (the store refuses them, so this should be empty). */
  readonly store: { readonly activeCustomers: number; readonly licensedCustomers: readonly StoredCustomer[]; readonly status: AuditStatus };
  /** 4. After apply: the last applying run's re-check of the stored state. */
  readonly afterApply: { readonly runId: string | null; readonly verification: RunRecord['verification']; readonly status: AuditStatus };
  /** Customers of every origin: invited and signed-up customers whose address a licensed directory user has. */
  readonly origins: OriginsAudit;
  /** Where the licensed set came from (licensing.source), and whether it is stale. */
  readonly licensing: LicensingSummary;
  /** 5. Jira (licensing.source: jira): seats per application, and the customers Jira counts as users. */
  readonly jira: JiraAuditView | null;
  /** Jira could not be read now: the licensed set is the last one read, and the Jira view is unproven. */
  readonly stale: boolean;
  readonly status: AuditStatus;
}

export async function auditSeats(deps: EngineDeps, options: { live?: boolean } = {}): Promise<SeatAudit> {
  const { config } = deps.loaded;
  const { licensing, jira } = await licensingAudit(deps);
  const licensed = licensing.licensedGroups;
  const runs = await deps.store.listRuns({ limit: 200 });
  const lastApplied = runs.find((r) => r.outcome === 'success' || r.outcome === 'partial' || r.outcome === 'withheld' || r.verification === 'failed');

  let plan: SeatAudit['plan'];
  if (options.live === true) {
    const { snapshots, failures } = await readSnapshots(deps, config.directories);
    const fresh = planSync({ policy: withLicensing(policyFromConfig(config), licensing), snapshots, current: directoryCustomers(await deps.store.loadCurrent()) });
    const unreadDirectories = failures.map((f) => f.directoryId);
    plan = { source: 'live', runId: null, seatLeaks: fresh.seatLeaks, unreadDirectories, warnings: fresh.warnings ?? [], status: leakStatus(fresh.seatLeaks, failures.length) };
  } else if (lastApplied !== undefined) {
    plan = { source: 'last-run', runId: lastApplied.runId, seatLeaks: lastApplied.seatLeaks, unreadDirectories: [], warnings: lastApplied.warnings ?? [], status: leakStatus(lastApplied.seatLeaks, 0) };
  } else {
    plan = { source: 'none', runId: null, seatLeaks: [], unreadDirectories: [], warnings: [], status: 'pass' };
  }

  const [offenders, active] = await Promise.all([deps.store.findLicensedCustomers(licensed, 100), deps.store.listCustomers({ pageSize: 1 })]);
  const store = { activeCustomers: active.total, licensedCustomers: offenders, status: offenders.length > 0 ? 'violation' : 'pass' } as const;
  const verification = lastApplied?.verification ?? 'not-run';
  const afterApply = { runId: lastApplied?.runId ?? null, verification, status: verification === 'failed' ? 'violation' : 'pass' } as const;
  const origins = await auditOrigins(deps.store, deps.loaded);
  const configStatus: AuditStatus = licensing.problems.length > 0 ? 'violation' : 'pass';
  const statuses: AuditStatus[] = ['pass', configStatus, plan.status, store.status, afterApply.status, origins.status, jira?.status ?? 'pass'];
  const status = statuses.includes('violation') ? 'violation' : statuses.includes('leak') ? 'leak' : 'pass';
  return {
    generatedAt: (deps.clock?.() ?? new Date()).toISOString(),
    config: { customerGroups: config.roles.customer.groups, licensedGroups: licensed, problems: licensing.problems.map((p) => p.message), status: configStatus },
    plan,
    store,
    afterApply,
    origins,
    licensing: licensingSummary(licensing),
    jira,
    stale: licensing.status === 'stale' || jira?.state === 'stale',
    status,
  };
}

/** A directory that could not be read leaves the live audit unproven, which counts as a violation. */
function leakStatus(leaks: readonly SeatLeak[], unread: number): AuditStatus {
  if (unread > 0) return 'violation';
  return leaks.length > 0 ? 'leak' : 'pass';
}

/** The licensed set and, with licensing.source: jira, the Jira view (read now; stale when Jira cannot be read). */
async function licensingAudit(deps: EngineDeps): Promise<{ licensing: Licensing; jira: JiraAuditView | null }> {
  if (deps.loaded.config.licensing.source === 'config') return { licensing: configuredLicensing(deps.loaded.config.licensing.licensedGroups), jira: null };
  const source = await (deps.openLicenceSource ?? (() => openConfiguredLicenceSource(deps.loaded, deps.logger)))();
  try {
    const licensing = await resolveFromSource(deps, source, { save: false });
    const jira = await auditJira(deps, source, licensing, await deps.store.loadCurrent());
    return { licensing, jira };
  } finally {
    await source.close();
  }
}
