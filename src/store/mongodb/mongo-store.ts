import mongoose, { Schema, type Connection } from 'mongoose';
import { normalizeGroupName } from '../../core/group-name.js';
import { spellingsRegex } from '../../core/licensed-spellings.js';
import type { CurrentCustomer, CustomerRecord, DeactivationReason, PlanAction } from '../../core/model.js';
import { DirbridgeError } from '../../errors.js';
import {
  DEFAULT_PAGE_SIZE,
  type ApplyOptions,
  type DirectoryState,
  type Lease,
  type LeaseRequest,
  type LeaseResult,
  type RunRecord,
  type StoredCustomer,
  type SyncStore,
} from '../../ports/store.js';
import { assertNoLicensedGroups, normalizedLicensed } from '../licensed-guard.js';
import { checkedCurrent, licensedSpellings } from '../customer-integrity.js';
import { createLicenceReads } from '../licence-reads.js';
import { searchText } from '../search-text.js';
import { redactMongoUrl } from './redact-url.js';
import { updateChunkFor } from './server-limits.js';
import { createMongoRecordDriver } from '../records/mongo-driver.js';
import { createMongoIncrementalStore } from './incremental-rows.js';

export interface MongoStoreOptions {
  readonly url: string;
  readonly licensedGroups: readonly string[];
  readonly serverSelectionTimeoutMS?: number;
  /**
   * How often the driver's monitor asks the server whether it answers, and how long a connection may
   * take (10 s each by default: a frozen server is noticed about 30 s after it froze). Tests shorten them.
   */
  readonly heartbeatFrequencyMS?: number;
  readonly connectTimeoutMS?: number;
}

interface CustomerDoc {
  /** `${directoryId}/${externalId}`: every write addresses one customer by its primary key. */
  _id: string;
  directoryId: string;
  externalId: string;
  username: string;
  usernameLc: string;
  email: string | null;
  emailLc: string | null;
  displayName: string | null;
  location: string | null;
  search: string;
  groups: string[];
  hash: string;
  active: boolean;
  deactivatedReason: DeactivationReason | null;
  deactivatedAt: string | null;
  createdAt: string;
  updatedAt: string;
  lastRunId: string | null;
  /** The lease token of the run that last wrote this customer: a stale writer cannot overwrite it. */
  fence: number;
}

const DUPLICATE_KEY = 11000;
const NOT_IMPLEMENTED = 238;

/**
 * The production store: mongoose on MongoDB (replica sets, Atlas; FerretDB for tests). No feature needs
 * a multi-document transaction: writes are unordered bulk upserts keyed by (directoryId, externalId),
 * idempotent and safe to repeat after a crash half-way. Leases use findOneAndUpdate with an upsert
 * whose duplicate-key failure means "held by someone else".
 */
