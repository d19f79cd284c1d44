import { readFileSync } from 'node:fs';
import type { DirectoryGroup, DirectorySnapshot, DirectoryUser } from '../../src/core/model.js';
import { InconsistentEventStream, toUser } from './apply-events.js';
import { readEvents } from './incremental-read.js';
import { parseEvents, parseEventToken, type EventTokenAnswer } from './events-xml.js';
import { DirbridgeError } from '../../src/errors.js';
import type { ChangesResult, ConnectorContext, CursorResult, FetchOptions, IncrementalConnector, ReadOptions, StoredSnapshotView } from '../../src/ports/directory-connector.js';
import { resolveConfigPath } from '../shared/paths.js';
import type { CrowdConfig } from './config.js';
import { createCrowdClient, CrowdHttpError, encodePathSegment, type CrowdClient, type Params } from './crowd-client.js';
import { parseMemberships } from './membership-xml.js';

interface CrowdUser {
  name?: string;
  key?: string;
  active?: boolean;
  email?: string;
  'display-name'?: string;
  'first-name'?: string;
  'last-name'?: string;
}

interface CrowdGroup {
  name?: string;
  active?: boolean;
}

export const USER_AGENT = 'dirbridge/0.1 (+directory sync)';

/**
 * Atlassian Crowd over its REST API, as an application. A full read: users and groups by paged
 * search (expanded), memberships from the bulk XML document (per-group reads when the server has no
 * such endpoint), nesting left to the core. Identity is the user `key` when Crowd gives one, else the
 * name; `active: false` is disabled. Inactive groups grant nothing and are left out.
 */
