import { normalizeGroupName } from '../core/group-name.js';
import type { SyncPlan, SyncPolicy } from '../core/model.js';
import type { LoadedConfig } from '../config/load-config.js';
import type { DirbridgeConfig } from '../config/schema.js';
import { DirbridgeError, isDirbridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ApplicationAccess, LicenceSource } from '../ports/licence-source.js';
import type { RunLicensing, SyncStore } from '../ports/store.js';

/**
 * The licensed set in force, and where it came from. With `licensing.source: jira` it is Jira's
 * application access groups plus `licensing.licensedGroups` (never fewer than configured); when Jira
 * cannot be read, the groups of the last complete read kept in the store stand in for them, and the
 * state is stale. The core only ever sees the resulting list of group names.
 */
export interface Licensing {
  readonly source: 'config' | 'jira';
  /**
   * `configured`: source config. `read`: Jira was read now. `stale`: Jira could not be read; the last
   * read kept (if any) stands in. `unsupported`: Jira has no application roles (HTTP 404).
   */
  readonly status: 'configured' | 'read' | 'stale' | 'unsupported';
  /** Configured list plus the source's access groups: what the planner, the store guard and the audit use. */
  readonly licensedGroups: readonly string[];
  readonly configuredGroups: readonly string[];
  /** Where the source's groups came from (the Jira base URL), or null for source config. */
  readonly label: string | null;
  /** When the source's groups in use were read (now, or the time of the last read kept); null when none. */
  readonly readAt: string | null;
  /** The applications in use, as last read (seat figures as Jira reported them then). */
  readonly applications: readonly ApplicationAccess[];
  /** Why the source could not be read, when stale. */
  readonly error: { readonly code: string; readonly message: string } | null;
  /** What a run or an audit says about the set: stale, unsupported. */
  readonly warnings: readonly string[];
  /** Customer groups that Jira's settings make licensed: config errors found against the source. */
  readonly problems: readonly LicensingProblem[];
}

export interface LicensingProblem {
  /** `roles.customer.groups[i]` */
  readonly path: string;
  readonly group: string;
  readonly application: string;
  /** `default-group`: new users put in it get the application; `access-group`: its members have it. */
  readonly kind: 'access-group' | 'default-group';
  readonly message: string;
}

export interface LicensingDeps {
  readonly loaded: LoadedConfig;
  readonly store: SyncStore;
  readonly logger: Logger;
  readonly clock?: () => Date;
  readonly signal?: AbortSignal;
  /** Opens the licence source; by default the one licensing.jira describes. */
  readonly openLicenceSource?: () => Promise<LicenceSource>;
}

export interface ResolveOptions {
  /** Keep a complete read in the store (a sync does; plans and audits only use it). */
  readonly save: boolean;
}

/** Opens the Jira that licensing.jira describes, its secrets resolved now. */
export async function openConfiguredLicenceSource(loaded: LoadedConfig, logger: Logger): Promise<LicenceSource> {
  const jira = loaded.config.licensing.jira;
  if (jira === undefined) throw new DirbridgeError('ERR_CONFIG', 'licensing.source is jira but licensing.jira is missing');
  const { openJiraLicenceSource } = await import('../../connectors/jira/jira-licence-source.js');
  return openJiraLicenceSource(loaded.resolveSecrets(jira), { logger, baseDir: loaded.baseDir });
}

/**
 * The licensed set for a run or an audit. Reads Jira when the config says so; a read that fails for an
 * outage or an unexpected answer falls back to the last read kept (plus the configured list) and says
 * so; refused credentials or permissions (ERR_JIRA_AUTH, ERR_JIRA_PERMISSION) are errors. The store's
 * guard is widened to the resulting set before anything is written.
 */
export async function resolveLicensing(deps: LicensingDeps, options: ResolveOptions): Promise<Licensing> {
  const { config } = deps.loaded;
  const configured = config.licensing.licensedGroups;
  if (config.licensing.source === 'config') return configuredLicensing(configured);
  const source = await (deps.openLicenceSource ?? (() => openConfiguredLicenceSource(deps.loaded, deps.logger)))();
  try {
    return await resolveFromSource(deps, source, options);
  } finally {
    await source.close();
  }
}

