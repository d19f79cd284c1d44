import { customerKey, type DirectorySnapshot, type PlanWarning, type SyncPolicy } from './model.js';
import { normalizeGroupName, normalizeUsername } from './group-name.js';
import { planSync } from './plan-sync.js';
import { membershipPaths } from './resolve-memberships.js';

export interface GroupPath {
  /** The target group's name, and its identity (a DN for LDAP). */
  readonly group: string;
  readonly groupId: string;
  /** How the output names it: the name, with the identity when another group has the same name. */
  readonly label: string;
  /** From the user's direct group up to the target, as labels, e.g. ["emea-customers", "sd-customers"]. */
  readonly path: readonly string[];
}

export interface DirectoryExplanation {
  readonly directoryId: string;
  readonly externalId: string;
  readonly username: string;
  readonly disabled: boolean;
  readonly location: string | null;
  readonly allUsers: boolean;
  /** The directory (and, where known, the entry's DN) that holds the username instead. */
  readonly shadowedBy: string | null;
  readonly customerPaths: readonly GroupPath[];
  readonly licensedPaths: readonly GroupPath[];
}

export interface Explanation {
  readonly username: string;
  readonly verdict: 'customer' | 'not-customer' | 'not-found';
  readonly reason: string;
  readonly copies: readonly DirectoryExplanation[];
  /** Customer groups no directory holds; member references of customer and licensed groups that match nobody. */
  readonly warnings: readonly PlanWarning[];
}

/** Why a username is or is not a customer, from the snapshots alone (the store's view is added by the caller). */
export function explainUser(username: string, policy: SyncPolicy, snapshots: readonly DirectorySnapshot[]): Explanation {
  const wanted = normalizeUsername(username);
  const plan = planSync({ policy, snapshots, current: [] });
  const warnings = plan.warnings ?? [];
  const order = new Map(policy.directories.map((d, i) => [d.id, i]));
  const copies: DirectoryExplanation[] = [];
  for (const snapshot of [...snapshots].sort((a, b) => (order.get(a.directoryId) ?? 0) - (order.get(b.directoryId) ?? 0))) {
    const paths = pathFinder(snapshot, policy);
    for (const user of snapshot.users) {
      if (normalizeUsername(user.username) !== wanted) continue;
      const shadow = plan.shadowed.find((s) => s.directoryId === snapshot.directoryId && s.externalId === user.externalId);
      const found = paths(user.externalId);
      copies.push({
        directoryId: snapshot.directoryId,
        externalId: user.externalId,
        username: user.username,
        disabled: user.disabled,
        location: user.location,
        allUsers: policy.directories.find((d) => d.id === snapshot.directoryId)?.allUsers ?? false,
        shadowedBy: shadow === undefined ? null : `${shadow.shadowedBy}${shadow.shadowedByLocation === null ? '' : ` (${shadow.shadowedByLocation})`}`,
        customerPaths: found.customer,
        licensedPaths: found.licensed,
      });
    }
  }
  const winner = copies.find((c) => c.shadowedBy === null);
  const unresolvedNote = warnings.some((w) => w.kind === 'unresolved-members')
    ? '; some member references of these groups match no user read (see the warnings): this user may be one of them'
    : '';
  if (winner === undefined) return { username, verdict: 'not-found', reason: `no directory read holds this username${unresolvedNote}`, copies, warnings };
  const key = customerKey(winner.directoryId, winner.externalId);
  const created = plan.actions.some((a) => a.kind === 'create' && customerKey(a.customer.directoryId, a.customer.externalId) === key);
  const leak = plan.seatLeaks.find((l) => customerKey(l.directoryId, l.externalId) === key);
  // The groups that count: the winner's, those of another entry with its username in its directory,
  // and in aggregating mode those of every copy.
  const counting = copies.filter((c) => c === winner || c.directoryId === winner.directoryId || policy.aggregateMemberships);
  const chains = [...new Set(counting.flatMap((c) => c.customerPaths.map((p) => p.path.join(' → '))))];
  const via = winner.allUsers ? `directory ${winner.directoryId} admits all its users` : `member of ${chains.join('; ')}`;
  if (created) {
    const stripped = leak === undefined ? '' : `; also in licensed group(s) ${leak.licensedGroups.join(', ')}, which the customer record never carries (policy strip): a seat leak`;
    return { username, verdict: 'customer', reason: `${via} in ${winner.directoryId}${stripped}`, copies, warnings };
  }
  const reason = winner.disabled
    ? `disabled in ${winner.directoryId}`
    : leak !== undefined
      ? `in a customer group and in licensed group(s) ${leak.licensedGroups.join(', ')}; policy ${policy.onLicensedMembership} keeps them out`
      : `in ${winner.directoryId}, but in none of the customer groups (${policy.customerGroups.join(', ')})${copies.length > 1 ? '; lower copies are shadowed and their groups do not count' : ''}${unresolvedNote}`;
  return { username, verdict: 'not-customer', reason, copies, warnings };
}

/** For one snapshot: a user's shortest path to each customer and licensed group, by group identity. */
function pathFinder(snapshot: DirectorySnapshot, policy: SyncPolicy): (externalId: string) => { customer: GroupPath[]; licensed: GroupPath[] } {
  const customerNames = new Set(policy.customerGroups.map(normalizeGroupName));
  const licensedNames = new Set(policy.licensedGroups.map(normalizeGroupName));
  const targets = snapshot.groups.filter((g) => customerNames.has(normalizeGroupName(g.name)) || licensedNames.has(normalizeGroupName(g.name)));
  const targetIds = new Set(targets.map((g) => g.id));
  const label = groupLabels(snapshot);
  return (externalId) => {
    const found = membershipPaths(snapshot, externalId, targetIds);
    const customer: GroupPath[] = [];
    const licensed: GroupPath[] = [];
    for (const target of targets) {
      const path = found.get(target.id);
      if (path === undefined) continue;
      const entry = { group: target.name, groupId: target.id, label: label(target.id), path: path.map(label) };
      if (customerNames.has(normalizeGroupName(target.name))) customer.push(entry);
      if (licensedNames.has(normalizeGroupName(target.name))) licensed.push(entry);
    }
    const byLabel = (a: GroupPath, b: GroupPath): number => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0);
    return { customer: customer.sort(byLabel), licensed: licensed.sort(byLabel) };
  };
}

/** Group id → its name, followed by its id in brackets when another group of the snapshot has the same name. */
function groupLabels(snapshot: DirectorySnapshot): (id: string) => string {
  const byName = new Map<string, number>();
  for (const g of snapshot.groups) byName.set(normalizeGroupName(g.name), (byName.get(normalizeGroupName(g.name)) ?? 0) + 1);
  const names = new Map(snapshot.groups.map((g) => [g.id, g.name]));
  return (id) => {
    const name = names.get(id);
    if (name === undefined) return id;
    return (byName.get(normalizeGroupName(name)) ?? 0) > 1 ? `${name} [${id}]` : name;
  };
}
