import type Database from 'libsql';
import type { CollectionSpec, Condition, FieldSpec, Filter, FindOptions, RecordDoc, RecordDriver, Scalar } from '../../ports/record-driver.js';
import { normalizeGroupName } from '../../core/group-name.js';
import { COLLECTIONS, CUSTOMERS } from './collections.js';
import { storeFailure } from './store-failure.js';

type Params = unknown[];

/**
 * The record driver on the embedded store: each collection is a table with a column per field (the
 * customers table is the sync's own, with the management columns added beside its columns). Every
 * write call is one immediate transaction.
 */
export function createSqliteRecordDriver(db: Database.Database, where: string): RecordDriver {
  ensureSchema(db);
  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string): Database.Statement => {
    let statement = statements.get(sql);
    if (statement === undefined) statements.set(sql, (statement = db.prepare(sql)));
    return statement;
  };
  const run = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (cause) {
      throw storeFailure(`the embedded store (${where})`, what, cause);
    }
  };
  const write = <T>(what: string, fn: () => T): T => run(what, () => db.transaction(fn).immediate());

  return {
    kind: 'sqlite',

    async find(spec, filter, options: FindOptions = {}) {
      return run(`read ${spec.name}`, () => {
        const params: Params = [];
        const clause = whereClause(spec, filter, params);
        const order = (options.sort ?? []).map((s) => `${column(spec, s.field).column} ${s.order === 'asc' ? 'ASC' : 'DESC'}`);
        const sql = `SELECT ${Object.values(spec.fields).map((fs) => fs.column).join(', ')} FROM ${spec.table} ${clause}` +
          `${order.length > 0 ? ` ORDER BY ${order.join(', ')}` : ''} LIMIT ? OFFSET ?`;
        const rows = prepare(sql).all(...params, options.limit ?? -1, options.skip ?? 0) as Record<string, unknown>[];
        return rows.map((row) => decode(spec, row));
      });
    },

    async count(spec, filter) {
      return run(`count ${spec.name}`, () => {
        const params: Params = [];
        const row = prepare(`SELECT count(*) AS n FROM ${spec.table} ${whereClause(spec, filter, params)}`).get(...params) as { n: number };
        return row.n;
      });
    },

    async countBy(spec, filter, fields) {
      return run(`count ${spec.name}`, () => {
        const params: Params = [];
        const columns = fields.map((name) => column(spec, name).column);
        const rows = prepare(`SELECT ${columns.join(', ')}, count(*) AS n FROM ${spec.table} ${whereClause(spec, filter, params)} GROUP BY ${columns.join(', ')}`).all(...params) as Record<string, unknown>[];
        return rows.map((row) => ({
          values: Object.fromEntries(fields.map((name, i) => [name, decodeValue(column(spec, name), row[columns[i] as string]) as Scalar])),
          count: row['n'] as number,
        }));
      });
    },

    async insertMany(spec, docs) {
      if (docs.length === 0) return 0;
      // One statement per set of fields (records of a batch usually share theirs).
      const inserts = new Map<string, { statement: Database.Statement; names: string[]; fields: FieldSpec[] }>();
      const insertFor = (names: string[]) => {
        const signature = names.join('\u0000');
        let insert = inserts.get(signature);
        if (insert === undefined) {
          const fields = names.map((name) => column(spec, name));
          const sql = `INSERT INTO ${spec.table} (${fields.map((c) => c.column).join(', ')}) VALUES (${fields.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`;
          inserts.set(signature, (insert = { statement: prepare(sql), names, fields }));
        }
        return insert;
      };
      return write(`write ${spec.name}`, () => {
        let inserted = 0;
        for (const doc of docs) {
          const { statement, names, fields } = insertFor(Object.keys(doc).filter((name) => doc[name] !== undefined));
          inserted += statement.run(...names.map((name, i) => encode(fields[i] as FieldSpec, doc[name]))).changes;
        }
        return inserted;
      });
    },

    async updateMany(spec, filter, set) {
      return write(`update ${spec.name}`, () => {
        const params: Params = [];
        const assignments = setClause(spec, set, params);
        const clause = whereClause(spec, filter, params);
        return prepare(`UPDATE ${spec.table} SET ${assignments} ${clause}`).run(...params).changes;
      });
    },

    async updateEach(spec, updates) {
      if (updates.length === 0) return 0;
      return write(`update ${spec.name}`, () => {
        let matched = 0;
        for (const update of updates) {
          const params: Params = [];
          const assignments = setClause(spec, update.set, params);
          const keyClause = spec.key.map((name) => `${column(spec, name).column} = ?`).join(' AND ');
          matched += prepare(`UPDATE ${spec.table} SET ${assignments} WHERE ${keyClause}`).run(...params, ...update.key).changes;
        }
        return matched;
      });
    },

    async deleteMany(spec, filter) {
      return write(`delete from ${spec.name}`, () => {
        const params: Params = [];
        return prepare(`DELETE FROM ${spec.table} ${whereClause(spec, filter, params)}`).run(...params).changes;
      });
    },

    async bumpRevision() {
      write('raise the store revision', () => prepare("INSERT INTO meta (key, value) VALUES ('revision', 1) ON CONFLICT (key) DO UPDATE SET value = value + 1").run());
    },
  };
}

function column(spec: CollectionSpec, name: string): FieldSpec {
  const field = spec.fields[name];
  if (field === undefined) throw new Error(`${spec.name} has no field ${name}`);
  return field;
}