/** As `resolveLicensing`, with a source the caller opened (and closes). */
export async function resolveFromSource(deps: LicensingDeps, source: LicenceSource, options: ResolveOptions): Promise<Licensing> {
  const { config } = deps.loaded;
  const now = (deps.clock ?? (() => new Date()))().toISOString();
  const log = deps.logger.child({ licenceSource: source.kind });
  let licensing: Licensing;
  try {
    const read = await source.readApplications(deps.signal === undefined ? {} : { signal: deps.signal });
    if (read.kind === 'applications') {
      if (options.save) await deps.store.saveLicenceRead({ source: 'jira', label: source.label, readAt: now, applications: read.applications });
      licensing = fromApplications(config, { status: 'read', label: source.label, readAt: now, applications: read.applications, error: null, warnings: [] });
      log.info({ applications: read.applications.length, licensedGroups: licensing.licensedGroups.length }, 'licensed groups read from Jira');
    } else {
      const kept = await deps.store.loadLicenceRead('jira');
      // A Jira that had application roles does not lose them: a 404 after a complete read is a wrong URL or a proxy.
      const keptText = kept === null ? '' : `, plus the application access groups read from ${kept.label} at ${kept.readAt} (kept: a 404 after a complete read is more likely a wrong URL or a proxy than a Jira without application roles)`;
      const warning = `${read.reason}: the licensed groups are licensing.licensedGroups${keptText}`;
      log.warn(warning);
      licensing = fromApplications(config, { status: 'unsupported', label: source.label, readAt: kept?.readAt ?? null, applications: kept?.applications ?? [], error: null, warnings: [warning] });
    }
  } catch (error) {
    deps.signal?.throwIfAborted();
    const e = isDirbridgeError(error) ? error : new DirbridgeError('ERR_JIRA_RESPONSE', `Jira could not be read: ${(error as Error).message}`, { cause: error });
    if (e.code === 'ERR_JIRA_AUTH' || e.code === 'ERR_JIRA_PERMISSION' || e.code === 'ERR_STORE') throw e;
    const message = deps.loaded.secrets.scrub(e.message);
    const kept = await deps.store.loadLicenceRead('jira');
    const warning =
      kept === null
        ? `the licensed set is STALE: Jira could not be read (${e.code}: ${message}) and no earlier read is kept: only licensing.licensedGroups is licensed in this run`
        : `the licensed set is STALE: Jira could not be read (${e.code}: ${message}): using the application access groups read at ${kept.readAt}, plus licensing.licensedGroups`;
    log.warn({ code: e.code }, warning);
    licensing = fromApplications(config, { status: 'stale', label: source.label, readAt: kept?.readAt ?? null, applications: kept?.applications ?? [], error: { code: e.code, message }, warnings: [warning] });
  }
  await deps.store.guardLicensedGroups(licensing.licensedGroups);
  return licensing;
}

export function configuredLicensing(configured: readonly string[]): Licensing {
  return { source: 'config', status: 'configured', licensedGroups: configured, configuredGroups: configured, label: null, readAt: null, applications: [], error: null, warnings: [], problems: [] };
}

type SourceState = Pick<Licensing, 'status' | 'label' | 'readAt' | 'applications' | 'error' | 'warnings'>;

/** The licensed set from the configured list and the applications in use, with the config checked against them. */
export function fromApplications(config: DirbridgeConfig, state: SourceState): Licensing {
  const configured = config.licensing.licensedGroups;
  const seen = new Set(configured.map(normalizeGroupName));
  const licensedGroups = [...configured];
  for (const app of state.applications) {
    for (const group of [...app.groups, ...app.defaultGroups]) {
      const name = normalizeGroupName(group);
      if (seen.has(name)) continue;
      seen.add(name);
      licensedGroups.push(group);
    }
  }
  const problems = licensingProblems(config.roles.customer.groups, state.applications);
  // An access group among the customer groups is licensed like any other: stripped from every customer
  // (per onLicensedMembership), and the run says why. A default group rejects the plan (licensingViolations).
  const stripped = problems.filter((p) => p.kind === 'access-group').map((p) => `${p.message}. Until then it is treated as licensed: it is stripped from every customer (licensing.onLicensedMembership)`);
  return { source: 'jira', ...state, warnings: [...state.warnings, ...stripped], licensedGroups, configuredGroups: configured, problems };
}

/**
 * Customer default groups that Jira's application access settings make licensed: an application's
 * default group (every user Jira puts in it gets the application), or one of its access groups (the
 * cardinal misconfiguration: every customer in it consumes a seat). One problem per group and application.
 */
export function licensingProblems(customerGroups: readonly string[], applications: readonly ApplicationAccess[]): LicensingProblem[] {
  const problems: LicensingProblem[] = [];
  customerGroups.forEach((group, i) => {
    const name = normalizeGroupName(group);
    const path = `roles.customer.groups[${i}]`;
    for (const app of applications) {
      const application = `"${app.name}" (${app.key})`;
      if (app.defaultGroups.some((g) => normalizeGroupName(g) === name)) {
        problems.push({
          path, group, application: app.key, kind: 'default-group',
          message:
            `${path}: customer group "${group}" is a default group of the Jira application ${application}: every user Jira puts in it gets ${app.name} and consumes a licence seat, and every customer in it holds one. ` +
            'Use a separate group for customers, or remove the group from the application\'s default groups and groups in Jira (Administration → Applications → Application access)',
        });
      } else if (app.groups.some((g) => normalizeGroupName(g) === name)) {
        problems.push({
          path, group, application: app.key, kind: 'access-group',
          message:
            `${path}: customer group "${group}" grants access to the Jira application ${application}: every customer in it would consume a licence seat. ` +
            'Use a separate group for customers, or remove the group from the application in Jira (Administration → Applications → Application access)',
        });
      }
    }
  });
  return problems;
}

/** The planner's policy with the licensed set in force. */
export function withLicensing(policy: SyncPolicy, licensing: Licensing): SyncPolicy {
  return { ...policy, licensedGroups: licensing.licensedGroups };
}

/**
 * A plan with the customer groups that are an application's default group added as violations: it is
 * rejected (every user Jira puts in such a group gets the application). A customer group that is only
 * an access group is licensed like any other group instead: the planner strips it.
 */
export function licensingViolations(plan: SyncPlan, licensing: Licensing): SyncPlan {
  const defaults = licensing.problems.filter((p) => p.kind === 'default-group');
  if (defaults.length === 0) return plan;
  return { ...plan, violations: [...plan.violations, ...defaults.map((p) => ({ kind: 'licensed-customer-group' as const, directoryId: null, message: p.message }))] };
}

/** What a run record and a sync result keep of the licensing: where the set came from, and whether it is stale. */
export type LicensingSummary = RunLicensing;

export function licensingSummary(licensing: Licensing): LicensingSummary {
  const { source, status, label, readAt, licensedGroups, warnings } = licensing;
  return { source, status, label, readAt, licensedGroups, warnings };
}