export function openCrowdConnector(id: string, config: CrowdConfig, context: ConnectorContext): IncrementalConnector {
  const log = context.logger.child({ directory: id });
  if (!config.tls.rejectUnauthorized) log.error('tls.rejectUnauthorized is false: the Crowd server certificate is NOT verified');
  const client = createCrowdClient({
    directoryId: id,
    baseUrl: config.url,
    applicationName: config.application.name,
    applicationPassword: config.application.password,
    ...(config.tls.caFile === undefined ? {} : { ca: readFileSync(resolveConfigPath(context.baseDir, config.tls.caFile)) }),
    rejectUnauthorized: config.tls.rejectUnauthorized,
    timeoutMs: config.timeouts.requestSeconds * 1000,
    retries: config.retries.max,
    baseDelayMs: config.retries.baseDelayMs,
    concurrency: config.concurrency,
    userAgent: USER_AGENT,
    onRetry: (info) => log.warn(info, 'retrying a Crowd request'),
  });

  const read = async (options: FetchOptions & { firstPageOnly?: boolean } = {}) => {
    try {
      return await readAll(options);
    } catch (error) {
      options.signal?.throwIfAborted();
      throw wrapResponse(id, error);
    }
  };

  const readAll = async (options: FetchOptions & { firstPageOnly?: boolean }) => {
    const users: DirectoryUser[] = [];
    const byName = new Map<string, string>();
    const list = { pageSize: config.pageSize, firstOnly: options.firstPageOnly === true, ...(options.signal === undefined ? {} : { signal: options.signal }) };
    for await (const page of pages<CrowdUser>(client, 'search', { 'entity-type': 'user', expand: 'user' }, 'user', list)) {
      for (const u of page) {
        const user = userFromJson(id, u);
        if (byName.has(user.username.toLowerCase())) throw incomplete(id, `the user ${user.username} came back twice: the user list changed while it was paged`);
        byName.set(user.username.toLowerCase(), user.externalId);
        users.push(user);
      }
      options.onProgress?.({ users: users.length, groups: 0 });
    }
    const groups: CrowdGroup[] = [];
    for await (const page of pages<CrowdGroup>(client, 'search', { 'entity-type': 'group', expand: 'group' }, 'group', list)) {
      groups.push(...page.filter((g) => typeof g.name === 'string' && g.active !== false));
    }
    return { users, groups, byName };
  };

  /**
   * Direct members of each group (keyed by lower-cased name): users as their externalIds, looked up in
   * `byName` as each membership streams in, so that the member names the document spells (three million
   * strings at a million users) are never held; a name no user of the read has is left out.
   */
  const memberships = async (groups: readonly CrowdGroup[], byName: ReadonlyMap<string, string>, signal: AbortSignal | undefined): Promise<Map<string, { users: string[]; groups: string[] }>> => {
    const out = new Map<string, { users: string[]; groups: string[] }>();
    const opts = signal === undefined ? {} : { signal };
    const userIds = (names: readonly string[]): string[] => {
      const ids: string[] = [];
      for (const name of names) {
        const externalId = byName.get(name.toLowerCase());
        if (externalId !== undefined) ids.push(externalId);
      }
      return ids;
    };
    try {
      for await (const m of parseMemberships(await client.getXml('group/membership', {}, opts))) out.set(m.group.toLowerCase(), { users: userIds(m.users), groups: m.groups });
      return out;
    } catch (error) {
      signal?.throwIfAborted();
      if (!(error instanceof CrowdHttpError && error.status === 404)) throw wrapResponse(id, error);
      log.info('no bulk membership endpoint (Crowd REST < 1.1): reading members group by group');
    }
    await Promise.all(
      groups.map(async (g) => {
        const name = String(g.name);
        const users: string[] = [];
        const children: string[] = [];
        const list = { pageSize: config.pageSize, firstOnly: false, ...opts };
        for await (const page of pages<{ name?: string }>(client, 'group/user/direct', { groupname: name }, 'user', list)) users.push(...userIds(page.flatMap((u) => (u.name === undefined ? [] : [u.name]))));
        for await (const page of pages<{ name?: string }>(client, 'group/child-group/direct', { groupname: name }, 'group', list)) children.push(...page.flatMap((c) => (c.name === undefined ? [] : [c.name])));
        out.set(name.toLowerCase(), { users, groups: children });
      }),
    );
    return out;
  };

  return {
    id,
    type: 'crowd',
    cursorName: 'event token',
    async check() {
      const { users, groups } = await read({ firstPageOnly: true });
      return {
        users: users.length,
        groups: groups.length,
        partial: true,
        sampleUser: users[0] ?? null,
        mapping: { externalId: 'key (else name)', username: 'name', email: 'email', displayName: 'display-name', disabled: 'active: false', members: 'GET /group/membership' },
      };
    },
    async fetchSnapshot(options?: FetchOptions): Promise<DirectorySnapshot> {
      const { users, groups, byName } = await read(options);
      const members = await memberships(groups, byName, options?.signal);
      const known = new Set(groups.map((g) => String(g.name).toLowerCase()));
      const snapshotGroups: DirectoryGroup[] = groups.map((g) => {
        const m = members.get(String(g.name).toLowerCase()) ?? { users: [], groups: [] };
        return {
          id: String(g.name).toLowerCase(),
          name: String(g.name),
          memberUserIds: m.users,
          memberGroupIds: m.groups.map((c) => c.toLowerCase()).filter((c) => known.has(c)),
        };
      });
      options?.onProgress?.({ users: users.length, groups: snapshotGroups.length });
      return { directoryId: id, users, groups: snapshotGroups };
    },
    /**
     * The token is needed only by the next incremental run: any answer that yields none (no event API,
     * an HTML page, a 5xx after the retries, a permission refused) is "no token" with the reason, never
     * a failed read. Only wrong application credentials and an abort are errors.
     */
    async currentCursor(options: ReadOptions = {}): Promise<CursorResult> {
      let answer: EventTokenAnswer;
      try {
        const document = await client.getDocument('event', options);
        answer = document.kind === 'json' ? (document.body as EventTokenAnswer) : parseEventToken(document.text);
      } catch (error) {
        options.signal?.throwIfAborted();
        if (error instanceof DirbridgeError && error.code === 'ERR_CROWD_AUTH') throw error;
        return { cursor: null, reason: noTokenReason(error) };
      }
      if (answer.incrementalSynchronisationAvailable === false) return { cursor: null, reason: 'Crowd reports that incremental synchronisation is not available' };
      if (answer.incrementalSynchronisationAvailable !== true) return { cursor: null, reason: 'Crowd does not guarantee incremental synchronisation (no incrementalSynchronisationAvailable flag)' };
      if (typeof answer.newEventToken !== 'string' || answer.newEventToken === '') return { cursor: null, reason: 'Crowd gave no event token' };
      return { cursor: answer.newEventToken };
    },
    async fetchChangesSince(stored: StoredSnapshotView, cursor: string, options: ReadOptions = {}): Promise<ChangesResult> {
      let list;
      try {
        // The token goes out as Crowd issued it: its ":" stays a ":" (a server that does not decode %3A answers 410).
        list = await parseEvents(await client.getXml(`event/${encodePathSegment(cursor)}`, {}, options));
      } catch (error) {
        options.signal?.throwIfAborted();
        if (error instanceof CrowdHttpError && error.status === 410) return { kind: 'full-sync-needed', reason: `the event token expired (${error.reason ?? 'HTTP 410'})` };
        if (error instanceof CrowdHttpError && error.status === 404) return { kind: 'full-sync-needed', reason: 'Crowd has no event API (REST < 1.2)' };
        if (error instanceof CrowdHttpError && error.reason === 'INCREMENTAL_SYNC_NOT_AVAILABLE') return { kind: 'full-sync-needed', reason: 'Crowd reports that incremental synchronisation is not available' };
        if (error instanceof Error && !(error instanceof CrowdHttpError) && !(error instanceof DirbridgeError)) return { kind: 'full-sync-needed', reason: `the event document is malformed (${error.message})` };
        throw wrapResponse(id, error);
      }
      if (list.newEventToken === null) return { kind: 'full-sync-needed', reason: 'the event list carries no new event token' };
      try {
        const read = await readEvents(id, stored, list.events);
        return { kind: 'changes', changes: { snapshot: read.snapshot, rows: read.rows, cursor: list.newEventToken, affectedUserIds: read.affected, changes: list.events.length, userDelta: read.userDelta, previousUsernames: read.previousUsernames } };
      } catch (error) {
        if (error instanceof InconsistentEventStream) return { kind: 'full-sync-needed', reason: `the event stream does not fit the last snapshot: ${error.message}` };
        throw error;
      }
    },
    async close() {
      client.close();
    },
  };
}

