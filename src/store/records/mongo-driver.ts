import type { Connection, mongo } from 'mongoose';
import type { CollectionSpec, Condition, Filter, FindOptions, KeyedUpdate, RecordDoc, RecordDriver, Scalar } from '../../ports/record-driver.js';
import { COLLECTIONS } from './collections.js';
import { storeFailure } from './store-failure.js';
import { updateChunkFor } from '../mongodb/server-limits.js';

interface Doc {
  _id?: string;
  [field: string]: unknown;
}

/**
 * The record driver on MongoDB (and FerretDB): each collection a collection, each field a document
 * field, `_id` the key's values joined with "/". Bulk updates go in chunks the server takes
 * (server-limits.ts: 1,000 statements on MongoDB, fewer on FerretDB).
 */
export async function createMongoRecordDriver(conn: Connection, where: string): Promise<RecordDriver> {
  const db = conn.db;
  if (db === undefined) throw storeFailure(`MongoDB (${where})`, 'open the customer collections', new Error('no database selected'));
  const label = `MongoDB (${where})`;
  const run = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (cause) {
      throw storeFailure(label, what, cause);
    }
  };
  const collection = (spec: CollectionSpec): mongo.Collection<Doc> => db.collection<Doc>(spec.name);

  const updateChunk = await run('set up the customer collections', async () => {
    for (const spec of COLLECTIONS) {
      await db.createCollection(spec.name).catch(ignoreExists);
      for (const index of spec.indexes) {
        // An index on the same keys under another name (the adapter's own) serves as well.
        await collection(spec)
          .createIndex(Object.fromEntries(index.fields.map(([name, order]) => [name, order === 'asc' ? 1 : -1])), { name: index.name })
          .catch((error: unknown) => {
            if ((error as { code?: number }).code !== INDEX_OPTIONS_CONFLICT) throw error;
          });
      }
    }
    return updateChunkFor((await db.admin().command({ buildInfo: 1 })) as { ferretdbVersion?: string });
  });

  return {
    kind: 'mongodb',

    find: (spec, filter, options: FindOptions = {}) =>
      run(`read ${spec.name}`, async () => {
        let cursor = collection(spec).find(toMongo(spec, filter));
        if (options.sort !== undefined && options.sort.length > 0) cursor = cursor.sort(options.sort.map((s) => [s.field, s.order === 'asc' ? 1 : -1] as [string, 1 | -1]));
        if (options.skip !== undefined && options.skip > 0) cursor = cursor.skip(options.skip);
        if (options.limit !== undefined) cursor = cursor.limit(options.limit);
        return (await cursor.toArray()).map((doc) => decode(spec, doc));
      }),

    count: (spec, filter) => run(`count ${spec.name}`, () => collection(spec).countDocuments(toMongo(spec, filter))),

    countBy: (spec, filter, fields) =>
      run(`count ${spec.name}`, async () => {
        const groups = await collection(spec)
          .aggregate<{ _id: Record<string, unknown>; count: number }>([
            { $match: toMongo(spec, filter) },
            { $group: { _id: Object.fromEntries(fields.map((name) => [name, `$${name}`])), count: { $sum: 1 } } },
          ])
          .toArray();
        return groups.map((g) => ({ values: Object.fromEntries(fields.map((name) => [name, (g._id[name] ?? null) as Scalar])), count: g.count }));
      }),

    insertMany: (spec, docs) =>
      run(`write ${spec.name}`, async () => {
        if (docs.length === 0) return 0;
        const prepared = docs.map((doc) => toInsert(spec, doc));
        try {
          return (await collection(spec).insertMany(prepared, { ordered: false })).insertedCount;
        } catch (error) {
          const e = error as { code?: number; writeErrors?: { code?: number }[]; result?: { insertedCount?: number }; insertedCount?: number };
          const errors = e.writeErrors ?? (e.code === DUPLICATE_KEY ? [{ code: DUPLICATE_KEY }] : []);
          if (errors.length === 0 || errors.some((w) => w.code !== DUPLICATE_KEY)) throw error;
          return e.result?.insertedCount ?? e.insertedCount ?? docs.length - errors.length;
        }
      }),

    updateMany: (spec, filter, set) =>
      run(`update ${spec.name}`, async () => (await collection(spec).updateMany(toMongo(spec, filter), toUpdate(set))).matchedCount),

    updateEach: (spec, updates: readonly KeyedUpdate[]) =>
      run(`update ${spec.name}`, async () => {
        let matched = 0;
        for (let i = 0; i < updates.length; i += updateChunk) {
          const chunk = updates.slice(i, i + updateChunk);
          const result = await collection(spec).bulkWrite(
            chunk.map((u) => ({ updateOne: { filter: { _id: u.key.join('/') }, update: toUpdate(u.set) } })),
            { ordered: false },
          );
          matched += result.matchedCount;
        }
        return matched;
      }),

    deleteMany: (spec, filter) => run(`delete from ${spec.name}`, async () => (await collection(spec).deleteMany(toMongo(spec, filter))).deletedCount),
    // The same document the store's applies raise (its `meta` collection).
    bumpRevision: () =>
      run('raise the store revision', async () => {
        await db.collection<{ _id: string; value: number }>('meta').updateOne({ _id: 'revision' }, { $inc: { value: 1 } }, { upsert: true });
      }),
  };
}

