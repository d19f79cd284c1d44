import { customerKey, type DirectorySnapshot, type SyncPolicy } from './model.js';
import { normalizeGroupName, normalizeUsername } from './group-name.js';
import { planSync } from './plan-sync.js';
import { membershipPaths } from './resolve-memberships.js';

export interface GroupPath {
  readonly group: string;
  /** From the user's direct group up to `group`, e.g. ["emea-customers", "sd-customers"]. */
  readonly path: readonly string[];
}

export interface DirectoryExplanation {
  readonly directoryId: string;
  readonly externalId: string;
  readonly username: string;
  readonly disabled: boolean;
  readonly location: string | null;
  readonly allUsers: boolean;
  readonly shadowedBy: string | null;
  readonly customerPaths: readonly GroupPath[];
  readonly licensedPaths: readonly GroupPath[];
}

export interface Explanation {
  readonly username: string;
  readonly verdict: 'customer' | 'not-customer' | 'not-found';
  readonly reason: string;
  readonly copies: readonly DirectoryExplanation[];
}

/** Why a username is or is not a customer, from the snapshots alone (the store's view is added by the caller). */
export function explainUser(username: string, policy: SyncPolicy, snapshots: readonly DirectorySnapshot[]): Explanation {
  const wanted = normalizeUsername(username);
  const plan = planSync({ policy, snapshots, current: [] });
  const order = new Map(policy.directories.map((d, i) => [d.id, i]));
  const customerNames = new Set(policy.customerGroups.map(normalizeGroupName));
  const licensedNames = new Set(policy.licensedGroups.map(normalizeGroupName));
  const copies: DirectoryExplanation[] = [];
  for (const snapshot of [...snapshots].sort((a, b) => (order.get(a.directoryId) ?? 0) - (order.get(b.directoryId) ?? 0))) {
    for (const user of snapshot.users) {
      if (normalizeUsername(user.username) !== wanted) continue;
      const paths = (names: Set<string>): GroupPath[] =>
        snapshot.groups
          .filter((g) => names.has(normalizeGroupName(g.name)))
          .flatMap((g) => membershipPaths(snapshot, user.externalId, g.name).slice(0, 1).map((path) => ({ group: g.name, path })));
      const shadow = plan.shadowed.find((s) => s.directoryId === snapshot.directoryId && s.externalId === user.externalId);
      copies.push({
        directoryId: snapshot.directoryId,
        externalId: user.externalId,
        username: user.username,
        disabled: user.disabled,
        location: user.location,
        allUsers: policy.directories.find((d) => d.id === snapshot.directoryId)?.allUsers ?? false,
        shadowedBy: shadow?.shadowedBy ?? null,
        customerPaths: paths(customerNames),
        licensedPaths: paths(licensedNames),
      });
    }
  }
  const winner = copies.find((c) => c.shadowedBy === null);
  if (winner === undefined) return { username, verdict: 'not-found', reason: 'no directory read holds this username', copies };
  const key = customerKey(winner.directoryId, winner.externalId);
  const created = plan.actions.some((a) => a.kind === 'create' && customerKey(a.customer.directoryId, a.customer.externalId) === key);
  const leak = plan.seatLeaks.find((l) => customerKey(l.directoryId, l.externalId) === key);
  const via = winner.allUsers ? `directory ${winner.directoryId} admits all its users` : `member of ${winner.customerPaths.map((p) => p.path.join(' → ')).join('; ')}`;
  if (created) {
    const stripped = leak === undefined ? '' : `; also in licensed group(s) ${leak.licensedGroups.join(', ')}, which the customer record never carries (policy strip): a seat leak`;
    return { username, verdict: 'customer', reason: `${via} in ${winner.directoryId}${stripped}`, copies };
  }
  const reason = winner.disabled
    ? `disabled in ${winner.directoryId}`
    : leak !== undefined
      ? `in a customer group and in licensed group(s) ${leak.licensedGroups.join(', ')}; policy ${policy.onLicensedMembership} keeps them out`
      : `in ${winner.directoryId}, but in none of the customer groups (${policy.customerGroups.join(', ')})${copies.length > 1 ? '; lower copies are shadowed and their groups do not count' : ''}`;
  return { username, verdict: 'not-customer', reason, copies };
}
