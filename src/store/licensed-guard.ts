import { normalizeGroupName } from '../core/group-name.js';
import type { PlanAction } from '../core/model.js';
import { DirbridgeError } from '../errors.js';

export function normalizedLicensed(licensedGroups: readonly string[]): Set<string> {
  return new Set(licensedGroups.map(normalizeGroupName));
}

/** Store-time refusal, checked for the whole call before anything is written. */
export function assertNoLicensedGroups(actions: readonly PlanAction[], licensedGroups: readonly string[]): void {
  const licensed = normalizedLicensed(licensedGroups);
  for (const action of actions) {
    if (action.kind === 'deactivate') continue;
    const bad = action.customer.groups.find((g) => licensed.has(normalizeGroupName(g)));
    if (bad !== undefined) {
      throw new DirbridgeError(
        'ERR_STORE_INVARIANT',
        `refusing to store customer ${action.customer.username} (${action.customer.directoryId}): it carries the licensed group "${bad}"`,
      );
    }
  }
}
