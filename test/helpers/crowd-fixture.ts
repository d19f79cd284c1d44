import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Crowd REST fixture (`/crowd/rest/usermanagement/1`) serving an in-memory directory, faithful to
 * the reference: application Basic auth (401 with a Basic challenge and no JSON body), JSON by
 * default and XML for /group/membership, minimal entities unless expanded, start-index/max-results
 * paging with no total, Crowd's error entity, 404 without a body for endpoints an old server lacks.
 * Fault injection: 5xx bursts, connection resets, latency, a max-results cap, singular list keys, GET
 * /event in XML or HTML, a token path that is not percent-decoded.
 */
export interface FixtureUser {
  name: string;
  key?: string;
  active?: boolean;
  email?: string;
  displayName?: string;
}

export interface FixtureGroup {
  name: string;
  active?: boolean;
  users: string[];
  groups: string[];
}

export interface CrowdFixture {
  readonly url: string;
  readonly users: FixtureUser[];
  readonly groups: FixtureGroup[];
  readonly requests: string[];
  readonly faults: {
    /** The next N requests answer 503. */
    failNext: number;
    /** The next N requests have their connection destroyed. */
    resetNext: number;
    latencyMs: number;
    maxResultsCap: number | null;
    singularKeys: boolean;
    noBulkMembership: boolean;
    forbidden: boolean;
    /** GET /event answers incrementalSynchronisationAvailable: false. */
    incrementalUnavailable: boolean;
    /** No event API at all (404), as on Crowd REST < 1.2. */
    noEvents: boolean;
    /** How GET /event answers: JSON (the default), XML whatever was asked for (as some versions do), or an HTML page. */
    eventFormat: 'json' | 'xml' | 'html';
    /** A server (or proxy) that does not decode the token's path segment: `42%3A7` is then an unknown token (410). */
    literalTokenPath: boolean;
    /** The application's permission on the directory is read-only: every write answers 403 APPLICATION_PERMISSION_DENIED. */
    readOnly: boolean;
  };
  /** Directory changes, each recorded as the event Crowd would emit. */
  readonly change: {
    createUser(user: FixtureUser, groups: string[]): void;
    updateUser(name: string, changes: Partial<FixtureUser>): void;
    deleteUser(name: string): void;
    addMember(group: string, user: string): void;
    removeMember(group: string, user: string): void;
    createGroup(name: string, users: string[]): void;
    nestGroup(child: string, parent: string): void;
    unnestGroup(child: string, parent: string): void;
    /** Deletes a group (its memberships and nesting go with it). */
    deleteGroup(name: string): void;
    /** Records an event that does not fit the directory (Crowd's CWD-3188 case). */
    bogusEvent(): void;
  };
  /** Forgets the event history: older tokens answer 410 EVENT_TOKEN_EXPIRED. */
  expireEvents(): void;
  close(): Promise<void>;
}

export const APP_NAME = 'dirbridge';
export const APP_PASSWORD = 'crowd-S3NTINEL-55e1';
const PREFIX = '/crowd/rest/usermanagement/1/';

