import type { DirectoryGroup, DirectorySnapshot, DirectoryUser } from '../../src/core/model.js';
import { compare, sameList, sameUser } from '../shared/row-compare.js';
import type { StoredSnapshotView } from '../../src/ports/directory-connector.js';
import type { SnapshotRowChange, StoredGroup, StoredUser } from '../../src/ports/incremental-store.js';
import { normalizeDn, type GroupReferences } from '../shared/snapshot-builder.js';

/** What an LDAP incremental read fetched from the server, for `mergeChanges`. */
export interface ServerChanges {
  readonly directoryId: string;
  /** Users changed since the mark (and those the ids-only pass found new or moved), as a full read maps them; all present. */
  readonly changedUsers: readonly DirectoryUser[];
  /**
   * Groups changed since the mark (and those new to the stored snapshot); all present. Taken once:
   * their member DN lists (millions of strings when most groups changed) are let go once resolved.
   */
  readonly takeChangedGroups: () => GroupReferences[];
  /** The ids-only pass over the users: every user in scope now, id → DN. */
  readonly presentUsers: ReadonlyMap<string, string>;
  /** The ids-only pass over the groups: every group in scope now (normalised DNs). */
  readonly presentGroups: ReadonlySet<string>;
  /** How many users are stored, the stored users the ids-only pass no longer finds, and the stored DNs of the changed users. */
  readonly stored: StoredUserFacts;
  /** True when groups may name members by memberUid, whose values are usernames (the connector reads whole otherwise): a rename can change memberships. */
  readonly memberUidNames: boolean;
  /**
   * The groups (normalised DNs) whose member references name each of `users` (by DN, or by memberUid
   * name) and each of `groupIds` (by DN), asked of the server: for entries new at a DN or a name, which
   * groups that did not change may already reference.
   */
  readonly referencing: (users: readonly DirectoryUser[], groupIds: readonly string[]) => Promise<ReadonlyMap<string, ReadonlySet<string>>>;
  readonly onPhaseEnd?: (phase: string) => void;
}

/** What the stored users' ids and DNs say about this read (see `compareStoredKeys` in incremental-search.ts). */
export interface StoredUserFacts {
  readonly count: number;
  readonly deleted: readonly string[];
  /** Changed user id → its stored DN (null: stored without one); absent: not stored. */
  readonly locations: ReadonlyMap<string, string | null>;
}

/** Changed groups whose stored member ids are compared at a time: bounded memory at a million memberships. */
const MEMBER_BATCH = 50;

export type MergeResult =
  | {
      readonly kind: 'changes';
      readonly snapshot: DirectorySnapshot;
      readonly rows: SnapshotRowChange;
      readonly affected: Set<string>;
      readonly userDelta: number;
      readonly previousUsernames: string[];
      readonly changes: number;
    }
  | { readonly kind: 'full'; readonly reason: string };

/**
 * Turns what changed on the server into row changes of the stored snapshot and the users to plan,
 * so that the rows end as a full read would leave them:
 * - a user gone from the ids-only pass is deleted; a changed user takes its new fields;
 * - memberships in groups that changed come from their re-read member lists (resolved against the
 *   ids-only pass: a DN names the user or group there, else nobody); memberships in groups that did
 *   not change stay as stored, except for a user new at its DN or name (created, renamed, moved),
 *   whose memberships in unchanged groups are asked of the server (`referencing`), as an unchanged
 *   group may hold its new DN (Active Directory follows renames) or a stale one (OpenLDAP without refint);
 * - children: a deleted group leaves every parent; a group new at its DN joins the unchanged groups
 *   that reference it.
 * The users to plan are those whose row changed, the deleted ones, and every member under a group
 * whose name or children changed (or that was created or deleted).
 */