export async function openMongoStore(options: MongoStoreOptions): Promise<SyncStore> {
  const where = redactMongoUrl(options.url);
  const licensed = normalizedLicensed(options.licensedGroups);
  // The licensed set the store refuses: the configured one, widened by guardLicensedGroups.
  let guarded: readonly string[] = options.licensedGroups;
  let conn: Connection;
  try {
    conn = await mongoose
      .createConnection(options.url, {
        // A frozen server is noticed by the driver's monitor: a heartbeat every 10 s must answer within
        // the connect timeout; the command in flight then fails, is retried once after a new server
        // selection, and fails for good. About 30 s from the freeze (README, "The MongoDB store").
        serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 10_000,
        connectTimeoutMS: options.connectTimeoutMS ?? 10_000,
        heartbeatFrequencyMS: options.heartbeatFrequencyMS ?? 10_000,
        // One command on a live server may take long (a bulk write on FerretDB, a full scan).
        socketTimeoutMS: 120_000,
        autoIndex: false,
        autoCreate: false,
      })
      .asPromise();
  } catch (cause) {
    throw connectionError(where, cause);
  }

  const customerSchema = new Schema<CustomerDoc>(
    {
      _id: { type: String, required: true },
      directoryId: { type: String, required: true },
      externalId: { type: String, required: true },
      username: { type: String, required: true },
      usernameLc: { type: String, required: true },
      email: { type: String, default: null },
      emailLc: { type: String, default: null },
      displayName: { type: String, default: null },
      location: { type: String, default: null },
      search: { type: String, required: true },
      groups: {
        type: [String],
        required: true,
        validate: {
          validator: (groups: string[]) => !groups.some((g) => licensed.has(normalizeGroupName(g))),
          message: 'a customer cannot carry a licensed group',
        },
      },
      hash: { type: String, required: true },
      active: { type: Boolean, required: true },
      deactivatedReason: { type: String, default: null },
      deactivatedAt: { type: String, default: null },
      createdAt: { type: String, required: true },
      updatedAt: { type: String, required: true },
      lastRunId: { type: String, default: null },
      fence: { type: Number, default: 0 },
    },
    { collection: 'customers', strict: 'throw', versionKey: false },
  );
  customerSchema.index({ directoryId: 1, externalId: 1 }, { unique: true, name: 'customer_key' });
  customerSchema.index({ usernameLc: 1 }, { name: 'username' });
  customerSchema.index({ emailLc: 1 }, { name: 'email' });
  customerSchema.index({ active: 1, usernameLc: 1, directoryId: 1 }, { name: 'list_by_state' });

  const Customers = conn.model<CustomerDoc>('Customer', customerSchema);
  const Runs = conn.model('Run', new Schema({ _id: String, startedAt: { type: String, index: true } }, { collection: 'sync_runs', strict: false, versionKey: false }));
  const States = conn.model('DirectoryState', new Schema({ _id: String }, { collection: 'directory_states', strict: false, versionKey: false }));
  const Leases = conn.model<LeaseDoc>('Lease', new Schema({ _id: String, owner: String, token: Number, expiresAt: Date }, { collection: 'leases', versionKey: false }));
  const LeaseTokens = conn.model<LeaseDoc & { lease: string }>('LeaseToken', new Schema({ _id: String, lease: String, token: Number, owner: String, expiresAt: Date }, { collection: 'lease_tokens', versionKey: false }));
  const Meta = conn.model('Meta', new Schema({ _id: String, value: Number }, { collection: 'meta', versionKey: false }));

  const wrap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (cause) {
      if (cause instanceof DirbridgeError) throw cause;
      if (String((cause as Error).message).includes('licensed group')) {
        throw new DirbridgeError('ERR_STORE_INVARIANT', `MongoDB refused to ${what}: a customer cannot carry a licensed group`, { cause });
      }
      if (isUnreachable(cause)) {
        throw new DirbridgeError('ERR_STORE', `MongoDB (${where}) did not answer while trying to ${what}: it is down, frozen or unreachable (${describe(cause)})`, {
          cause,
          details: { unreachable: true },
        });
      }
      throw new DirbridgeError('ERR_STORE', `MongoDB (${where}) failed to ${what}: ${describe(cause)}`, { cause });
    }
  };

  await wrap('create collections and indexes', async () => {
    for (const model of [Customers, Runs, States, Leases, LeaseTokens, Meta]) await model.createCollection().catch(ignoreExists);
    await Customers.createIndexes();
    await Runs.createIndexes();
    await installValidator(conn, [...licensed]);
  });

  // Update commands go in chunks the server takes (server-limits.ts): FerretDB stalls on large ones.
  const updateChunk = await wrap('identify the server', async () => updateChunkFor((await conn.db?.admin().command({ buildInfo: 1 })) as { ferretdbVersion?: string } | undefined));

  const records = await createMongoRecordDriver(conn, where).catch(async (error: unknown) => {
    await conn.close();
    throw error;
  });

  const incremental = await createMongoIncrementalStore(conn, wrap, licensed);

  // Lease expiry uses the server's clock (as seen at connect), so skewed client clocks agree.
  const offset = await wrap('read the server clock', async () => {
    const hello = (await conn.db?.admin().command({ hello: 1 })) as { localTime?: Date } | undefined;
    return hello?.localTime instanceof Date ? hello.localTime.getTime() - Date.now() : 0;
  });
  const serverNow = (): number => Date.now() + offset;

  const checkFence = async (fence: readonly Lease[] | undefined): Promise<void> => {
    for (const lease of fence ?? []) {
      const current = (await Leases.findById(lease.name).lean()) as { token?: number } | null;
      if (current?.token !== lease.token) {
        throw new DirbridgeError('ERR_LEASE_LOST', `lease ${lease.name} moved on (token ${String(current?.token)}, ours ${lease.token}): refusing to write`);
      }
    }
  };

  const licenceReads = createLicenceReads(records);
  const store: SyncStore = {
    kind: 'mongodb',
    label: `MongoDB ${where}`,
    records,
    incremental,

    loadCurrent: () =>
      wrap('load customers', async () => {
        // The hashed fields are read too, to find documents changed around dirbridge (checkedCurrent);
        // only the compact view is kept.
        const out: CurrentCustomer[] = [];
        const fields = { _id: 0, directoryId: 1, externalId: 1, username: 1, email: 1, displayName: 1, location: 1, groups: 1, hash: 1, active: 1 };
        const cursor = Customers.find({}, fields).lean().batchSize(5000).cursor();
        for await (const doc of cursor) {
          out.push(checkedCurrent({ ...doc, email: doc.email ?? null, displayName: doc.displayName ?? null, location: doc.location ?? null, groups: doc.groups ?? [] }, licensed));
        }
        return out;
      }),

    revision: () => wrap('read the revision', async () => ((await Meta.findById('revision').lean()) as { value?: number } | null)?.value ?? 0),

    async applyActions(actions, opts: ApplyOptions) {
      assertNoLicensedGroups(actions, guarded);
      const size = opts.batchSize ?? 1000;
      const tokens = new Map((opts.fence ?? []).map((l) => [l.name.replace(/^sync:/, ''), l.token]));
      let written = 0;
      // Before every write command, not once per batch: a writer whose lease moved on (or whose run
      // was aborted) stops at its next write, whatever is left of the batch.
      const chunks: ChunkHooks = {
        before: async () => {
          opts.signal?.throwIfAborted();
          await checkFence(opts.fence);
        },
        after: async (n) => opts.onChunk?.(written + n),
      };
      for (let i = 0; i < actions.length; i += size) {
        const batch = actions.slice(i, i + size);
        await wrap('apply the plan', async () => {
          written += await writeBatch(Customers, batch, { opts, tokens, updateChunk, chunks });
          await Meta.updateOne({ _id: 'revision' }, { $inc: { value: 1 } }, { upsert: true });
        });
        await opts.onBatch?.(written);
      }
      return { written };
    },

    findLicensedCustomers: (licensedGroups, limit) =>
      wrap('check licensed groups', async () => {
        // The one licence rule (normalizeGroupName: NFKC, trim, lower case) cannot be said in a query, so
        // the distinct group spellings stored are matched here, then the customers holding one are read.
        const names = normalizedLicensed(licensedGroups);
        if (names.size === 0) return [];
        const spellings = licensedSpellings(await Customers.distinct('groups'), names);
        if (spellings.length === 0) return [];
        const docs = await Customers.find({ groups: { $in: spellings } }).sort({ directoryId: 1, externalId: 1 }).limit(limit).lean();
        return docs.map(toStored);
      }),

    listCustomers: (query) =>
      wrap('list customers', async () => {
        const page = Math.max(1, query.page ?? 1);
        const pageSize = Math.max(1, query.pageSize ?? DEFAULT_PAGE_SIZE);
        const filter: Record<string, unknown> = {};
        const state = query.state ?? 'active';
        if (state !== 'all') filter['active'] = { $eq: state === 'active' };
        if (query.directoryId !== undefined) filter['directoryId'] = { $eq: String(query.directoryId) };
        if (query.search !== undefined && query.search !== '') filter['search'] = { $regex: escapeRegExp(query.search.toLowerCase()) };
        const [total, docs] = await Promise.all([
          Customers.countDocuments(filter),
          Customers.find(filter).sort({ usernameLc: 1, directoryId: 1, externalId: 1 }).skip((page - 1) * pageSize).limit(pageSize).lean(),
        ]);
        return { items: docs.map(toStored), total, page, pageSize };
      }),

    findByUsername: (username) =>
      wrap('find a customer', async () => (await Customers.find({ usernameLc: { $eq: username.toLowerCase() } }).sort({ directoryId: 1 }).lean()).map(toStored)),

    recordRun: (run) =>
      wrap('record the run', async () => {
        await Runs.replaceOne({ _id: run.runId }, { ...run, _id: run.runId }, { upsert: true });
      }),

    listRuns: ({ limit, directoryId }) =>
      wrap('list runs', async () => {
        // Same-element matching is done here: FerretDB 1.x does not support $elemMatch on sub-documents.
        const filter = directoryId === undefined ? {} : { 'directories.directoryId': { $eq: directoryId } };
        const out: RunRecord[] = [];
        for await (const doc of Runs.find(filter).sort({ startedAt: -1, _id: -1 }).lean().cursor()) {
          const { _id, ...rest } = doc as { _id: unknown } & Record<string, unknown>;
          const run = { ...(rest as unknown as RunRecord), runId: String(_id) };
          if (directoryId === undefined || run.directories.some((d) => d.directoryId === directoryId && d.status !== 'not-read')) out.push(run);
          if (out.length >= limit) break;
        }
        return out;
      }),

    getDirectoryStates: () =>
      wrap('read directory state', async () => {
        const docs = await States.find({}).lean();
        return Object.fromEntries(docs.map(({ _id, ...state }) => [String(_id), state as DirectoryState]));
      }),

    putDirectoryState: (directoryId, state) =>
      wrap('write directory state', async () => {
        await States.replaceOne({ _id: directoryId }, { ...state, _id: directoryId }, { upsert: true });
      }),


    async *exportCustomers(batchSize) {
      let batch: StoredCustomer[] = [];
      for await (const doc of Customers.find({}).sort({ directoryId: 1, externalId: 1 }).lean().cursor()) {
        batch.push(toStored(doc));
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
      const added = groups.filter((g) => !licensed.has(normalizeGroupName(g)));
      if (added.length === 0) return;
      for (const name of normalizedLicensed(added)) licensed.add(name); // the schema validator reads this set
      guarded = [...guarded, ...added];
      await wrap('widen the licensed groups', () => installValidator(conn, [...licensed]));
    },

    importCustomers: (customers) =>
      wrap('import customers', async () => {
        assertNoLicensedGroups(customers.map((customer) => ({ kind: 'create', customer })), guarded);
        if (customers.length === 0) return;
        // In the chunks sync updates use: a repeated or resumed copy replaces every customer again,
        // and one command of a thousand replacements wedges FerretDB.
        for (let i = 0; i < customers.length; i += updateChunk) {
          await Customers.bulkWrite(
            customers.slice(i, i + updateChunk).map((c) => ({
              replaceOne: {
                filter: { _id: customerId(c) },
                replacement: { ...c, _id: customerId(c), groups: [...c.groups], usernameLc: c.username.toLowerCase(), emailLc: c.email?.toLowerCase() ?? null, search: searchText(c), fence: 0 },
                upsert: true,
              },
            })),
            { ordered: false },
          );
        }
        await Meta.updateOne({ _id: 'revision' }, { $inc: { value: 1 } }, { upsert: true });
      }),

    acquireLease: (request: LeaseRequest) => wrap('acquire a lease', () => acquireLease(Leases, LeaseTokens, request, serverNow())),

    renewLease: (lease, ttlMs) =>
      wrap('renew a lease', async () => {
        const now = serverNow();
        const result = await Leases.updateOne(
          { _id: lease.name, owner: { $eq: lease.owner }, token: { $eq: lease.token }, expiresAt: { $gt: new Date(now) } },
          { $set: { expiresAt: new Date(now + ttlMs) } },
        );
        return result.matchedCount === 1;
      }),

    releaseLease: (lease) =>
      wrap('release a lease', async () => {
        await Leases.updateOne({ _id: lease.name, owner: { $eq: lease.owner }, token: { $eq: lease.token } }, { $set: { expiresAt: new Date(0) } });
      }),

    peekLease: (name) =>
      wrap('read a lease', async () => {
        const now = serverNow();
        const head = (await Leases.findById(name).lean()) as LeaseDoc | null;
        const [claim] = (await LeaseTokens.find({ lease: { $eq: name } }).sort({ token: -1 }).limit(1).lean()) as LeaseDoc[];
        // A claim newer than the lease document is a contender half-way through: it holds the lease (see acquireLease).
        const holder = [claim !== undefined && claim.token > (head?.token ?? 0) ? claim : null, head].find((l) => l !== null && l !== undefined && l.expiresAt.getTime() > now);
        return holder === undefined || holder === null ? null : { holder: holder.owner, expiresAt: holder.expiresAt.toISOString() };
      }),

    pruneLeases: (prefix) =>
      wrap('prune leases', async () => {
        const expired = { $lt: new Date(serverNow()) };
        const result = await Leases.deleteMany({ _id: { $regex: `^${escapeRegExp(prefix)}` }, expiresAt: expired });
        await LeaseTokens.deleteMany({ lease: { $regex: `^${escapeRegExp(prefix)}` }, expiresAt: expired });
        return result.deletedCount;
      }),

    async close() {
      await conn.close();
    },
  };
  return store;
}

