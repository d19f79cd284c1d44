import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Client, type Entry, type Filter } from 'ldapts';
import { DirbridgeError } from '../../src/errors.js';
import { contentHash } from '../../src/core/content-hash.js';
import type { DirectorySnapshot } from '../../src/core/model.js';
import type { ConnectorContext, CursorResult, FetchOptions, IncrementalConnector, ReadOptions, StoredSnapshotView } from '../../src/ports/directory-connector.js';
import { resolveConfigPath } from '../shared/paths.js';
import { checkByReadingWhole, resolveMapping, type AttributeMapping } from '../shared/profiles.js';
import { groupSelectionFilter, userSelectionFilter } from '../shared/selection.js';
import { EntryMappingError, SnapshotBuilder, type AttributeValue, type DirectoryEntry } from '../shared/snapshot-builder.js';
import type { LdapConfig } from './config.js';
import { ldapError } from './ldap-errors.js';
import { frameWholeMessages } from './message-framing.js';
import { readRangedValues } from './ranged-values.js';
import { encodeChangeMark, timestampMark, usnMark, type ServerState } from './change-cursor.js';
import { incrementalBlocker, readChanges, readServerState, TimestampTracker, type LdapReader } from './incremental-search.js';

type Scope = LdapConfig['users'];

/**
 * A live LDAP / Active Directory directory. Reads users, then groups, with paged searches (never one
 * unpaged search, never a client size limit, which would make ldapts hide a truncated result) and
 * an explicit server time limit; maps entries page by page into the compact snapshot model. A size
 * or time limit, a referral in scope or a lost connection rejects the read as a whole.
 *
 * Incremental reads (incremental-search.ts): a full read also takes the directory's change mark (see
 * change-cursor.ts), which `currentCursor` hands to the engine once the read is done.
 */
