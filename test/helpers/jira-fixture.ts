import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

/**
 * A Jira REST API 2 fixture (`/jira/rest/api/2`, Jira under a context path) serving the two resources
 * dirbridge reads, in Atlassian's documented shapes:
 * - `GET applicationrole`: a JSON array of application roles (key, name, groups, defaultGroups,
 *   selectedByDefault, defined, numberOfSeats, remainingSeats, userCount, userCountDescription,
 *   hasUnlimitedSeats, platform); needs an administrator (403 otherwise).
 * - `GET group/member?groupname&includeInactiveUsers&startAt&maxResults`: a page `{self, nextPage,
 *   maxResults, startAt, total, isLast, values}` of users (self, key, name, emailAddress, avatarUrls,
 *   displayName, active, timeZone), ordered by username, maxResults capped at 50; an unknown group is a
 *   404 with Jira's error entity `{errorMessages, errors}`.
 * Authentication: a personal access token as a bearer, or HTTP Basic; anything else is a 401 with
 * Jira's error entity. Faults: 5xx bursts, Jira down (every request 503), a slow mode (the answer comes
 * after `latencyMs`), an older Jira without application roles (404), a token refused (401), a user
 * without administrator permission (403), a proxy that echoes the credential in its error (400).
 */
export interface JiraFixtureUser {
  name: string;
  email?: string;
  displayName?: string;
  active?: boolean;
}

export interface JiraFixtureApplication {
  key: string;
  name: string;
  groups: string[];
  defaultGroups: string[];
  /** -1 with hasUnlimitedSeats, as Jira reports an unlimited licence. */
  numberOfSeats: number;
  hasUnlimitedSeats?: boolean;
}

export interface JiraFixture {
  /** Base URL with the context path, as licensing.jira.url takes it. */
  readonly url: string;
  readonly users: JiraFixtureUser[];
  /** Group name → member usernames. */
  readonly groups: Map<string, string[]>;
  readonly applications: JiraFixtureApplication[];
  /** Method and path with query of every request, in order. */
  readonly requests: string[];
  /** The Authorization header of every request (to check what was sent; never printed). */
  readonly authorizations: string[];
  readonly faults: {
    /** The next N requests answer 503. */
    failNext: number;
    /** Every request answers 503 (Jira down). */
    down: boolean;
    /** Every answer waits this long first (slow mode). */
    latencyMs: number;
    /** No application roles (Jira older than 7.0): applicationrole answers 404. */
    noApplicationRoles: boolean;
    /** The credential is refused: 401. */
    unauthorized: boolean;
    /** The account is not an administrator: applicationrole answers 403. */
    notAdmin: boolean;
    /** A misbehaving proxy: every request answers 400 with the Authorization header it got in the error entity. */
    echoCredential: boolean;
    /** A single sign-on front that redirects API calls to a login page (302). */
    redirectToLogin: boolean;
  };
  close(): Promise<void>;
}

export const JIRA_TOKEN = 'jira-PAT-S3NTINEL-7c41d9e2aa';
export const JIRA_USER = 'svc-dirbridge';
export const JIRA_PASSWORD = 'jira-pw-S3NTINEL-91b3';
const PREFIX = '/jira/rest/api/2/';
const MAX_PAGE = 50;