interface ChunkHooks {
  /** Runs before each write command (throws to stop the apply). */
  readonly before: () => Promise<void>;
  /** Runs after each write command, with what this batch has written so far. */
  readonly after: (writtenInBatch: number) => Promise<void>;
}

interface BatchContext {
  readonly opts: ApplyOptions;
  readonly tokens: ReadonlyMap<string, number>;
  readonly updateChunk: number;
  readonly chunks: ChunkHooks;
}

interface LeaseDoc {
  _id: string;
  owner: string;
  token: number;
  expiresAt: Date;
}

/**
 * Takes a lease when it is free, expired or already ours, with the next fencing token. The token is
 * claimed first by inserting `lease#token` into lease_tokens: the unique _id lets exactly one
 * contender have each token, even on servers whose findAndModify is not atomic (FerretDB 1.x let two
 * racing processes both take one expired lease with the same token). Only the claimant then moves the
 * lease document to its token. A claim newer than the lease document is a contender half-way through
 * (it holds the lease until the claim expires, so a crash between the two steps never wedges it).
 */
async function acquireLease(Leases: mongoose.Model<LeaseDoc>, LeaseTokens: mongoose.Model<LeaseDoc & { lease: string }>, request: LeaseRequest, now: number): Promise<LeaseResult> {
  const expiresAt = new Date(now + request.ttlMs);
  const free = (held: LeaseDoc | null): held is null | LeaseDoc => held === null || held.expiresAt.getTime() < now || held.owner === request.owner;
  const heldBy = (held: LeaseDoc): LeaseResult => ({ acquired: false, holder: held.owner, expiresAt: held.expiresAt.toISOString() });
  const head = (await Leases.findById(request.name).lean()) as LeaseDoc | null;
  if (!free(head)) return heldBy(head as LeaseDoc);
  const [claim] = (await LeaseTokens.find({ lease: { $eq: request.name } }).sort({ token: -1 }).limit(1).lean()) as LeaseDoc[];
  if (claim !== undefined && claim.token > (head?.token ?? 0) && !free(claim)) return heldBy(claim);
  const token = Math.max(head?.token ?? 0, claim?.token ?? 0) + 1;
  try {
    await LeaseTokens.create({ _id: `${request.name}#${token}`, lease: request.name, token, owner: request.owner, expiresAt });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    const winner = (await LeaseTokens.findById(`${request.name}#${token}`).lean()) as LeaseDoc | null;
    return heldBy(winner ?? { _id: request.name, owner: 'unknown', token, expiresAt });
  }
  try {
    await Leases.updateOne(
      { _id: request.name, $or: [{ token: { $lt: token } }, { token: { $exists: false } }] },
      { $set: { owner: request.owner, expiresAt, token } },
      { upsert: true },
    );
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    const newer = (await Leases.findById(request.name).lean()) as LeaseDoc | null;
    return heldBy(newer ?? { _id: request.name, owner: 'unknown', token, expiresAt });
  }
  await LeaseTokens.deleteMany({ lease: { $eq: request.name }, token: { $lt: token } });
  return { acquired: true, lease: { name: request.name, owner: request.owner, token, expiresAt: expiresAt.toISOString() } };
}

