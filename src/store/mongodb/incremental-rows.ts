import type { Connection, mongo } from 'mongoose';
import type { CurrentCustomer } from '../../core/model.js';
import { checkedCurrent } from '../customer-integrity.js';
import type { IncrementalStore, StoredUser } from '../../ports/incremental-store.js';
import { createMongoSnapshotReplace, groupDoc, IN_CHUNK, INSERT_BATCH, READ_BATCH, remove, userDoc, type GroupDoc, type HeadDoc, type UserDoc } from './snapshot-replace.js';

type Wrap = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

/**
 * MongoDB's normalised snapshot: `snapshot_users` (a document per user with its direct groups and a
 * digest of both, indexed by directory + lower-cased name and, multikey, by directory + group: the
 * members of a group), `snapshot_groups` (a document per group with its children) and
 * `snapshot_heads`. No transactions: the head goes first and comes back last (see IncrementalStore).
 * So a changed row is rewritten as a delete by `$in` and an insert, a thousand rows a command each
 * way, rather than a replace statement per row: a run that stops between the two leaves no head, and
 * the next run reads the directory whole. A whole snapshot is saved as the rows that changed
 * (snapshot-replace.ts).
 */
export async function createMongoIncrementalStore(conn: Connection, wrap: Wrap, licensed: ReadonlySet<string>): Promise<IncrementalStore> {
  const db = conn.db;
  if (db === undefined) throw new Error('the MongoDB connection has no database');
  const users = db.collection<UserDoc>('snapshot_users');
  const groups = db.collection<GroupDoc>('snapshot_groups');
  const heads = db.collection<HeadDoc>('snapshot_heads');
  const customers = db.collection<{
    _id: string;
    directoryId: string;
    externalId: string;
    username: string;
    usernameLc: string;
    hash: string;
    active: boolean;
    email?: string | null;
    displayName?: string | null;
    location?: string | null;
    groups?: string[];
  }>('customers');
  await wrap('create the snapshot collections', async () => {
    for (const name of ['snapshot_users', 'snapshot_groups', 'snapshot_heads']) {
      await db.createCollection(name).catch((error: unknown) => {
        if ((error as { codeName?: string }).codeName !== 'NamespaceExists' && (error as { code?: number }).code !== 48) throw error;
      });
    }
    await users.createIndex({ directoryId: 1, usernameLc: 1 }, { name: 'by_name' });
    await users.createIndex({ directoryId: 1, groups: 1 }, { name: 'by_group' });
    await users.createIndex({ directoryId: 1, part: 1 }, { name: 'by_part' });
  });

  /** Rows written whole: the old ones deleted by id, the new ones inserted (only under a removed head). */
  const rewrite = async <T extends { _id: string }>(collection: mongo.Collection<T>, rows: readonly T[]): Promise<void> => {
    const docs = [...new Map(rows.map((d) => [d._id, d])).values()];
    await remove(collection as unknown as mongo.Collection<UserDoc>, docs.map((d) => d._id));
    for (let i = 0; i < docs.length; i += INSERT_BATCH) await collection.insertMany(docs.slice(i, i + INSERT_BATCH) as mongo.OptionalUnlessRequiredId<T>[], { ordered: false });
  };
  const replace = createMongoSnapshotReplace({ users, groups, heads });
  const toRow = (d: UserDoc): StoredUser => ({ user: { externalId: d.user.externalId, username: d.user.username, email: d.user.email ?? null, displayName: d.user.displayName ?? null, disabled: d.user.disabled === true, location: d.user.location ?? null }, groups: d.groups });

  return {
    head: (directoryId) =>
      wrap('read a snapshot head', async () => {
        const doc = await heads.findOne({ _id: directoryId });
        return doc === null ? null : { cursor: doc.cursor, fingerprint: doc.fingerprint, users: doc.users, groups: doc.groups };
      }),
    replace: (directoryId, snapshot, head) => wrap('save a directory snapshot', async () => replace(directoryId, snapshot, head)),
    groups: (directoryId) =>
      wrap('load snapshot groups', async () => (await groups.find({ directoryId: { $eq: directoryId } }, { batchSize: READ_BATCH }).toArray()).map((d) => ({ id: d.groupId, name: d.name, children: d.children }))),
    users: (directoryId, query) =>
      wrap('load snapshot users', async () => {
        const out = new Map<string, StoredUser>();
        const load = async (field: 'externalId' | 'usernameLc' | 'groups', values: readonly string[]): Promise<void> => {
          const unique = [...new Set(values)];
          for (let i = 0; i < unique.length; i += IN_CHUNK) {
            for (const d of await users.find({ directoryId: { $eq: directoryId }, [field]: { $in: unique.slice(i, i + IN_CHUNK) } }, { batchSize: READ_BATCH }).toArray()) out.set(d.externalId, toRow(d));
          }
        };
        await load('externalId', query.ids ?? []);
        await load('usernameLc', (query.names ?? []).map((n) => n.toLowerCase()));
        await load('groups', query.memberOf ?? []);
        return [...out.values()];
      }),
    userKeys: (directoryId) =>
      wrap('load snapshot user keys', async () =>
        (await users.find({ directoryId: { $eq: directoryId } }, { projection: { _id: 0, externalId: 1, 'user.location': 1 } }).toArray()).map((d) => ({ externalId: d.externalId, location: d.user?.location ?? null })),
      ),
    groupMembers: (directoryId, groupIds) =>
      wrap('load snapshot memberships', async () => {
        const wanted = [...new Set(groupIds)];
        const members = new Map<string, string[]>(wanted.map((g) => [g, []]));
        for (let i = 0; i < wanted.length; i += IN_CHUNK) {
          const chunk = wanted.slice(i, i + IN_CHUNK);
          for (const d of await users.find({ directoryId: { $eq: directoryId }, groups: { $in: chunk } }, { projection: { _id: 0, externalId: 1, groups: 1 } }).toArray()) {
            for (const g of d.groups) members.get(g)?.push(d.externalId);
          }
        }
        const known = new Set<string>();
        for (let i = 0; i < wanted.length; i += IN_CHUNK) {
          for (const d of await groups.find({ directoryId: { $eq: directoryId }, groupId: { $in: wanted.slice(i, i + IN_CHUNK) } }, { projection: { _id: 0, groupId: 1 } }).toArray()) known.add(d.groupId);
        }
        return wanted.filter((g) => known.has(g)).map((groupId) => ({ groupId, members: members.get(groupId) ?? [] }));
      }),
    apply: (directoryId, change, head) =>
      wrap('update the directory snapshot', async () => {
        await heads.deleteOne({ _id: directoryId });
        await remove(users, change.deletedUsers.map((id) => `${directoryId}/${id}`));
        await rewrite(users, change.users.map((row) => userDoc(directoryId, row)));
        await remove(groups, change.deletedGroups.map((id) => `${directoryId}/${id}`));
        await rewrite(groups, change.groups.map((g) => groupDoc(directoryId, g)));
        await heads.replaceOne({ _id: directoryId }, { ...head }, { upsert: true });
      }),
    customers: ({ directoryId, externalIds, usernames }) =>
      wrap('load customers', async () => {
        const out = new Map<string, CurrentCustomer>();
        // The hashed fields too: a customer changed around dirbridge is found as loadCurrent finds it.
        const projection = { _id: 1, directoryId: 1, externalId: 1, username: 1, hash: 1, active: 1, email: 1, displayName: 1, location: 1, groups: 1 };
        const load = async (field: '_id' | 'usernameLc', values: readonly string[]): Promise<void> => {
          const unique = [...new Set(values)];
          for (let i = 0; i < unique.length; i += IN_CHUNK) {
            for (const d of await customers.find({ [field]: { $in: unique.slice(i, i + IN_CHUNK) } }, { projection, batchSize: READ_BATCH }).toArray()) {
              const doc = { directoryId: d.directoryId, externalId: d.externalId, username: d.username, hash: d.hash, active: d.active, email: d.email ?? null, displayName: d.displayName ?? null, location: d.location ?? null, groups: d.groups ?? [] };
              out.set(d._id, checkedCurrent(doc, licensed));
            }
          }
        };
        await load('_id', externalIds.map((id) => `${directoryId}/${id}`));
        await load('usernameLc', usernames.map((n) => n.toLowerCase()));
        return [...out.values()];
      }),
    countStored: (directoryId) => wrap('count customers', async () => customers.countDocuments({ directoryId: { $eq: directoryId } })),
    countActive: (exceptDirectory) => wrap('count customers', async () => customers.countDocuments({ active: { $eq: true }, directoryId: { $ne: exceptDirectory } })),
  };
}
