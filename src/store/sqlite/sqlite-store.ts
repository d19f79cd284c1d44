import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'libsql';
import { type CurrentCustomer, type DeactivationReason, type PlanAction } from '../../core/model.js';
import { globPattern, spellingsOf, trimmedCharacters } from '../../core/licensed-spellings.js';
import { normalizeGroupName } from '../../core/group-name.js';
import { DirbridgeError } from '../../errors.js';
import {
  DEFAULT_PAGE_SIZE,
  type ApplyOptions,
  type CustomerPage,
  type CustomerQuery,
  type DirectoryState,
  type LeaseRequest,
  type LeaseResult,
  type RunRecord,
  type StoredCustomer,
  type SyncStore,
} from '../../ports/store.js';
import { assertNoLicensedGroups, normalizedLicensed } from '../licensed-guard.js';
import { checkedCurrent, licensedSpellings } from '../customer-integrity.js';
import { createLicenceReads } from '../licence-reads.js';
import { createSqliteRecordDriver } from '../records/sqlite-driver.js';
import type { RecordDriver } from '../../ports/record-driver.js';
import { searchText } from '../search-text.js';
import { createSqliteIncrementalStore } from './incremental-rows.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS customers (
  directory_id TEXT NOT NULL,
  external_id TEXT NOT NULL,
  username TEXT NOT NULL,
  username_lc TEXT NOT NULL,
  email TEXT,
  display_name TEXT,
  location TEXT,
  search TEXT NOT NULL,
  groups TEXT NOT NULL CHECK (json_valid(groups) AND json_type(groups) = 'array'),
  hash TEXT NOT NULL,
  active INTEGER NOT NULL CHECK (active IN (0, 1)),
  deactivated_reason TEXT,
  deactivated_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  last_run_id TEXT,
  PRIMARY KEY (directory_id, external_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS customers_username ON customers (username_lc);
CREATE TABLE IF NOT EXISTS licensed_groups (name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS licensed_patterns (len INTEGER NOT NULL, pattern TEXT NOT NULL, PRIMARY KEY (len, pattern)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
CREATE TABLE IF NOT EXISTS directory_state (directory_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, token INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0);
`;

/**
 * The server-side refusal, for writers that bypass dirbridge: a group is licensed when, with the
 * characters the licence rule trims removed from both ends, it matches one of the spellings of a licensed
 * group (src/core/licensed-spellings.ts), as many characters long. Recreated at every open, so that a
 * store made by an older version gets the current rule.
 */
function licensedTriggers(): string {
  const trimmed = `trim(g.value, '${trimmedCharacters().replaceAll("'", "''")}')`;
  const when = `WHEN EXISTS (SELECT 1 FROM json_each(NEW.groups) g JOIN licensed_patterns p ON p.len = length(${trimmed}) AND ${trimmed} GLOB p.pattern)`;
  const refuse = "BEGIN SELECT RAISE(ABORT, 'dirbridge: a customer cannot carry a licensed group'); END;";
  return `
DROP TRIGGER IF EXISTS customers_refuse_licensed_insert;
DROP TRIGGER IF EXISTS customers_refuse_licensed_update;
CREATE TRIGGER customers_refuse_licensed_insert BEFORE INSERT ON customers ${when} ${refuse}
CREATE TRIGGER customers_refuse_licensed_update BEFORE UPDATE OF groups ON customers ${when} ${refuse}`;
}

/** Keeps the licensed names and their spellings in step with the config; the spellings are made only when the names change. */
function storeLicensedGroups(db: Database.Database, licensed: ReadonlySet<string>): void {
  const stored = new Set((db.prepare('SELECT name FROM licensed_groups').all() as { name: string }[]).map((r) => r.name));
  const patterns = (db.prepare('SELECT count(*) AS n FROM licensed_patterns').get() as { n: number }).n;
  if (stored.size === licensed.size && [...licensed].every((n) => stored.has(n)) && (patterns > 0) === (licensed.size > 0)) return;
  const rows = [...licensed].flatMap((name) => spellingsOf(name).map((s) => [s.length, globPattern(s)] as const));
  db.transaction(() => {
    db.prepare('DELETE FROM licensed_groups').run();
    db.prepare('DELETE FROM licensed_patterns').run();
    const insertName = db.prepare('INSERT OR IGNORE INTO licensed_groups (name) VALUES (?)');
    for (const name of licensed) insertName.run(name);
    const insertPattern = db.prepare('INSERT OR IGNORE INTO licensed_patterns (len, pattern) VALUES (?, ?)');
    for (const [len, pattern] of rows) insertPattern.run(len, pattern);
  }).immediate();
}

export interface SqliteStoreOptions {
  /** File path, or ":memory:". */
  readonly path: string;
  readonly licensedGroups: readonly string[];
  readonly clock?: () => number;
}

type Row = Record<string, unknown>;

/** The embedded store: one SQLite file through libsql. The zero-setup default. */
export function openSqliteStore(options: SqliteStoreOptions): SyncStore {
  const clock = options.clock ?? Date.now;
  // The licensed set the store refuses: the configured one, widened by guardLicensedGroups.
  let guarded: readonly string[] = options.licensedGroups;
  let db: Database.Database;
  let records: RecordDriver;
  const licensedSet = normalizedLicensed(options.licensedGroups);
  try {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    db = new Database(options.path);
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000;');
    db.exec(SCHEMA);
    records = createSqliteRecordDriver(db, options.path);
    db.exec(licensedTriggers());
    storeLicensedGroups(db, licensedSet);
  } catch (cause) {
    throw new DirbridgeError('ERR_STORE', `cannot open the embedded store at ${options.path}: ${(cause as Error).message}`, { cause });
  }

  const upsert = db.prepare(`
    INSERT INTO customers (directory_id, external_id, username, username_lc, email, email_lc, display_name, location, search, groups, hash,
                           active, deactivated_reason, deactivated_at, created_at, updated_at, last_run_id)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, NULL, NULL, ?, ?, ?)
    ON CONFLICT (directory_id, external_id) DO UPDATE SET
      username = excluded.username, username_lc = excluded.username_lc, email = excluded.email, email_lc = excluded.email_lc,
      display_name = excluded.display_name, location = excluded.location, search = excluded.search, groups = excluded.groups,
      hash = excluded.hash, active = 1, deactivated_reason = NULL, deactivated_at = NULL,
      updated_at = excluded.updated_at, last_run_id = excluded.last_run_id`);
  const deactivate = db.prepare(`
    UPDATE customers SET active = 0, deactivated_reason = ?, deactivated_at = ?, updated_at = ?, last_run_id = ?
    WHERE directory_id = ? AND external_id = ? AND active = 1`);
  const leaseToken = db.prepare('SELECT token FROM leases WHERE name = ?');
  const bumpRevision = db.prepare("UPDATE meta SET value = value + 1 WHERE key = 'revision'");

  const wrap = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (cause) {
      if (cause instanceof DirbridgeError) throw cause;
      const message = (cause as Error).message;
      if (message.includes('cannot carry a licensed group')) {
        throw new DirbridgeError('ERR_STORE_INVARIANT', `the embedded store refused to ${what}: a customer cannot carry a licensed group`, { cause });
      }
      throw new DirbridgeError('ERR_STORE', `the embedded store failed to ${what}: ${message}`, { cause });
    }
  };

  const applyBatch = db.transaction((batch: readonly PlanAction[], opts: ApplyOptions) => {
    for (const lease of opts.fence ?? []) {
      const token = scalar(leaseToken, lease.name) as number | undefined;
      if (token !== lease.token) {
        throw new DirbridgeError('ERR_LEASE_LOST', `lease ${lease.name} moved on (token ${String(token)}, ours ${lease.token}): refusing to write`);
      }
    }
    let written = 0;
    for (const action of batch) {
      if (action.kind === 'deactivate') {
        written += deactivate.run(action.reason, opts.now, opts.now, opts.runId, action.directoryId, action.externalId).changes;
      } else {
        const c = action.customer;
        upsert.run(c.directoryId, c.externalId, c.username, c.username.toLowerCase(), c.email, c.email?.toLowerCase() ?? null, c.displayName, c.location,
          searchText(c), JSON.stringify(c.groups), c.hash, opts.now, opts.now, opts.runId);
        written++;
      }
    }
    bumpRevision.run();
    return written;
  });

  const importRow = db.prepare(`
    INSERT OR REPLACE INTO customers (directory_id, external_id, username, username_lc, email, email_lc, display_name, location, search, groups, hash,
                                      active, deactivated_reason, deactivated_at, created_at, updated_at, last_run_id)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const importBatch = db.transaction((customers: readonly StoredCustomer[]) => {
    for (const c of customers) {
      importRow.run(c.directoryId, c.externalId, c.username, c.username.toLowerCase(), c.email, c.email?.toLowerCase() ?? null, c.displayName, c.location, searchText(c),
        JSON.stringify(c.groups), c.hash, c.active ? 1 : 0, c.deactivatedReason, c.deactivatedAt, c.createdAt, c.updatedAt, c.lastRunId);
    }
    bumpRevision.run();
  });

  const licenceReads = createLicenceReads(records);
  const store: SyncStore = {
    kind: 'sqlite',
    label: `embedded store ${options.path}`,
    records,
    incremental: createSqliteIncrementalStore(db, wrap, licensedSet),

    async loadCurrent(loadOptions) {
      const readUsers = loadOptions?.readUsers;
      return wrap('load customers', () => {
        // The hashed fields are read too, to find rows changed around dirbridge (checkedCurrent); only
        // the compact view is kept.
        const rows = db.prepare('SELECT directory_id, external_id, username, hash, active, email, display_name, location, groups FROM customers').raw().iterate();
        const out: CurrentCustomer[] = [];
        // One copy of each directory id, not one per customer.
        const directoryIds = new Map<string, string>();
        for (const row of rows as Iterable<unknown[]>) {
          const directoryId = row[0] as string;
          let shared = directoryIds.get(directoryId);
          if (shared === undefined) directoryIds.set(directoryId, (shared = directoryId));
          const externalId = row[1] as string;
          const username = row[2] as string;
          const read = readUsers?.(shared, externalId);
          out.push(
            checkedCurrent(
              {
                directoryId: shared,
                externalId: read?.externalId ?? externalId,
                username: read !== undefined && read.username === username ? read.username : username,
                hash: row[3] as string,
                active: row[4] === 1,
                email: row[5] as string | null,
                displayName: row[6] as string | null,
                location: row[7] as string | null,
                groups: parseGroups(row[8]),
              },
              licensedSet,
            ),
          );
        }
        return out;
      });
    },

    async revision() {
      return wrap('read the revision', () => scalar(db.prepare("SELECT value FROM meta WHERE key = 'revision'")) as number);
    },

    async applyActions(actions, opts) {
      assertNoLicensedGroups(actions, guarded);
      const size = opts.batchSize ?? 5000;
      let written = 0;
      for (let i = 0; i < actions.length; i += size) {
        opts.signal?.throwIfAborted();
        written += wrap('apply the plan', () => applyBatch.immediate(actions.slice(i, i + size), opts));
        await opts.onChunk?.(written);
        await opts.onBatch?.(written);
        // Each batch runs synchronously: let timers in between, so the run's lease heartbeat is not
        // starved through a million-customer apply (the lease would expire under a live run).
        await new Promise((resolve) => setImmediate(resolve));
      }
      return { written };
    },

    async findLicensedCustomers(licensedGroups, limit) {
      const names = normalizedLicensed(licensedGroups);
      if (names.size === 0) return [];
      // The one licence rule (normalizeGroupName: NFKC, trim, lower case) is applied here to the
      // distinct group spellings stored; then the rows holding one are read. A substring test on the
      // stored JSON text passes every row the exact test can match and is far cheaper than json_each on
      // every row: only the rows it passes are decoded.
      return wrap('check licensed groups', () => {
        const stored = db.prepare('SELECT DISTINCT g.value FROM customers c, json_each(c.groups) g').raw().all() as [unknown][];
        const spellings = licensedSpellings(stored.map(([value]) => value), names);
        if (spellings.length === 0) return [];
        const prefilter = spellings.map(() => 'instr(c.groups, ?) > 0').join(' OR ');
        const rows = db
          .prepare(`SELECT * FROM customers c WHERE (${prefilter}) AND EXISTS (SELECT 1 FROM json_each(c.groups) g WHERE g.value IN (SELECT value FROM json_each(?))) ORDER BY directory_id, external_id LIMIT ?`)
          .all(...spellings.map((n) => JSON.stringify(n).slice(1, -1)), JSON.stringify(spellings), limit) as Row[];
        return rows.map(toStored);
      });
    },

    async listCustomers(query) {
      return wrap('list customers', () => listCustomers(db, query));
    },

    async findByUsername(username) {
      return wrap('find a customer', () =>
        (db.prepare('SELECT * FROM customers WHERE username_lc = ? ORDER BY directory_id').all(username.toLowerCase()) as Row[]).map(toStored),
      );
    },

    async recordRun(run) {
      wrap('record the run', () => db.prepare('INSERT OR REPLACE INTO runs (run_id, started_at, doc) VALUES (?, ?, ?)').run(run.runId, run.startedAt, JSON.stringify(run)));
    },

    async listRuns({ limit, directoryId }) {
      return wrap('list runs', () => {
        const rows = db.prepare('SELECT doc FROM runs ORDER BY started_at DESC, run_id DESC').raw().iterate() as Iterable<[string]>;
        const out: RunRecord[] = [];
        for (const [doc] of rows) {
          const run = JSON.parse(doc) as RunRecord;
          if (directoryId === undefined || run.directories.some((d) => d.directoryId === directoryId && d.status !== 'not-read')) out.push(run);
          if (out.length >= limit) break;
        }
        return out;
      });
    },

    async getDirectoryStates() {
      return wrap('read directory state', () => {
        const rows = db.prepare('SELECT directory_id, doc FROM directory_state').raw().all() as [string, string][];
        return Object.fromEntries(rows.map(([id, doc]) => [id, JSON.parse(doc) as DirectoryState]));
      });
    },

    async putDirectoryState(directoryId, state) {
      wrap('write directory state', () =>
        db.prepare('INSERT INTO directory_state (directory_id, doc) VALUES (?, ?) ON CONFLICT (directory_id) DO UPDATE SET doc = excluded.doc').run(directoryId, JSON.stringify(state)),
      );
    },


    async *exportCustomers(batchSize) {
      let batch: StoredCustomer[] = [];
      for (const row of db.prepare('SELECT * FROM customers ORDER BY directory_id, external_id').iterate() as Iterable<Row>) {
        batch.push(toStored(row));
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    },

    saveLicenceRead: (read) => licenceReads.save(read),
    loadLicenceRead: (source) => licenceReads.load(source),

    async guardLicensedGroups(groups) {
      const added = groups.filter((g) => !licensedSet.has(normalizeGroupName(g)));
      if (added.length === 0) return;
      // The set loadCurrent checks stored customers against, and the triggers' names and spellings.
      for (const name of normalizedLicensed(added)) licensedSet.add(name);
      guarded = [...guarded, ...added];
      wrap('widen the licensed groups', () => storeLicensedGroups(db, licensedSet));
    },

    async importCustomers(customers) {
      assertNoLicensedGroups(customers.map((customer) => ({ kind: 'create', customer })), guarded);
      wrap('import customers', () => importBatch.immediate(customers));
    },

    async acquireLease(request: LeaseRequest): Promise<LeaseResult> {
      return wrap('acquire a lease', () => {
        const tx = db.transaction((): LeaseResult => {
          const now = clock();
          const row = db.prepare('SELECT owner, token, expires_at FROM leases WHERE name = ?').get(request.name) as Row | undefined;
          if (row !== undefined && row['owner'] !== request.owner && (row['expires_at'] as number) > now) {
            return { acquired: false, holder: row['owner'] as string, expiresAt: new Date(row['expires_at'] as number).toISOString() };
          }
          const token = ((row?.['token'] as number | undefined) ?? 0) + 1;
          const expires = now + request.ttlMs;
          db.prepare('INSERT INTO leases (name, owner, token, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, token = excluded.token, expires_at = excluded.expires_at')
            .run(request.name, request.owner, token, expires);
          return { acquired: true, lease: { name: request.name, owner: request.owner, token, expiresAt: new Date(expires).toISOString() } };
        });
        return tx.immediate();
      });
    },

    async renewLease(lease, ttlMs) {
      return wrap('renew a lease', () => {
        const now = clock();
        const result = db
          .prepare('UPDATE leases SET expires_at = ? WHERE name = ? AND owner = ? AND token = ? AND expires_at > ?')
          .run(now + ttlMs, lease.name, lease.owner, lease.token, now);
        return result.changes === 1;
      });
    },

    async releaseLease(lease) {
      wrap('release a lease', () =>
        db.prepare('UPDATE leases SET expires_at = 0 WHERE name = ? AND owner = ? AND token = ?').run(lease.name, lease.owner, lease.token),
      );
    },

    async peekLease(name) {
      return wrap('read a lease', () => {
        const row = db.prepare('SELECT owner, expires_at FROM leases WHERE name = ? AND expires_at > ?').get(name, clock()) as Row | undefined;
        return row === undefined ? null : { holder: row['owner'] as string, expiresAt: new Date(row['expires_at'] as number).toISOString() };
      });
    },

    async pruneLeases(prefix) {
      return wrap('prune leases', () => db.prepare("DELETE FROM leases WHERE substr(name, 1, length(?)) = ? AND expires_at < ?").run(prefix, prefix, clock()).changes);
    },

    async close() {
      db.close();
    },
  };
  return store;
}

function listCustomers(db: Database.Database, query: CustomerQuery): CustomerPage {
  const page = Math.max(1, query.page ?? 1);
  const pageSize = Math.max(1, query.pageSize ?? DEFAULT_PAGE_SIZE);
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.search !== undefined && query.search !== '') {
    const like = `%${query.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push("search LIKE ? ESCAPE '\\'");
    params.push(like);
  }
  if (query.directoryId !== undefined) {
    where.push('directory_id = ?');
    params.push(query.directoryId);
  }
  const state = query.state ?? 'active';
  if (state !== 'all') where.push(state === 'active' ? 'active = 1' : 'active = 0');
  const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  const total = scalar(db.prepare(`SELECT count(*) FROM customers ${clause}`), ...params) as number;
  const rows = db
    .prepare(`SELECT * FROM customers ${clause} ORDER BY username_lc, directory_id, external_id LIMIT ? OFFSET ?`)
    .all(...params, pageSize, (page - 1) * pageSize) as Row[];
  return { items: rows.map(toStored), total, page, pageSize };
}

/** The first column of the first row (libsql's pluck() does not apply to get()). */
function scalar(statement: Database.Statement, ...params: unknown[]): unknown {
  return (statement.raw().get(...params) as unknown[] | undefined)?.[0];
}

function toStored(row: Row): StoredCustomer {
  return {
    directoryId: row['directory_id'] as string,
    externalId: row['external_id'] as string,
    username: row['username'] as string,
    email: (row['email'] as string | null) ?? null,
    displayName: (row['display_name'] as string | null) ?? null,
    location: (row['location'] as string | null) ?? null,
    groups: JSON.parse(row['groups'] as string) as string[],
    hash: row['hash'] as string,
    active: row['active'] === 1,
    deactivatedReason: (row['deactivated_reason'] as DeactivationReason | null) ?? null,
    deactivatedAt: (row['deactivated_at'] as string | null) ?? null,
    createdAt: row['created_at'] as string,
    updatedAt: row['updated_at'] as string,
    lastRunId: (row['last_run_id'] as string | null) ?? null,
  };
}

/** A row's groups as stored; text that is not a JSON array of strings (a raw write) reads as none. */
function parseGroups(text: unknown): string[] {
  try {
    const value: unknown = JSON.parse(String(text));
    return Array.isArray(value) && value.every((g) => typeof g === 'string') ? value : [];
  } catch {
    return [];
  }
}
