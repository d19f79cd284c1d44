import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import Database from 'libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import type { DirectoryConfig } from '../../src/config/schema.js';
import { openConnector } from '../../src/engine/open-connector.js';
import { runSync, type EngineDeps } from '../../src/engine/run-sync.js';
import { applySavedPlan, writePlanFile } from '../../src/engine/saved-plan.js';
import { isDirbridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { generateLdif } from '../helpers/generate-ldif.js';
import { spelledLicensed } from '../helpers/licensed-spellings.js';

/** The embedded store changed around dirbridge (raw SQL), through the engine: as on MongoDB (test/integration/mongo-faults.test.ts). */
const logger = createLogger({ level: 'silent' });
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function setup(users: number) {
  const dir = mkdtempSync(join(tmpdir(), 'dirbridge-integrity-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'directory.ldif'), generateLdif(users));
  const loaded = parseConfig(
    `store: { url: "file:./store.db" }
directories:
  - { id: sample, type: ldif, path: ./directory.ldif }
roles: { customer: { groups: [customers] } }
licensing: { licensedGroups: [jira-users] }
`,
    { path: join(dir, 'dirbridge.yml'), env: {} },
  );
  const path = join(dir, 'store.db');
  const store = openSqliteStore({ path, licensedGroups: loaded.config.licensing.licensedGroups });
  const deps: EngineDeps = { loaded, store, logger, openConnector: (d: DirectoryConfig) => openConnector(d, { logger, baseDir: dir }) };
  const sql = (statement: string): void => {
    const db = new Database(path);
    try {
      db.exec(statement);
    } finally {
      db.close();
    }
  };
  return { store, deps, sql, dir };
}

describe('embedded store: the triggers refuse what the licence rule matches', () => {
  it('a raw SQL write of any spelling of a licensed group is refused; other names are written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dirbridge-triggers-'));
    dirs.push(dir);
    const path = join(dir, 'store.db');
    const licensedGroups = ['jira-users', 'staff-finance'];
    // Opened twice: the second open finds the names unchanged and keeps the spellings it wrote.
    for (let i = 0; i < 2; i++) await openSqliteStore({ path, licensedGroups }).close();
    const db = new Database(path);
    try {
      const insert = db.prepare(`INSERT INTO customers (directory_id, external_id, username, username_lc, search, groups, hash, active, created_at, updated_at)
                                 VALUES ('raw', ?, ?, ?, '', ?, 'h', 1, 'now', 'now')`);
      let n = 0;
      const write = (group: string) => {
        n++;
        insert.run(`id${n}`, `u${n}`, `u${n}`, JSON.stringify(['customers', group]));
      };
      fc.assert(
        fc.property(spelledLicensed(licensedGroups), (group) => {
          expect(() => write(group)).toThrow(/cannot carry a licensed group/);
        }),
        { numRuns: 500 },
      );
      for (const group of ['ｊｉｒａ-users', 'JIRA-USERS ', '\u3000jira-users', '𝐣𝐢𝐫𝐚-users', 'staﬀ-ﬁnance']) expect(() => write(group), group).toThrow(/licensed group/);
      for (const group of ['jira-users-archive', 'jira_users', 'staff finance']) write(group);
      expect((db.prepare('SELECT count(*) AS n FROM customers').get() as { n: number }).n).toBe(3);
      // An update of the groups is checked too.
      expect(() => db.exec(`UPDATE customers SET groups = '["ＪＩＲＡ-Users"]'`)).toThrow(/licensed group/);
    } finally {
      db.close();
    }
  });
});

describe('embedded store changed around dirbridge', () => {
  it('a full-width licensed group and a changed name written by raw SQL are found, reported and rewritten by the next sync', async () => {
    const { store, deps, sql } = setup(10);
    expect((await runSync(deps)).written).toBe(10);
    // A writer with full access can drop the storage-level triggers first; the application still finds it.
    sql(`DROP TRIGGER customers_refuse_licensed_update;
         UPDATE customers SET groups = '["customers","ｊｉｒａ-users"]' WHERE username = 'user000001';
         UPDATE customers SET display_name = 'Mallory' WHERE username = 'user000002';`);
    expect((await store.findLicensedCustomers(['jira-users'], 10)).map((c) => c.username)).toEqual(['user000001']);
    const result = await runSync(deps);
    expect(result).toMatchObject({ outcome: 'success', written: 2 });
    expect((result.plan.warnings ?? []).filter((w) => w.kind === 'damaged-customers').map((w) => w.examples)).toEqual([['user000002'], ['user000001 (ｊｉｒａ-users)']]);
    expect(await store.findLicensedCustomers(['jira-users'], 10)).toEqual([]);
    expect((await store.findByUsername('user000002'))[0]?.displayName).toBe('User 2');
    await store.close();
  });

  it('an emptied customers table stops the next sync (ERR_STORE_SUSPECT) until --rebuild-store', async () => {
    const { store, deps, sql, dir } = setup(10);
    expect((await runSync(deps)).written).toBe(10);
    const planned = await runSync(deps, { dryRun: true });
    sql('DELETE FROM customers');
    const error = await runSync(deps).catch((e: unknown) => e);
    expect(isDirbridgeError(error) && error.code).toBe('ERR_STORE_SUSPECT');
    expect(await store.loadCurrent()).toEqual([]);
    // A plan saved before the table was emptied is refused as well (a raw DELETE leaves the revision as it was).
    const saved = join(dir, 'plan.json');
    writePlanFile(saved, planned, new Date());
    const viaPlan = await applySavedPlan(deps, saved).catch((e: unknown) => e);
    expect(isDirbridgeError(viaPlan) && viaPlan.code).toBe('ERR_STORE_SUSPECT');
    expect(await runSync(deps, { rebuildStore: true })).toMatchObject({ outcome: 'success', written: 10 });
    expect(await runSync(deps)).toMatchObject({ outcome: 'success', written: 0 });
    await store.close();
  });
});