export async function startJiraFixture(data: { users: JiraFixtureUser[]; groups: Record<string, string[]>; applications: JiraFixtureApplication[] }): Promise<JiraFixture> {
  const requests: string[] = [];
  const authorizations: string[] = [];
  const faults: JiraFixture['faults'] = { failNext: 0, down: false, latencyMs: 0, noApplicationRoles: false, unauthorized: false, notAdmin: false, echoCredential: false, redirectToLogin: false };
  const users = data.users;
  const groups = new Map(Object.entries(data.groups));
  const applications = data.applications;
  let base = '';

  const authorized = (req: IncomingMessage): boolean => {
    const header = req.headers.authorization ?? '';
    if (header === `Bearer ${JIRA_TOKEN}`) return true;
    return header === `Basic ${Buffer.from(`${JIRA_USER}:${JIRA_PASSWORD}`).toString('base64')}`;
  };

  const userJson = (u: JiraFixtureUser) => ({
    self: `${base}${PREFIX}user?username=${encodeURIComponent(u.name)}`,
    key: `JIRAUSER${[...u.name].reduce((n, c) => (n * 31 + c.charCodeAt(0)) % 100000, 7)}`,
    name: u.name,
    emailAddress: u.email ?? `${u.name}@example.com`,
    avatarUrls: { '48x48': `${base}/jira/secure/useravatar?avatarId=10122` },
    displayName: u.displayName ?? u.name,
    active: u.active !== false,
    timeZone: 'Europe/Berlin',
  });

  const activeMembers = (group: string): JiraFixtureUser[] =>
    (groups.get(group) ?? []).map((name) => users.find((u) => u.name === name)).filter((u): u is JiraFixtureUser => u !== undefined && u.active !== false);

  const roleJson = (app: JiraFixtureApplication) => {
    const counted = new Set(app.groups.flatMap((g) => activeMembers(g).map((u) => u.name)));
    const unlimited = app.hasUnlimitedSeats === true;
    return {
      key: app.key,
      groups: [...app.groups],
      name: app.name,
      defaultGroups: [...app.defaultGroups],
      selectedByDefault: false,
      defined: true,
      numberOfSeats: unlimited ? -1 : app.numberOfSeats,
      remainingSeats: unlimited ? -1 : app.numberOfSeats - counted.size,
      userCount: counted.size,
      userCountDescription: `${counted.size} users`,
      hasUnlimitedSeats: unlimited,
      platform: app.key === 'jira-core',
    };
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', base);
    if (faults.down || faults.failNext > 0) {
      if (faults.failNext > 0) faults.failNext--;
      res.writeHead(503, { 'Content-Type': 'text/html' });
      res.end('<html><body>Service Unavailable</body></html>');
      return;
    }
    if (faults.redirectToLogin) {
      res.writeHead(302, { Location: `${base}/jira/login.jsp?os_destination=${encodeURIComponent(url.pathname)}` });
      res.end();
      return;
    }
    if (faults.echoCredential) return jsonAnswer(res, 400, { errorMessages: [`bad request header: ${req.headers.authorization ?? ''}`], errors: {} });
    if (!url.pathname.startsWith(PREFIX)) return jsonAnswer(res, 404, { message: `null for uri: ${url.href}`, 'status-code': 404 });
    if (faults.unauthorized || !authorized(req)) {
      res.setHeader('X-Seraph-LoginReason', 'AUTHENTICATED_FAILED');
      return jsonAnswer(res, 401, { errorMessages: ['You are not authenticated. Authentication required to perform this operation.'], errors: {} });
    }
    const resource = url.pathname.slice(PREFIX.length);
    if (resource === 'applicationrole' && req.method === 'GET') {
      if (faults.noApplicationRoles) return jsonAnswer(res, 404, { message: `null for uri: ${url.href}`, 'status-code': 404 });
      if (faults.notAdmin) return jsonAnswer(res, 403, { errorMessages: ['You are not authorized to perform this operation. Administrator privileges are required.'], errors: {} });
      return jsonAnswer(res, 200, applications.map(roleJson));
    }
    if (resource === 'group/member' && req.method === 'GET') {
      const name = url.searchParams.get('groupname') ?? '';
      if (!groups.has(name)) return jsonAnswer(res, 404, { errorMessages: [`The group '${name}' does not exist.`], errors: {} });
      const inactiveToo = url.searchParams.get('includeInactiveUsers') === 'true';
      const startAt = Math.max(0, Number(url.searchParams.get('startAt') ?? 0) || 0);
      const maxResults = Math.min(MAX_PAGE, Math.max(1, Number(url.searchParams.get('maxResults') ?? MAX_PAGE) || MAX_PAGE));
      const all = (inactiveToo ? (groups.get(name) ?? []).map((n) => users.find((u) => u.name === n)).filter((u): u is JiraFixtureUser => u !== undefined) : activeMembers(name)).sort((a, b) =>
        a.name.localeCompare(b.name),
      );
      const page = all.slice(startAt, startAt + maxResults);
      const isLast = startAt + page.length >= all.length;
      const self = `${base}${PREFIX}group/member?groupname=${encodeURIComponent(name)}&includeInactiveUsers=${inactiveToo}&startAt=${startAt}&maxResults=${maxResults}`;
      const next = `${base}${PREFIX}group/member?groupname=${encodeURIComponent(name)}&includeInactiveUsers=${inactiveToo}&startAt=${startAt + maxResults}&maxResults=${maxResults}`;
      return jsonAnswer(res, 200, { self, ...(isLast ? {} : { nextPage: next }), maxResults, startAt, total: all.length, isLast, values: page.map(userJson) });
    }
    jsonAnswer(res, 404, { message: `null for uri: ${url.href}`, 'status-code': 404 });
  };

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    requests.push(`${req.method ?? 'GET'} ${req.url ?? ''}`);
    authorizations.push(req.headers.authorization ?? '');
    if (faults.latencyMs > 0) setTimeout(() => handle(req, res), faults.latencyMs);
    else handle(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/jira`,
    users,
    groups,
    applications,
    requests,
    authorizations,
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function jsonAnswer(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'Content-Type': 'application/json;charset=UTF-8' });
  res.end(JSON.stringify(body));
}

/**
 * Jira's side of a small company: agents in jira-servicedesk-users (its default group), developers in
 * jira-software-users, and one customer (`cust-dev`) who is also in jira-software-users.
 */
export function sampleJira(): { users: JiraFixtureUser[]; groups: Record<string, string[]>; applications: JiraFixtureApplication[] } {
  return {
    users: [{ name: 'agent.smith' }, { name: 'dev.one' }, { name: 'dev.gone', active: false }, { name: 'cust-dev' }, { name: 'partner.pat' }],
    groups: {
      'jira-servicedesk-users': ['agent.smith'],
      'jira-software-users': ['dev.one', 'dev.gone', 'cust-dev'],
      'jira-administrators': ['agent.smith'],
      partners: ['partner.pat'],
    },
    applications: [
      { key: 'jira-servicedesk', name: 'Jira Service Management', groups: ['jira-servicedesk-users', 'jira-administrators'], defaultGroups: ['jira-servicedesk-users'], numberOfSeats: 10 },
      { key: 'jira-software', name: 'Jira Software', groups: ['jira-software-users', 'jira-administrators'], defaultGroups: ['jira-software-users'], numberOfSeats: 25 },
      { key: 'jira-core', name: 'Jira Core', groups: [], defaultGroups: [], numberOfSeats: -1, hasUnlimitedSeats: true },
    ],
  };
}