/**
 * Creates go in as one unordered insertMany (the plan knows they are new); a create that meets an
 * existing customer (a repeated apply) is redone as an upsert. Deactivations set the same fields on
 * every customer they name, so they go as one updateMany per reason and fencing token, naming the
 * customers with `$in` (DEACTIVATE_CHUNK at a time): a thousand deactivations are one command, not
 * one statement each. Updates and reactivations carry each customer's own fields: a bulk of updateOne,
 * in chunks the server takes. The lease fence is checked before each of these commands.
 */
async function writeBatch(Customers: mongoose.Model<CustomerDoc>, batch: readonly PlanAction[], ctx: BatchContext): Promise<number> {
  const token = (action: PlanAction): number | undefined => ctx.tokens.get(actionDirectory(action));
  const creates = batch.filter((a) => a.kind === 'create');
  const updates: UpsertAction[] = batch.filter((a) => a.kind !== 'create' && a.kind !== 'deactivate');
  const collection = Customers.collection as unknown as mongoose.mongo.Collection<CustomerDoc>;
  let written = 0;
  if (creates.length > 0) {
    const inserted = await insertCreates(collection, creates, ctx, token);
    written += inserted.written;
    updates.unshift(...inserted.existing);
    await ctx.chunks.after(written);
  }
  for (let i = 0; i < updates.length; i += ctx.updateChunk) {
    written += await upsertChunk(Customers, updates.slice(i, i + ctx.updateChunk), ctx, token);
    await ctx.chunks.after(written);
  }
  for (const group of groupDeactivations(batch.filter((a) => a.kind === 'deactivate'), token)) {
    for (let i = 0; i < group.ids.length; i += DEACTIVATE_CHUNK) {
      await ctx.chunks.before();
      const fenced = group.token === undefined ? {} : { fence: { $lte: group.token } };
      const result = await collection.updateMany(
        { _id: { $in: group.ids.slice(i, i + DEACTIVATE_CHUNK) }, active: true, ...fenced },
        { $set: { active: false, deactivatedReason: group.reason, deactivatedAt: ctx.opts.now, updatedAt: ctx.opts.now, lastRunId: ctx.opts.runId, fence: group.token ?? 0 } },
      );
      written += result.matchedCount;
      await ctx.chunks.after(written);
    }
  }
  return written;
}

