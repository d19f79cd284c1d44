import type { mongo } from 'mongoose';
import type { DirectoryGroup, DirectorySnapshot, DirectoryUser } from '../../core/model.js';
import type { RowWrites, SnapshotHead, SnapshotWrites, StoredGroup, StoredUser } from '../../ports/incremental-store.js';
import { sortedSet, sortedUnique, SortedRows, textDigest } from '../snapshot-diff.js';

export interface UserDoc {
  _id: string;
  directoryId: string;
  externalId: string;
  usernameLc: string;
  user: DirectoryUser;
  groups: string[];
  /** The row's part (rowPart): a whole snapshot is deleted a part at a time. */
  part: number;
  /** Digest of the user's fields and direct groups (userHash): a whole snapshot is saved as the rows whose digest changed. Rows written before it have none. */
  hash: string;
}

export interface GroupDoc {
  _id: string;
  directoryId: string;
  groupId: string;
  name: string;
  children: string[];
  part: number;
}

export interface HeadDoc extends SnapshotHead {
  _id: string;
}

export const INSERT_BATCH = 1000;
export const IN_CHUNK = 1000;
/** Documents per reply of a read: a chunk's answer comes in its first reply, with no getMore after it. */
export const READ_BATCH = 5000;

/**
 * Rows of a directory are spread over PARTS parts by a hash of their id, so that the rows of one
 * directory can be deleted a part at a time. FerretDB 1.x on PostgreSQL deletes what a deleteMany
 * matched in one SQL statement naming every document, and PostgreSQL takes at most 65,535 parameters:
 * one deleteMany of a directory's 100,000 rows fails there. 32 parts keep each delete under that up to
 * about two million users in one directory.
 */
export const PARTS = 32;

/** FNV-1a of the id, modulo PARTS: stable across runs and processes. */
export function rowPart(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % PARTS;
}

/** Everything of a user document that is not made from its id and directory: the user's six fields and its direct groups, in stored order. */
export function userHash(user: DirectoryUser, groups: readonly string[]): string {
  return textDigest(JSON.stringify([user.externalId, user.username, user.email, user.displayName, user.disabled, user.location, groups]));
}

export function userDoc(directoryId: string, row: StoredUser): UserDoc {
  const { externalId, username, email, displayName, disabled, location } = row.user;
  const groups = [...row.groups];
  return {
    _id: `${directoryId}/${externalId}`,
    directoryId,
    externalId,
    usernameLc: username.toLowerCase(),
    user: { externalId, username, email, displayName, disabled, location },
    groups,
    part: rowPart(externalId),
    hash: userHash(row.user, groups),
  };
}

export function groupDoc(directoryId: string, g: StoredGroup): GroupDoc {
  return { _id: `${directoryId}/${g.id}`, directoryId, groupId: g.id, name: g.name, children: [...g.children], part: rowPart(g.id) };
}

export interface SnapshotCollections {
  readonly users: mongo.Collection<UserDoc>;
  readonly groups: mongo.Collection<GroupDoc>;
  readonly heads: mongo.Collection<HeadDoc>;
}

type RowCollection = mongo.Collection<UserDoc> | mongo.Collection<GroupDoc>;

/** Deletes documents by `_id`, IN_CHUNK a command. */
export async function remove(collection: RowCollection, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += IN_CHUNK) await (collection as unknown as mongo.Collection<{ _id: string }>).deleteMany({ _id: { $in: ids.slice(i, i + IN_CHUNK) } });
}

/** Every document of a directory, a part at a time; then any stored before documents had parts (last: only those are left to match). */
async function removeAll(collection: RowCollection, directoryId: string): Promise<void> {
  const rows = collection as unknown as mongo.Collection<{ _id: string; directoryId: string; part?: number }>;
  for (let part = 0; part < PARTS; part++) await rows.deleteMany({ directoryId: { $eq: directoryId }, part: { $eq: part } });
  await rows.deleteMany({ directoryId: { $eq: directoryId }, part: { $exists: false } });
}

/**
 * The documents a diff found deleted by `_id` and the rows to write inserted; when more than half the
 * stored ones go, every document of the directory is deleted a part at a time instead (fewer commands)
 * and every row inserted. Rows are inserted a batch at a time, made as they go.
 */
async function write<T extends UserDoc | GroupDoc>(collection: mongo.Collection<T>, directoryId: string, diff: RowDiff, rows: number, docOf: (at: number) => T): Promise<RowWrites> {
  const all = diff.gone.length + diff.replaced.length > Math.max(IN_CHUNK, diff.stored / 2);
  if (all) await removeAll(collection as unknown as RowCollection, directoryId);
  else await remove(collection as unknown as RowCollection, [...diff.gone, ...diff.replaced]);
  const count = all ? rows : diff.write.length;
  for (let i = 0; i < count; i += INSERT_BATCH) {
    const docs: T[] = [];
    for (let k = i; k < Math.min(count, i + INSERT_BATCH); k++) docs.push(docOf(all ? k : (diff.write[k] as number)));
    await collection.insertMany(docs as mongo.OptionalUnlessRequiredId<T>[], { ordered: false });
  }
  return { written: count, deleted: all ? diff.stored : diff.gone.length };
}

