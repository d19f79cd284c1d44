import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import type { DirectoryConfig } from '../../src/config/schema.js';
import { openConnector } from '../../src/engine/open-connector.js';
import { runSync, type SyncOptions } from '../../src/engine/run-sync.js';
import { createLogger } from '../../src/logger.js';
import { openMongoStore } from '../../src/store/mongodb/mongo-store.js';
import { FERRETDB_UPDATE_CHUNK } from '../../src/store/mongodb/server-limits.js';
import { startCommandCounter, type CommandCounter } from '../helpers/command-counter.js';
import { APP_NAME, APP_PASSWORD, startCrowdFixture, type CrowdFixture } from '../helpers/crowd-fixture.js';
import { generateLdif } from '../helpers/generate-ldif.js';
import { useMongoServer } from '../helpers/mongo-server.js';

/**
 * Round trips, not time: the commands a sync sends to the MongoDB-wire server (counted on the wire by a
 * relay in front of a real FerretDB on PostgreSQL) must not grow with the customers it changes, apart
 * from the update commands that carry each changed customer's own fields (FERRETDB_UPDATE_CHUNK
 * statements each, with the lease fence read before each).
 */
const logger = createLogger({ level: 'silent' });
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const USERS = 400;
let n = 0;

interface Counted {
  readonly commands: number;
  readonly counts: Record<string, number>;
  /** Write statements by command and collection (`insert snapshot_users`: documents inserted). */
  readonly writes: Record<string, number>;
  readonly written: number;
  readonly actions: number;
}

/** A store on a fresh database through the counting relay, and a sync that counts what it sends. */
async function countingSetup(counter: CommandCounter, directory: string): Promise<{ dir: string; sync: (options?: SyncOptions) => Promise<Counted>; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'dirbridge-round-trips-'));
  dirs.push(dir);
  const url = `mongodb://${counter.host}:${counter.port}/round_trips_${process.pid}_${n++}`;
  const loaded = parseConfig(
    `store: { url: "${url}" }\ndirectories:\n  - ${directory}\nroles: { customer: { groups: [customers] } }\nlicensing: { licensedGroups: [jira-users] }\n`,
    { path: join(dir, 'dirbridge.yml'), env: {} },
  );
  const store = await openMongoStore({ url, licensedGroups: loaded.config.licensing.licensedGroups });
  return {
    dir,
    sync: async (options = {}) => {
      counter.reset();
      const result = await runSync({ loaded, store, logger, openConnector: (d: DirectoryConfig) => openConnector(d, { logger, baseDir: dir }) }, { allowDeactivations: USERS, ...options });
      return { commands: counter.dataCommands(), counts: counter.counts(), writes: counter.writes(), written: result.written, actions: result.plan.actions.length };
    },
    close: () => store.close(),
  };
}

describe('MongoDB store round trips on FerretDB/PostgreSQL', () => {
  const server = useMongoServer({ backend: 'postgresql' });

  /** Full LDIF syncs: the first, then one that deactivates `gone` customers (removed from the file). */
  async function deactivating(counter: CommandCounter, gone: number): Promise<Counted> {
    const setup = await countingSetup(counter, '{ id: sample, type: ldif, path: ./directory.ldif }');
    try {
      const full = generateLdif(USERS);
      writeFileSync(join(setup.dir, 'directory.ldif'), full);
      expect((await setup.sync()).written).toBe(USERS);
      let fewer = full;
      for (let i = 0; i < gone; i++) {
        const dn = `uid=user${String(i).padStart(6, '0')},ou=People,dc=example,dc=com`;
        fewer = fewer.replace(`\nmember: ${dn}`, '');
      }
      writeFileSync(join(setup.dir, 'directory.ldif'), fewer);
      const counted = await setup.sync();
      expect({ written: counted.written, actions: counted.actions }).toEqual({ written: gone, actions: gone });
      expect((await setup.sync()).actions).toBe(0);
      return counted;
    } finally {
      await setup.close();
    }
  }

  it('a sync that deactivates 200 customers sends as many commands as one that deactivates 10', async () => {
    const counter = await startCommandCounter(server().address ?? { host: '127.0.0.1', port: 0 });
    try {
      const few = await deactivating(counter, 10);
      const many = await deactivating(counter, 200);
      expect(many.counts).toEqual(few.counts);
      expect(many.commands).toBe(few.commands);
    } finally {
      await counter.close();
    }
  }, 120_000);

  /** Crowd: a first sync (which keeps the snapshot rows), then an incremental one after `changed` users changed their e-mail. */
  async function incremental(counter: CommandCounter, changed: number): Promise<Counted> {
    const users = Array.from({ length: USERS }, (_, i) => ({ name: `c${i}`, key: `1:c${i}`, email: `c${i}@example.org`, displayName: `C ${i}` }));
    const crowd: CrowdFixture = await startCrowdFixture({ users, groups: [{ name: 'customers', users: users.map((u) => u.name), groups: [] }] });
    const setup = await countingSetup(counter, `{ id: crowd, type: crowd, url: "${crowd.url}", application: { name: ${APP_NAME}, password: "${APP_PASSWORD}" } }`);
    try {
      expect((await setup.sync({ mode: 'incremental' })).written).toBe(USERS);
      for (let i = 0; i < changed; i++) crowd.change.updateUser(`c${i}`, { email: `changed${i}@example.org` });
      const counted = await setup.sync({ mode: 'incremental' });
      expect(counted.written).toBe(changed);
      // The rewritten snapshot rows are what the next incremental run and a full run agree with.
      expect((await setup.sync({ mode: 'incremental' })).actions).toBe(0);
      expect((await setup.sync({ mode: 'full' })).actions).toBe(0);
      return counted;
    } finally {
      await setup.close();
      await crowd.close();
    }
  }

  it('an incremental sync of 200 changed users sends more commands than one of 10 only for the customer updates', async () => {
    const counter = await startCommandCounter(server().address ?? { host: '127.0.0.1', port: 0 });
    try {
      const few = await incremental(counter, 10);
      const many = await incremental(counter, 200);
      // Each chunk of updates is one update command and the lease fence read before it.
      const updateCommands = (k: number): number => 2 * Math.ceil(k / FERRETDB_UPDATE_CHUNK);
      expect(many.commands - few.commands, `commands by name: 200 changed ${JSON.stringify(many.counts)}, 10 changed ${JSON.stringify(few.counts)}`).toBe(updateCommands(200) - updateCommands(10));
    } finally {
      await counter.close();
    }
  }, 120_000);
});

