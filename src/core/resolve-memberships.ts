import type { DirectorySnapshot } from './model.js';
import { normalizeGroupName } from './group-name.js';

/**
 * Transitive membership of users in a few target groups (the customer and licensed groups), found by a
 * breadth-first walk down from each target through child groups. Cycle-safe (each group is visited once
 * per target) and linear in groups plus membership edges per target, so doubling the number of groups
 * at most doubles the work.
 */
export interface MembershipIndex {
  /** user externalId → names (directory spelling) of the target groups the user is in, sorted. */
  readonly groupsOf: (externalId: string) => readonly string[];
}

const EMPTY: readonly string[] = Object.freeze([]);

export function resolveMemberships(snapshot: DirectorySnapshot, targetNames: readonly string[]): MembershipIndex {
  const wanted = new Set(targetNames.map(normalizeGroupName));
  const byId = new Map(snapshot.groups.map((g) => [g.id, g]));
  // One member set per target name (two groups may share a name), not one set of names per user: the
  // targets are few, the users many.
  const members = new Map<string, Set<string>>();

  for (const target of snapshot.groups) {
    if (!wanted.has(normalizeGroupName(target.name))) continue;
    let users = members.get(target.name);
    if (users === undefined) {
      users = new Set();
      members.set(target.name, users);
    }
    const seen = new Set<string>([target.id]);
    const queue = [target.id];
    for (let i = 0; i < queue.length; i++) {
      const group = byId.get(queue[i] as string);
      if (group === undefined) continue;
      for (const userId of group.memberUserIds) users.add(userId);
      for (const childId of group.memberGroupIds) {
        if (!seen.has(childId)) {
          seen.add(childId);
          queue.push(childId);
        }
      }
    }
  }

  const targets = [...members].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, users]) => ({ only: Object.freeze([name]), name, users }));
  return {
    groupsOf(externalId) {
      let found: string[] | null = null;
      let single: readonly string[] = EMPTY;
      for (const target of targets) {
        if (!target.users.has(externalId)) continue;
        if (single === EMPTY) single = target.only;
        else (found ??= [...single]).push(target.name);
      }
      return found ?? single;
    },
  };
}

/**
 * For `explain`: the shortest chain of groups from one of the user's direct groups up to each target
 * group, by group identity (two groups of one name in different places are two targets), e.g.
 * ["cn=emea-customers,…", "cn=sd-customers,…"]. Chains go on through a target to the targets above it.
 * Cycle-safe; deterministic (start groups in id order, parents in id order).
 */
export function membershipPaths(snapshot: DirectorySnapshot, externalId: string, targetIds: ReadonlySet<string>): ReadonlyMap<string, readonly string[]> {
  const parents = new Map<string, string[]>();
  for (const group of snapshot.groups) {
    for (const child of group.memberGroupIds) {
      const list = parents.get(child) ?? [];
      list.push(group.id);
      parents.set(child, list);
    }
  }
  for (const list of parents.values()) list.sort(byId);
  const found = new Map<string, string[]>();
  const starts = snapshot.groups.filter((g) => g.memberUserIds.includes(externalId)).map((g) => g.id).sort(byId);
  for (const start of starts) {
    const queue: string[][] = [[start]];
    const seen = new Set([start]);
    for (let i = 0; i < queue.length; i++) {
      const path = queue[i] as string[];
      const last = path[path.length - 1] as string;
      const known = found.get(last);
      if (targetIds.has(last) && (known === undefined || path.length < known.length)) found.set(last, path);
      for (const parent of parents.get(last) ?? []) {
        if (!seen.has(parent)) {
          seen.add(parent);
          queue.push([...path, parent]);
        }
      }
    }
  }
  return found;
}

function byId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