export function openLdapConnector(id: string, config: LdapConfig, context: ConnectorContext): IncrementalConnector {
  const mapping = resolveMapping(config.profile, config.attributes);
  const log = context.logger.child({ directory: id });
  const binaryId = mapping.id.toLowerCase() === 'objectguid';
  const tlsOptions: ConnectionOptions = {
    minVersion: 'TLSv1.2',
    rejectUnauthorized: config.tls.rejectUnauthorized,
    ...(config.tls.caFile === undefined ? {} : { ca: readFileSync(resolveConfigPath(context.baseDir, config.tls.caFile)) }),
    ...(config.tls.serverName === undefined ? {} : { servername: config.tls.serverName }),
  };
  if (!config.tls.rejectUnauthorized) log.error('tls.rejectUnauthorized is false: the LDAP server certificate is NOT verified');
  if (config.url.startsWith('ldap://') && !config.startTls) log.warn('ldap:// without StartTLS: the bind password crosses the network in clear (tls.allowPlaintext)');

  const withClient = async <T>(fn: (client: Client) => Promise<T>, signal?: AbortSignal): Promise<T> => {
    const client = new Client({
      url: config.url,
      // ldapts opens TLS at connect whenever tlsOptions are given: only ldaps:// gets them here
      // (StartTLS passes them to startTLS(); a plaintext ldap:// must not get them at all).
      ...(config.url.startsWith('ldaps://') ? { tlsOptions } : {}),
      connectTimeout: config.timeouts.connectSeconds * 1000,
      timeout: config.timeouts.operationSeconds * 1000,
      strictDN: false,
    });
    frameWholeMessages(client);
    // An abort closes the connection, so a page in flight ends now rather than after operationSeconds.
    const onAbort = (): void => void client.unbind().catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (config.startTls) {
        const host = new URL(config.url).hostname;
        const servername = config.tls.serverName ?? (isIP(host) === 0 ? host : undefined);
        // `host` is what the certificate is verified against (Node would default it to "localhost").
        await client.startTLS({ ...tlsOptions, host, ...(servername === undefined ? {} : { servername }) }).catch((e: unknown) => {
          throw ldapError(id, config.url, 'connect', e);
        });
      }
      await client.bind(config.bind.dn, config.bind.password).catch((e: unknown) => {
        throw ldapError(id, config.url, 'bind', e, config.bind.dn);
      });
      return await fn(client);
    } catch (error) {
      signal?.throwIfAborted(); // the closed connection is ours: the caller gets the abort's reason
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await client.unbind().catch(() => undefined);
    }
  };

  // With a group search, only the groups it returns exist: users' memberOf is not even asked for.
  const memberOf = config.groups === undefined ? mapping.memberOfAttribute : null;
  const userAttributes = unique([
    mapping.id.toLowerCase() === 'dn' ? null : mapping.id,
    mapping.username,
    mapping.email,
    mapping.displayName,
    ...DISPLAY_NAME_FALLBACKS,
    mapping.memberUidAttribute === null ? null : mapping.memberUidUserAttribute,
    memberOf,
    mapping.disabled?.attribute,
    mapping.userCategory === null ? null : 'objectCategory',
  ]);
  // The group's mail too: a group with an address is a mailing list, which can never be a customer.
  const groupAttributes = unique([mapping.groupName, ...mapping.memberDnAttributes, mapping.memberUidAttribute, mapping.email]);
  const userFilter = userSelectionFilter(mapping, config.users.filter);
  const groupFilter = groupSelectionFilter(mapping, config.groups?.filter);

  async function* search(client: Client, scope: Scope, filter: Filter, attributes: string[], pageSize: number, signal?: AbortSignal): AsyncGenerator<Entry[]> {
    try {
      for await (const page of client.searchPaginated(scope.baseDn, {
        scope: scope.scope,
        filter,
        attributes,
        paged: { pageSize },
        timeLimit: config.timeouts.searchTimeLimitSeconds,
        ...(binaryId ? { explicitBufferAttributes: [mapping.id] } : {}),
      })) {
        signal?.throwIfAborted();
        if (page.searchReferences.length > 0) {
          throw ldapError(id, config.url, 'search', new Error(`a referral inside ${scope.baseDn} (${page.searchReferences.length} reference(s)) means part of the scope lives elsewhere: the read is incomplete. Narrow the base DN or the filter`));
        }
        yield page.searchEntries;
      }
    } catch (error) {
      throw ldapError(id, config.url, 'search', error, scope.baseDn);
    }
  }

  /** An entry that does not fit the mapping fails the read: the message names the attribute and the fix. */
  const mappingError = (error: EntryMappingError): DirbridgeError =>
    new DirbridgeError('ERR_DIRECTORY_READ', `directory ${id} (${config.url}): ${error.message}`, { cause: error, retryable: false });

  const read = async (options: FetchOptions = {}): Promise<DirectorySnapshot> => {
    const builder = await readEntries(options);
    try {
      return builder.build();
    } catch (error) {
      if (error instanceof EntryMappingError) throw mappingError(error);
      throw error;
    }
  };

  const blocker = incrementalBlocker(config, mapping);
  const settings = contentHash(['ldap-read-v1', config.url, JSON.stringify(config.users), JSON.stringify(config.groups ?? null), JSON.stringify(mapping)]);
  /** The change mark of the last full read by this connector (what `currentCursor` answers after it). */
  let lastMark: CursorResult | null = null;

  /** The rootDSE before a full read: the AD mark there, or the timestamps to collect. Never fails the read. */
  const markBefore = async (client: Client): Promise<{ server: ServerState | null; reason: string | null }> => {
    if (blocker !== null) return { server: null, reason: blocker };
    try {
      return { server: await readServerState(client, config.timeouts.searchTimeLimitSeconds), reason: null };
    } catch (error) {
      return { server: null, reason: `the rootDSE could not be read (${(error as Error).message})` };
    }
  };
  const markAfter = (before: { server: ServerState | null; reason: string | null }, timestamps: TimestampTracker, readMs: number): CursorResult => {
    if (before.server === null) return { cursor: null, reason: before.reason ?? 'no server state' };
    const usn = usnMark(before.server, settings);
    if (usn !== null) return { cursor: encodeChangeMark(usn) };
    if (timestamps.missing !== null) return { cursor: null, reason: `${timestamps.missing} came without modifyTimestamp (may the bind account read operational attributes?)` };
    const mark = timestampMark(timestamps.newest, readMs, null);
    if (mark === null) return { cursor: null, reason: 'the read returned no entries to take a modifyTimestamp from' };
    return { cursor: encodeChangeMark({ kind: 'timestamp', settings, mark }) };
  };

  const readEntries = async (options: FetchOptions): Promise<SnapshotBuilder> =>
    withClient(async (client) => {
      const started = Date.now();
      const before = await markBefore(client);
      const timestamps = new TimestampTracker();
      const stamped = before.server !== null && before.server.usn === null;
      const stamp = (entry: DirectoryEntry): DirectoryEntry => {
        if (stamped) timestamps.see(entry);
        return entry;
      };
      const builder = new SnapshotBuilder(id, mapping, { memberOf: config.groups === undefined ? 'use' : 'ignore' });
      // Each search's filter already selects users or groups by objectClass: its entries are added as
      // such, and objectClass itself is not fetched (an inetOrgPerson carries four values of it).
      const add = (kind: 'user' | 'group', entry: DirectoryEntry): void => {
        try {
          if (kind === 'user') builder.addUser(entry);
          else builder.addGroup(entry);
        } catch (error) {
          if (error instanceof EntryMappingError) throw mappingError(error);
          throw error;
        }
      };
      const marked = (attributes: string[]): string[] => (stamped ? [...attributes, 'modifyTimestamp'] : attributes);
      for await (const entries of search(client, config.users, userFilter, marked(userAttributes), config.pageSize, options.signal)) {
        for (const entry of entries) add('user', stamp(toDirectoryEntry(entry)));
        options.onProgress?.(builder.counts);
      }
      if (config.groups !== undefined) {
        log.info({ users: builder.counts.users }, 'users read, reading groups');
        for await (const entries of search(client, config.groups, groupFilter, marked(groupAttributes), config.groupPageSize, options.signal)) {
          for (const entry of entries) add('group', stamp(await withRanges(client, entry, mapping)));
          options.onProgress?.(builder.counts);
        }
      }
      lastMark = markAfter(before, timestamps, Date.now() - started);
      return builder;
    }, options.signal);

  const withRanges = async (client: Client, entry: Entry, m: AttributeMapping): Promise<DirectoryEntry> => {
    const ranged: [string, string[]][] = [];
    for (const attribute of m.memberDnAttributes) {
      if (!Object.keys(entry).some((k) => k.toLowerCase().startsWith(`${attribute.toLowerCase()};range=`))) continue;
      const values = await readRangedValues(entry, attribute, async (dn, attr) => {
        const result = await client.search(dn, { scope: 'base', attributes: [attr], timeLimit: config.timeouts.searchTimeLimitSeconds });
        return (result.searchEntries[0] ?? {}) as Record<string, unknown>;
      });
      ranged.push([attribute.toLowerCase(), values]);
    }
    const mapped = toDirectoryEntry(entry);
    if (ranged.length === 0) return mapped;
    return { dn: mapped.dn, attributes: new Map([...mapped.attributes, ...ranged]) };
  };

  const reader: LdapReader = {
    id,
    config,
    mapping,
    userAttributes,
    groupAttributes,
    userFilter,
    groupFilter,
    settings,
    log,
    withClient,
    search,
    withRanges: (client, entry) => withRanges(client, entry, mapping),
    toEntry: toDirectoryEntry,
    mappingError,
  };

  return {
    id,
    type: 'ldap',
    cursorName: 'change mark',
    check: checkByReadingWhole(read, mapping),
    fetchSnapshot: read,
    async currentCursor(): Promise<CursorResult> {
      return lastMark ?? { cursor: null, reason: blocker ?? 'the change mark is taken by a full read' };
    },
    async fetchChangesSince(stored: StoredSnapshotView, cursor: string, options: ReadOptions = {}) {
      return withClient((client) => readChanges(reader, client, stored, cursor, options), options.signal);
    },
    async close() {},
  };
}