describe('MongoDB store on FerretDB/PostgreSQL: the snapshot a full read keeps', () => {
  const server = useMongoServer({ backend: 'postgresql' });

  it('a full resync that changed nothing writes the snapshot head alone; one of 10 changed users writes their 10 documents', async () => {
    const counter = await startCommandCounter(server().address ?? { host: '127.0.0.1', port: 0 });
    const users = Array.from({ length: USERS }, (_, i) => ({ name: `c${i}`, key: `1:c${i}`, email: `c${i}@example.org`, displayName: `C ${i}` }));
    const crowd: CrowdFixture = await startCrowdFixture({ users, groups: [{ name: 'customers', users: users.map((u) => u.name), groups: [] }, { name: 'others', users: ['c1', 'c2'], groups: [] }] });
    const setup = await countingSetup(counter, `{ id: crowd, type: crowd, url: "${crowd.url}", application: { name: ${APP_NAME}, password: "${APP_PASSWORD}" } }`);
    const snapshotWrites = (counted: Counted): Record<string, number> => Object.fromEntries(Object.entries(counted.writes).filter(([key]) => key.includes(' snapshot_')));
    try {
      expect(snapshotWrites(await setup.sync())).toEqual({ 'delete snapshot_heads': 1, 'insert snapshot_groups': 2, 'insert snapshot_users': USERS, 'update snapshot_heads': 1 });
      expect(snapshotWrites(await setup.sync())).toEqual({ 'update snapshot_heads': 1 });
      for (let i = 0; i < 10; i++) crowd.change.updateUser(`c${i * 30}`, { email: `changed${i}@example.org` });
      crowd.change.removeMember('others', 'c2');
      const changed = await setup.sync();
      expect(changed.written).toBe(10);
      // A changed document is deleted (one statement naming them by `$in`) and inserted again, under the
      // removed head: the 10 users and c2, whose groups changed.
      expect(snapshotWrites(changed)).toEqual({ 'delete snapshot_heads': 1, 'delete snapshot_users': 1, 'insert snapshot_users': 11, 'update snapshot_heads': 1 });
      expect((await setup.sync({ mode: 'incremental' })).actions).toBe(0);
    } finally {
      await setup.close();
      await crowd.close();
      await counter.close();
    }
  }, 120_000);
});

describe('MongoDB store on FerretDB/PostgreSQL: a snapshot larger than one PostgreSQL statement takes', () => {
  const server = useMongoServer({ backend: 'postgresql' });

  // FerretDB 1.x deletes the documents a deleteMany matched in one DELETE naming each of them, and
  // PostgreSQL takes at most 65,535 parameters in a statement: a snapshot of more users than that must
  // be replaced in parts.
  it('replaces a stored snapshot of 66,000 users by another', async () => {
    const store = await openMongoStore({ url: server().uri(`big_snapshot_${process.pid}`), licensedGroups: ['jira-users'] });
    try {
      const snapshot = (tag: string) => ({
        directoryId: 'big',
        users: Array.from({ length: 66_000 }, (_, i) => ({ externalId: `${tag}${i}`, username: `${tag}${i}`, email: null, displayName: null, disabled: false, location: null })),
        groups: [{ id: 'g', name: 'customers', memberUserIds: [`${tag}0`, `${tag}1`], memberGroupIds: [] }],
      });
      const head = (cursor: string) => ({ cursor, fingerprint: 'f', users: 66_000, groups: 1 });
      await store.incremental.replace('big', snapshot('a'), head('1'));
      await store.incremental.replace('big', snapshot('b'), head('2'));
      expect(await store.incremental.head('big')).toEqual(head('2'));
      expect((await store.incremental.users('big', { memberOf: ['g'] })).map((u) => u.user.externalId).sort()).toEqual(['b0', 'b1']);
      expect(await store.incremental.users('big', { ids: ['a0', 'a65999'] })).toEqual([]);
      expect((await store.incremental.users('big', { ids: ['b65999'] })).length).toBe(1);
    } finally {
      await store.close();
    }
  }, 300_000);
});
