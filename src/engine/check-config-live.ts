import type { DirectorySnapshot, PlanWarning } from '../core/model.js';
import { findMissingCustomerGroups, planWarnings, spellingHint } from '../core/plan-warnings.js';
import { policyFromConfig, type LoadedConfig } from '../config/load-config.js';
import type { DirectoryConfig } from '../config/schema.js';
import { DirbridgeError, isDirbridgeError } from '../errors.js';
import type { DirectoryConnector } from '../ports/directory-connector.js';
import type { LicenceSource } from '../ports/licence-source.js';
import type { Logger } from '../logger.js';
import { licensingProblems, openConfiguredLicenceSource } from './licensing.js';

export interface LiveDirectory {
  readonly directoryId: string;
  readonly type: string;
  readonly users: number | null;
  readonly groups: number | null;
  readonly error: { readonly code: string; readonly message: string } | null;
}

/** `config validate --live`: the config checked against what its directories hold now. */
export interface LiveCheck {
  readonly directories: readonly LiveDirectory[];
  /** Config that does not fit the directories, with its path (e.g. a customer group no directory holds). */
  readonly problems: readonly string[];
  /** Worth knowing, not wrong: unresolved member references; missing groups when a directory could not be read. */
  readonly warnings: readonly PlanWarning[];
  /** With licensing.source: jira: what Jira's application access settings hold, or why they could not be read. */
  readonly licensing?: LiveLicensing;
}

export interface LiveLicensing {
  readonly label: string;
  readonly applications: number | null;
  /** Application access groups (default groups included) Jira holds. */
  readonly groups: readonly string[];
  readonly warnings: readonly string[];
  readonly error: { readonly code: string; readonly message: string } | null;
}

export interface LiveLicenceOptions {
  readonly logger: Logger;
  /** Opens the licence source; by default the Jira licensing.jira describes. */
  readonly openLicenceSource?: () => Promise<LicenceSource>;
}

/** Reads every directory whole (as a sync reads) and checks the config's group names against them. */
export async function checkConfigLive(loaded: LoadedConfig, openConnector: (dir: DirectoryConfig) => Promise<DirectoryConnector>, licence?: LiveLicenceOptions): Promise<LiveCheck> {
  const jira = licence === undefined || loaded.config.licensing.source !== 'jira' ? null : await checkJira(loaded, licence);
  const checked = await checkDirectories(loaded, openConnector);
  if (jira === null) return checked;
  return { ...checked, problems: [...jira.problems, ...checked.problems], licensing: jira.live };
}

async function checkDirectories(loaded: LoadedConfig, openConnector: (dir: DirectoryConfig) => Promise<DirectoryConnector>): Promise<LiveCheck> {
  const directories: LiveDirectory[] = [];
  const snapshots: DirectorySnapshot[] = [];
  for (const dir of loaded.config.directories) {
    const connector = await openConnector(dir);
    try {
      const snapshot = await connector.fetchSnapshot();
      snapshots.push(snapshot);
      directories.push({ directoryId: dir.id, type: dir.type, users: snapshot.users.length, groups: snapshot.groups.length, error: null });
    } catch (error) {
      const e = isDirbridgeError(error) ? error : new DirbridgeError('ERR_DIRECTORY_READ', `directory ${dir.id}: ${(error as Error).message}`, { cause: error });
      directories.push({ directoryId: dir.id, type: dir.type, users: null, groups: null, error: { code: e.code, message: e.message } });
    } finally {
      await connector.close();
    }
  }
  const policy = policyFromConfig(loaded.config);
  const warnings = planWarnings(policy, snapshots);
  if (directories.some((d) => d.error !== null)) return { directories, problems: [], warnings };
  // Every directory was read: a customer group none of them holds is a config error, not a guess.
  const ids = directories.map((d) => d.directoryId).join(', ');
  const problems = findMissingCustomerGroups(policy, snapshots).map(
    ({ index, group, nearest }) => `roles.customer.groups[${index}]: customer group "${group}" exists in none of the directories (${ids}): nobody would become a customer through it. ${spellingHint(nearest)}`,
  );
  return { directories, problems, warnings: warnings.filter((w) => w.kind !== 'missing-group') };
}

/**
 * Jira's application access settings against the customer groups: a customer group that is an
 * application's default group or access group is a config problem. Refused credentials or permissions
 * are errors; any other failed read is reported (the config is then unchecked against Jira).
 */
async function checkJira(loaded: LoadedConfig, licence: LiveLicenceOptions): Promise<{ live: LiveLicensing; problems: string[] }> {
  const source = await (licence.openLicenceSource ?? (() => openConfiguredLicenceSource(loaded, licence.logger)))();
  try {
    const read = await source.readApplications();
    if (read.kind === 'unsupported') {
      return { live: { label: source.label, applications: null, groups: [], warnings: [`${read.reason}: only licensing.licensedGroups is licensed`], error: null }, problems: [] };
    }
    const groups = [...new Set(read.applications.flatMap((a) => [...a.groups, ...a.defaultGroups]))].sort();
    const problems = licensingProblems(loaded.config.roles.customer.groups, read.applications).map((p) => p.message);
    return { live: { label: source.label, applications: read.applications.length, groups, warnings: [], error: null }, problems };
  } catch (error) {
    const e = isDirbridgeError(error) ? error : new DirbridgeError('ERR_JIRA_RESPONSE', `Jira could not be read: ${(error as Error).message}`, { cause: error });
    if (e.code === 'ERR_JIRA_AUTH' || e.code === 'ERR_JIRA_PERMISSION') throw e;
    return { live: { label: source.label, applications: null, groups: [], warnings: [], error: { code: e.code, message: loaded.secrets.scrub(e.message) } }, problems: [] };
  } finally {
    await source.close();
  }
}
