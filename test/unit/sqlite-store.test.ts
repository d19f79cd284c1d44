import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { describeStoreConformance, LICENSED } from '../helpers/store-conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'dirbridge-sqlite-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreConformance('embedded SQLite (file)', async (name) => openSqliteStore({ path: join(dir, `${name ?? `store-${n++}`}.db`), licensedGroups: LICENSED }));

describe('embedded store: storage-level refusal', () => {
  it('a raw INSERT of a customer with a licensed group is refused by the database itself', async () => {
    const path = join(dir, 'raw.db');
    const store = openSqliteStore({ path, licensedGroups: LICENSED });
    await store.close();
    const db = new Database(path);
    const insert = (groups: string): unknown =>
      db.prepare(`INSERT INTO customers (directory_id, external_id, username, username_lc, search, groups, hash, active, created_at, updated_at)
                  VALUES ('d', ?, 'x', 'x', 'x', ?, 'h', 1, 'now', 'now')`).run(`id-${groups}`, groups);
    expect(() => insert('["customers", " Jira-Users"]')).toThrow(/licensed group/);
    expect(() => insert('["customers"]')).not.toThrow();
    expect(() => db.prepare(`UPDATE customers SET groups = '["jira-servicedesk-users"]'`).run()).toThrow(/licensed group/);
    db.close();
  });
});
