import { AndFilter, EqualityFilter, GreaterThanEqualsFilter, OrFilter, type Client, type Entry, type Filter } from 'ldapts';
import type { DirectoryUser } from '../../src/core/model.js';
import { DirbridgeError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { ChangesResult, ReadOptions, StoredSnapshotView } from '../../src/ports/directory-connector.js';
import type { AttributeMapping } from '../shared/profiles.js';
import { EntryMappingError, entryExternalId, groupReferences, isUserEntry, normalizeDn, SnapshotBuilder, type DirectoryEntry, type GroupReferences } from '../shared/snapshot-builder.js';
import { changeFilter, decodeChangeMark, encodeChangeMark, parseGeneralizedTime, timestampMark, type ChangeMark, type ServerState } from './change-cursor.js';
import type { LdapConfig } from './config.js';
import { mergeChanges, type StoredUserFacts } from './incremental-read.js';
import { ldapError } from './ldap-errors.js';

type Scope = LdapConfig['users'];

/** What the LDAP connector lends its incremental read: its searches, as a full read makes them. */
export interface LdapReader {
  readonly id: string;
  readonly config: LdapConfig;
  readonly mapping: AttributeMapping;
  readonly userAttributes: readonly string[];
  readonly groupAttributes: readonly string[];
  readonly userFilter: Filter;
  readonly groupFilter: Filter;
  /** Hash of the read settings, carried by the change mark. */
  readonly settings: string;
  readonly log: Logger;
  /** Runs `fn` on a connection of its own (bound as the connector binds), closed after. */
  withClient<T>(fn: (client: Client) => Promise<T>, signal?: AbortSignal): Promise<T>;
  search(client: Client, scope: Scope, filter: Filter, attributes: string[], pageSize: number, signal?: AbortSignal): AsyncGenerator<Entry[]>;
  /** A group entry with ranged member values read whole (Active Directory). */
  withRanges(client: Client, entry: Entry): Promise<DirectoryEntry>;
  toEntry(entry: Entry): DirectoryEntry;
  mappingError(error: EntryMappingError): Error;
}

/**
 * Why this directory cannot be read incrementally, whatever the server: memberships that only a full
 * read resolves. Null when it can.
 */
export function incrementalBlocker(config: LdapConfig, mapping: AttributeMapping): string | null {
  if (config.groups === undefined) {
    return "memberships come from users' memberOf (no group search): a membership change does not change the user entry on every server (Active Directory's memberOf is a back-link), so only a full read sees it. Configure groups to read incrementally";
  }
  if (mapping.memberUidAttribute !== null && mapping.memberUidUserAttribute.toLowerCase() !== mapping.username.toLowerCase()) {
    return `memberUid values name users by ${mapping.memberUidUserAttribute}, not by their username (${mapping.username}): only a full read resolves them`;
  }
  return null;
}

/** Reads the rootDSE: Active Directory's highestCommittedUSN, dsServiceName and that DC's invocationId. */
export async function readServerState(client: Client, timeLimit: number): Promise<ServerState> {
  const root = (await client.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['highestCommittedUSN', 'dsServiceName'], timeLimit })).searchEntries[0];
  const usn = text(root?.['highestCommittedUSN']);
  const dc = text(root?.['dsServiceName']);
  if (usn === null || dc === null) return { usn: null };
  let invocationId: string | null = null;
  try {
    const ntds = (await client.search(dc, { scope: 'base', filter: '(objectClass=*)', attributes: ['invocationId'], explicitBufferAttributes: ['invocationId'], timeLimit })).searchEntries[0];
    const raw = ntds?.['invocationId'];
    const value = Array.isArray(raw) ? raw[0] : raw;
    invocationId = Buffer.isBuffer(value) ? value.toString('hex') : typeof value === 'string' ? value : null;
  } catch {
    // Not readable by the bind account: the DC is still told apart by its name.
  }
  return { usn: { dc, invocationId, highestCommittedUsn: usn } };
}

