import type { DirectorySnapshot, PlanWarning, SyncPolicy, UnresolvedMembers } from './model.js';
import { normalizeGroupName } from './group-name.js';

/**
 * What the directories say that makes a plan smaller than the admin may expect, without making it
 * wrong: a customer group that no directory read holds (a typo gives 0 customers, not an error), and
 * member references of the groups that matter (customer and licensed groups and the groups nested in
 * them) that match no user or group of the read.
 */
export function planWarnings(policy: SyncPolicy, snapshots: readonly DirectorySnapshot[]): PlanWarning[] {
  // In config order, whatever order the reads came in.
  const order = new Map(policy.directories.map((d, i) => [d.id, i]));
  const sorted = [...snapshots].sort((a, b) => (order.get(a.directoryId) ?? order.size) - (order.get(b.directoryId) ?? order.size) || compare(a.directoryId, b.directoryId));
  return [...missingCustomerGroups(policy, sorted), ...unresolvedInTargets(policy, sorted)];
}

export interface MissingGroup {
  /** Its index in roles.customer.groups. */
  readonly index: number;
  readonly group: string;
  /** The closest name a directory holds, when it looks like a typo of it. */
  readonly nearest: string | null;
}

function missingCustomerGroups(policy: SyncPolicy, snapshots: readonly DirectorySnapshot[]): PlanWarning[] {
  const read = snapshots.map((s) => s.directoryId).join(', ');
  return findMissingCustomerGroups(policy, snapshots).map(({ index, group, nearest }) => ({
    kind: 'missing-group',
    directoryId: null,
    group,
    message: `customer group "${group}" (roles.customer.groups[${index}]) exists in none of the directories read (${read}): nobody becomes a customer through it. ${spellingHint(nearest)}`,
  }));
}

export function spellingHint(nearest: string | null): string {
  return nearest === null ? 'Check its spelling' : `Check its spelling: did you mean "${nearest}"?`;
}

/** Customer groups that none of the snapshots holds (nothing, when nothing was read). */
export function findMissingCustomerGroups(policy: SyncPolicy, snapshots: readonly DirectorySnapshot[]): MissingGroup[] {
  if (snapshots.length === 0 || policy.customerGroups.length === 0) return [];
  const names = new Map<string, string>();
  for (const snapshot of snapshots) {
    for (const g of snapshot.groups) {
      const normal = normalizeGroupName(g.name);
      const known = names.get(normal);
      if (known === undefined || compare(g.name, known) < 0) names.set(normal, g.name);
    }
  }
  const missing: MissingGroup[] = [];
  policy.customerGroups.forEach((group, index) => {
    const wanted = normalizeGroupName(group);
    if (!names.has(wanted)) missing.push({ index, group, nearest: nearestName(wanted, names) });
  });
  return missing;
}

function unresolvedInTargets(policy: SyncPolicy, snapshots: readonly DirectorySnapshot[]): PlanWarning[] {
  const warnings: PlanWarning[] = [];
  for (const snapshot of snapshots) {
    const unresolved = snapshot.unresolvedMembers ?? [];
    if (unresolved.length === 0) continue;
    const relevant = groupsUnderTargets(snapshot, [...policy.customerGroups, ...policy.licensedGroups]);
    const here = unresolved.filter((u) => relevant.has(u.groupId)).sort((a, b) => compare(a.group, b.group) || compare(a.groupId, b.groupId));
    for (const u of here) warnings.push(unresolvedWarning(snapshot.directoryId, u));
  }
  return warnings;
}

export function unresolvedWarning(directoryId: string, u: UnresolvedMembers): PlanWarning {
  const one = u.count === 1;
  return {
    kind: 'unresolved-members',
    directoryId,
    group: u.group,
    count: u.count,
    examples: u.examples,
    message: `${u.group} (${directoryId}): ${u.count} member reference${one ? '' : 's'} match${one ? 'es' : ''} no user or group read (e.g. ${u.examples.join(', ')}): those members are not counted`,
  };
}

/** Ids of the groups named in `targets` and of every group nested in them (cycle-safe). */
export function groupsUnderTargets(snapshot: DirectorySnapshot, targets: readonly string[]): Set<string> {
  const wanted = new Set(targets.map(normalizeGroupName));
  const byId = new Map(snapshot.groups.map((g) => [g.id, g]));
  const seen = new Set<string>();
  const queue = snapshot.groups.filter((g) => wanted.has(normalizeGroupName(g.name))).map((g) => g.id);
  for (const id of queue) seen.add(id);
  for (let i = 0; i < queue.length; i++) {
    for (const child of byId.get(queue[i] as string)?.memberGroupIds ?? []) {
      if (!seen.has(child)) {
        seen.add(child);
        queue.push(child);
      }
    }
  }
  return seen;
}

/** The closest group name by edit distance, when it is close enough to be a likely typo. */
function nearestName(wanted: string, names: ReadonlyMap<string, string>): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(wanted.length / 4)) + 1;
  for (const [normal, spelled] of names) {
    if (Math.abs(normal.length - wanted.length) > bestDistance) continue;
    const d = editDistance(wanted, normal, bestDistance + 1);
    if (d < bestDistance || (d === bestDistance && best !== null && compare(spelled, best) < 0)) {
      bestDistance = d;
      best = spelled;
    }
  }
  return best;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Levenshtein distance, giving up (returning `limit`) once it cannot be below it. */
function editDistance(a: string, b: string, limit: number): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min((previous[j] as number) + 1, (row[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
      row.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin >= limit) return limit;
    previous = row;
  }
  return Math.min(previous[b.length] as number, limit);
}
