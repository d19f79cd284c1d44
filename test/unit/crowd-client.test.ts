import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { crowdConfigSchema } from '../../connectors/crowd/config.js';
import { openCrowdConnector, USER_AGENT } from '../../connectors/crowd/crowd-connector.js';
import { DirbridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { APP_NAME, APP_PASSWORD } from '../helpers/crowd-fixture.js';

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

