import type { DirectorySnapshot, PlanWarning } from '../core/model.js';
import { findMissingCustomerGroups, planWarnings, spellingHint } from '../core/plan-warnings.js';
import { policyFromConfig, type LoadedConfig } from '../config/load-config.js';
import type { DirectoryConfig } from '../config/schema.js';
import { DirbridgeError, isDirbridgeError } from '../errors.js';
import type { DirectoryConnector } from '../ports/directory-connector.js';

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
}

/** Reads every directory whole (as a sync reads) and checks the config's group names against them. */
export async function checkConfigLive(loaded: LoadedConfig, openConnector: (dir: DirectoryConfig) => Promise<DirectoryConnector>): Promise<LiveCheck> {
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
