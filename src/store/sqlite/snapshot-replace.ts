import type Database from 'libsql';
import type { DirectoryGroup, DirectorySnapshot, DirectoryUser } from '../../core/model.js';
import type { SnapshotHead, SnapshotWrites } from '../../ports/incremental-store.js';
import { listDigest, sortedSet, sortedUnique, SortedRows } from '../snapshot-diff.js';

/** The secondary indexes, dropped while a whole snapshot is loaded and built again after it (a sort instead of a million random inserts). */
export const SECONDARY_INDEXES = `
CREATE INDEX IF NOT EXISTS snapshot_user_rows_name ON snapshot_user_rows (directory_id, username_lc);
CREATE INDEX IF NOT EXISTS snapshot_members_user ON snapshot_members (directory_id, external_id, group_id);
`;

/**
 * Rows per statement when rows are written. Small enough that each statement's JSON text (about 170
 * bytes a user, 40 a membership) stays under V8's large-object size (128 KiB): larger strings are made
 * straight in the old generation, and at a million users their garbage (some 270 MB per save) grew the
 * heap until the next full collection. Stored rows are read in chunks under that size too.
 */
const USERS_PER_STATEMENT = 500;
const MEMBERS_PER_STATEMENT = 2000;
const USERS_PER_READ = 600;
const MEMBERS_PER_READ = 3000;

/**
 * Past this many row writes (a share of the snapshot's rows, at least MIN_BUDGET) the difference is
 * dropped and the snapshot is written whole, in key order with the secondary indexes built after it:
 * random writes into indexes far larger than the page cache cost about ten times as much a row, so
 * past a tenth of the rows writing the difference would cost more than writing everything (and the
 * writes made before the budget ran out cost at most about as much again).
 */
const BULK_SHARE = 0.1;
const MIN_BUDGET = 5000;

/** A user row's fields, positionally (a million rows: no key names repeated in each). */
export type UserTuple = [string, string, string | null, string | null, 0 | 1, string | null];

export function userTuple(u: DirectoryUser): UserTuple {
  return [u.externalId, u.username, u.email, u.displayName, u.disabled ? 1 : 0, u.location];
}

export function userFromTuple(t: UserTuple): DirectoryUser {
  return { externalId: t[0], username: t[1], email: t[2], displayName: t[3], disabled: t[4] === 1, location: t[5] };
}

/** A group as stored: children as JSON text, members sorted and their digest (the group row's `members_hash`). */
interface GroupRow {
  readonly id: string;
  readonly name: string;
  readonly children: string;
  readonly members: readonly string[];
  readonly membersHash: string;
}

class OverBudget extends Error {}

/** Counts the rows a save writes and deletes; past its budget it stops the difference (OverBudget). */
class WriteCount {
  readonly users = { written: 0, deleted: 0 };
  readonly groups = { written: 0, deleted: 0 };
  readonly memberships = { written: 0, deleted: 0 };
  private total = 0;
  constructor(private readonly budget: number) {}
  add(kind: 'users' | 'groups' | 'memberships', how: 'written' | 'deleted', n: number): void {
    this[kind][how] += n;
    this.total += n;
    if (this.total > this.budget) throw new OverBudget();
  }
  result(): SnapshotWrites {
    return { users: { ...this.users }, groups: { ...this.groups }, memberships: { ...this.memberships } };
  }
}

/**
 * Saves a whole snapshot (after a full read) as the difference from the rows the directory has: the
 * stored user rows are read in key order, a chunk at a time, and compared with the new ones by their
 * text; a group's member rows are compared only when the digest of its member list (kept in its row)
 * changed, then a chunk at a time too. Only changed, new and gone rows are written, so a resync that
 * changed nothing writes the head alone. The result is the same rows as writing the snapshot whole,
 * which is done instead when the directory has no rows yet or too many changed (BULK_SHARE). Runs
 * inside the caller's transaction.
 */
