import type Database from 'libsql';
import type { CurrentCustomer, DirectoryUser } from '../../core/model.js';
import { checkedCurrent } from '../customer-integrity.js';
import type { IncrementalStore, SnapshotHead, StoredGroup, StoredUser } from '../../ports/incremental-store.js';
import { createSqliteSnapshotReplace, SECONDARY_INDEXES, userFromTuple, userTuple, type UserTuple } from './snapshot-replace.js';

export const INCREMENTAL_SCHEMA = `
CREATE TABLE IF NOT EXISTS snapshot_heads (directory_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot_user_rows (directory_id TEXT NOT NULL, external_id TEXT NOT NULL, username_lc TEXT NOT NULL, user TEXT NOT NULL,
  PRIMARY KEY (directory_id, external_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshot_groups (directory_id TEXT NOT NULL, group_id TEXT NOT NULL, name TEXT NOT NULL, children TEXT NOT NULL, members_hash TEXT,
  PRIMARY KEY (directory_id, group_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshot_members (directory_id TEXT NOT NULL, group_id TEXT NOT NULL, external_id TEXT NOT NULL, PRIMARY KEY (directory_id, group_id, external_id)) WITHOUT ROWID;
`;

const IN_CHUNK = 500;

/**
 * Columns added since the tables were first made: added in place to an older store (an O(1) schema
 * change in SQLite). Its rows have none: a group row without `members_hash` has its member rows
 * compared one by one at the next full save, which then fills it.
 */
function migrate(db: Database.Database): void {
  const columns = new Set((db.prepare('PRAGMA table_info(snapshot_groups)').all() as { name: string }[]).map((c) => c.name));
  if (!columns.has('members_hash')) db.exec('ALTER TABLE snapshot_groups ADD COLUMN members_hash TEXT');
}

type Wrap = <T>(what: string, fn: () => T) => T;

/**
 * The embedded store's normalised snapshot: `snapshot_user_rows` (a row per user), `snapshot_groups` (a
 * row per group with its children as JSON and a digest of its member list), `snapshot_members` (a row
 * per direct membership, indexed both ways: a user's direct groups, a group's members) and
 * `snapshot_heads`. A user's direct groups live in the membership rows only, so a whole snapshot is
 * written as read (groups with their members), never inverted in memory, and only where it differs
 * from the stored rows (snapshot-replace.ts). Each write is one transaction: a save that fails leaves
 * the rows and head as they were.
 */
