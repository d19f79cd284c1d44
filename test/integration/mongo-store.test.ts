import { describe, expect, it } from 'vitest';
import { openMongoStore } from '../../src/store/mongodb/mongo-store.js';
import { redactMongoUrl } from '../../src/store/mongodb/redact-url.js';
import { isDirbridgeError } from '../../src/errors.js';
import type { DirectorySnapshot, DirectoryUser } from '../../src/core/model.js';
import { rowPart } from '../../src/store/mongodb/snapshot-replace.js';
import { user } from '../helpers/fixtures.js';
import { describeStoreConformance, LICENSED } from '../helpers/store-conformance.js';
import { mongoTargets, useMongoServer } from '../helpers/mongo-server.js';

for (const target of mongoTargets()) {
  describe(target.label, () => {
    const server = useMongoServer(target.backend === undefined ? {} : { backend: target.backend });
    let n = 0;
    describeStoreConformance(`MongoDB (mongoose) on ${target.label}`, async (name) =>
      openMongoStore({ url: server().uri(name?.replace(/-/g, '_') ?? `conformance_${process.pid}_${n++}`), licensedGroups: LICENSED }),
    );
  });
}

const mongo = useMongoServer();

describe('MongoDB store: connection handling', () => {
  it('reports an unreachable server clearly, without the password from the URL', async () => {
    const sentinel = 'S3NTINEL-mongo-7c1d';
    const error = await openMongoStore({ url: `mongodb://svc:${sentinel}@127.0.0.1:9/dirbridge`, licensedGroups: [], serverSelectionTimeoutMS: 500 }).catch((e: unknown) => e);
    expect(isDirbridgeError(error) && error.code).toBe('ERR_STORE');
    expect((error as Error).message).toBe('MongoDB at mongodb://svc:…@127.0.0.1:9/dirbridge is unreachable (no server answered within the selection timeout)');
    expect(JSON.stringify(error)).not.toContain(sentinel);
  });

  it('redacts credentials from URLs shown to people', () => {
    expect(redactMongoUrl('mongodb+srv://user:p%40ss@cluster0.example.net/db?retryWrites=true')).toBe('mongodb+srv://user:…@cluster0.example.net/db');
    expect(redactMongoUrl('mongodb://db1,db2/dirbridge?replicaSet=rs0')).toBe('mongodb://db1,db2/dirbridge');
  });

  it('creates the unique customer key and the lookup indexes on start', async () => {
    const store = await openMongoStore({ url: mongo().uri(`indexes_${process.pid}`), licensedGroups: LICENSED });
    await store.close();
    const { default: mongoose } = await import('mongoose');
    const conn = await mongoose.createConnection(mongo().uri(`indexes_${process.pid}`)).asPromise();
    const indexes = await conn.db?.collection('customers').indexes();
    await conn.close();
    const byName = new Map(indexes?.map((i) => [i.name, i]));
    expect(byName.get('customer_key')).toMatchObject({ key: { directoryId: 1, externalId: 1 }, unique: true });
    expect([...byName.keys()]).toEqual(expect.arrayContaining(['username', 'email', 'list_by_state']));
  });
});

describe('MongoDB store: saving a whole snapshot over documents written before they had digests', () => {
  const head = (cursor: string) => ({ cursor, fingerprint: 'f', users: 300, groups: 2 });
  const snapshot = (changed: (u: DirectoryUser) => DirectoryUser = (u) => u): DirectorySnapshot => {
    const users = Array.from({ length: 300 }, (_, i) => user(`k${i}`, `User${i}`));
    return {
      directoryId: 'crowd',
      users: users.map(changed),
      groups: [
        { id: 'all', name: 'All', memberUserIds: users.map((u) => u.externalId), memberGroupIds: ['odd'] },
        { id: 'odd', name: 'Odd', memberUserIds: users.filter((_, i) => i % 2 === 1).map((u) => u.externalId), memberGroupIds: [] },
      ],
    };
  };
  /** Every snapshot document of a database, as stored, in `_id` order. */
  const documentsOf = async (database: string): Promise<Record<string, unknown[]>> => {
    const { default: mongoose } = await import('mongoose');
    const conn = await mongoose.createConnection(mongo().uri(database)).asPromise();
    try {
      const out: Record<string, unknown[]> = {};
      for (const name of ['snapshot_users', 'snapshot_groups', 'snapshot_heads']) out[name] = await conn.db?.collection(name).find({}).sort({ _id: 1 }).toArray() ?? [];
      return out;
    } finally {
      await conn.close();
    }
  };

  it('counts documents without a digest as changed, writes them as a fresh save does, and writes nothing the next time', async () => {
    const database = `old_layout_${process.pid}`;
    const { default: mongoose } = await import('mongoose');
    const conn = await mongoose.createConnection(mongo().uri(database)).asPromise();
    // The documents as the previous version wrote them: no digest; the oldest had no part either.
    const stored = snapshot();
    await conn.db?.collection<{ _id: string }>('snapshot_users').insertMany(
      stored.users.map((u, i) => ({
        _id: `crowd/${u.externalId}`,
        directoryId: 'crowd',
        externalId: u.externalId,
        usernameLc: u.username.toLowerCase(),
        user: { ...u },
        groups: i % 2 === 1 ? ['all', 'odd'] : ['all'],
        ...(i < 10 ? {} : { part: rowPart(u.externalId) }),
      })),
    );
    await conn.db?.collection<{ _id: string }>('snapshot_groups').insertMany(stored.groups.map((g) => ({ _id: `crowd/${g.id}`, directoryId: 'crowd', groupId: g.id, name: g.name, children: [...g.memberGroupIds] })));
    await conn.db?.collection<{ _id: string }>('snapshot_heads').insertOne({ _id: 'crowd', ...head('t1') });
    await conn.close();

    const store = await openMongoStore({ url: mongo().uri(database), licensedGroups: LICENSED });
    const fresh = await openMongoStore({ url: mongo().uri(`${database}_fresh`), licensedGroups: LICENSED });
    try {
      expect(await store.incremental.head('crowd')).toEqual(head('t1'));
      const next = snapshot((u) => (u.externalId === 'k5' ? { ...u, email: null } : u));
      const writes = await store.incremental.replace('crowd', next, head('t2'));
      expect(writes.users).toEqual({ written: 300, deleted: 0 });
      expect(writes.groups).toEqual({ written: 2, deleted: 0 });
      await fresh.incremental.replace('crowd', next, head('t2'));
      const [after, expected] = [await documentsOf(database), await documentsOf(`${database}_fresh`)];
      expect(after).toEqual(expected);
      expect((after['snapshot_users']?.[0] as { hash?: unknown }).hash).toEqual(expect.any(String));
      const none = { written: 0, deleted: 0 };
      expect(await store.incremental.replace('crowd', next, head('t3'))).toEqual({ users: none, groups: none, memberships: none });
    } finally {
      await store.close();
      await fresh.close();
    }
  }, 120_000);
});
