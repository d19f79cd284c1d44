import { describe, expect, it } from 'vitest';
import { openMongoStore } from '../../src/store/mongodb/mongo-store.js';
import { redactMongoUrl } from '../../src/store/mongodb/redact-url.js';
import { isDirbridgeError } from '../../src/errors.js';
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