/** The newest modifyTimestamp of the entries a read saw, and the first entry that had none. */
export class TimestampTracker {
  newest: number | null = null;
  missing: string | null = null;
  /** The newest plain UTC value (YYYYMMDDHHMMSSZ, as OpenLDAP writes them): such values order as strings, parsed once. */
  private newestPlain = '';
  see(entry: DirectoryEntry): void {
    const raw = entry.attributes.get('modifytimestamp')?.[0];
    if (typeof raw === 'string' && raw.length === 15 && raw.charCodeAt(14) === 90 /* Z */) {
      if (raw > this.newestPlain) {
        this.newestPlain = raw;
        this.note(parseGeneralizedTime(raw), entry.dn);
      }
      return;
    }
    this.note(typeof raw === 'string' ? parseGeneralizedTime(raw) : null, entry.dn);
  }
  private note(ms: number | null, dn: string): void {
    if (ms === null) this.missing ??= dn;
    else if (this.newest === null || ms > this.newest) this.newest = ms;
  }
}

/** More users than this (and more than 5 % of the directory) new or moved without a change of their own: read whole. */
const MAX_SILENT_MOVES = 1000;
/** Entries named per search when asking which unchanged groups reference new DNs. */
const REFERENCE_BATCH = 50;

/**
 * An incremental read: the entries changed since the stored mark, an ids-only pass over users and
 * groups (complete, or the read fails: absence is proven, never inferred), the entries new or moved
 * without a change of their own (a renamed parent), then the merge with the stored rows.
 */
export async function readChanges(reader: LdapReader, client: Client, view: StoredSnapshotView, cursor: string, options: ReadOptions): Promise<ChangesResult> {
  const { config, mapping } = reader;
  const started = Date.now();
  const blocker = incrementalBlocker(config, mapping);
  if (blocker !== null) return { kind: 'full-sync-needed', reason: blocker };
  const server = await readServerState(client, config.timeouts.searchTimeLimitSeconds).catch((e: unknown) => {
    throw ldapError(reader.id, config.url, 'search', e, 'the rootDSE');
  });
  const since = changeFilter(cursor, server, reader.settings);
  if (since.kind === 'full') return { kind: 'full-sync-needed', reason: since.reason };

  // 1. The ids-only pass runs on its own connection while the change searches run on this one: the
  // server evaluates their filters while this process decodes the ids. Either order is sound for a
  // change made meanwhile: an entry the change search missed is found new or moved by the pass and
  // read by its DN (3.); one the pass no longer finds is gone.
  const stopIds = new AbortController();
  const idsSignal = options.signal === undefined ? stopIds.signal : AbortSignal.any([options.signal, stopIds.signal]);
  const idsRead = reader.withClient((second) => idsOnlyPass(reader, second, idsSignal), idsSignal);
  idsRead.catch(() => undefined); // awaited below; a change search that fails first stops it

  // 2. What changed since the mark.
  const changes = changeCollector(reader, client, since.attribute);
  try {
    const filter = (selection: Filter): Filter => new AndFilter({ filters: [selection, new GreaterThanEqualsFilter({ attribute: since.attribute, value: since.value })] });
    for await (const page of reader.search(client, config.users, filter(reader.userFilter), changes.userAttributes, config.pageSize, options.signal)) for (const e of page) changes.addUser(e);
    for await (const page of reader.search(client, config.groups as Scope, filter(reader.groupFilter), changes.groupAttributes, config.groupPageSize, options.signal)) for (const e of page) await changes.addGroup(e);
  } catch (error) {
    stopIds.abort(error);
    throw error;
  }
  const { presentUsers, presentGroups, idsPassMs } = await idsRead;
  reader.log.info({ users: presentUsers.size, groups: presentGroups.size, changedUsers: changes.readUsers.size, changedGroups: changes.groups.size, idsPassMs }, 'ids-only pass read');
  options.onPhaseEnd?.('changes and ids-only pass read');

  // 3. Entries new or moved that the change search did not return (a renamed parent entry changes no child's mark).
  const stored = await compareStoredKeys(reader, client, view, { changes, presentUsers, presentGroups });
  if ('reason' in stored) return { kind: 'full-sync-needed', reason: stored.reason };
  options.signal?.throwIfAborted();
  options.onPhaseEnd?.('stored keys compared');

  // 4. The merge with the stored rows, and the next mark.
  const merged = await mergeChanges(
    {
      directoryId: reader.id,
      changedUsers: changes.users(),
      takeChangedGroups: () => {
        const groups = [...changes.groups.values()];
        changes.groups.clear();
        return groups;
      },
      presentUsers,
      presentGroups,
      stored,
      memberUidNames: mapping.memberUidAttribute !== null,
      referencing: (users, groupIds) => referencingGroups(reader, client, users, groupIds, options.signal),
      ...(options.onPhaseEnd === undefined ? {} : { onPhaseEnd: options.onPhaseEnd }),
    },
    view,
  );
  if (merged.kind === 'full') return { kind: 'full-sync-needed', reason: merged.reason };
  const next = nextMark(since.attribute === 'uSNChanged' ? server : null, reader.settings, cursor, changes.timestamps, Date.now() - started);
  return {
    kind: 'changes',
    changes: { snapshot: merged.snapshot, rows: merged.rows, cursor: next, affectedUserIds: merged.affected, changes: merged.changes, userDelta: merged.userDelta, previousUsernames: merged.previousUsernames },
  };
}