type UpsertAction = PlanAction & { kind: 'create' | 'update' | 'reactivate' };

/** One unordered insertMany; the creates that met an existing customer (a repeated apply) come back to be upserted. */
async function insertCreates(
  collection: mongoose.mongo.Collection<CustomerDoc>,
  creates: readonly (PlanAction & { kind: 'create' })[],
  ctx: BatchContext,
  token: (action: PlanAction) => number | undefined,
): Promise<{ written: number; existing: UpsertAction[] }> {
  await ctx.chunks.before();
  try {
    return { written: (await collection.insertMany(creates.map((a) => toInsert(a, ctx.opts, token(a) ?? 0)), { ordered: false })).insertedCount, existing: [] };
  } catch (error) {
    const failed = new Set(((error as { writeErrors?: { index?: number; code?: number }[] }).writeErrors ?? []).map((w) => (w.code === DUPLICATE_KEY ? w.index : -1)));
    if (!isDuplicateKey(error) || failed.has(-1)) throw error;
    const written = (error as { result?: { insertedCount?: number } }).result?.insertedCount ?? creates.length - failed.size;
    return { written, existing: creates.filter((_, i) => failed.has(i)) };
  }
}

/** One bulk of updateOne upserts; a duplicate key under a lease means a newer run wrote the customer. */
async function upsertChunk(Customers: mongoose.Model<CustomerDoc>, chunk: readonly UpsertAction[], ctx: BatchContext, token: (action: PlanAction) => number | undefined): Promise<number> {
  await ctx.chunks.before();
  try {
    const result = await Customers.bulkWrite(chunk.map((a) => toWrite(a, ctx.opts, token(a))), { ordered: false });
    return result.upsertedCount + result.matchedCount;
  } catch (error) {
    if (isDuplicateKey(error) && ctx.tokens.size > 0) {
      throw new DirbridgeError('ERR_LEASE_LOST', 'a newer run has written these customers (fencing token): refusing to overwrite', { cause: error });
    }
    throw error;
  }
}

