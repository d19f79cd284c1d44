import type { DirectoryGroup, DirectorySnapshot } from '../../src/core/model.js';
import { compare, sameList, sameUser } from '../shared/row-compare.js';
import type { SnapshotRowChange, StoredGroup, StoredUser } from '../../src/ports/incremental-store.js';
import type { StoredSnapshotView } from '../../src/ports/directory-connector.js';
import { applyEvents } from './apply-events.js';
import type { CrowdEvent } from './events-xml.js';

export interface EventRead {
  /** The users the events name (and the members under a group whose nesting changed), as they are now; every group. */
  readonly snapshot: DirectorySnapshot;
  readonly rows: SnapshotRowChange;
  readonly affected: Set<string>;
  readonly userDelta: number;
  readonly previousUsernames: string[];
}

/**
 * Applies Crowd's events to the part of the stored snapshot they touch: the users they name (by name
 * or key), the members of every group an event creates, deletes, deactivates or re-nests (down through
 * its child groups, as stored and as the events nest them), and every group's name and children. The
 * rows loaded are each complete (a user with all its direct groups), so applying the events to them
 * gives what applying them to the whole snapshot would for those users. Returns the changed rows and
 * the users to plan; throws InconsistentEventStream (from applyEvents) when the stream does not fit.
 */
export async function readEvents(directoryId: string, view: StoredSnapshotView, events: readonly CrowdEvent[]): Promise<EventRead> {
  const names = new Set<string>();
  const keys = new Set<string>();
  const startGroups = new Set<string>();
  const children = new Map<string, Set<string>>(view.groups.map((g) => [g.id, new Set(g.children)]));
  const edge = (parent: string, child: string): void => {
    const set = children.get(parent);
    if (set === undefined) children.set(parent, new Set([child]));
    else set.add(child);
  };
  for (const event of events) {
    switch (event.kind) {
      case 'user':
        names.add(event.user.name);
        if (event.user.key !== undefined && event.user.key !== '') keys.add(event.user.key);
        break;
      case 'userMembership':
        names.add(event.user);
        break;
      case 'group':
        startGroups.add(event.group.toLowerCase());
        break;
      case 'groupMembership': {
        const id = event.group.toLowerCase();
        startGroups.add(id);
        for (const p of event.parentGroups) edge(p.toLowerCase(), id);
        for (const c of event.childGroups) {
          edge(id, c.toLowerCase());
          startGroups.add(c.toLowerCase());
        }
        break;
      }
    }
  }
  // Every group an event may walk down from: its members are affected, so they are loaded.
  const walked = new Set<string>();
  const queue = [...startGroups];
  while (queue.length > 0) {
    const id = queue.pop() as string;
    if (walked.has(id)) continue;
    walked.add(id);
    for (const c of children.get(id) ?? []) queue.push(c);
  }
  const loaded = await view.users({ names: [...names], ids: [...keys], memberOf: [...walked] });

  const before = new Map(loaded.map((row) => [row.user.externalId, row]));
  const members = new Map<string, string[]>();
  for (const row of loaded) {
    for (const g of row.groups) {
      const list = members.get(g);
      if (list === undefined) members.set(g, [row.user.externalId]);
      else list.push(row.user.externalId);
    }
  }
  const partial: DirectorySnapshot = {
    directoryId,
    users: loaded.map((row) => row.user),
    groups: view.groups.map((g): DirectoryGroup => ({ id: g.id, name: g.name, memberUserIds: members.get(g.id) ?? [], memberGroupIds: [...g.children] })),
  };
  const { snapshot: after, affected } = applyEvents(partial, events);

  // The rows that changed.
  const direct = new Map<string, string[]>();
  for (const g of after.groups) {
    for (const u of g.memberUserIds) {
      const list = direct.get(u);
      if (list === undefined) direct.set(u, [g.id]);
      else list.push(g.id);
    }
  }
  const users: StoredUser[] = [];
  let created = 0;
  const present = new Set<string>();
  for (const user of after.users) {
    present.add(user.externalId);
    const row = { user, groups: [...new Set(direct.get(user.externalId) ?? [])].sort(compare) };
    const old = before.get(user.externalId);
    if (old === undefined) created++;
    if (old === undefined || !sameUser(old.user, user) || !sameList(old.groups, row.groups)) users.push(row);
  }
  const deletedUsers = [...before.keys()].filter((id) => !present.has(id));
  const storedGroups = new Map(view.groups.map((g) => [g.id, g]));
  const groups: StoredGroup[] = [];
  const kept = new Set<string>();
  for (const g of after.groups) {
    kept.add(g.id);
    const row = { id: g.id, name: g.name, children: [...new Set(g.memberGroupIds)].sort(compare) };
    const old = storedGroups.get(g.id);
    if (old === undefined || old.name !== row.name || !sameList([...old.children].sort(compare), row.children)) groups.push(row);
  }
  const deletedGroups = view.groups.filter((g) => !kept.has(g.id)).map((g) => g.id);
  const inScope = after.users.filter((u) => affected.has(u.externalId));
  return {
    snapshot: { directoryId, users: inScope, groups: after.groups },
    rows: { users, deletedUsers, groups, deletedGroups },
    affected,
    userDelta: created - deletedUsers.length,
    previousUsernames: loaded.filter((row) => affected.has(row.user.externalId)).map((row) => row.user.username),
  };
}