export async function mergeChanges(input: ServerChanges, view: StoredSnapshotView): Promise<MergeResult> {
  const { presentUsers, presentGroups, stored: storedUsers } = input;
  const storedGroups = new Map(view.groups.map((g) => [g.id, g]));
  const deletedGroups = view.groups.filter((g) => !presentGroups.has(g.id)).map((g) => g.id);
  const changedUsers = new Map(input.changedUsers.filter((u) => presentUsers.has(u.externalId)).map((u) => [u.externalId, u]));
  const deletedUsers = storedUsers.deleted;

  // 1. The changed groups' members, resolved as a full read resolves them; their DN lists are let go.
  const resolved = await resolveChangedGroups(input, input.takeChangedGroups().filter((g) => presentGroups.has(g.id)), changedUsers, view);
  if ('reason' in resolved) return { kind: 'full', reason: resolved.reason };
  const changedGroups = resolved.groups;
  const unchangedGroup = (id: string): boolean => storedGroups.has(id) && presentGroups.has(id) && !changedGroups.has(id);
  input.onPhaseEnd?.('changed groups resolved');

  // 2. The stored rows the changes touch: changed and deleted users, users who joined or left a
  // changed group (found from its stored member ids, a batch of groups at a time, not its members'
  // rows), members of deleted groups.
  const moved = await movedMembers(resolved.usersOf, [...changedGroups.keys()], storedGroups, view);
  input.onPhaseEnd?.('memberships compared');
  const loaded = await view.users({ ids: [...changedUsers.keys(), ...deletedUsers, ...moved], memberOf: deletedGroups });
  const before = new Map(loaded.map((row) => [row.user.externalId, row]));
  const groupsOf = directGroups(resolved.usersOf, new Set([...changedUsers.keys(), ...before.keys()]));

  // 3. Users new at their DN or name: their memberships in unchanged groups are asked of the server.
  const relocated = [...changedUsers.values()].filter((u) => {
    const old = before.get(u.externalId);
    const location = storedUsers.locations.get(u.externalId);
    if (old === undefined || location === undefined || location === null || u.location === null) return true;
    if (normalizeDn(location) !== normalizeDn(u.location)) return true;
    return input.memberUidNames && old.user.username.toLowerCase() !== u.username.toLowerCase();
  });
  const newGroups = [...changedGroups.keys()].filter((id) => !storedGroups.has(id));
  const referencing = relocated.length + newGroups.length === 0 ? new Map<string, ReadonlySet<string>>() : await input.referencing(relocated, newGroups);
  const relocatedIds = new Set(relocated.map((u) => u.externalId));

  // 4. User rows.
  const rowOf = (id: string): StoredUser | null => {
    const user = changedUsers.get(id) ?? before.get(id)?.user;
    if (user === undefined || !presentUsers.has(id)) return null;
    const kept = relocatedIds.has(id) ? [...(referencing.get(id) ?? [])] : (before.get(id)?.groups ?? []);
    const groups = new Set(kept.filter(unchangedGroup));
    for (const g of groupsOf.get(id) ?? []) groups.add(g);
    return { user, groups: [...groups].sort(compare) };
  };
  const rows = new Map<string, StoredUser>();
  const userRows: StoredUser[] = [];
  for (const id of new Set([...changedUsers.keys(), ...before.keys()])) {
    const row = rowOf(id);
    if (row === null) continue;
    rows.set(id, row);
    const old = before.get(id);
    if (old === undefined || !sameUser(old.user, row.user) || !sameList(old.groups, row.groups)) userRows.push(row);
  }

  // 5. Group rows: changed groups as re-read; unchanged ones lose deleted children and gain new groups that they reference.
  const finalGroups = new Map<string, StoredGroup>();
  const groupRows: StoredGroup[] = [];
  for (const g of view.groups) if (unchangedGroup(g.id)) finalGroups.set(g.id, g);
  for (const g of changedGroups.values()) finalGroups.set(g.id, { id: g.id, name: g.name, children: [...(resolved.children.get(g.id) ?? [])].sort(compare) });
  for (const id of newGroups) for (const parent of referencing.get(id) ?? []) addChild(finalGroups, parent, id, unchangedGroup);
  for (const [id, g] of finalGroups) {
    const children = unchangedGroup(id) ? g.children.filter((c) => presentGroups.has(c)) : g.children;
    const row = children === g.children ? g : { ...g, children };
    finalGroups.set(id, row);
    const old = storedGroups.get(id);
    if (old === undefined || old.name !== row.name || !sameList(old.children, row.children)) groupRows.push(row);
  }

  // 6. The users to plan: changed rows, deleted users, and everyone under a group whose name or nesting changed.
  const affected = new Set<string>([...userRows.map((r) => r.user.externalId), ...deletedUsers]);
  const walked = walkDown([...groupRows.map((g) => g.id), ...deletedGroups], storedGroups, finalGroups);
  if (walked.size > 0) {
    const under = await view.users({ memberOf: [...walked] });
    for (const [id, list] of directGroups(resolved.usersOf, new Set(under.map((row) => row.user.externalId).filter((id) => !groupsOf.has(id))))) groupsOf.set(id, list);
    for (const row of under) {
      if (!before.has(row.user.externalId)) before.set(row.user.externalId, row);
      if (!rows.has(row.user.externalId) && presentUsers.has(row.user.externalId)) rows.set(row.user.externalId, rowOf(row.user.externalId) ?? row);
      affected.add(row.user.externalId);
    }
    for (const row of rows.values()) if (row.groups.some((g) => walked.has(g))) affected.add(row.user.externalId);
  }
  const planned = [...affected].flatMap((id) => rows.get(id) ?? []);
  const members = new Map<string, string[]>();
  for (const row of planned) for (const g of row.groups) members.set(g, [...(members.get(g) ?? []), row.user.externalId]);
  const groups = [...finalGroups.values()].map((g): DirectoryGroup => ({ id: g.id, name: g.name, memberUserIds: members.get(g.id) ?? [], memberGroupIds: [...g.children] }));
  return {
    kind: 'changes',
    snapshot: { directoryId: input.directoryId, users: planned.map((r) => r.user), groups },
    rows: { users: userRows, deletedUsers, groups: groupRows, deletedGroups },
    affected,
    userDelta: presentUsers.size - storedUsers.count,
    previousUsernames: [...affected].flatMap((id) => before.get(id)?.user.username ?? []),
    changes: userRows.length + deletedUsers.length + groupRows.length + deletedGroups.length,
  };
}

