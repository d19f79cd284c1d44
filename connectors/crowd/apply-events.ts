import type { DirectorySnapshot, DirectoryUser } from '../../src/core/model.js';
import type { CrowdEvent, CrowdUserEntity } from './events-xml.js';

export class InconsistentEventStream extends Error {
  override name = 'InconsistentEventStream';
}

/**
 * Applies Crowd's events, in order, to the last snapshot (Crowd's own consumer does the same):
 * user CREATED/UPDATED upsert, DELETED remove; group likewise (an inactive group grants nothing, so it
 * is removed); membership CREATED/DELETED add or remove; membership UPDATED replaces the whole direct
 * set. Anything that does not fit (a membership added twice, an unknown user or group) throws
 * InconsistentEventStream: the caller then reads the directory whole.
 * Returns the new snapshot and the users the events name, directly or as members of changed groups.
 */
export function applyEvents(previous: DirectorySnapshot, events: readonly CrowdEvent[]): { snapshot: DirectorySnapshot; affected: Set<string> } {
  const users = new Map(previous.users.map((u) => [u.externalId, u]));
  const byName = new Map(previous.users.map((u) => [u.username.toLowerCase(), u.externalId]));
  const groups = new Map(previous.groups.map((g) => [g.id, { name: g.name, users: new Set(g.memberUserIds), children: new Set(g.memberGroupIds) }]));
  const affected = new Set<string>();

  const userId = (name: string): string => {
    const id = byName.get(name.toLowerCase());
    if (id === undefined) throw new InconsistentEventStream(`an event names the unknown user ${name}`);
    return id;
  };
  const group = (name: string) => {
    const g = groups.get(name.toLowerCase());
    if (g === undefined) throw new InconsistentEventStream(`an event names the unknown group ${name}`);
    return g;
  };
  const knownGroupId = (name: string): string => {
    group(name);
    return name.toLowerCase();
  };
  const membersOf = (id: string): void => {
    const seen = new Set<string>();
    const queue = [id];
    while (queue.length > 0) {
      const g = groups.get(queue.pop() as string);
      if (g === undefined) continue;
      for (const u of g.users) affected.add(u);
      for (const c of g.children) {
        if (seen.has(c)) continue;
        seen.add(c);
        queue.push(c);
      }
    }
  };
  const removeGroup = (id: string): void => {
    membersOf(id);
    groups.delete(id);
    for (const g of groups.values()) g.children.delete(id);
  };

  for (const event of events) {
    switch (event.kind) {
      case 'user': {
        if (event.operation === 'DELETED') {
          const id = byName.get(event.user.name.toLowerCase()) ?? (event.user.key !== undefined && users.has(event.user.key) ? event.user.key : undefined);
          if (id === undefined) throw new InconsistentEventStream(`deleting the unknown user ${event.user.name}`);
          const gone = users.get(id);
          users.delete(id);
          if (gone !== undefined) byName.delete(gone.username.toLowerCase());
          for (const g of groups.values()) g.users.delete(id);
          affected.add(id);
          break;
        }
        const next = toUser(event.user);
        const existing = users.get(next.externalId) ?? users.get(byName.get(next.username.toLowerCase()) ?? '');
        if (event.operation === 'CREATED' && existing !== undefined) throw new InconsistentEventStream(`creating the existing user ${next.username}`);
        if (existing !== undefined) {
          byName.delete(existing.username.toLowerCase());
          users.delete(existing.externalId);
          if (existing.externalId !== next.externalId) throw new InconsistentEventStream(`the user ${next.username} changed its key`);
        }
        users.set(next.externalId, next);
        byName.set(next.username.toLowerCase(), next.externalId);
        affected.add(next.externalId);
        break;
      }
      case 'group': {
        const id = event.group.toLowerCase();
        if (event.operation === 'DELETED' || !event.active) {
          if (!groups.has(id) && event.operation === 'DELETED') throw new InconsistentEventStream(`deleting the unknown group ${event.group}`);
          removeGroup(id);
        } else if (!groups.has(id)) {
          groups.set(id, { name: event.group, users: new Set(), children: new Set() });
        } else if (event.operation === 'CREATED') {
          throw new InconsistentEventStream(`creating the existing group ${event.group}`);
        }
        break;
      }
      case 'userMembership': {
        const id = userId(event.user);
        affected.add(id);
        if (event.operation === 'UPDATED') {
          const wanted = new Set(event.parentGroups.map((p) => knownGroupId(p)));
          for (const [gid, g] of groups) {
            if (wanted.has(gid)) g.users.add(id);
            else g.users.delete(id);
          }
          break;
        }
        for (const parent of event.parentGroups) {
          const g = group(parent);
          if (event.operation === 'CREATED' ? g.users.has(id) : !g.users.has(id)) {
            throw new InconsistentEventStream(`${event.operation === 'CREATED' ? 'adding' : 'removing'} ${event.user} ${event.operation === 'CREATED' ? 'to' : 'from'} ${parent} twice`);
          }
          if (event.operation === 'CREATED') g.users.add(id);
          else g.users.delete(id);
        }
        break;
      }
      case 'groupMembership': {
        const id = event.group.toLowerCase();
        group(event.group);
        membersOf(id);
        if (event.operation === 'UPDATED') {
          const parents = new Set(event.parentGroups.map((p) => knownGroupId(p)));
          for (const [gid, g] of groups) {
            if (parents.has(gid)) g.children.add(id);
            else g.children.delete(id);
          }
          const self = group(event.group);
          for (const old of self.children) membersOf(old);
          self.children = new Set(event.childGroups.map((c) => knownGroupId(c)));
          break;
        }
        for (const parent of event.parentGroups) {
          const g = group(parent);
          if (event.operation === 'CREATED' ? g.children.has(id) : !g.children.has(id)) throw new InconsistentEventStream(`nesting ${event.group} under ${parent} does not fit the last snapshot`);
          if (event.operation === 'CREATED') g.children.add(id);
          else g.children.delete(id);
        }
        for (const childName of event.childGroups) {
          const childId = knownGroupId(childName);
          const g = group(event.group);
          if (event.operation === 'CREATED') g.children.add(childId);
          else g.children.delete(childId);
          membersOf(childId);
        }
        break;
      }
    }
  }
  return {
    snapshot: {
      directoryId: previous.directoryId,
      users: [...users.values()],
      groups: [...groups].map(([id, g]) => ({ id, name: g.name, memberUserIds: [...g.users], memberGroupIds: [...g.children] })),
    },
    affected,
  };
}

export function toUser(u: CrowdUserEntity & { 'display-name'?: string }): DirectoryUser {
  const display = u.displayName ?? u['display-name'];
  return {
    externalId: u.key !== undefined && u.key !== '' ? u.key : u.name,
    username: u.name,
    email: u.email !== undefined && u.email !== '' ? u.email : null,
    displayName: display !== undefined && display !== '' ? display : null,
    disabled: u.active === false,
    location: null,
  };
}
