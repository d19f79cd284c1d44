import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { afterAll, describe, expect, it } from 'vitest';
import { openMongoStore } from '../../src/store/mongodb/mongo-store.js';
import type { CustomerPage } from '../../src/ports/store.js';
import { BIN, defaultConfig, makeWorkspace, runCli, runCliAsync } from '../helpers/cli.js';
import { generateLdif } from '../helpers/generate-ldif.js';
import { useMongoServer } from '../helpers/mongo-server.js';

const dirs: string[] = [];
const mongo = useMongoServer();
let n = 0;
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function mongoWorkspace(options: { users?: number; ttl?: number } = {}) {
  const database = `cli_${process.pid}_${n++}`;
  const url = mongo().uri(database);
  const config = defaultConfig().replace('url: file:./store.db', `url: ${url}\n  leaseTtlSeconds: ${options.ttl ?? 60}`);
  const ws = makeWorkspace(options.users === undefined ? config : config.replace('[sd-customers, partner-portal]', '[customers]'));
  dirs.push(ws.dir);
  if (options.users !== undefined) writeFileSync(ws.ldif, generateLdif(options.users));
  const cli = (...args: string[]) => runCli(['--config', ws.config, ...args], { cwd: ws.dir });
  return { ...ws, url, database, cli };
}

async function withDb<T>(url: string, fn: (db: NonNullable<mongoose.Connection['db']>) => Promise<T>): Promise<T> {
  const conn = await mongoose.createConnection(url).asPromise();
  try {
    return await fn(conn.db as NonNullable<mongoose.Connection['db']>);
  } finally {
    await conn.close();
  }
}

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function state(url: string): Promise<string[]> {
  const store = await openMongoStore({ url, licensedGroups: [] });
  try {
    return (await store.loadCurrent()).map((c) => `${c.directoryId}/${c.externalId}/${c.username}/${c.hash}/${String(c.active)}`).sort();
  } finally {
    await store.close();
  }
}