/** Customers named by `$in` in one deactivating updateMany (well within any server's command size). */
const DEACTIVATE_CHUNK = 1000;

/** Deactivations grouped by what they write (reason and fencing token), in plan order. */
function groupDeactivations(actions: readonly (PlanAction & { kind: 'deactivate' })[], token: (action: PlanAction) => number | undefined): { reason: DeactivationReason; token: number | undefined; ids: string[] }[] {
  const groups = new Map<string, { reason: DeactivationReason; token: number | undefined; ids: string[] }>();
  for (const action of actions) {
    const fence = token(action);
    const key = `${action.reason}\u0000${String(fence)}`;
    const group = groups.get(key) ?? { reason: action.reason, token: fence, ids: [] };
    group.ids.push(customerId(action));
    groups.set(key, group);
  }
  return [...groups.values()];
}

function toInsert(action: PlanAction & { kind: 'create' }, opts: ApplyOptions, fence: number): CustomerDoc {
  const c = action.customer;
  return {
    _id: customerId(c),
    directoryId: c.directoryId,
    externalId: c.externalId,
    ...customerFields(c),
    active: true,
    deactivatedReason: null,
    deactivatedAt: null,
    createdAt: opts.now,
    updatedAt: opts.now,
    lastRunId: opts.runId,
    fence,
  };
}

