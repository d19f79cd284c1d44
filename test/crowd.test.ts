import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { crowdConfigSchema } from '../connectors/crowd/config.js';
import { openCrowdConnector, USER_AGENT } from '../connectors/crowd/crowd-connector.js';
import { resolveMemberships } from '../src/core/resolve-memberships.js';
import { DirbridgeError } from '../src/errors.js';
import { createLogger } from '../src/logger.js';
// The fixture runs in this process: CLI subprocesses must be awaited, never run synchronously.
import { makeWorkspace, runCliAsync } from './helpers/cli.js';
import { APP_NAME, APP_PASSWORD, sampleCrowdDirectory, startCrowdFixture, type CrowdFixture } from './helpers/crowd-fixture.js';

const logger = createLogger({ level: 'silent' });
const CROWD = 'https://crowd.test';
const API = '/crowd/rest/usermanagement/1';

const connector = (url: string, overrides: Record<string, unknown> = {}) =>
  openCrowdConnector(
    'crowd',
    crowdConfigSchema.parse({ type: 'crowd', url, application: { name: APP_NAME, password: APP_PASSWORD }, pageSize: 2, retries: { max: 2, baseDelayMs: 1 }, ...overrides }),
    { logger, baseDir: '/' },
  );

async function failure(promise: Promise<unknown>): Promise<DirbridgeError> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DirbridgeError);
  expect(JSON.stringify(error) + String((error as Error).message)).not.toContain(APP_PASSWORD);
  return error as DirbridgeError;
}

const crowdConfig = (url: string, password: string): string => `store: { url: "file:./store.db" }
directories:
  - id: crowd
    type: crowd
    url: ${url}
    application: { name: ${APP_NAME}, password: "${password}" }
    retries: { max: 4, baseDelayMs: 5 }
roles: { customer: { groups: [helpdesk-customers] } }
licensing: { licensedGroups: [jira-servicedesk-users] }
`;

const users = (names: string[], key = 'users') => ({ expand: 'user', [key]: names.map((name, i) => ({ name, key: `1:${name}`, active: i !== 1, email: `${name}@x.org`, 'display-name': name.toUpperCase() })) });
const groups = (names: string[], key = 'groups') => ({ expand: 'group', [key]: names.map((name) => ({ name, active: true, type: 'GROUP' })) });
const MEMBERSHIP = '<?xml version="1.0"?><memberships><membership group="customers"><users><user name="ann"/><user name="bob"/></users><groups><group name="emea"/></groups></membership><membership group="emea"><users><user name="cy"/></users><groups/></membership></memberships>';

