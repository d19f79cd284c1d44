import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig, type LoadedConfig } from '../../src/config/load-config.js';
import type { DirectoryConfig } from '../../src/config/schema.js';
import { openConnector } from '../../src/engine/open-connector.js';
import { runSync, type EngineDeps, type SyncOptions } from '../../src/engine/run-sync.js';
import { ERROR_CATALOG, isDirbridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import type { DirectoryConnector } from '../../src/ports/directory-connector.js';
import type { SyncStore } from '../../src/ports/store.js';
import { openMongoStore } from '../../src/store/mongodb/mongo-store.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { migrateStore } from '../../src/engine/migrate-store.js';
import { toCustomerRecord } from '../../src/core/plan-sync.js';
import { generateLdif } from '../helpers/generate-ldif.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { user } from '../helpers/fixtures.js';
import { mongoTargets, useMongoServer, type MongoServer } from '../helpers/mongo-server.js';

/** The MongoDB store under faults, through the engine, on every MongoDB-wire server the tests have. */
const logger = createLogger({ level: 'silent' });
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

let n = 0;

interface Setup {
  readonly dir: string;
  readonly ldif: string;
  readonly url: string;
  readonly loaded: LoadedConfig;
  readonly store: SyncStore;
  deps(extra?: Partial<EngineDeps>): EngineDeps;
  sync(options?: SyncOptions, extra?: Partial<EngineDeps>): Promise<unknown>;
  raw<T>(fn: (db: NonNullable<mongoose.Connection['db']>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

async function setup(server: MongoServer, users: number, extraConfig = ''): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'dirbridge-mongo-faults-'));
  dirs.push(dir);
  const ldif = join(dir, 'directory.ldif');
  writeFileSync(ldif, generateLdif(users));
  const url = server.uri(`faults_${process.pid}_${n++}`);
  const loaded = parseConfig(
    `store: { url: "${url}", leaseTtlSeconds: 5 }
directories:
  - { id: sample, type: ldif, path: ./directory.ldif }
roles: { customer: { groups: [customers] } }
licensing: { licensedGroups: [jira-users, jira-servicedesk-users] }
${extraConfig}`,
    { path: join(dir, 'dirbridge.yml'), env: {} },
  );
  const store = await openMongoStore({ url, licensedGroups: loaded.config.licensing.licensedGroups });
  const deps = (extra: Partial<EngineDeps> = {}): EngineDeps => ({ loaded, store, logger, openConnector: (d: DirectoryConfig) => openConnector(d, { logger, baseDir: dir }), ...extra });
  return {
    dir,
    ldif,
    url,
    loaded,
    store,
    deps,
    sync: (options = {}, extra = {}) => runSync(deps(extra), options),
    raw: async (fn) => {
      const conn = await mongoose.createConnection(url).asPromise();
      try {
        return await fn(conn.db as NonNullable<mongoose.Connection['db']>);
      } finally {
        await conn.close();
      }
    },
    close: () => store.close(),
  };
}

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isDirbridgeError(error)) throw new Error(`expected a DirbridgeError, got ${String(error)}`);
  return { code: error.code, message: error.message };
}

async function firstBatch<T>(batches: AsyncIterable<T>): Promise<T[]> {
  for await (const batch of batches) return [batch];
  return [];
}

/** A connector that reads only once `release` resolves or its signal aborts (a read that takes long). */
function slowReader(dir: string, release: Promise<void>, started: () => void): (d: DirectoryConfig) => Promise<DirectoryConnector> {
  return async (d) => {
    const real = await openConnector(d, { logger, baseDir: dir });
    return {
      id: real.id,
      type: real.type,
      check: () => real.check(),
      close: () => real.close(),
      fetchSnapshot: async (options) => {
        started();
        await new Promise<void>((resolve, reject) => {
          void release.then(resolve);
          options?.signal?.addEventListener('abort', () => reject(options.signal?.reason as Error), { once: true });
        });
        return real.fetchSnapshot(options);
      },
    };
  };
}