describe('dirbridge on MongoDB (subprocess)', () => {
  it('every command works as on the embedded store: sync, re-sync, list, search, explain, audit, plan and apply', () => {
    const ws = mongoWorkspace();
    const planFile = join(ws.dir, 'plan.json');
    expect(ws.cli('plan', '--out', planFile).status).toBe(0);
    const applied = ws.cli('sync', '--plan', planFile);
    expect(applied.stderr).toBe('');
    expect(applied.status).toBe(0);
    expect(applied.stdout).toContain(`→ MongoDB ${ws.url}`);
    expect(applied.stdout).toContain('created 237, updated 0, reactivated 0, deactivated 0, unchanged 0, withheld 0');
    expect(ws.cli('sync').stdout).toContain('created 0, updated 0, reactivated 0, deactivated 0, unchanged 237, withheld 0');
    const page = JSON.parse(ws.cli('customers', 'list', '--json', '--page', '12').stdout) as CustomerPage;
    expect(page).toMatchObject({ total: 237, page: 12, pageSize: 20 });
    expect(page.items).toHaveLength(17);
    expect(ws.cli('customers', 'list', '--search', 'STAR (*)').stdout).toContain('Star (*) User\\');
    expect(ws.cli('explain', 'carol.agent').stdout).toMatch(/^carol\.agent: CUSTOMER: member of emea-customers → sd-customers/);
    const audit = ws.cli('audit', 'seats');
    expect(audit.status).toBe(4);
    expect(audit.stdout).toContain('3. store        PASS  0 of 237 active customers carry a licensed group');
    expect(ws.cli('sync', '--plan', planFile).status).toBe(3); // stale now
  });

  it('two concurrent syncs: one runs, the other names the lease holder and exits 5; then it can run', async () => {
    const ws = mongoWorkspace({ users: 10_000 });
    const first = runCliAsync(['--config', ws.config, 'sync'], { cwd: ws.dir });
    await until(() => withDb(ws.url, async (db) => (await db.collection('leases').countDocuments({ _id: 'sync:sample' as never, expiresAt: { $gt: new Date() } })) === 1), 30_000, 'the first sync to take its lease');
    const second = runCli(['--config', ws.config, 'sync'], { cwd: ws.dir });
    expect(second.status).toBe(5);
    expect(second.stderr).toMatch(/ERR_LEASE_HELD: directory sample is being synced by [^:]+:\d+:[0-9a-f]{6} \(lease held until /);
    const done = await first;
    expect(done.status).toBe(0);
    expect(done.stdout).toContain('created 10000');
    const again = runCli(['--config', ws.config, 'sync'], { cwd: ws.dir });
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('unchanged 10000');
    const runs = JSON.parse(ws.cli('runs', '--json').stdout) as { outcome: string }[];
    expect(runs.map((r) => r.outcome)).toEqual(['success', 'skipped', 'success']);
  }, 120_000);

  it('a sync killed mid-apply, run again, converges to the state of an uninterrupted run', async () => {
    const ws = mongoWorkspace({ users: 10_000, ttl: 5 });
    const child = spawn(process.execPath, [BIN, '--config', ws.config, 'sync'], { cwd: ws.dir, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    let written = 0;
    await until(
      () => withDb(ws.url, async (db) => {
        written = await db.collection('customers').countDocuments({});
        return written > 0;
      }),
      60_000,
      'the first customers to be written',
    );
    child.kill('SIGKILL');
    await exited;
    // The server finishes the write command it had already received; wait until the count settles.
    let partial = -1;
    await until(
      () => withDb(ws.url, async (db) => {
        const count = await db.collection('customers').countDocuments({});
        await new Promise((resolve) => setTimeout(resolve, 300));
        const settled = count === partial;
        partial = count;
        return settled;
      }),
      30_000,
      'the killed run\'s last write to settle',
    );
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(10_000);

    let rerun = ws.cli('sync');
    const deadline = Date.now() + 20_000;
    while (rerun.status === 5 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500)); // the killed holder's lease expires (leaseTtlSeconds: 5)
      rerun = ws.cli('sync');
    }
    expect(rerun.status).toBe(0);
    expect(rerun.stdout).toContain(`created ${10_000 - partial}, updated 0, reactivated 0, deactivated 0, unchanged ${partial}`);

    const reference = mongoWorkspace({ users: 10_000 });
    expect(reference.cli('sync').status).toBe(0);
    expect(await state(ws.url)).toEqual(await state(reference.url));
  }, 180_000);

  it('migrates an embedded store into MongoDB without losing its history', async () => {
    const ws = mongoWorkspace();
    const embedded = makeWorkspace();
    dirs.push(embedded.dir);
    expect(runCli(['--config', embedded.config, 'sync'], { cwd: embedded.dir }).status).toBe(0);
    const migrated = runCliAsync(['--config', ws.config, 'store', 'migrate-from', `file:${join(embedded.dir, 'store.db')}`], { cwd: ws.dir });
    const result = await migrated;
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^copied 237 customers, 1 runs and 1 directory states from embedded store .*store\.db to MongoDB /);
    const again = ws.cli('sync');
    expect(again.stdout).toContain('created 0, updated 0, reactivated 0, deactivated 0, unchanged 237, withheld 0');
    const runs = JSON.parse(ws.cli('runs', '--json').stdout) as { outcome: string }[];
    expect(runs).toHaveLength(2);
  });

  it('a customers collection emptied between syncs: sync and plan exit 3 with ERR_STORE_SUSPECT; sync --rebuild-store recreates them', async () => {
    const ws = mongoWorkspace();
    expect(ws.cli('sync').status).toBe(0);
    await withDb(ws.url, (db) => db.collection('customers').deleteMany({}));
    for (const command of [['sync'], ['plan']]) {
      const refused = ws.cli(...command);
      expect(refused.status).toBe(3);
      expect(refused.stderr).toContain('ERR_STORE_SUSPECT: the store lost customers since the last sync (sample: 0 stored, 237 after the last sync)');
    }
    expect(await state(ws.url)).toEqual([]);
    const rebuilt = ws.cli('sync', '--rebuild-store');
    expect(rebuilt.status).toBe(0);
    expect(rebuilt.stdout).toContain('created 237, updated 0');
    expect(ws.cli('sync').stdout).toContain('unchanged 237');
  });
});