/**
 * Requested for every user: the display name falls back to cn, which every person entry carries (the
 * builder's last resort, given name and surname, is used where an LDIF entry has no cn; asking the
 * server for both costs about a quarter more decoding for a name nearly no entry needs).
 */
const DISPLAY_NAME_FALLBACKS = ['cn'];

/** An ldapts entry → lower-cased attribute names without options (ranges are handled before). */
export function toDirectoryEntry(entry: Entry): DirectoryEntry {
  const attributes = new Map<string, AttributeValue[]>();
  for (const key in entry) {
    if (key === 'dn') continue;
    const value = entry[key];
    const name = attributeName(key);
    const values: unknown[] = Array.isArray(value) ? value : [value];
    // ldapts hands over strings unless asked for buffers: keep its array then, it is not used again.
    const list = allStrings(values) ? values : values.map(asAttributeValue);
    const existing = attributes.get(name);
    if (existing === undefined) attributes.set(name, list);
    else for (const v of list) existing.push(v);
  }
  return { dn: entry.dn, attributes };
}

/** Attribute names repeat on every entry: each plain one is lower-cased once (options, e.g. ranges, are dropped). */
const LOWER_NAMES = new Map<string, string>();

function attributeName(key: string): string {
  const known = LOWER_NAMES.get(key);
  if (known !== undefined) return known;
  const semicolon = key.indexOf(';');
  if (semicolon >= 0) return key.slice(0, semicolon).toLowerCase();
  const name = key.toLowerCase();
  if (LOWER_NAMES.size < 1000) LOWER_NAMES.set(key, name);
  return name;
}

function allStrings(values: unknown[]): values is string[] {
  for (let i = 0; i < values.length; i++) if (typeof values[i] !== 'string') return false;
  return true;
}

function asAttributeValue(value: unknown): AttributeValue {
  return typeof value === 'string' ? value : Buffer.isBuffer(value) ? new Uint8Array(value) : String(value);
}

function unique(list: readonly (string | null | undefined)[]): string[] {
  return [...new Set(list.filter((a): a is string => a !== null && a !== undefined))];
}