for (const target of mongoTargets()) {
  describe(`MongoDB store under faults: ${target.label}`, () => {
    const server = useMongoServer(target.backend === undefined ? {} : { backend: target.backend });

    it('a run whose lease is taken over while it reads is stopped by its heartbeat: ERR_LEASE_LOST (exit 5), journal "lease-lost", nothing written', async () => {
      const s = await setup(server(), 20);
      const other = await openMongoStore({ url: s.url, licensedGroups: [] });
      try {
        let started!: () => void;
        const reading = new Promise<void>((resolve) => (started = resolve));
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        const run = s.sync({}, { openConnector: slowReader(s.dir, released, started) });
        await reading;
        // The process was paused past its lease: it expired, and another process took it.
        await s.raw((db) => db.collection('leases').updateOne({ _id: 'sync:sample' as never }, { $set: { expiresAt: new Date(0) } }));
        expect((await other.acquireLease({ name: 'sync:sample', owner: 'newer', ttlMs: 60_000 })).acquired).toBe(true);
        const fallback = setTimeout(release, 30_000); // without the heartbeat's abort the read goes on after 30 s
        const error = await rejection(run);
        clearTimeout(fallback);
        expect(error.code).toBe('ERR_LEASE_LOST');
        expect(ERROR_CATALOG.ERR_LEASE_LOST.exit).toBe(5);
        expect(error.message).toMatch(/lease sync:sample expired or was taken over while this run went on/);
        const [run0] = await s.store.listRuns({ limit: 1 });
        expect(run0).toMatchObject({ outcome: 'lease-lost', written: 0, error: { code: 'ERR_LEASE_LOST' } });
        expect(await s.store.loadCurrent()).toEqual([]);
      } finally {
        await other.close();
        await s.close();
      }
    }, 60_000);

    it('a customer document changed around dirbridge (a full-width licensed group, another name) is found, reported and rewritten by the next sync', async () => {
      const s = await setup(server(), 20);
      try {
        expect(await s.sync()).toMatchObject({ outcome: 'success', written: 20 });
        await s.raw(async (db) => {
          const customers = db.collection('customers');
          await customers.updateOne({ username: 'user000001' }, { $set: { groups: ['customers', 'ｊｉｒａ-users'] } });
          await customers.updateOne({ username: 'user000002' }, { $set: { displayName: 'Mallory', search: 'mallory' } });
        });
        // The store's licensed-group check (the after-apply verification and audit seats) sees it.
        expect((await s.store.findLicensedCustomers(s.loaded.config.licensing.licensedGroups, 10)).map((c) => c.username)).toEqual(['user000001']);
        const result = (await s.sync()) as { outcome: string; plan: { summary: { update: number }; warnings?: { kind: string; message: string }[] } };
        expect(result.outcome).toBe('success');
        expect(result.plan.summary.update).toBe(2);
        const messages = (result.plan.warnings ?? []).filter((w) => w.kind === 'damaged-customers').map((w) => w.message);
        expect(messages).toEqual([
          '1 stored customer of sample no longer matches what dirbridge wrote (its content hash): changed around dirbridge (user000002); those still in the directory are rewritten from it by this sync',
          '1 stored customer of sample carries a licensed group: the group became licensed since (config or Jira), or changed around dirbridge (user000001 (ｊｉｒａ-users)); those still in the directory are rewritten from it by this sync',
        ]);
        const [one] = await s.store.findByUsername('user000001');
        const [two] = await s.store.findByUsername('user000002');
        expect(one?.groups).toEqual(['customers']);
        expect(two?.displayName).toBe('User 2');
        expect(await s.store.findLicensedCustomers(s.loaded.config.licensing.licensedGroups, 10)).toEqual([]);
        expect(await s.sync()).toMatchObject({ outcome: 'success', written: 0 });
      } finally {
        await s.close();
      }
    });

    it('a store emptied between syncs stops the next sync as suspect (ERR_STORE_SUSPECT, exit 3, nothing applied) until --rebuild-store', async () => {
      const s = await setup(server(), 30);
      try {
        expect(await s.sync()).toMatchObject({ outcome: 'success', written: 30 });
        await s.sync({ allowDeactivations: 0 });
        await s.raw((db) => db.collection('customers').deleteMany({}));
        const refused = await rejection(s.sync());
        expect(refused.code).toBe('ERR_STORE_SUSPECT');
        expect(ERROR_CATALOG.ERR_STORE_SUSPECT.exit).toBe(3);
        expect(refused.message).toContain('the store lost customers since the last sync (sample: 0 stored, 30 after the last sync)');
        expect(refused.message).toContain('dirbridge sync --rebuild-store');
        expect((await rejection(s.sync({ dryRun: true }))).code).toBe('ERR_STORE_SUSPECT');
        expect(await s.store.loadCurrent()).toEqual([]);
        expect((await s.store.listRuns({ limit: 1 }))[0]).toMatchObject({ outcome: 'rejected', written: 0, error: { code: 'ERR_STORE_SUSPECT' } });

        expect(await s.sync({ rebuildStore: true })).toMatchObject({ outcome: 'success', written: 30 });
        expect(await s.sync()).toMatchObject({ outcome: 'success', written: 0 });

        // Far fewer (half gone, more than safety.countDropPercent) is as suspect as none.
        await s.raw((db) => db.collection('customers').deleteMany({ username: { $regex: '^user00001' } }));
        expect((await rejection(s.sync())).message).toContain('sample: 20 stored, 30 after the last sync');
      } finally {
        await s.close();
      }
    });

    it('a store written before customer counts were kept: the journal says customers existed', async () => {
      const s = await setup(server(), 10);
      try {
        expect(await s.sync()).toMatchObject({ outcome: 'success', written: 10 });
        await s.raw(async (db) => {
          await db.collection('directory_states').updateMany({}, { $unset: { customers: '' } });
          await db.collection('customers').deleteMany({});
        });
        const refused = await rejection(s.sync());
        expect(refused.code).toBe('ERR_STORE_SUSPECT');
        expect(refused.message).toMatch(/the store holds no customers; the last applied run \(run-[^)]+\) had 10/);
      } finally {
        await s.close();
      }
    });

    it('store migrate-from, interrupted then run again and repeated once finished, completes each time with equal counts', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'dirbridge-migrate-'));
      dirs.push(dir);
      const licensedGroups = ['jira-users'];
      const source = openSqliteStore({ path: join(dir, 'source.db'), licensedGroups });
      const url = server().uri(`migrate_${process.pid}_${n++}`);
      const target = await openMongoStore({ url, licensedGroups });
      try {
        const users = Array.from({ length: 1200 }, (_, i) => ({ kind: 'create' as const, customer: toCustomerRecord('corp', user(`id${i}`, `person${i}`), ['customers']) }));
        await source.applyActions(users, { runId: 'r1', now: '2026-12-01T00:00:00.000Z' });
        await source.applyActions([{ kind: 'deactivate', directoryId: 'corp', externalId: 'id7', username: 'person7', reason: 'missing-from-directory' }], { runId: 'r2', now: '2026-12-02T00:00:00.000Z' });
        await source.putDirectoryState('corp', { lastTrustedUsers: 1200, lastTrustedAt: '2026-12-02T00:00:00.000Z', customers: 1200 });
        // Interrupted after its first batch: the copy of that batch is there, the rest is not.
        const [first] = await firstBatch(source.exportCustomers(1000));
        await target.importCustomers(first ?? []);
        const resumed = await migrateStore(source, target);
        expect(resumed).toMatchObject({ customers: 1200, directories: 1 });
        const again = await migrateStore(source, target);
        expect(again).toMatchObject({ customers: 1200, directories: 1 });
        const all = async (store: SyncStore) => {
          const out = [];
          for await (const batch of store.exportCustomers(1000)) out.push(...batch);
          return out;
        };
        expect(await all(target)).toEqual(await all(source));
        expect((await target.listCustomers({ state: 'inactive' })).items.map((c) => c.username)).toEqual(['person7']);
        expect(await target.getDirectoryStates()).toEqual(await source.getDirectoryStates());
      } finally {
        await source.close();
        await target.close();
      }
    }, 120_000);

    it('a server that freezes mid-sync fails the sync with ERR_STORE (retryable, "did not answer"), writes nothing, and the next sync completes', async () => {
      const address = server().address;
      if (address === null) return void expect(server().kind).toBe('external'); // MONGODB_URI: no proxy in between
      const proxy = await startFaultProxy(address);
      const s = await setup(server(), 20);
      // The default detection (10 s heartbeats and timeouts, about 30 s) shortened fivefold: the same path, sooner.
      const detection = { serverSelectionTimeoutMS: 2000, connectTimeoutMS: 2000, heartbeatFrequencyMS: 2000 };
      const viaProxy = await openMongoStore({ url: `mongodb://127.0.0.1:${proxy.port}/${new URL(s.url).pathname.slice(1)}`, licensedGroups: s.loaded.config.licensing.licensedGroups, ...detection });
      try {
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        const run = runSync(s.deps({ store: viaProxy, openConnector: slowReader(s.dir, released, () => {
          proxy.freeze(); // frozen while the directory is read: loading the store hangs
          release();
        }) }));
        const error = await run.then(
          () => null,
          (e: unknown) => e,
        );
        expect(isDirbridgeError(error) && { code: error.code, retryable: error.retryable }).toEqual({ code: 'ERR_STORE', retryable: true });
        expect((error as Error).message).toMatch(/^MongoDB \(mongodb:\/\/127\.0\.0\.1:\d+\/faults_\w+\) did not answer while trying to \w[\w ]*: it is down, frozen or unreachable/);
        proxy.thaw();
        expect(await s.store.loadCurrent()).toEqual([]);
        expect(await s.sync()).toMatchObject({ outcome: 'success', written: 20 });
      } finally {
        await viaProxy.close().catch(() => undefined);
        await proxy.close();
        await s.close();
      }
    }, 150_000);
  });
}

describe('MongoDB store under faults: FerretDB/PostgreSQL left at its default pool (50 connections)', () => {
  const server = useMongoServer({ backend: 'postgresql', pgPool: null });

  it('a sync that updates 300 customers completes: no update command holds as many statements as the pool has connections', async () => {
    const s = await setup(server(), 300);
    try {
      expect(await s.sync()).toMatchObject({ outcome: 'success', written: 300 });
      const moved = readFileSync(s.ldif, 'utf8').replaceAll('\ncn: User ', '\ncn: Renamed User ');
      writeFileSync(s.ldif, moved);
      expect(await s.sync()).toMatchObject({ outcome: 'success', written: 300 });
      expect((await s.store.findByUsername('user000299'))[0]?.displayName).toBe('Renamed User 299');
    } finally {
      await s.close();
    }
  }, 120_000);
});
