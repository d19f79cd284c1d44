import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { DirectorySnapshot, DirectoryUser } from '../../src/core/model.js';
import { user } from '../helpers/fixtures.js';
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

describe('embedded store: saving a whole snapshot', () => {
  const head = (cursor: string) => ({ cursor, fingerprint: 'f', users: 800, groups: 3 });
  const snapshot = (changed: (u: DirectoryUser) => DirectoryUser = (u) => u, leaving = ''): DirectorySnapshot => {
    const users = Array.from({ length: 800 }, (_, i) => user(`k${i}`, `User${i}`));
    return {
      directoryId: 'crowd',
      users: users.map(changed),
      groups: [
        { id: 'all', name: 'All', memberUserIds: users.map((u) => u.externalId).filter((id) => id !== leaving), memberGroupIds: ['odd'] },
        { id: 'odd', name: 'Odd', memberUserIds: users.filter((_, i) => i % 2 === 1).map((u) => u.externalId), memberGroupIds: [] },
        { id: 'few', name: 'Few', memberUserIds: ['k1', 'k2'], memberGroupIds: [] },
      ],
    };
  };
  const TABLES = ['snapshot_heads', 'snapshot_user_rows', 'snapshot_groups', 'snapshot_members'];

  /** Triggers in the database itself count every row written, whatever statement writes it. */
  const countWrites = (path: string): { counts: () => Record<string, number>; close: () => void } => {
    const db = new Database(path);
    db.exec('CREATE TABLE write_log (what TEXT NOT NULL)');
    for (const table of TABLES) {
      for (const op of ['INSERT', 'UPDATE', 'DELETE']) db.exec(`CREATE TRIGGER count_${op}_${table} AFTER ${op} ON ${table} BEGIN INSERT INTO write_log VALUES ('${op.toLowerCase()} ${table}'); END`);
    }
    return {
      counts: () => {
        const rows = db.prepare('SELECT what, count(*) FROM write_log GROUP BY what ORDER BY what').raw().all() as [string, number][];
        db.exec('DELETE FROM write_log');
        return Object.fromEntries(rows);
      },
      close: () => db.close(),
    };
  };

  it('a save that changes nothing writes the head row alone; a few changes write only their rows (counted by triggers in the database)', async () => {
    const path = join(dir, 'writes.db');
    const store = openSqliteStore({ path, licensedGroups: LICENSED });
    await store.incremental.replace('crowd', snapshot(), head('t1'));
    const writes = countWrites(path);
    try {
      await store.incremental.replace('crowd', snapshot(), head('t2'));
      expect(writes.counts()).toEqual({ 'update snapshot_heads': 1 });
      const emails = new Set(['k3', 'k500', 'k799']);
      await store.incremental.replace('crowd', snapshot((u) => (emails.has(u.externalId) ? { ...u, email: 'new@example.org' } : u), 'k10'), head('t3'));
      // Three user rows, one membership, and the row of the group whose member list changed (its digest).
      expect(writes.counts()).toEqual({ 'delete snapshot_members': 1, 'insert snapshot_groups': 1, 'insert snapshot_user_rows': 3, 'update snapshot_heads': 1 });
      expect(await store.incremental.head('crowd')).toEqual(head('t3'));
    } finally {
      writes.close();
      await store.close();
    }
  });

  /** Every snapshot row of a store file, as stored. */
  const rowsOf = (path: string): Record<string, unknown[]> => {
    const db = new Database(path);
    try {
      return Object.fromEntries(TABLES.map((table) => [table, db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2${table === 'snapshot_members' ? ', 3' : ''}`).raw().all()]));
    } finally {
      db.close();
    }
  };

  it('migrates snapshot tables made before the member digests in place; their rows are compared as changed and end as a fresh save leaves them', async () => {
    const path = join(dir, 'old-layout.db');
    const old = new Database(path);
    // The snapshot tables and rows as the previous version wrote them: groups without members_hash, user
    // rows unpacked from a JSON array by json_extract.
    old.exec(`
      CREATE TABLE snapshot_heads (directory_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
      CREATE TABLE snapshot_user_rows (directory_id TEXT NOT NULL, external_id TEXT NOT NULL, username_lc TEXT NOT NULL, user TEXT NOT NULL, PRIMARY KEY (directory_id, external_id)) WITHOUT ROWID;
      CREATE TABLE snapshot_groups (directory_id TEXT NOT NULL, group_id TEXT NOT NULL, name TEXT NOT NULL, children TEXT NOT NULL, PRIMARY KEY (directory_id, group_id)) WITHOUT ROWID;
      CREATE TABLE snapshot_members (directory_id TEXT NOT NULL, group_id TEXT NOT NULL, external_id TEXT NOT NULL, PRIMARY KEY (directory_id, group_id, external_id)) WITHOUT ROWID;
    `);
    const stored = snapshot((u) => (u.externalId === 'k7' ? { ...u, displayName: 'Zoë "the \\ tab\t" ☃' } : u));
    old.prepare("INSERT INTO snapshot_user_rows SELECT 'crowd', json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?)").run(
      JSON.stringify(stored.users.map((u) => [u.externalId, u.username.toLowerCase(), [u.externalId, u.username, u.email, u.displayName, u.disabled ? 1 : 0, u.location]])),
    );
    for (const g of stored.groups) {
      old.prepare("INSERT INTO snapshot_groups VALUES ('crowd', ?, ?, ?)").run(g.id, g.name, JSON.stringify([...g.memberGroupIds].sort()));
      old.prepare("INSERT INTO snapshot_members SELECT 'crowd', ?, value FROM json_each(?)").run(g.id, JSON.stringify(g.memberUserIds));
    }
    old.prepare("INSERT INTO snapshot_heads VALUES ('crowd', ?)").run(JSON.stringify(head('t1')));
    old.close();

    const store = openSqliteStore({ path, licensedGroups: LICENSED });
    try {
      const columns = rowsOf(path);
      expect(columns['snapshot_groups']?.[0]).toEqual(['crowd', 'all', 'All', '["odd"]', null]);
      expect(await store.incremental.head('crowd')).toEqual(head('t1'));
      expect((await store.incremental.users('crowd', { ids: ['k7'] }))[0]?.user.displayName).toBe('Zoë "the \\ tab\t" ☃');
      const next = snapshot((u) => (u.externalId === 'k7' ? { ...u, displayName: 'Zoë "the \\ tab\t" ☃' } : u.externalId === 'k9' ? { ...u, email: null } : u), 'k4');
      const writes = await store.incremental.replace('crowd', next, head('t2'));
      // No digest was stored: every group row is written again, its member rows compared one by one.
      expect(writes.groups.written).toBe(3);
      expect(writes.memberships).toEqual({ written: 0, deleted: 1 });
      const freshPath = join(dir, 'old-layout-fresh.db');
      const fresh = openSqliteStore({ path: freshPath, licensedGroups: LICENSED });
      await fresh.incremental.replace('crowd', next, head('t2'));
      await fresh.close();
      expect(rowsOf(path)).toEqual(rowsOf(freshPath));
      expect(await store.incremental.replace('crowd', next, head('t3'))).toEqual({ users: { written: 0, deleted: 0 }, groups: { written: 0, deleted: 0 }, memberships: { written: 0, deleted: 0 } });
    } finally {
      await store.close();
    }
  });
});
