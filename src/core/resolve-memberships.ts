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
 * For `explain`: every chain of groups from a user's direct groups up to a target group, shortest first,
 * e.g. ["emea-customers", "sd-customers"]. Cycle-safe.
 */
export function membershipPaths(
  snapshot: DirectorySnapshot,
  externalId: string,
  targetName: string,
): readonly (readonly string[])[] {
  const parents = new Map<string, string[]>();
  for (const group of snapshot.groups) {
    for (const child of group.memberGroupIds) {
      const list = parents.get(child) ?? [];
      list.push(group.id);
      parents.set(child, list);
    }
  }
  const byId = new Map(snapshot.groups.map((g) => [g.id, g]));
  const target = normalizeGroupName(targetName);
  const paths: string[][] = [];
  const starts = snapshot.groups.filter((g) => g.memberUserIds.includes(externalId));
  for (const start of starts) {
    const queue: string[][] = [[start.id]];
    const seen = new Set([start.id]);
    for (let i = 0; i < queue.length; i++) {
      const path = queue[i] as string[];
      const last = byId.get(path[path.length - 1] as string);
      if (last === undefined) continue;
      if (normalizeGroupName(last.name) === target) {
        paths.push(path.map((id) => byId.get(id)?.name ?? id));
        continue;
      }
      for (const parent of parents.get(last.id) ?? []) {
        if (!seen.has(parent)) {
          seen.add(parent);
          queue.push([...path, parent]);
        }
      }
    }
  }
  return paths.sort((a, b) => a.length - b.length || a.join('/').localeCompare(b.join('/')));
}