/** What a save found to change: indexes into the new rows (sorted by key) and `_id`s of stored documents. */
interface RowDiff {
  /** Documents the directory had. */
  stored: number;
  /** New rows to insert: not stored, or stored with other content (listed in `replaced` too). */
  readonly write: number[];
  /** Stored documents whose content changed: deleted before their new content is inserted. */
  readonly replaced: string[];
  /** Stored documents the new snapshot has no row for. */
  readonly gone: string[];
}

/**
 * Saves a whole snapshot (after a full read) as the difference from the documents the directory has:
 * the stored user documents are read as (id, digest) pairs in batches, the group documents whole (a
 * few thousand), and compared with the new rows; only changed, new and gone documents are written, by
 * `deleteMany` with `$in` and `insertMany`, a thousand a command. A resync that changed nothing sends
 * the reads and one write, the head's. Without transactions the head is taken away before the first
 * row is written and put back last: a save that stops in between leaves no head, and the next
 * incremental run reads the directory whole. Documents without a digest (written before it existed)
 * count as changed.
 */
export function createMongoSnapshotReplace(c: SnapshotCollections): (directoryId: string, snapshot: DirectorySnapshot, head: SnapshotHead) => Promise<SnapshotWrites> {
  return async (directoryId, snapshot, head) => {
    const users = sortedUnique(snapshot.users, (u) => u.externalId);
    const unique = sortedUnique(snapshot.groups, (g) => g.id);
    const groups = unique.map((g): StoredGroup => ({ id: g.id, name: g.name, children: sortedSet(g.memberGroupIds) }));
    const direct = directGroups(unique);
    const rowOf = (user: DirectoryUser): StoredUser => ({ user, groups: sortedSet(direct.get(user.externalId) ?? []) });
    const userDiff = await diffUsers(c.users, directoryId, new SortedRows(users, (u) => u.externalId), rowOf);
    const groupDiff = await diffGroups(c.groups, directoryId, groups);
    const none: RowWrites = { written: 0, deleted: 0 };
    const writes: { -readonly [K in keyof SnapshotWrites]: RowWrites } = { users: none, groups: none, memberships: none };
    const changed = (d: RowDiff): boolean => d.write.length + d.gone.length > 0;
    if (changed(userDiff) || changed(groupDiff)) {
      await c.heads.deleteOne({ _id: directoryId });
      writes.users = await write(c.users, directoryId, userDiff, users.length, (at) => userDoc(directoryId, rowOf(users[at] as DirectoryUser)));
      writes.groups = await write(c.groups, directoryId, groupDiff, groups.length, (at) => groupDoc(directoryId, groups[at] as StoredGroup));
    }
    await c.heads.replaceOne({ _id: directoryId }, { ...head }, { upsert: true });
    return writes;
  };
}

/** The stored users compared by digest, read as (id, digest) pairs a batch at a time. */
async function diffUsers(users: mongo.Collection<UserDoc>, directoryId: string, rows: SortedRows<DirectoryUser>, rowOf: (user: DirectoryUser) => StoredUser): Promise<RowDiff> {
  const diff: RowDiff = { stored: 0, write: [], replaced: [], gone: [] };
  const stored = users.find({ directoryId: { $eq: directoryId } }, { projection: { _id: 1, externalId: 1, hash: 1 }, batchSize: READ_BATCH });
  for await (const doc of stored) {
    diff.stored++;
    const at = rows.find(doc.externalId);
    const user = rows.rows[at];
    if (user === undefined) {
      diff.gone.push(doc._id);
    } else {
      const row = rowOf(user);
      if (doc.hash !== userHash(row.user, row.groups)) {
        diff.replaced.push(doc._id);
        diff.write.push(at);
      }
    }
  }
  for (const at of rows.unseen()) diff.write.push(at);
  return diff;
}

async function diffGroups(groups: mongo.Collection<GroupDoc>, directoryId: string, rows: readonly StoredGroup[]): Promise<RowDiff> {
  const diff: RowDiff = { stored: 0, write: [], replaced: [], gone: [] };
  const wanted = new SortedRows(rows, (g) => g.id);
  for (const doc of await groups.find({ directoryId: { $eq: directoryId } }, { batchSize: READ_BATCH }).toArray()) {
    diff.stored++;
    const at = wanted.find(doc.groupId);
    const g = rows[at];
    if (g === undefined) {
      diff.gone.push(doc._id);
    } else if (JSON.stringify(groupDoc(directoryId, g)) !== JSON.stringify({ _id: doc._id, directoryId: doc.directoryId, groupId: doc.groupId, name: doc.name, children: doc.children, part: doc.part })) {
      diff.replaced.push(doc._id);
      diff.write.push(at);
    }
  }
  for (const at of wanted.unseen()) diff.write.push(at);
  return diff;
}

/** Each user's direct groups (group ids), from the groups' member lists. */
function directGroups(groups: readonly DirectoryGroup[]): Map<string, string[]> {
  const direct = new Map<string, string[]>();
  for (const g of groups) {
    for (const u of g.memberUserIds) {
      const list = direct.get(u);
      if (list === undefined) direct.set(u, [g.id]);
      else list.push(g.id);
    }
  }
  return direct;
}