export async function startCrowdFixture(data: { users: FixtureUser[]; groups: FixtureGroup[] }): Promise<CrowdFixture> {
  const requests: string[] = [];
  const faults: CrowdFixture['faults'] = { failNext: 0, resetNext: 0, latencyMs: 0, maxResultsCap: null, singularKeys: false, noBulkMembership: false, forbidden: false, incrementalUnavailable: false, noEvents: false, eventFormat: 'json', literalTokenPath: false, readOnly: false };
  const TOKEN_BASE = '8047511070899496297';
  const events: string[] = []; // events[n] leads from token n to token n + 1
  let expiredBefore = 0;
  const esc = (text: string): string => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  const userXml = (u: FixtureUser): string =>
    `<user name="${esc(u.name)}"><first-name></first-name><last-name></last-name><display-name>${esc(u.displayName ?? '')}</display-name><email>${esc(u.email ?? '')}</email>${u.key === undefined ? '' : `<key>${esc(u.key)}</key>`}<active>${String(u.active ?? true)}</active></user>`;
  const groupsXml = (tag: string, names: string[]): string => `<${tag}>${names.map((n) => `<group name="${esc(n)}"/>`).join('')}</${tag}>`;
  const record = (xml: string): void => {
    events.push(xml);
  };
  const fixture = { users: data.users, groups: data.groups, requests, faults };
  let base = '';

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://fixture');
    requests.push(`${req.method ?? 'GET'} ${url.pathname.replace(PREFIX, '')}${url.search}`);
    if (faults.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, faults.latencyMs));
    if (faults.resetNext > 0) {
      faults.resetNext--;
      req.socket.destroy();
      return;
    }
    if (faults.failNext > 0) {
      faults.failNext--;
      return json(res, 503, { reason: 'OPERATION_FAILED', message: 'injected failure' });
    }
    const expected = `Basic ${Buffer.from(`${APP_NAME}:${APP_PASSWORD}`).toString('base64')}`;
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="Crowd REST Service"', 'Content-Type': 'text/plain' });
      res.end('Application failed to authenticate');
      return;
    }
    if (faults.forbidden) return json(res, 403, { reason: 'APPLICATION_ACCESS_DENIED', message: 'Client with address "127.0.0.1" is forbidden from making requests to the application' });
    if (!url.pathname.startsWith(PREFIX)) return notFound(res);
    const path = url.pathname.slice(PREFIX.length);
    const q = url.searchParams;
    const start = Number(q.get('start-index') ?? 0);
    const requested = Number(q.get('max-results') ?? 1000);
    const max = faults.maxResultsCap === null ? requested : Math.min(requested, faults.maxResultsCap);
    const page = <T>(list: T[]): T[] => list.slice(start, start + max);
    const self = (kind: string, name: string) => ({ rel: 'self', href: `${base}${PREFIX}${kind}?${kind === 'user' ? 'username' : 'groupname'}=${encodeURIComponent(name)}` });
    const userEntity = (u: FixtureUser, expand: boolean) =>
      expand
        ? { expand: 'attributes', link: self('user', u.name), name: u.name, key: u.key, active: u.active ?? true, email: u.email, 'display-name': u.displayName, 'first-name': '', 'last-name': '' }
        : { link: self('user', u.name), name: u.name };
    const groupEntity = (g: FixtureGroup, expand: boolean) =>
      expand ? { expand: 'attributes', link: self('group', g.name), name: g.name, description: '', type: 'GROUP', active: g.active ?? true } : { link: self('group', g.name), name: g.name };
    const list = (kind: 'user' | 'group', items: unknown[]) => ({ expand: kind, [faults.singularKeys ? kind : `${kind}s`]: items });
    const findGroup = (name: string | null) => fixture.groups.find((g) => g.name.toLowerCase() === (name ?? '').toLowerCase());

    if (req.method === 'POST') return handleWrite(path, q, await readBody(req), res);
    switch (path) {
      case 'user': {
        const name = q.get('username');
        const u = name === null ? undefined : fixture.users.find((x) => x.name.toLowerCase() === name.toLowerCase());
        if (u === undefined) return json(res, 404, { reason: 'USER_NOT_FOUND', message: `User <${name ?? ''}> does not exist` });
        return json(res, 200, userEntity(u, true));
      }
      case 'search': {
        const type = q.get('entity-type')?.toLowerCase();
        if (type === undefined) return json(res, 400, { reason: 'ILLEGAL_ARGUMENT', message: 'entity-type query parameter required.' });
        const expand = (q.get('expand') ?? '').split(',');
        res.setHeader('Cache-Control', 'no-cache');
        if (type === 'user') return json(res, 200, list('user', page(fixture.users).map((u) => userEntity(u, expand.includes('user')))));
        if (type === 'group') return json(res, 200, list('group', page(fixture.groups).map((g) => groupEntity(g, expand.includes('group')))));
        return json(res, 400, { reason: 'ILLEGAL_ARGUMENT', message: `Unknown type: ${type}` });
      }
      case 'group/membership': {
        if (faults.noBulkMembership) return notFound(res);
        const body = fixture.groups
          .map((g) => `<membership group="${esc(g.name)}"><users>${g.users.map((u) => `<user name="${esc(u)}"/>`).join('')}</users><groups>${g.groups.map((c) => `<group name="${esc(c)}"/>`).join('')}</groups></membership>`)
          .join('');
        res.writeHead(200, { 'Content-Type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><memberships>${body}</memberships>`);
        return;
      }
      case 'group/user/direct':
      case 'group/child-group/direct': {
        const group = findGroup(q.get('groupname'));
        if (group === undefined) return json(res, 404, { reason: 'GROUP_NOT_FOUND', message: `Group <${q.get('groupname') ?? ''}> does not exist` });
        if (path === 'group/user/direct') return json(res, 200, list('user', page(group.users).map((name) => ({ link: self('user', name), name }))));
        return json(res, 200, list('group', page(group.groups).map((name) => ({ link: self('group', name), name }))));
      }
      case 'event': {
        if (faults.noEvents) return notFound(res);
        const current = faults.incrementalUnavailable ? { incrementalSynchronisationAvailable: false } : { incrementalSynchronisationAvailable: true, newEventToken: `${TOKEN_BASE}:${events.length}` };
        if (faults.eventFormat === 'json') return json(res, 200, current);
        if (faults.eventFormat === 'html') {
          res.writeHead(200, { 'Content-Type': 'text/html' });
          res.end('<html><body>Single sign-on: please log in</body></html>');
          return;
        }
        const attributes = Object.entries(current).map(([k, v]) => `${k}="${esc(String(v))}"`).join(' ');
        res.writeHead(200, { 'Content-Type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><events ${attributes}/>`);
        return;
      }
      default: {
        if (!path.startsWith('event/')) return notFound(res);
        if (faults.noEvents) return notFound(res);
        const segment = path.slice('event/'.length);
        const match = /^(\d+):(\d+)$/.exec(faults.literalTokenPath ? segment : decodeURIComponent(segment));
        const from = match === null || match[1] !== TOKEN_BASE ? -1 : Number(match[2]);
        if (from < expiredBefore || from > events.length) {
          res.writeHead(410, { 'Content-Type': 'application/xml' });
          res.end('<?xml version="1.0"?><error><reason>EVENT_TOKEN_EXPIRED</reason><message>Event token not recognised or has expired</message></error>');
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><events newEventToken="${TOKEN_BASE}:${events.length}">${events.slice(from).join('')}</events>`);
        return;
      }
    }
  };

  /**
   * Writes as an application with Read/Write permission (or refused in read-only mode), per Crowd's user
   * resource: POST /user (201, Location; 400 INVALID_USER when it exists or lacks a name or password),
   * POST /user/group/direct?username= with {"name": group} (201; 404 USER_NOT_FOUND; 400 GROUP_NOT_FOUND;
   * 409 MEMBERSHIP_ALREADY_EXISTS). Each change is recorded as the event Crowd would emit.
   */
  let nextKey = 0x9000;
  const handleWrite = (path: string, q: URLSearchParams, body: unknown, res: ServerResponse): void => {
    if (faults.readOnly) return json(res, 403, { reason: 'APPLICATION_PERMISSION_DENIED', message: `Application '${APP_NAME}' does not have permission to modify this directory` });
    const entity = (body ?? {}) as Record<string, unknown>;
    if (path === 'user') {
      const name = typeof entity['name'] === 'string' ? entity['name'] : '';
      const password = (entity['password'] as { value?: unknown } | undefined)?.value;
      if (name === '' || typeof password !== 'string' || password === '') return json(res, 400, { reason: 'INVALID_USER', message: 'A user needs a name and a password' });
      if (byName.has(name) || fixture.users.some((u) => u.name.toLowerCase() === name.toLowerCase())) return json(res, 400, { reason: 'INVALID_USER', message: `User <${name}> already exists` });
      const created: FixtureUser = { name, key: `1:${(nextKey++).toString(16)}`, active: entity['active'] !== false, displayName: String(entity['display-name'] ?? '') };
      if (typeof entity['email'] === 'string') created.email = entity['email'];
      change.createUser(created, []);
      res.writeHead(201, { Location: `${base}${PREFIX}user?username=${encodeURIComponent(name)}` });
      res.end();
      return;
    }
    if (path === 'user/group/direct') {
      const name = q.get('username') ?? '';
      const u = fixture.users.find((x) => x.name.toLowerCase() === name.toLowerCase());
      if (u === undefined) return json(res, 404, { reason: 'USER_NOT_FOUND', message: `User <${name}> does not exist` });
      const g = fixture.groups.find((x) => x.name.toLowerCase() === String(entity['name'] ?? '').toLowerCase());
      if (g === undefined) return json(res, 400, { reason: 'GROUP_NOT_FOUND', message: `Group <${String(entity['name'] ?? '')}> does not exist` });
      if (g.users.includes(u.name)) return json(res, 409, { reason: 'MEMBERSHIP_ALREADY_EXISTS', message: `User <${u.name}> is already a direct member of <${g.name}>` });
      change.addMember(g.name, u.name);
      res.writeHead(201);
      res.end();
      return;
    }
    return notFound(res);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      res.statusCode = 500;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Users by name, kept in step by the change API (the benchmark changes thousands of a million users).
  const byName = new Map(fixture.users.map((u) => [u.name, u]));
  const user = (name: string): FixtureUser => {
    const found = byName.get(name);
    if (found === undefined) throw new Error(`fixture has no user ${name}`);
    return found;
  };
  const group = (name: string): FixtureGroup => {
    const found = fixture.groups.find((g) => g.name === name);
    if (found === undefined) throw new Error(`fixture has no group ${name}`);
    return found;
  };
  const change: CrowdFixture['change'] = {
    createUser: (u, groups) => {
      fixture.users.push(u);
      byName.set(u.name, u);
      record(`<userEvent><operation>CREATED</operation>${userXml(u)}<storedAttributes/><deletedAttributes/></userEvent>`);
      for (const g of groups) change.addMember(g, u.name);
    },
    updateUser: (name, changes) => {
      const u = user(name);
      const oldName = u.name;
      Object.assign(u, changes);
      if (u.name !== oldName) {
        byName.delete(oldName);
        byName.set(u.name, u);
        for (const g of fixture.groups) g.users = g.users.map((m) => (m === oldName ? u.name : m));
      }
      record(`<userEvent><operation>UPDATED</operation>${userXml(u)}<storedAttributes/><deletedAttributes/></userEvent>`);
    },
    deleteUser: (name) => {
      const u = user(name);
      fixture.users.splice(fixture.users.indexOf(u), 1);
      byName.delete(name);
      for (const g of fixture.groups) {
        const at = g.users.indexOf(name);
        if (at >= 0) g.users.splice(at, 1);
      }
      record(`<userEvent><operation>DELETED</operation><user name="${esc(name)}"/></userEvent>`);
    },
    addMember: (g, u) => {
      group(g).users.push(u);
      record(`<userMembershipEvent><operation>CREATED</operation><childUser name="${esc(u)}"/>${groupsXml('parentGroups', [g])}</userMembershipEvent>`);
    },
    removeMember: (g, u) => {
      group(g).users = group(g).users.filter((m) => m !== u);
      record(`<userMembershipEvent><operation>DELETED</operation><childUser name="${esc(u)}"/>${groupsXml('parentGroups', [g])}</userMembershipEvent>`);
    },
    createGroup: (name, users) => {
      fixture.groups.push({ name, users: [], groups: [] });
      record(`<groupEvent><operation>CREATED</operation><group name="${esc(name)}"><description/><type>GROUP</type><active>true</active></group></groupEvent>`);
      for (const u of users) change.addMember(name, u);
    },
    nestGroup: (child, parent) => {
      group(parent).groups.push(child);
      record(`<groupMembershipEvent><operation>CREATED</operation><group name="${esc(child)}"/>${groupsXml('parentGroups', [parent])}<childGroups/></groupMembershipEvent>`);
    },
    unnestGroup: (child, parent) => {
      group(parent).groups = group(parent).groups.filter((c) => c !== child);
      record(`<groupMembershipEvent><operation>DELETED</operation><group name="${esc(child)}"/>${groupsXml('parentGroups', [parent])}<childGroups/></groupMembershipEvent>`);
    },
    deleteGroup: (name) => {
      const g = group(name);
      fixture.groups.splice(fixture.groups.indexOf(g), 1);
      for (const other of fixture.groups) other.groups = other.groups.filter((c) => c !== name);
      record(`<groupEvent><operation>DELETED</operation><group name="${esc(name)}"/></groupEvent>`);
    },
    bogusEvent: () => {
      const g = fixture.groups[0] as FixtureGroup;
      record(`<userMembershipEvent><operation>CREATED</operation><childUser name="${esc(g.users[0] ?? '')}"/>${groupsXml('parentGroups', [g.name])}</userMembershipEvent>`);
    },
  };

  return {
    ...fixture,
    change,
    expireEvents: () => {
      expiredBefore = events.length;
    },
    url: `${base}/crowd`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function notFound(res: ServerResponse): void {
  res.writeHead(404);
  res.end();
}

/** A small company in Crowd: customers in nested groups (with a cycle), staff in a licensed group. */
export function sampleCrowdDirectory(users = 30): { users: FixtureUser[]; groups: FixtureGroup[] } {
  const list: FixtureUser[] = Array.from({ length: users }, (_, i) => ({
    name: `cust${String(i).padStart(3, '0')}`,
    key: `1:${(0x1000 + i).toString(16)}`,
    email: `cust${i}@example.org`,
    displayName: i === 0 ? 'Zoë Ünal' : `Customer ${i}`,
    active: i !== 3,
  }));
  list.push({ name: 'agent.smith', key: '1:agent', email: 'agent@example.com', displayName: 'Agent Smith' }, { name: 'nokey.user', email: 'nokey@example.org' });
  const names = list.map((u) => u.name);
  return {
    users: list,
    groups: [
      { name: 'helpdesk-customers', users: names.slice(0, 10), groups: ['emea-customers'] },
      { name: 'emea-customers', users: [...names.slice(10, 20), 'agent.smith'], groups: ['helpdesk-customers'] },
      { name: 'jira-servicedesk-users', users: ['agent.smith'], groups: [] },
      { name: 'old-customers', active: false, users: names.slice(20, 25), groups: [] },
      { name: 'everyone', users: names, groups: [] },
    ],
  };
}
