import { normalizeGroupName, normalizeUsername } from '../core/group-name.js';
import { DirbridgeError, isDirbridgeError } from '../errors.js';
import type { ApplicationSeats, LicenceSource } from '../ports/licence-source.js';
import type { CurrentCustomer } from '../core/model.js';
import type { Licensing, LicensingDeps } from './licensing.js';

export type JiraAuditStatus = 'pass' | 'leak' | 'violation';

/**
 * `audit seats`, Jira view: per application, the seat figures as Jira reports them, and the active
 * customers Jira counts as users of it (active members of its access groups, read now), each with the
 * group(s) that do it. Any such customer is a leak; a view that could not be read now is unproven,
 * which counts as a violation (as an unread directory does in the live view).
 */
export interface JiraAuditView {
  /** Where it was read (the Jira base URL). */
  readonly label: string | null;
  /** `read`: Jira answered now. `stale`: it could not be read (figures from the last read kept, customers unknown). `unsupported`: no application roles. */
  readonly state: 'read' | 'stale' | 'unsupported';
  /** When the figures shown were read. */
  readonly readAt: string | null;
  /** Why the view is stale or unsupported. */
  readonly note: string | null;
  readonly applications: readonly JiraApplicationView[];
  readonly status: JiraAuditStatus;
}

export interface JiraApplicationView {
  readonly key: string;
  readonly name: string;
  readonly seats: ApplicationSeats;
  readonly groups: readonly string[];
  readonly defaultGroups: readonly string[];
  /** Active customers Jira counts as users of the application; null when the members could not be read. */
  readonly customers: readonly JiraCountedCustomer[] | null;
}

export interface JiraCountedCustomer {
  readonly username: string;
  readonly directoryId: string;
  readonly externalId: string;
  /** The application's access groups that hold the customer in Jira, sorted. */
  readonly via: readonly string[];
}

/**
 * Builds the Jira view from the licensing just resolved and, when Jira answered, the members of every
 * access group (each group read once). Refused credentials or permissions are errors; an outage while
 * reading members makes the view stale.
 */
export async function auditJira(deps: LicensingDeps, source: LicenceSource, licensing: Licensing, customers: readonly CurrentCustomer[]): Promise<JiraAuditView> {
  const base = { label: licensing.label, readAt: licensing.readAt };
  if (licensing.status === 'unsupported') {
    return { ...base, state: 'unsupported', note: licensing.warnings.join('; '), applications: licensing.applications.map((a) => viewOf(a, null)), status: 'pass' };
  }
  if (licensing.status !== 'read') {
    const note = `Jira could not be read now (${licensing.error?.code ?? 'unknown'}: ${licensing.error?.message ?? ''}): seat figures are from ${licensing.readAt ?? 'no earlier read'}; which customers Jira counts is unknown`;
    return { ...base, state: 'stale', note, applications: licensing.applications.map((a) => viewOf(a, null)), status: 'violation' };
  }
  let members: Map<string, Set<string>>;
  try {
    members = await readMembers(deps, source, licensing);
  } catch (error) {
    deps.signal?.throwIfAborted();
    const e = isDirbridgeError(error) ? error : new DirbridgeError('ERR_JIRA_RESPONSE', (error as Error).message, { cause: error });
    if (e.code === 'ERR_JIRA_AUTH' || e.code === 'ERR_JIRA_PERMISSION') throw e;
    const note = `group members could not be read from Jira (${e.code}: ${deps.loaded.secrets.scrub(e.message)}): which customers Jira counts is unknown`;
    return { ...base, state: 'stale', note, applications: licensing.applications.map((a) => viewOf(a, null)), status: 'violation' };
  }
  const byUsername = new Map<string, CurrentCustomer[]>();
  for (const c of customers) {
    if (!c.active) continue;
    const key = normalizeUsername(c.username);
    byUsername.set(key, [...(byUsername.get(key) ?? []), c]);
  }
  const applications = licensing.applications.map((app) => {
    const counted = new Map<CurrentCustomer, Set<string>>();
    for (const group of app.groups) {
      for (const username of members.get(normalizeGroupName(group)) ?? []) {
        for (const customer of byUsername.get(username) ?? []) counted.set(customer, (counted.get(customer) ?? new Set()).add(group));
      }
    }
    const list = [...counted].map(([c, via]) => ({ username: c.username, directoryId: c.directoryId, externalId: c.externalId, via: [...via].sort() }));
    list.sort((a, b) => a.username.localeCompare(b.username) || a.directoryId.localeCompare(b.directoryId) || a.externalId.localeCompare(b.externalId));
    return viewOf(app, list);
  });
  const leaking = applications.some((a) => (a.customers?.length ?? 0) > 0);
  return { ...base, state: 'read', note: null, applications, status: leaking ? 'leak' : 'pass' };
}

/** Active members of every access group, by normalised group name: usernames, normalised. */
async function readMembers(deps: LicensingDeps, source: LicenceSource, licensing: Licensing): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  const options = deps.signal === undefined ? {} : { signal: deps.signal };
  for (const app of licensing.applications) {
    for (const group of app.groups) {
      const name = normalizeGroupName(group);
      if (out.has(name)) continue;
      const set = new Set<string>();
      for await (const page of source.activeGroupMembers(group, options)) for (const user of page) set.add(normalizeUsername(user.name));
      out.set(name, set);
    }
  }
  return out;
}

function viewOf(app: Licensing['applications'][number], customers: JiraCountedCustomer[] | null): JiraApplicationView {
  return { key: app.key, name: app.name, seats: app.seats, groups: app.groups, defaultGroups: app.defaultGroups, customers };
}