describe('Crowd client and connector (nock)', () => {
  beforeAll(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());
  afterAll(() => nock.enableNetConnect());

  const search = (entity: 'user' | 'group', start: number) =>
    nock(CROWD, { reqheaders: { accept: 'application/json', authorization: `Basic ${Buffer.from(`${APP_NAME}:${APP_PASSWORD}`).toString('base64')}`, 'user-agent': USER_AGENT } })
      .get(`${API}/search`)
      .query({ 'entity-type': entity, expand: entity, 'start-index': String(start), 'max-results': '2' });

  it('pages users and groups (expanded), reads the XML membership document, and maps identities', async () => {
    search('user', 0).reply(200, users(['ann', 'bob']));
    search('user', 2).reply(200, users(['cy']));
    search('group', 0).reply(200, groups(['customers', 'emea']));
    search('group', 2).reply(200, groups([]));
    nock(CROWD, { reqheaders: { accept: 'application/xml' } }).get(`${API}/group/membership`).reply(200, MEMBERSHIP, { 'Content-Type': 'application/xml' });
    const snapshot = await connector(`${CROWD}/crowd`).fetchSnapshot();
    expect(snapshot.users.map((u) => [u.externalId, u.username, u.disabled, u.displayName])).toEqual([
      ['1:ann', 'ann', false, 'ANN'],
      ['1:bob', 'bob', true, 'BOB'],
      ['1:cy', 'cy', false, 'CY'],
    ]);
    expect(snapshot.groups).toEqual([
      { id: 'customers', name: 'customers', memberUserIds: ['1:ann', '1:bob'], memberGroupIds: ['emea'] },
      { id: 'emea', name: 'emea', memberUserIds: ['1:cy'], memberGroupIds: [] },
    ]);
    expect(nock.isDone()).toBe(true);
  });

  it('accepts the singular list keys of newer samples, and keeps paging when the server caps max-results', async () => {
    search('user', 0).reply(200, users(['ann'], 'user')); // capped at 1 although 2 were asked for
    search('user', 1).reply(200, users(['bob'], 'user'));
    search('user', 2).reply(200, users([], 'user'));
    search('group', 0).reply(200, groups([], 'group'));
    nock(CROWD).get(`${API}/group/membership`).reply(200, '<memberships/>');
    expect((await connector(`${CROWD}/crowd`).fetchSnapshot()).users.map((u) => u.username)).toEqual(['ann', 'bob']);
  });

  it('falls back to per-group member reads when the server has no bulk membership endpoint (404)', async () => {
    search('user', 0).reply(200, users(['ann']));
    search('user', 1).reply(200, users([]));
    search('group', 0).reply(200, groups(['customers']));
    search('group', 1).reply(200, groups([]));
    nock(CROWD).get(`${API}/group/membership`).reply(404);
    nock(CROWD).get(`${API}/group/user/direct`).query({ groupname: 'customers', 'start-index': '0', 'max-results': '2' }).reply(200, { users: [{ name: 'ann' }] });
    nock(CROWD).get(`${API}/group/user/direct`).query({ groupname: 'customers', 'start-index': '1', 'max-results': '2' }).reply(200, { users: [] });
    nock(CROWD).get(`${API}/group/child-group/direct`).query({ groupname: 'customers', 'start-index': '0', 'max-results': '2' }).reply(200, { groups: [] });
    const snapshot = await connector(`${CROWD}/crowd`).fetchSnapshot();
    expect(snapshot.groups).toEqual([{ id: 'customers', name: 'customers', memberUserIds: ['1:ann'], memberGroupIds: [] }]);
    expect(nock.isDone()).toBe(true);
  });

  it('retries 5xx answers with backoff, then succeeds', async () => {
    search('user', 0).reply(503, { reason: 'OPERATION_FAILED', message: 'busy' });
    search('user', 0).reply(502, '<html>Bad gateway</html>');
    search('user', 0).reply(200, users([]));
    search('group', 0).reply(200, groups([]));
    nock(CROWD).get(`${API}/group/membership`).reply(200, '<memberships/>');
    expect((await connector(`${CROWD}/crowd`).fetchSnapshot()).users).toEqual([]);
    expect(nock.isDone()).toBe(true);
  });

  it('gives up after the retries with ERR_CROWD_CONNECT', async () => {
    search('user', 0).times(3).reply(500, { reason: 'OPERATION_FAILED', message: 'LDAP down' });
    const error = await failure(connector(`${CROWD}/crowd`).fetchSnapshot());
    expect(error).toMatchObject({ code: 'ERR_CROWD_CONNECT', message: expect.stringContaining('failed 3 times (last: HTTP 500)') });
  });

  it('never retries a 4xx, and maps each to a precise error', async () => {
    search('user', 0).once().reply(401, 'Application failed to authenticate', { 'WWW-Authenticate': 'Basic realm="Crowd"' });
    expect(await failure(connector(`${CROWD}/crowd`).fetchSnapshot())).toMatchObject({ code: 'ERR_CROWD_AUTH', message: expect.stringContaining('application authentication failed') });
    search('user', 0).once().reply(403, { reason: 'APPLICATION_PERMISSION_DENIED', message: 'no permission' });
    expect(await failure(connector(`${CROWD}/crowd`).fetchSnapshot())).toMatchObject({ code: 'ERR_CROWD_PERMISSION', message: expect.stringContaining('permission denied') });
    search('user', 0).once().reply(403, '<error><reason>APPLICATION_ACCESS_DENIED</reason><message>Client with address "10.0.0.9" is forbidden</message></error>');
    expect(await failure(connector(`${CROWD}/crowd`).fetchSnapshot())).toMatchObject({ code: 'ERR_CROWD_PERMISSION', message: expect.stringContaining('Remote addresses') });
    search('user', 0).once().reply(400, { reason: 'ILLEGAL_ARGUMENT', message: 'entity-type query parameter required.' });
    expect(await failure(connector(`${CROWD}/crowd`).fetchSnapshot())).toMatchObject({ code: 'ERR_CROWD_RESPONSE', message: expect.stringContaining('HTTP 400 (ILLEGAL_ARGUMENT: entity-type query parameter required.)') });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it('treats an HTML page or a malformed membership document as an incomplete read', async () => {
    search('user', 0).reply(200, '<html>login</html>', { 'Content-Type': 'text/html' });
    expect(await failure(connector(`${CROWD}/crowd`).fetchSnapshot())).toMatchObject({ code: 'ERR_CROWD_RESPONSE', message: expect.stringContaining('did not return JSON') });
    search('user', 0).reply(200, users([]));
    search('group', 0).reply(200, groups([]));
    nock(CROWD).get(`${API}/group/membership`).reply(200, '<memberships><membership group="x"><users>');
    expect(await failure(connector(`${CROWD}/crowd`).fetchSnapshot())).toMatchObject({ code: 'ERR_CROWD_RESPONSE', message: expect.stringContaining('membership document is malformed') });
  });

  it('reads the event token, and says why when there is none', async () => {
    const crowd = connector(`${CROWD}/crowd`);
    nock(CROWD).get(`${API}/event`).reply(200, { incrementalSynchronisationAvailable: true, newEventToken: '42:7' });
    expect(await crowd.currentCursor()).toEqual({ cursor: '42:7' });
    nock(CROWD).get(`${API}/event`).reply(200, { incrementalSynchronisationAvailable: false });
    expect(await crowd.currentCursor()).toEqual({ cursor: null, reason: 'Crowd reports that incremental synchronisation is not available' });
    nock(CROWD).get(`${API}/event`).reply(200, { newEventToken: '42:7' });
    expect(await crowd.currentCursor()).toMatchObject({ cursor: null, reason: expect.stringContaining('does not guarantee') });
    nock(CROWD).get(`${API}/event`).reply(404);
    expect(await crowd.currentCursor()).toEqual({ cursor: null, reason: 'Crowd has no event API (REST < 1.2)' });
  });

  it('applies events in order (membership UPDATED replaces the direct set) and falls back on 410, 404 and malformed streams', async () => {
    const crowd = connector(`${CROWD}/crowd`);
    const previous = {
      directoryId: 'crowd',
      users: ['ann', 'bob'].map((name) => ({ externalId: `1:${name}`, username: name, email: null, displayName: null, disabled: false, location: null })),
      groups: [
        { id: 'customers', name: 'customers', memberUserIds: ['1:ann'], memberGroupIds: [] },
        { id: 'staff', name: 'staff', memberUserIds: ['1:bob'], memberGroupIds: [] },
        { id: 'partners', name: 'partners', memberUserIds: [], memberGroupIds: [] },
      ],
    };
    const xml = `<events newEventToken="42:9">
      <userMembershipEvent><operation>UPDATED</operation><childUser name="ann"/><parentGroups><group name="partners"/></parentGroups></userMembershipEvent>
      <groupMembershipEvent><operation>CREATED</operation><group name="staff"/><parentGroups><group name="customers"/></parentGroups><childGroups/></groupMembershipEvent>
      <userEvent><operation>UPDATED</operation><user name="bobby"><display-name>Bob B</display-name><email>b@x.org</email><key>1:bob</key><active>false</active></user></userEvent>
    </events>`;
    nock(CROWD, { reqheaders: { accept: 'application/xml' } }).get(`${API}/event/42%3A8`).reply(200, xml);
    const result = await crowd.fetchChangesSince(previous, '42:8');
    expect(result.kind).toBe('changes');
    if (result.kind !== 'changes') return;
    expect(result.changes.cursor).toBe('42:9');
    expect(result.changes.changes).toBe(3);
    expect([...result.changes.affectedUserIds].sort()).toEqual(['1:ann', '1:bob']);
    expect(result.changes.snapshot.groups).toEqual([
      { id: 'customers', name: 'customers', memberUserIds: [], memberGroupIds: ['staff'] },
      { id: 'staff', name: 'staff', memberUserIds: ['1:bob'], memberGroupIds: [] },
      { id: 'partners', name: 'partners', memberUserIds: ['1:ann'], memberGroupIds: [] },
    ]);
    expect(result.changes.snapshot.users.find((u) => u.externalId === '1:bob')).toEqual({ externalId: '1:bob', username: 'bobby', email: 'b@x.org', displayName: 'Bob B', disabled: true, location: null });

    nock(CROWD).get(`${API}/event/42%3A8`).reply(410, '<error><reason>EVENT_TOKEN_EXPIRED</reason><message>expired</message></error>');
    expect(await crowd.fetchChangesSince(previous, '42:8')).toEqual({ kind: 'full-sync-needed', reason: 'the event token expired (EVENT_TOKEN_EXPIRED)' });
    nock(CROWD).get(`${API}/event/42%3A8`).reply(404);
    expect(await crowd.fetchChangesSince(previous, '42:8')).toEqual({ kind: 'full-sync-needed', reason: 'Crowd has no event API (REST < 1.2)' });
    nock(CROWD).get(`${API}/event/42%3A8`).reply(200, '<events newEventToken="42:9"><userEvent><operation>RENAMED</operation></userEvent></events>');
    expect(await crowd.fetchChangesSince(previous, '42:8')).toMatchObject({ kind: 'full-sync-needed', reason: expect.stringContaining('malformed') });
    nock(CROWD).get(`${API}/event/42%3A8`).reply(200, '<events newEventToken="42:9"><userMembershipEvent><operation>CREATED</operation><childUser name="ghost"/><parentGroups><group name="customers"/></parentGroups></userMembershipEvent></events>');
    expect(await crowd.fetchChangesSince(previous, '42:8')).toEqual({ kind: 'full-sync-needed', reason: 'the event stream does not fit the last snapshot: an event names the unknown user ghost' });
  });

  it('refuses a user list that changes while it is paged (the same user twice)', async () => {
    search('user', 0).reply(200, users(['ann', 'bob']));
    search('user', 2).reply(200, users(['bob', 'cy']));
    expect(await failure(connector(`${CROWD}/crowd`).fetchSnapshot())).toMatchObject({ code: 'ERR_CROWD_RESPONSE', message: expect.stringContaining('came back twice') });
  });
});

describe('Crowd connector against the fixture server', () => {
  let fixture: CrowdFixture;
  beforeEach(async () => {
    fixture = await startCrowdFixture(sampleCrowdDirectory());
  });
  afterEach(async () => {
    await fixture.close();
  });

  it('retries a connection reset', async () => {
    fixture.faults.resetNext = 2;
    expect((await connector(fixture.url, { pageSize: 100 }).fetchSnapshot()).users).toHaveLength(32);
    expect(fixture.requests.filter((r) => r.startsWith('GET search?entity-type=user'))).toHaveLength(3 + 1);
  });

  it('reads the same snapshot through the bulk document, per-group reads, and a capped page size', async () => {
    const bulk = await connector(fixture.url, { pageSize: 7 }).fetchSnapshot();
    const index = resolveMemberships(bulk, ['helpdesk-customers']);
    expect(bulk.users.filter((u) => index.groupsOf(u.externalId).length > 0).map((u) => u.username)).toHaveLength(21); // 20 customers + agent.smith, through the cycle
    expect(bulk.groups.map((g) => g.name)).not.toContain('old-customers'); // inactive groups grant nothing
    expect(bulk.users.find((u) => u.username === 'nokey.user')?.externalId).toBe('nokey.user');
    fixture.faults.noBulkMembership = true;
    fixture.faults.maxResultsCap = 3;
    const perGroup = await connector(fixture.url, { pageSize: 7 }).fetchSnapshot();
    expect(perGroup).toEqual(bulk);
    expect(fixture.requests.some((r) => r.startsWith('GET group/user/direct?groupname=emea-customers'))).toBe(true);
  });

  it('syncs through the CLI; a 5xx burst is retried and succeeds; a wrong password fails fast with no retries and no secret in the output', async () => {
    const ws = makeWorkspace(crowdConfig(fixture.url, '${env:CROWD_PW}'));
    fixture.faults.failNext = 3;
    const ok = await runCliAsync(['--config', ws.config, '--log-level', 'info', 'sync'], { cwd: ws.dir, env: { CROWD_PW: APP_PASSWORD } });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('created 20, updated 0'); // 21 members, cust003 inactive in Crowd
    expect(ok.stdout).toContain('agent.smith (crowd): customer via helpdesk-customers; licensed via jira-servicedesk-users → stripped');
    expect(ok.stderr.match(/retrying a Crowd request/g)).toHaveLength(3);

    const before = fixture.requests.length;
    const bad = await runCliAsync(['--config', ws.config, '--log-level', 'trace', 'sync'], { cwd: ws.dir, env: { CROWD_PW: `${APP_PASSWORD}-old` } });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('ERR_CROWD_AUTH');
    expect(bad.stdout).toContain('withheld 20');
    expect(fixture.requests.length - before).toBe(1);
    expect(`${ok.stdout}${ok.stderr}${bad.stdout}${bad.stderr}`).not.toContain(APP_PASSWORD);

    fixture.faults.forbidden = true;
    const probe = await runCliAsync(['--config', ws.config, 'directories', 'test', 'crowd'], { cwd: ws.dir, env: { CROWD_PW: APP_PASSWORD } });
    expect(probe.status).toBe(1);
    expect(probe.stderr).toContain('ERR_CROWD_PERMISSION');
    fixture.faults.forbidden = false;
    const probed = await runCliAsync(['--config', ws.config, 'directories', 'test', 'crowd'], { cwd: ws.dir, env: { CROWD_PW: APP_PASSWORD } });
    expect(probed.stdout).toMatch(/^crowd: OK, 32 users, 4 groups \(first page of each search\)/);
  });

  describe('incremental sync from the event stream', () => {
    const setup = () => {
      const ws = makeWorkspace(crowdConfig(fixture.url, APP_PASSWORD));
      return (...args: string[]) => runCliAsync(['--config', ws.config, ...args], { cwd: ws.dir });
    };

    it('picks up a create, a rename, a deactivation, a removal from a customer group and a nested group, with the result of a full sync', async () => {
      const cli = setup();
      const first = await cli('sync', '--mode', 'incremental');
      expect(first.stdout).toContain('crowd: full read: no stored snapshot and event token yet');
      expect(first.stdout).toContain('created 20, updated 0');

      fixture.change.createUser({ name: 'new.customer', key: '1:new', email: 'new@example.org', displayName: 'New Customer' }, ['helpdesk-customers']);
      fixture.change.updateUser('cust001', { name: 'cust001-renamed', displayName: 'Renamed Customer' });
      fixture.change.updateUser('cust002', { active: false });
      fixture.change.removeMember('emea-customers', 'cust015');
      fixture.change.createGroup('apac-customers', ['cust025', 'cust026']);
      fixture.change.nestGroup('apac-customers', 'helpdesk-customers');
      const searchesBefore = fixture.requests.filter((r) => r.startsWith('GET search')).length;

      const incremental = await cli('sync', '--mode', 'incremental');
      expect(incremental.status).toBe(0);
      expect(incremental.stdout).toContain('crowd: incremental read, 9 changes');
      expect(incremental.stdout).toContain('created 3, updated 1, reactivated 0, deactivated 2, unchanged 17, withheld 0');
      expect(incremental.stdout).toContain('~ update     cust001-renamed (crowd) renamed from cust001');
      expect(incremental.stdout).toContain('- deactivate cust002 (crowd): disabled-in-directory');
      expect(incremental.stdout).toContain('- deactivate cust015 (crowd): left-customer-groups');
      expect(fixture.requests.filter((r) => r.startsWith('GET search')).length).toBe(searchesBefore); // no full read

      const full = await cli('sync');
      expect(full.stdout).toContain('created 0, updated 0, reactivated 0, deactivated 0, unchanged 21, withheld 0');
      expect((await cli('sync', '--mode', 'incremental')).stdout).toContain('crowd: incremental read, 0 changes');
    });

    it('falls back to a full read and says why: expired token, inconsistent stream, no event API, incremental unavailable', async () => {
      const cli = setup();
      await cli('sync', '--mode', 'incremental');
      fixture.change.removeMember('helpdesk-customers', 'cust000');
      fixture.expireEvents();
      const expired = await cli('sync', '--mode', 'incremental');
      expect(expired.stdout).toContain('crowd: full read: the event token expired (EVENT_TOKEN_EXPIRED)');
      expect(expired.stdout).toContain('deactivated 1');

      fixture.change.bogusEvent();
      expect((await cli('sync', '--mode', 'incremental')).stdout).toContain('crowd: full read: the event stream does not fit the last snapshot: adding cust001 to helpdesk-customers twice');

      fixture.faults.noEvents = true;
      expect((await cli('sync', '--mode', 'incremental')).stdout).toContain('crowd: full read: Crowd has no event API (REST < 1.2)');
      fixture.faults.noEvents = false;

      fixture.faults.incrementalUnavailable = true;
      const fresh = setup();
      await fresh('sync', '--mode', 'incremental');
      expect((await fresh('sync', '--mode', 'incremental')).stdout).toContain('crowd: full read: no stored snapshot and event token yet');
    });
  });
});