function setClause(spec: CollectionSpec, set: RecordDoc, params: Params): string {
  const names = Object.keys(set).filter((name) => set[name] !== undefined);
  if (names.length === 0) throw new Error(`an update of ${spec.name} sets nothing`);
  return names
    .map((name) => {
      const field = column(spec, name);
      params.push(encode(field, set[name]));
      return `${field.column} = ?`;
    })
    .join(', ');
}

function whereClause(spec: CollectionSpec, filter: Filter, params: Params): string {
  const sql = conjunction(spec, filter, params);
  return sql === '' ? '' : `WHERE ${sql}`;
}

function conjunction(spec: CollectionSpec, filter: Filter, params: Params): string {
  const parts: string[] = [];
  for (const [name, condition] of Object.entries(filter)) {
    if (condition === undefined) continue;
    if (name === '$or') {
      const alternatives = (condition as readonly Filter[]).map((alt) => conjunction(spec, alt, params) || '1 = 1');
      parts.push(alternatives.length === 0 ? '1 = 0' : `(${alternatives.map((a) => `(${a})`).join(' OR ')})`);
      continue;
    }
    parts.push(conditionSql(column(spec, name), condition as Condition, params));
  }
  return parts.join(' AND ');
}

function conditionSql(field: FieldSpec, condition: Condition, params: Params): string {
  const c = field.column;
  if (condition === null) return `${c} IS NULL`;
  if (typeof condition !== 'object') {
    params.push(encode(field, condition));
    return `${c} = ?`;
  }
  if ('$ne' in condition) {
    if (condition.$ne === null) return `${c} IS NOT NULL`;
    params.push(encode(field, condition.$ne));
    return `(${c} IS NULL OR ${c} <> ?)`;
  }
  if ('$in' in condition) {
    const values = condition.$in.filter((v) => v !== null);
    const withNull = values.length !== condition.$in.length;
    params.push(...values.map((v) => encode(field, v)));
    const inList = values.length === 0 ? '0' : `${c} IN (${values.map(() => '?').join(', ')})`;
    return withNull ? `(${inList} OR ${c} IS NULL)` : inList;
  }
  if ('$gt' in condition) {
    params.push(condition.$gt);
    return `${c} > ?`;
  }
  if ('$contains' in condition) {
    params.push(condition.$contains);
    return `instr(${c}, ?) > 0`;
  }
  params.push(normalizeGroupName(condition.$hasItem));
  return `EXISTS (SELECT 1 FROM json_each(${c}) item WHERE lower(trim(item.value)) = ?)`;
}

function encode(field: FieldSpec, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (field.type) {
    case 'bool':
      return value === true ? 1 : 0;
    case 'json':
    case 'list':
      return JSON.stringify(value);
    default:
      return value;
  }
}

function decodeValue(field: FieldSpec, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (field.type) {
    case 'bool':
      return value === 1;
    case 'json':
    case 'list':
      return JSON.parse(value as string) as unknown;
    default:
      return value;
  }
}

function decode(spec: CollectionSpec, row: Record<string, unknown>): RecordDoc {
  const doc: RecordDoc = {};
  for (const [name, field] of Object.entries(spec.fields)) doc[name] = decodeValue(field, row[field.column]);
  return doc;
}

const SQL_TYPES = { text: 'TEXT', int: 'INTEGER', bool: 'INTEGER', json: 'TEXT', list: 'TEXT' } as const;

/**
 * Creates the management tables, adds the management columns to the sync's customers table when an
 * older store lacks them (an O(1) schema change in SQLite), and fills `email_lc` once for rows written
 * before it existed.
 */
function ensureSchema(db: Database.Database): void {
  for (const spec of COLLECTIONS) {
    const existing = new Set((db.prepare(`PRAGMA table_info(${spec.table})`).all() as { name: string }[]).map((c) => c.name));
    if (existing.size === 0) {
      const columns = Object.values(spec.fields).map((field) => `${field.column} ${SQL_TYPES[field.type]}${spec.key.some((k) => spec.fields[k] === field) ? ' NOT NULL' : ''}`);
      db.exec(`CREATE TABLE IF NOT EXISTS ${spec.table} (${columns.join(', ')}, PRIMARY KEY (${spec.key.map((k) => column(spec, k).column).join(', ')})) WITHOUT ROWID`);
    } else {
      for (const field of Object.values(spec.fields)) {
        if (!existing.has(field.column)) db.exec(`ALTER TABLE ${spec.table} ADD COLUMN ${field.column} ${SQL_TYPES[field.type]}`);
      }
    }
    for (const index of spec.indexes.filter((i) => i.mongoOnly !== true)) {
      db.exec(`CREATE INDEX IF NOT EXISTS ${index.name} ON ${spec.table} (${index.fields.map(([name, order]) => `${column(spec, name).column} ${order === 'asc' ? 'ASC' : 'DESC'}`).join(', ')})`);
    }
  }
  backfillEmailKeys(db);
}

function backfillEmailKeys(db: Database.Database): void {
  const done = db.prepare("SELECT value FROM meta WHERE key = 'email_lc_filled'").get() as { value: number } | undefined;
  if (done !== undefined) return;
  const select = db.prepare(`SELECT directory_id, external_id, email FROM ${CUSTOMERS.table} WHERE email IS NOT NULL AND email_lc IS NULL`);
  const update = db.prepare(`UPDATE ${CUSTOMERS.table} SET email_lc = ? WHERE directory_id = ? AND external_id = ?`);
  db.transaction(() => {
    for (const row of select.all() as { directory_id: string; external_id: string; email: string }[]) update.run(row.email.toLowerCase(), row.directory_id, row.external_id);
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('email_lc_filled', 1)").run();
  }).immediate();
}