/**
 * The stored users' ids and DNs against the ids-only pass: the users gone, the entries new or moved
 * without a change of their own (read here), and the stored DNs of the changed users. The stored keys
 * (a million ids and DNs) are let go on return.
 */
async function compareStoredKeys(
  reader: LdapReader,
  client: Client,
  view: StoredSnapshotView,
  input: { changes: ReturnType<typeof changeCollector>; presentUsers: ReadonlyMap<string, string>; presentGroups: ReadonlySet<string> },
): Promise<StoredUserFacts | { reason: string }> {
  const storedKeys = new Map((await view.userKeys()).map((k) => [k.externalId, k.location]));
  const tooMany = await readSilentEntries(reader, client, { ...input, storedKeys, storedGroups: view.groups });
  if (tooMany !== null) return { reason: tooMany };
  const deleted: string[] = [];
  for (const id of storedKeys.keys()) if (!input.presentUsers.has(id)) deleted.push(id);
  const locations = new Map<string, string | null>();
  for (const id of input.changes.readUsers) {
    const location = storedKeys.get(id);
    if (location !== undefined) locations.set(id, location);
  }
  return { count: storedKeys.size, deleted, locations };
}

/**
 * Reads by DN the users the ids-only pass finds new or at another DN than stored, and the groups new
 * to the stored snapshot, that the change search did not return. Returns why it reads whole instead
 * when they are too many, else null.
 */
async function readSilentEntries(
  reader: LdapReader,
  client: Client,
  input: { changes: ReturnType<typeof changeCollector>; presentUsers: ReadonlyMap<string, string>; presentGroups: ReadonlySet<string>; storedKeys: ReadonlyMap<string, string | null>; storedGroups: readonly { id: string }[] },
): Promise<string | null> {
  const { changes, presentUsers, presentGroups, storedKeys } = input;
  const silent: string[] = [];
  for (const [id, dn] of presentUsers) {
    if (changes.readUsers.has(id)) continue;
    const location = storedKeys.get(id);
    if (location === undefined || location === null || (location !== dn && normalizeDn(location) !== normalizeDn(dn))) silent.push(dn);
  }
  const storedGroupIds = new Set(input.storedGroups.map((g) => g.id));
  const silentGroups = [...presentGroups].filter((id) => !storedGroupIds.has(id) && !changes.groups.has(id));
  if (silent.length + silentGroups.length > Math.max(MAX_SILENT_MOVES, presentUsers.size / 20)) {
    return `${silent.length} users and ${silentGroups.length} groups are new or moved without a change of their own (a renamed parent entry?): reading whole is quicker`;
  }
  for (const dn of silent) for (const e of await baseRead(reader, client, dn, reader.userFilter, changes.userAttributes)) changes.addUser(e);
  for (const dn of silentGroups) for (const e of await baseRead(reader, client, dn, reader.groupFilter, changes.groupAttributes)) await changes.addGroup(e);
  return null;
}