const DUPLICATE_KEY = 11000;
const INDEX_OPTIONS_CONFLICT = 85;

function toInsert(spec: CollectionSpec, doc: RecordDoc): Doc {
  const out: Doc = { _id: spec.key.map((k) => String(doc[k])).join('/') };
  for (const [name, value] of Object.entries(spec.mongoDefaults ?? {})) out[name] = value;
  for (const [name, value] of Object.entries(doc)) {
    fieldOf(spec, name);
    if (value !== null && value !== undefined) out[name] = value;
  }
  return out;
}

function toUpdate(set: RecordDoc): mongo.UpdateFilter<Doc> {
  const $set: Doc = {};
  const $unset: Record<string, ''> = {};
  for (const [name, value] of Object.entries(set)) {
    if (value === undefined) continue;
    if (value === null) $unset[name] = '';
    else $set[name] = value;
  }
  return { ...(Object.keys($set).length > 0 ? { $set } : {}), ...(Object.keys($unset).length > 0 ? { $unset } : {}) };
}

function toMongo(spec: CollectionSpec, filter: Filter): Doc {
  const out: Doc = {};
  for (const [name, condition] of Object.entries(filter)) {
    if (condition === undefined) continue;
    if (name === '$or') {
      const alternatives = (condition as readonly Filter[]).map((alt) => toMongo(spec, alt));
      // An empty $or matches nothing (MongoDB rejects an empty $or list).
      out['$or'] = alternatives.length === 0 ? [{ _id: { $exists: false } }] : alternatives;
      continue;
    }
    fieldOf(spec, name);
    out[name] = conditionOf(condition as Condition);
  }
  return out;
}

function conditionOf(condition: Condition): unknown {
  if (condition === null) return null;
  if (typeof condition !== 'object') return { $eq: condition };
  if ('$ne' in condition) return { $ne: condition.$ne };
  if ('$in' in condition) return { $in: [...condition.$in] };
  if ('$gt' in condition) return { $gt: condition.$gt };
  if ('$contains' in condition) return { $regex: escapeRegExp(condition.$contains) };
  return { $regex: `^\\s*${escapeRegExp(condition.$hasItem.trim())}\\s*$`, $options: 'i' };
}

function decode(spec: CollectionSpec, doc: Doc): RecordDoc {
  const out: RecordDoc = {};
  for (const name of Object.keys(spec.fields)) out[name] = doc[name] ?? null;
  return out;
}

function fieldOf(spec: CollectionSpec, name: string): void {
  if (spec.fields[name] === undefined) throw new Error(`${spec.name} has no field ${name}`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function ignoreExists(error: unknown): void {
  if ((error as { codeName?: string }).codeName !== 'NamespaceExists' && (error as { code?: number }).code !== 48) throw error;
}