function customerFields(c: CustomerRecord): Pick<CustomerDoc, 'username' | 'usernameLc' | 'email' | 'emailLc' | 'displayName' | 'location' | 'search' | 'groups' | 'hash'> {
  return {
    username: c.username,
    usernameLc: c.username.toLowerCase(),
    email: c.email,
    emailLc: c.email?.toLowerCase() ?? null,
    displayName: c.displayName,
    location: c.location,
    search: searchText(c),
    groups: [...c.groups],
    hash: c.hash,
  };
}

function customerId(c: { directoryId: string; externalId: string }): string {
  return `${c.directoryId}/${c.externalId}`;
}

function actionDirectory(action: PlanAction): string {
  return action.kind === 'deactivate' ? action.directoryId : action.customer.directoryId;
}

/**
 * One idempotent write. Under a lease, the fence condition makes a writer holding an older token miss
 * (update) or collide with the unique key (upsert), so it cannot overwrite a newer run's work.
 */
function toWrite(action: UpsertAction, opts: ApplyOptions, token: number | undefined): mongoose.AnyBulkWriteOperation<CustomerDoc> {
  const key = { _id: customerId(action.customer) };
  const fenced = token === undefined ? key : { ...key, fence: { $lte: token } };
  const fence = token ?? 0;
  const c = action.customer;
  return {
    updateOne: {
      filter: fenced,
      update: {
        $set: {
          ...customerFields(c),
          active: true,
          deactivatedReason: null,
          deactivatedAt: null,
          updatedAt: opts.now,
          lastRunId: opts.runId,
          fence,
        },
        $setOnInsert: { directoryId: c.directoryId, externalId: c.externalId, createdAt: opts.now },
      },
      upsert: true,
    },
  };
}