/** Collects changed entries as a full read maps them: users through a snapshot builder, groups as their member references. */
function changeCollector(reader: LdapReader, client: Client, marker: 'uSNChanged' | 'modifyTimestamp') {
  const { mapping } = reader;
  const builder = new SnapshotBuilder(reader.id, mapping, { memberOf: 'ignore' });
  const timestamps = new TimestampTracker();
  const readUsers = new Set<string>();
  const groups = new Map<string, GroupReferences>();
  const mapped = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      throw error instanceof EntryMappingError ? reader.mappingError(error) : error;
    }
  };
  return {
    timestamps,
    readUsers,
    groups,
    userAttributes: [...reader.userAttributes, marker],
    groupAttributes: [...reader.groupAttributes, marker],
    addUser(e: Entry): void {
      const entry = reader.toEntry(e);
      if (marker === 'modifyTimestamp') timestamps.see(entry);
      const id = entryExternalId(entry, mapping);
      if (id !== null && readUsers.has(id)) return;
      if (mapped(() => builder.addUser(entry)) && id !== null) readUsers.add(id);
    },
    async addGroup(e: Entry): Promise<void> {
      const entry = await reader.withRanges(client, e);
      if (marker === 'modifyTimestamp') timestamps.see(entry);
      const g = groupReferences(entry, mapping);
      groups.set(g.id, g);
    },
    users: (): readonly DirectoryUser[] => mapped(() => builder.build().users),
  };
}

/** Who is in scope now: every user (id → DN) and every group (normalised DN). Fails as a whole read fails, and says so. */
async function idsOnlyPass(reader: LdapReader, client: Client, signal: AbortSignal): Promise<{ presentUsers: Map<string, string>; presentGroups: Set<string>; idsPassMs: number }> {
  const started = Date.now();
  const presentGroups = new Set<string>();
  const presentUsers = await inIdsPass(async () => {
    const users = await idsPass(reader, client, signal);
    for await (const page of reader.search(client, reader.config.groups as Scope, reader.groupFilter, ['1.1'], reader.config.pageSize, signal)) for (const e of page) presentGroups.add(normalizeDn(e.dn));
    return users;
  });
  return { presentUsers, presentGroups, idsPassMs: Date.now() - started };
}

function nextMark(usnServer: ServerState | null, settings: string, cursor: string, timestamps: TimestampTracker, readMs: number): string {
  if (usnServer !== null && usnServer.usn !== null) {
    const { dc, invocationId, highestCommittedUsn } = usnServer.usn;
    return encodeChangeMark({ kind: 'usn', settings, dc, invocationId, usn: highestCommittedUsn });
  }
  const stored = decodeChangeMark(cursor);
  const previous = stored?.kind === 'timestamp' ? stored.mark : null;
  if (previous === null) throw new Error('a timestamp change mark was expected');
  const mark: ChangeMark = { kind: 'timestamp', settings, mark: timestampMark(timestamps.newest, readMs, previous) ?? previous };
  return encodeChangeMark(mark);
}

async function inIdsPass<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!(error instanceof DirbridgeError)) throw error;
    throw new DirbridgeError(error.code, `${error.message} (in the ids-only pass of an incremental read: absence is not proven, nobody is deactivated)`, { cause: error, retryable: error.retryable, ...(error.details === undefined ? {} : { details: error.details }) });
  }
}