interface Resolved {
  /** The changed groups present now, by id. */
  readonly groups: Map<string, { readonly id: string; readonly name: string }>;
  /** Changed group id → the users it names. */
  readonly usersOf: Map<string, Set<string>>;
  readonly children: Map<string, string[]>;
}

/**
 * Each changed group's member references against the directory as it is now: a DN is the user the
 * ids-only pass found there, else a group in scope, else nobody; a memberUid name is the one user
 * with that username (stored, or as changed). Two users with one name: which one a full read picks
 * depends on its read order, so the directory is read whole.
 */
async function resolveChangedGroups(input: ServerChanges, changed: readonly GroupReferences[], changedUsers: ReadonlyMap<string, DirectoryUser>, view: StoredSnapshotView): Promise<Resolved | { reason: string }> {
  const groups = new Map(changed.map((g) => [g.id, { id: g.id, name: g.name }]));
  const usersOf = new Map<string, Set<string>>();
  const children = new Map<string, string[]>();
  if (changed.length === 0) return { groups, usersOf, children };
  const userByDn = new Map<string, string>();
  for (const [id, dn] of input.presentUsers) userByDn.set(normalizeDn(dn), id);
  const names = new Set<string>();
  for (const g of changed) for (const uid of g.uids) names.add(uid.toLowerCase());
  const byName = new Map<string, Set<string>>();
  if (names.size > 0) {
    const add = (name: string, id: string): void => {
      if (!names.has(name) || !input.presentUsers.has(id)) return;
      byName.set(name, new Set([...(byName.get(name) ?? []), id]));
    };
    for (const row of await view.users({ names: [...names] })) if (!changedUsers.has(row.user.externalId)) add(row.user.username.toLowerCase(), row.user.externalId);
    for (const u of changedUsers.values()) add(u.username.toLowerCase(), u.externalId);
    for (const [name, ids] of byName) if (ids.size > 1) return { reason: `${ids.size} users share the name ${name} that a memberUid value names: which one a full read picks depends on its order` };
  }
  for (const g of changed) {
    const users = new Set<string>();
    const groups = new Set<string>();
    for (const dn of g.dns) {
      const user = userByDn.get(dn);
      if (user !== undefined) users.add(user);
      else if (input.presentGroups.has(dn)) groups.add(dn);
    }
    for (const uid of g.uids) for (const user of byName.get(uid.toLowerCase()) ?? []) users.add(user);
    usersOf.set(g.id, users);
    children.set(g.id, [...groups]);
  }
  return { groups, usersOf, children };
}

/** Users who joined or left a changed group: its resolved members against its stored member ids (none for a group new to the store). */
export async function movedMembers(
  usersOf: ReadonlyMap<string, ReadonlySet<string>>,
  changed: readonly string[],
  storedGroups: ReadonlyMap<string, unknown>,
  view: Pick<StoredSnapshotView, 'groupMembers'>,
  batchSize = MEMBER_BATCH,
): Promise<Set<string>> {
  const moved = new Set<string>();
  for (let i = 0; i < changed.length; i += batchSize) {
    const batch = changed.slice(i, i + batchSize);
    const stored = await view.groupMembers(batch.filter((id) => storedGroups.has(id)));
    const was = new Map(stored.map((m) => [m.groupId, m.members]));
    for (const id of batch) {
      const now = usersOf.get(id) ?? new Set<string>();
      const then = new Set(was.get(id) ?? []);
      for (const u of now) if (!then.has(u)) moved.add(u);
      for (const u of then) if (!now.has(u)) moved.add(u);
    }
  }
  return moved;
}

/** The changed groups each of `ids` is a direct member of (only for them: at a million members the whole index would be large). */
function directGroups(usersOf: ReadonlyMap<string, ReadonlySet<string>>, ids: ReadonlySet<string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (ids.size === 0) return out;
  for (const [groupId, users] of usersOf) {
    for (const user of users) {
      if (!ids.has(user)) continue;
      const list = out.get(user);
      if (list === undefined) out.set(user, [groupId]);
      else list.push(groupId);
    }
  }
  return out;
}

function addChild(groups: Map<string, StoredGroup>, parent: string, child: string, unchanged: (id: string) => boolean): void {
  const g = groups.get(parent);
  if (g === undefined || !unchanged(parent) || g.children.includes(child)) return;
  groups.set(parent, { ...g, children: [...g.children, child].sort(compare) });
}

/** The groups under `start` (themselves included), following children as stored and as they are now. */
function walkDown(start: readonly string[], stored: ReadonlyMap<string, StoredGroup>, now: ReadonlyMap<string, StoredGroup>): Set<string> {
  const walked = new Set<string>();
  const queue = [...start];
  while (queue.length > 0) {
    const id = queue.pop() as string;
    if (walked.has(id)) continue;
    walked.add(id);
    for (const c of stored.get(id)?.children ?? []) queue.push(c);
    for (const c of now.get(id)?.children ?? []) queue.push(c);
  }
  return walked;
}