function toStored(doc: CustomerDoc): StoredCustomer {
  return {
    directoryId: doc.directoryId,
    externalId: doc.externalId,
    username: doc.username,
    email: doc.email ?? null,
    displayName: doc.displayName ?? null,
    location: doc.location ?? null,
    groups: [...doc.groups],
    hash: doc.hash,
    active: doc.active,
    deactivatedReason: doc.deactivatedReason ?? null,
    deactivatedAt: doc.deactivatedAt ?? null,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
    lastRunId: doc.lastRunId ?? null,
  };
}

/**
 * Server-side refusal for writers that bypass dirbridge: a $jsonSchema validator on customers whose
 * pattern is every spelling the licence rule matches (src/core/licensed-spellings.ts). MongoDB enforces
 * it; FerretDB 1.x does not implement validators (the adapter's own check and the after-apply
 * verification still apply).
 */
export function customersValidator(licensed: readonly string[]): Record<string, unknown> {
  const groupItem = licensed.length === 0 ? { bsonType: 'string' } : { bsonType: 'string', not: { pattern: spellingsRegex(licensed) } };
  return {
    $jsonSchema: {
      bsonType: 'object',
      required: ['directoryId', 'externalId', 'groups', 'active'],
      properties: { groups: { bsonType: 'array', items: groupItem } },
    },
  };
}

async function installValidator(conn: Connection, licensed: string[]): Promise<void> {
  const validator = customersValidator(licensed);
  try {
    await conn.db?.command({ collMod: 'customers', validator, validationLevel: 'strict', validationAction: 'error' });
  } catch (error) {
    if ((error as { code?: number }).code !== NOT_IMPLEMENTED) throw error;
  }
}

function ignoreExists(error: unknown): void {
  if ((error as { codeName?: string }).codeName !== 'NamespaceExists' && (error as { code?: number }).code !== 48) throw error;
}

/** No server answered (selection timed out), or the connection broke or timed out mid-command. */
function isUnreachable(error: unknown): boolean {
  const name = (error as { name?: string }).name ?? '';
  return name === 'MongoServerSelectionError' || name === 'MongoNetworkError' || name === 'MongoNetworkTimeoutError' || name === 'MongoPoolClearedError';
}

function isDuplicateKey(error: unknown): boolean {
  const e = error as { code?: number; writeErrors?: { code?: number }[] };
  return e.code === DUPLICATE_KEY || (e.writeErrors ?? []).some((w) => w.code === DUPLICATE_KEY);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function describe(error: unknown): string {
  const e = error as { codeName?: string; code?: number; message?: string };
  return e.codeName ?? (e.code === undefined ? (e.message ?? String(error)) : `code ${e.code}`);
}

function connectionError(where: string, cause: unknown): DirbridgeError {
  const e = cause as { name?: string; code?: number; codeName?: string };
  if (e.code === 18 || e.codeName === 'AuthenticationFailed') {
    return new DirbridgeError('ERR_STORE', `MongoDB at ${where}: authentication failed; check the user and the password reference in store.url`, { cause, retryable: false });
  }
  if (e.name?.endsWith('ServerSelectionError') === true) {
    return new DirbridgeError('ERR_STORE', `MongoDB at ${where} is unreachable (no server answered within the selection timeout)`, { cause });
  }
  if (e.name === 'MongoParseError' || e.name === 'MongoAPIError') {
    return new DirbridgeError(
      'ERR_CONFIG',
      `store.url is not a valid MongoDB connection string (${where}). Fix: percent-encode the user name and password in it ` +
        '(@ %40, / %2F, : %3A, ? %3F, # %23, [ %5B, ] %5D, %25 for %), or give the password as its own ${env:NAME} reference, which dirbridge encodes',
      { cause },
    );
  }
  return new DirbridgeError('ERR_STORE', `cannot connect to MongoDB at ${where} (${e.name ?? 'error'})`, { cause });
}