/** Every user in scope, id → DN: the stable id attribute alone (and objectCategory where the profile needs it), paged. */
async function idsPass(reader: LdapReader, client: Client, signal: AbortSignal | undefined): Promise<Map<string, string>> {
  const { mapping, config } = reader;
  const attributes = [mapping.id.toLowerCase() === 'dn' ? '1.1' : mapping.id, ...(mapping.userCategory === null ? [] : ['objectCategory'])];
  const present = new Map<string, string>();
  for await (const page of reader.search(client, config.users, reader.userFilter, attributes, config.pageSize, signal)) {
    for (const e of page) {
      const entry = reader.toEntry(e);
      if (!isUserEntry(entry, mapping)) continue;
      const id = entryExternalId(entry, mapping);
      if (id === null) continue; // the change search or a full read reports it; nothing is inferred from it here
      if (present.has(id)) throw reader.mappingError(new EntryMappingError(`user ${entry.dn} repeats the ${mapping.id} ${id} of another user: a stable id must be unique (check attributes.id)`));
      present.set(id, e.dn);
    }
  }
  return present;
}

async function baseRead(reader: LdapReader, client: Client, dn: string, filter: Filter, attributes: string[]): Promise<Entry[]> {
  const binary = reader.mapping.id.toLowerCase() === 'objectguid';
  try {
    const result = await client.search(dn, { scope: 'base', filter, attributes, timeLimit: reader.config.timeouts.searchTimeLimitSeconds, ...(binary ? { explicitBufferAttributes: [reader.mapping.id] } : {}) });
    return result.searchEntries;
  } catch (error) {
    throw ldapError(reader.id, reader.config.url, 'search', error, dn);
  }
}

/**
 * Which groups reference each new user DN (or memberUid name) and each new group DN. A batch is asked
 * first, for the DNs of the groups it matches only; a batch that matches some is asked entry by entry.
 */
async function referencingGroups(reader: LdapReader, client: Client, users: readonly DirectoryUser[], groupIds: readonly string[], signal: AbortSignal | undefined): Promise<Map<string, Set<string>>> {
  const { mapping, config } = reader;
  const dnAttributes = [...mapping.memberDnAttributes, ...(mapping.memberUidAttribute === null ? [] : [mapping.memberUidAttribute])];
  const items: { key: string; filters: Filter[] }[] = [];
  for (const u of users) {
    const filters: Filter[] = u.location === null ? [] : dnAttributes.map((attribute) => new EqualityFilter({ attribute, value: u.location as string }));
    if (mapping.memberUidAttribute !== null) filters.push(new EqualityFilter({ attribute: mapping.memberUidAttribute, value: u.username }));
    items.push({ key: u.externalId, filters });
  }
  for (const id of groupIds) items.push({ key: id, filters: dnAttributes.map((attribute) => new EqualityFilter({ attribute, value: id })) });
  const out = new Map<string, Set<string>>();
  const matching = async (filters: Filter[]): Promise<string[]> => {
    const found: string[] = [];
    const filter = new AndFilter({ filters: [reader.groupFilter, new OrFilter({ filters })] });
    for await (const page of reader.search(client, config.groups as Scope, filter, ['1.1'], config.pageSize, signal)) for (const e of page) found.push(normalizeDn(e.dn));
    return found;
  };
  for (let i = 0; i < items.length; i += REFERENCE_BATCH) {
    const batch = items.slice(i, i + REFERENCE_BATCH).filter((item) => item.filters.length > 0);
    if (batch.length === 0 || (await matching(batch.flatMap((b) => b.filters))).length === 0) continue;
    for (const item of batch) out.set(item.key, new Set(await matching(item.filters)));
  }
  return out;
}

function text(value: unknown): string | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (typeof v === 'string' && v !== '') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return null;
}
