import { contentHash } from './content-hash.js';
import { normalizeGroupName } from './group-name.js';
import type { SyncPolicy } from './model.js';

/**
 * What a stored snapshot's plan depended on besides the directory: customer groups, licensed groups,
 * the licensed-membership policy, directory order (with `allUsers`) and aggregating mode. An
 * incremental run plans only the users its changes name, so when this differs from the one stored
 * with the snapshot (the config changed) every user's outcome may have changed: it reads whole.
 * Group lists are compared as sets of normalised names; directory order counts.
 */
export function policyFingerprint(policy: SyncPolicy): string {
  const groups = (list: readonly string[]): string[] => [...new Set(list.map(normalizeGroupName))].sort();
  return contentHash([
    'v1',
    groups(policy.customerGroups),
    groups(policy.licensedGroups),
    policy.onLicensedMembership,
    policy.aggregateMemberships ? 'aggregate' : 'winner',
    policy.directories.map((d) => JSON.stringify([d.id, d.allUsers])),
  ]);
}