export function createSqliteSnapshotReplace(db: Database.Database): (directoryId: string, snapshot: DirectorySnapshot, head: SnapshotHead) => SnapshotWrites {
  const putHead = db.prepare('INSERT INTO snapshot_heads (directory_id, doc) VALUES (?, ?) ON CONFLICT (directory_id) DO UPDATE SET doc = excluded.doc');
  const hasRows = db.prepare(
    'SELECT EXISTS (SELECT 1 FROM snapshot_user_rows WHERE directory_id = ?1) OR EXISTS (SELECT 1 FROM snapshot_groups WHERE directory_id = ?1) OR EXISTS (SELECT 1 FROM snapshot_members WHERE directory_id = ?1)',
  ).raw();
  // A user row's text is the JSON of its tuple exactly as made here (a JSON string unpacked by
  // json_extract), so that a stored row and a new one compare as text.
  const putUsers = db.prepare(
    "INSERT OR REPLACE INTO snapshot_user_rows (directory_id, external_id, username_lc, user) SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?2)",
  );
  const dropUsers = db.prepare('DELETE FROM snapshot_user_rows WHERE directory_id = ?1 AND external_id IN (SELECT value FROM json_each(?2))');
  const firstUsers = db.prepare(`SELECT json_group_array(json_array(external_id, user)), max(external_id) FROM (SELECT external_id, user FROM snapshot_user_rows WHERE directory_id = ?1 ORDER BY external_id LIMIT ${USERS_PER_READ})`).raw();
  const nextUsers = db.prepare(
    `SELECT json_group_array(json_array(external_id, user)), max(external_id) FROM (SELECT external_id, user FROM snapshot_user_rows WHERE directory_id = ?1 AND external_id > ?2 ORDER BY external_id LIMIT ${USERS_PER_READ})`,
  ).raw();
  const putGroup = db.prepare('INSERT OR REPLACE INTO snapshot_groups (directory_id, group_id, name, children, members_hash) VALUES (?, ?, ?, ?, ?)');
  const dropGroup = db.prepare('DELETE FROM snapshot_groups WHERE directory_id = ? AND group_id = ?');
  const storedGroups = db.prepare('SELECT group_id, name, children, members_hash FROM snapshot_groups WHERE directory_id = ?').raw();
  const putMembers = db.prepare('INSERT OR IGNORE INTO snapshot_members (directory_id, group_id, external_id) SELECT ?1, ?2, value FROM json_each(?3)');
  const dropMembers = db.prepare('DELETE FROM snapshot_members WHERE directory_id = ?1 AND group_id = ?2 AND external_id IN (SELECT value FROM json_each(?3))');
  const dropGroupMembers = db.prepare('DELETE FROM snapshot_members WHERE directory_id = ? AND group_id = ?');
  const firstMembers = db.prepare(
    `SELECT json_group_array(external_id), max(external_id) FROM (SELECT external_id FROM snapshot_members WHERE directory_id = ?1 AND group_id = ?2 ORDER BY external_id LIMIT ${MEMBERS_PER_READ})`,
  ).raw();
  const nextMembers = db.prepare(
    `SELECT json_group_array(external_id), max(external_id) FROM (SELECT external_id FROM snapshot_members WHERE directory_id = ?1 AND group_id = ?2 AND external_id > ?3 ORDER BY external_id LIMIT ${MEMBERS_PER_READ})`,
  ).raw();
  // The groups that have member rows, one index seek each (member rows of a group with no row of its own
  // are left by incremental updates).
  const firstMemberGroup = db.prepare('SELECT group_id FROM snapshot_members WHERE directory_id = ? ORDER BY group_id LIMIT 1').raw();
  const nextMemberGroup = db.prepare('SELECT group_id FROM snapshot_members WHERE directory_id = ? AND group_id > ? ORDER BY group_id LIMIT 1').raw();

  const writeUsers = (directoryId: string, users: readonly DirectoryUser[]): number =>
    users.length === 0 ? 0 : putUsers.run(directoryId, JSON.stringify(users.map((u) => [u.externalId, u.username.toLowerCase(), JSON.stringify(userTuple(u))]))).changes;
  const writeMembers = (directoryId: string, groupId: string, members: readonly string[], count: WriteCount): void => {
    for (let i = 0; i < members.length; i += MEMBERS_PER_STATEMENT) count.add('memberships', 'written', putMembers.run(directoryId, groupId, JSON.stringify(members.slice(i, i + MEMBERS_PER_STATEMENT))).changes);
  };

  /** Reads stored rows a chunk at a time: `first` and `next` answer (JSON array of the chunk, its last key). */
  function* chunks<T>(first: () => unknown, next: (after: string) => unknown): Generator<T[]> {
    let [json, last] = first() as [string, string | null];
    while (last !== null) {
      yield JSON.parse(json) as T[];
      [json, last] = next(last) as [string, string | null];
    }
  }

  const diffUsers = (directoryId: string, users: SortedRows<DirectoryUser>, count: WriteCount): void => {
    let gone: string[] = [];
    let changed: DirectoryUser[] = [];
    const flush = (): void => {
      if (gone.length > 0) count.add('users', 'deleted', dropUsers.run(directoryId, JSON.stringify(gone)).changes);
      count.add('users', 'written', writeUsers(directoryId, changed));
      gone = [];
      changed = [];
    };
    // Rows written while the stored ones are read are behind the read (keys up to the chunk's last).
    for (const chunk of chunks<[string, string]>(() => firstUsers.get(directoryId), (after) => nextUsers.get(directoryId, after))) {
      for (const [id, text] of chunk) {
        const at = users.find(id);
        const user = users.rows[at];
        if (user === undefined) gone.push(id);
        else if (text !== JSON.stringify(userTuple(user))) changed.push(user);
      }
      if (gone.length + changed.length >= USERS_PER_STATEMENT) flush();
    }
    for (const at of users.unseen()) {
      changed.push(users.rows[at] as DirectoryUser);
      if (changed.length >= USERS_PER_STATEMENT) flush();
    }
    flush();
  };

  /** A group's member rows made equal to `members`: those not among them deleted, the missing ones added. */
  const diffMembers = (directoryId: string, groupId: string, members: readonly string[], count: WriteCount): void => {
    const wanted = new SortedRows(members, (m) => m);
    for (const chunk of chunks<string>(() => firstMembers.get(directoryId, groupId), (after) => nextMembers.get(directoryId, groupId, after))) {
      const gone = chunk.filter((m) => wanted.find(m) < 0);
      if (gone.length > 0) count.add('memberships', 'deleted', dropMembers.run(directoryId, groupId, JSON.stringify(gone)).changes);
    }
    writeMembers(directoryId, groupId, [...wanted.unseen()].map((at) => members[at] as string), count);
  };

  const diffGroups = (directoryId: string, groups: readonly DirectoryGroup[], count: WriteCount): void => {
    const stored = new Map((storedGroups.all(directoryId) as [string, string, string, string | null][]).map(([id, name, children, membersHash]) => [id, { name, children, membersHash }]));
    const withMembers = new Set<string>();
    for (let row = firstMemberGroup.get(directoryId) as [string] | undefined; row !== undefined; row = nextMemberGroup.get(directoryId, row[0]) as [string] | undefined) withMembers.add(row[0]);
    const kept = new Set<string>();
    for (const group of groups) {
      const g = groupRow(group);
      kept.add(g.id);
      const before = stored.get(g.id);
      // A digest is kept only with the member rows it was made of (incremental updates clear it).
      if (before?.membersHash !== g.membersHash) {
        if (withMembers.has(g.id)) diffMembers(directoryId, g.id, g.members, count);
        else writeMembers(directoryId, g.id, g.members, count);
      }
      if (before === undefined || before.name !== g.name || before.children !== g.children || before.membersHash !== g.membersHash) {
        count.add('groups', 'written', putGroup.run(directoryId, g.id, g.name, g.children, g.membersHash).changes > 0 ? 1 : 0);
      }
    }
    for (const id of stored.keys()) if (!kept.has(id)) count.add('groups', 'deleted', dropGroup.run(directoryId, id).changes);
    for (const id of withMembers) if (!kept.has(id)) count.add('memberships', 'deleted', dropGroupMembers.run(directoryId, id).changes);
  };

  // A whole snapshot (a million users, three million memberships) is loaded in primary-key order with
  // the secondary indexes dropped and built again afterwards: B-tree appends and one sort, instead of
  // random inserts into trees far larger than the page cache (ten times slower).
  const writeWhole = (directoryId: string, users: readonly DirectoryUser[], groups: readonly DirectoryGroup[]): SnapshotWrites => {
    db.exec('DROP INDEX IF EXISTS snapshot_user_rows_name; DROP INDEX IF EXISTS snapshot_members_user;');
    const count = new WriteCount(Infinity);
    const [users0, groups0, members0] = ['snapshot_user_rows', 'snapshot_groups', 'snapshot_members'].map((table) => db.prepare(`DELETE FROM ${table} WHERE directory_id = ?`).run(directoryId).changes);
    count.add('users', 'deleted', users0 ?? 0);
    count.add('groups', 'deleted', groups0 ?? 0);
    count.add('memberships', 'deleted', members0 ?? 0);
    // Rows go in as JSON arrays unpacked by json_each: one statement per 500 users and per 2,000 members
    // of a group, not one per row (the per-call cost of the driver is most of the time at a million rows).
    for (const group of groups) {
      const g = groupRow(group);
      count.add('groups', 'written', putGroup.run(directoryId, g.id, g.name, g.children, g.membersHash).changes);
      writeMembers(directoryId, g.id, g.members, count);
    }
    for (let i = 0; i < users.length; i += USERS_PER_STATEMENT) count.add('users', 'written', writeUsers(directoryId, users.slice(i, i + USERS_PER_STATEMENT)));
    db.exec(SECONDARY_INDEXES);
    return count.result();
  };

  return (directoryId, snapshot, head) => {
    const users = sortedUnique(snapshot.users, (u) => u.externalId);
    const groups = sortedUnique(snapshot.groups, (g) => g.id);
    let writes: SnapshotWrites;
    if ((hasRows.get(directoryId) as [number])[0] === 0) {
      writes = writeWhole(directoryId, users, groups);
    } else {
      const rows = users.length + groups.reduce((n, g) => n + 1 + g.memberUserIds.length, 0);
      const count = new WriteCount(Math.max(MIN_BUDGET, Math.round(rows * BULK_SHARE)));
      try {
        diffUsers(directoryId, new SortedRows(users, (u) => u.externalId), count);
        diffGroups(directoryId, groups, count);
        writes = count.result();
      } catch (error) {
        if (!(error instanceof OverBudget)) throw error;
        writes = writeWhole(directoryId, users, groups);
      }
    }
    putHead.run(directoryId, JSON.stringify(head));
    return writes;
  };
}

function groupRow(g: DirectoryGroup): GroupRow {
  const members = sortedSet(g.memberUserIds);
  return { id: g.id, name: g.name, children: JSON.stringify(sortedSet(g.memberGroupIds)), members, membersHash: listDigest(members) };
}