export function createSqliteIncrementalStore(db: Database.Database, wrap: Wrap, licensed: ReadonlySet<string>): IncrementalStore {
  db.exec(INCREMENTAL_SCHEMA);
  migrate(db);
  db.exec(SECONDARY_INDEXES);
  const putHead = db.prepare('INSERT INTO snapshot_heads (directory_id, doc) VALUES (?, ?) ON CONFLICT (directory_id) DO UPDATE SET doc = excluded.doc');
  const dropHead = db.prepare('DELETE FROM snapshot_heads WHERE directory_id = ?');
  const putUser = db.prepare('INSERT OR REPLACE INTO snapshot_user_rows (directory_id, external_id, username_lc, user) VALUES (?, ?, ?, ?)');
  const dropUser = db.prepare('DELETE FROM snapshot_user_rows WHERE directory_id = ? AND external_id = ?');
  const putGroup = db.prepare('INSERT INTO snapshot_groups (directory_id, group_id, name, children) VALUES (?, ?, ?, ?) ON CONFLICT (directory_id, group_id) DO UPDATE SET name = excluded.name, children = excluded.children');
  const forgetMembersHash = db.prepare('UPDATE snapshot_groups SET members_hash = NULL WHERE directory_id = ? AND group_id = ?');
  const dropGroup = db.prepare('DELETE FROM snapshot_groups WHERE directory_id = ? AND group_id = ?');
  const putMember = db.prepare('INSERT OR IGNORE INTO snapshot_members (directory_id, group_id, external_id) VALUES (?, ?, ?)');
  const dropMember = db.prepare('DELETE FROM snapshot_members WHERE directory_id = ? AND group_id = ? AND external_id = ?');
  const dropGroupMembers = db.prepare('DELETE FROM snapshot_members WHERE directory_id = ? AND group_id = ?');
  const groupsOfUser = db.prepare('SELECT group_id FROM snapshot_members INDEXED BY snapshot_members_user WHERE directory_id = ? AND external_id = ?').raw();

  const userGroups = (directoryId: string, externalId: string): string[] => (groupsOfUser.all(directoryId, externalId) as [string][]).map(([g]) => g);
  const writeUser = (directoryId: string, user: DirectoryUser): void => {
    putUser.run(directoryId, user.externalId, user.username.toLowerCase(), JSON.stringify(userTuple(user)));
  };

  const replace = db.transaction(createSqliteSnapshotReplace(db));

  // A group whose member rows change loses its members digest: the next full save compares them one by one.
  const apply = db.transaction((directoryId: string, change: Parameters<IncrementalStore['apply']>[1], head: SnapshotHead) => {
    dropHead.run(directoryId);
    const touched = new Set<string>();
    const drop = (g: string, id: string): void => {
      dropMember.run(directoryId, g, id);
      touched.add(g);
    };
    for (const id of change.deletedUsers) {
      for (const g of userGroups(directoryId, id)) drop(g, id);
      dropUser.run(directoryId, id);
    }
    for (const row of change.users) {
      const id = row.user.externalId;
      const before = new Set(userGroups(directoryId, id));
      const after = new Set(row.groups);
      for (const g of before) if (!after.has(g)) drop(g, id);
      for (const g of after) {
        if (before.has(g)) continue;
        putMember.run(directoryId, g, id);
        touched.add(g);
      }
      writeUser(directoryId, row.user);
    }
    for (const id of change.deletedGroups) {
      dropGroup.run(directoryId, id);
      dropGroupMembers.run(directoryId, id);
    }
    for (const g of touched) forgetMembersHash.run(directoryId, g);
    for (const g of change.groups) putGroup.run(directoryId, g.id, g.name, JSON.stringify(g.children));
    putHead.run(directoryId, JSON.stringify(head));
  });

  const inChunks = <T>(values: readonly string[], fn: (chunk: readonly string[], marks: string) => T[]): T[] => {
    const out: T[] = [];
    for (let i = 0; i < values.length; i += IN_CHUNK) {
      const chunk = values.slice(i, i + IN_CHUNK);
      out.push(...fn(chunk, chunk.map(() => '?').join(', ')));
    }
    return out;
  };

  return {
    async head(directoryId) {
      return wrap('read a snapshot head', () => {
        const row = db.prepare('SELECT doc FROM snapshot_heads WHERE directory_id = ?').raw().get(directoryId) as [string] | undefined;
        return row === undefined ? null : (JSON.parse(row[0]) as SnapshotHead);
      });
    },
    async replace(directoryId, snapshot, head) {
      return wrap('save a directory snapshot', () => {
        // libsql keeps temporary data in memory by default: the index builds would hold every key
        // (hundreds of MB at a million users). On file, next to the page cache, for this write only.
        db.exec('PRAGMA temp_store = FILE');
        try {
          return replace.immediate(directoryId, snapshot, head);
        } finally {
          db.exec('PRAGMA temp_store = DEFAULT');
        }
      });
    },
    async groups(directoryId) {
      return wrap('load snapshot groups', () =>
        (db.prepare('SELECT group_id, name, children FROM snapshot_groups WHERE directory_id = ?').raw().all(directoryId) as [string, string, string][]).map(
          ([id, name, children]): StoredGroup => ({ id, name, children: JSON.parse(children) as string[] }),
        ),
      );
    },
    async users(directoryId, query) {
      return wrap('load snapshot users', () => {
        const ids = new Set(query.ids ?? []);
        for (const g of query.memberOf ?? []) {
          for (const [id] of db.prepare('SELECT external_id FROM snapshot_members WHERE directory_id = ? AND group_id = ?').raw().iterate(directoryId, g) as Iterable<[string]>) ids.add(id);
        }
        const users = new Map<string, DirectoryUser>();
        const collect = (list: [string][]): [] => {
          for (const [text] of list) {
            const user = userFromTuple(JSON.parse(text) as UserTuple);
            users.set(user.externalId, user);
          }
          return [];
        };
        inChunks([...ids], (chunk, marks) => collect(db.prepare(`SELECT user FROM snapshot_user_rows WHERE directory_id = ? AND external_id IN (${marks})`).raw().all(directoryId, ...chunk) as [string][]));
        // INDEXED BY: without statistics SQLite prefers the primary key's directory prefix, a scan of the
        // whole directory per chunk of names.
        const names = [...new Set((query.names ?? []).map((n) => n.toLowerCase()))];
        inChunks(names, (chunk, marks) =>
          collect(db.prepare(`SELECT user FROM snapshot_user_rows INDEXED BY snapshot_user_rows_name WHERE directory_id = ? AND username_lc IN (${marks})`).raw().all(directoryId, ...chunk) as [string][]),
        );
        const groups = new Map<string, string[]>();
        inChunks([...users.keys()], (chunk, marks) => {
          const rows = db.prepare(`SELECT external_id, group_id FROM snapshot_members INDEXED BY snapshot_members_user WHERE directory_id = ? AND external_id IN (${marks})`).raw().all(directoryId, ...chunk) as [string, string][];
          for (const [id, g] of rows) {
            const list = groups.get(id);
            if (list === undefined) groups.set(id, [g]);
            else list.push(g);
          }
          return [];
        });
        return [...users.values()].map((user): StoredUser => ({ user, groups: (groups.get(user.externalId) ?? []).sort(compare) }));
      });
    },
    async userKeys(directoryId) {
      return wrap('load snapshot user keys', () =>
        // One JSON document for all rows: a hundred thousand rows cost one parse, not a driver call each.
        (JSON.parse((db.prepare("SELECT json_group_array(json_array(external_id, json_extract(user, '$[5]'))) FROM snapshot_user_rows WHERE directory_id = ?").raw().get(directoryId) as [string])[0]) as [string, string | null][]).map(
          ([externalId, location]) => ({ externalId, location }),
        ),
      );
    },
    async groupMembers(directoryId, groupIds) {
      return wrap('load snapshot memberships', () => {
        const members = new Map<string, string[]>();
        inChunks([...new Set(groupIds)], (chunk, marks) => {
          const rows = db.prepare(`SELECT group_id, json_group_array(external_id) FROM snapshot_members WHERE directory_id = ? AND group_id IN (${marks}) GROUP BY group_id`).raw().all(directoryId, ...chunk) as [string, string][];
          for (const [g, ids] of rows) members.set(g, JSON.parse(ids) as string[]);
          return [];
        });
        const known = new Set((db.prepare('SELECT group_id FROM snapshot_groups WHERE directory_id = ?').raw().all(directoryId) as [string][]).map(([g]) => g));
        return [...new Set(groupIds)].filter((g) => known.has(g)).map((groupId) => ({ groupId, members: members.get(groupId) ?? [] }));
      });
    },
    async apply(directoryId, change, head) {
      wrap('update the directory snapshot', () => apply.immediate(directoryId, change, head));
    },
    async customers({ directoryId, externalIds, usernames }) {
      return wrap('load customers', () => {
        const out = new Map<string, CurrentCustomer>();
        const add = (list: [string, string, string, string, number, string | null, string | null, string | null, string][]): [] => {
          for (const [dir, externalId, username, hash, active, email, displayName, location, groups] of list) {
            const doc = { directoryId: dir, externalId, username, hash, active: active === 1, email, displayName, location, groups: JSON.parse(groups) as string[] };
            out.set(`${dir}\u0000${externalId}`, checkedCurrent(doc, licensed));
          }
          return [];
        };
        // The hashed fields too: a customer changed around dirbridge is found as loadCurrent finds it.
        const columns = 'SELECT directory_id, external_id, username, hash, active, email, display_name, location, groups FROM customers';
        inChunks([...new Set(externalIds)], (chunk, marks) => add(db.prepare(`${columns} WHERE directory_id = ? AND external_id IN (${marks})`).raw().all(directoryId, ...chunk) as never));
        inChunks([...new Set(usernames.map((n) => n.toLowerCase()))], (chunk, marks) => add(db.prepare(`${columns} WHERE username_lc IN (${marks})`).raw().all(...chunk) as never));
        return [...out.values()];
      });
    },
    async countStored(directoryId) {
      return wrap('count customers', () => (db.prepare('SELECT count(*) FROM customers WHERE directory_id = ?').raw().get(directoryId) as [number])[0]);
    },
    async countActive(exceptDirectory) {
      return wrap('count customers', () => (db.prepare('SELECT count(*) FROM customers WHERE active = 1 AND directory_id <> ?').raw().get(exceptDirectory) as [number])[0]);
    },
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