/**
 * Pages a Crowd list until it is exhausted: an empty page, or a page shorter than the first one, ends
 * it. (Not "shorter than max-results": a server that caps max-results below our page size would then
 * look finished after one page; the price is one extra request for a list that fits one page.) Both list keys are accepted (`users` and Atlassian's
 * newer samples' singular `user`).
 */
async function* pages<T>(client: CrowdClient, path: string, params: Params, kind: 'user' | 'group', paging: { pageSize: number; firstOnly: boolean; signal?: AbortSignal }): AsyncGenerator<T[]> {
  const { pageSize, firstOnly } = paging;
  let start = 0;
  let firstLength: number | null = null;
  for (;;) {
    const body = await client.getJson<Record<string, unknown>>(path, { ...params, 'start-index': start, 'max-results': pageSize }, paging);
    const list = body[`${kind}s`] ?? body[kind];
    if (!Array.isArray(list)) throw new DirbridgeError('ERR_CROWD_RESPONSE', `${client.where}: GET ${path} returned no "${kind}s" list`);
    if (list.length > 0) yield list as T[];
    firstLength ??= list.length;
    if (firstOnly || list.length === 0 || list.length < firstLength) return;
    start += list.length;
  }
}

function userFromJson(directoryId: string, u: CrowdUser): DirectoryUser {
  if (typeof u.name !== 'string' || u.name === '') throw incomplete(directoryId, 'a user without a name in a search result');
  const display = u['display-name'] ?? [u['first-name'], u['last-name']].filter(Boolean).join(' ');
  return toUser({
    name: u.name,
    ...(typeof u.key === 'string' ? { key: u.key } : {}),
    ...(typeof u.active === 'boolean' ? { active: u.active } : {}),
    ...(typeof u.email === 'string' ? { email: u.email } : {}),
    displayName: display,
  });
}

function noTokenReason(error: unknown): string {
  if (error instanceof CrowdHttpError && error.status === 404) return 'Crowd has no event API (REST < 1.2)';
  if (error instanceof DirbridgeError && error.code === 'ERR_CROWD_PERMISSION') return `the application may not read events: ${error.message}`;
  if (error instanceof DirbridgeError || error instanceof CrowdHttpError) return error.message;
  return `GET event answered neither JSON nor an <events> document (a proxy or login page in the way?)`;
}

function incomplete(directoryId: string, why: string): DirbridgeError {
  return new DirbridgeError('ERR_CROWD_RESPONSE', `directory ${directoryId}: ${why}; the read is incomplete`);
}

function wrapResponse(directoryId: string, error: unknown): DirbridgeError {
  if (error instanceof DirbridgeError) return error;
  if (error instanceof CrowdHttpError) return new DirbridgeError('ERR_CROWD_RESPONSE', error.message, { cause: error });
  return new DirbridgeError('ERR_CROWD_RESPONSE', `directory ${directoryId}: the membership document is malformed (${(error as Error).message})`, { cause: error });
}
