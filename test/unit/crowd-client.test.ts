import { Readable } from 'node:stream';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { crowdConfigSchema } from '../../connectors/crowd/config.js';
import { openCrowdConnector, USER_AGENT } from '../../connectors/crowd/crowd-connector.js';
import { DirbridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { APP_NAME, APP_PASSWORD } from '../helpers/crowd-fixture.js';
import { snapshotView } from '../helpers/snapshot-view.js';

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
    nock(CROWD, { reqheaders: { accept: 'application/xml' } }).get(`${API}/event/42:8`).reply(200, xml);
    const result = await crowd.fetchChangesSince(snapshotView(previous), '42:8');
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

    nock(CROWD).get(`${API}/event/42:8`).reply(410, '<error><reason>EVENT_TOKEN_EXPIRED</reason><message>expired</message></error>');
    expect(await crowd.fetchChangesSince(snapshotView(previous), '42:8')).toEqual({ kind: 'full-sync-needed', reason: 'the event token expired (EVENT_TOKEN_EXPIRED)' });
    nock(CROWD).get(`${API}/event/42:8`).reply(404);
    expect(await crowd.fetchChangesSince(snapshotView(previous), '42:8')).toEqual({ kind: 'full-sync-needed', reason: 'Crowd has no event API (REST < 1.2)' });
    nock(CROWD).get(`${API}/event/42:8`).reply(200, '<events newEventToken="42:9"><userEvent><operation>RENAMED</operation></userEvent></events>');
    expect(await crowd.fetchChangesSince(snapshotView(previous), '42:8')).toMatchObject({ kind: 'full-sync-needed', reason: expect.stringContaining('malformed') });
    nock(CROWD).get(`${API}/event/42:8`).reply(200, '<events newEventToken="42:9"><userMembershipEvent><operation>CREATED</operation><childUser name="ghost"/><parentGroups><group name="customers"/></parentGroups></userMembershipEvent></events>');
    expect(await crowd.fetchChangesSince(snapshotView(previous), '42:8')).toEqual({ kind: 'full-sync-needed', reason: 'the event stream does not fit the last snapshot: an event names the unknown user ghost' });
  });

  it('refuses a user list that changes while it is paged (the same user twice)', async () => {
    search('user', 0).reply(200, users(['ann', 'bob']));
    search('user', 2).reply(200, users(['bob', 'cy']));
    expect(await failure(connector(`${CROWD}/crowd`).fetchSnapshot())).toMatchObject({ code: 'ERR_CROWD_RESPONSE', message: expect.stringContaining('came back twice') });
  });
});


/** A body that sends `head` at once, then one byte every `everyMs` until it is destroyed: a slow drip. */
function drip(head: string, everyMs: number): Readable {
  let timer: NodeJS.Timeout | undefined;
  return new Readable({
    read() {
      if (timer !== undefined) return;
      this.push(head);
      timer = setInterval(() => this.push(' '), everyMs);
    },
    destroy(error, callback) {
      clearInterval(timer);
      callback(error);
    },
  });
}

describe('Crowd event tokens and deadlines (nock)', () => {
  beforeAll(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());
  afterAll(() => nock.enableNetConnect());
  const json = { reqheaders: { accept: 'application/json' } };

  it('asks for the event token in JSON and reads it from JSON or from the XML older servers answer', async () => {
    const crowd = connector(`${CROWD}/crowd`);
    nock(CROWD, json).get(`${API}/event`).reply(200, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><events incrementalSynchronisationAvailable="true" newEventToken="8047511070899496297:12"/>', { 'Content-Type': 'application/xml' });
    expect(await crowd.currentCursor()).toEqual({ cursor: '8047511070899496297:12' });
    nock(CROWD, json).get(`${API}/event`).reply(200, '<events incrementalSynchronisationAvailable="false"/>', { 'Content-Type': 'application/xml' });
    expect(await crowd.currentCursor()).toEqual({ cursor: null, reason: 'Crowd reports that incremental synchronisation is not available' });
    nock(CROWD, json).get(`${API}/event`).reply(200, '<events newEventToken="42:7"/>', { 'Content-Type': 'application/xml' });
    expect(await crowd.currentCursor()).toMatchObject({ cursor: null, reason: expect.stringContaining('does not guarantee') });
    nock(CROWD, json).get(`${API}/event`).reply(200, { incrementalSynchronisationAvailable: true, newEventToken: '42:7' });
    expect(await crowd.currentCursor()).toEqual({ cursor: '42:7' });
    expect(nock.isDone()).toBe(true);
  });

  it('a failed token lookup means "no token" with the reason, never a failed read', async () => {
    const crowd = connector(`${CROWD}/crowd`);
    nock(CROWD).get(`${API}/event`).reply(200, '<html>login</html>', { 'Content-Type': 'text/html' });
    expect(await crowd.currentCursor()).toEqual({ cursor: null, reason: expect.stringContaining('GET event answered neither JSON nor an <events> document') });
    nock(CROWD).get(`${API}/event`).reply(200, '<events newEventToken="42:7"', { 'Content-Type': 'application/xml' });
    expect(await crowd.currentCursor()).toEqual({ cursor: null, reason: expect.stringContaining('GET event answered neither JSON nor an <events> document') });
    nock(CROWD).get(`${API}/event`).times(3).reply(503, { reason: 'OPERATION_FAILED', message: 'busy' });
    expect(await crowd.currentCursor()).toEqual({ cursor: null, reason: expect.stringContaining('failed 3 times (last: HTTP 503)') });
    nock(CROWD).get(`${API}/event`).reply(403, { reason: 'APPLICATION_PERMISSION_DENIED', message: 'no permission' });
    expect(await crowd.currentCursor()).toEqual({ cursor: null, reason: expect.stringContaining('may not read events') });
    nock(CROWD).get(`${API}/event`).reply(400, '<error><reason>ILLEGAL_ARGUMENT</reason><message>no</message></error>');
    expect(await crowd.currentCursor()).toEqual({ cursor: null, reason: expect.stringContaining('HTTP 400 (ILLEGAL_ARGUMENT: no)') });
    for (const r of [await crowd.currentCursor().catch((e: unknown) => e)]) expect(r).toMatchObject({ cursor: null }); // unreachable (no interceptor): still no token
    // Wrong application credentials fail everything: that is not a token lookup problem.
    nock(CROWD).get(`${API}/event`).reply(401, 'Application failed to authenticate', { 'WWW-Authenticate': 'Basic realm="Crowd"' });
    expect(await failure(crowd.currentCursor())).toMatchObject({ code: 'ERR_CROWD_AUTH' });
  });

  it('sends the event token as Crowd issued it, encoding only what a path segment must', async () => {
    const crowd = connector(`${CROWD}/crowd`);
    const previous = { directoryId: 'crowd', users: [], groups: [] };
    const asked = new Set<string>(); // nock may match one request more than once
    const events = (uri: string): boolean => {
      asked.add(uri);
      return uri.startsWith(`${API}/event/`);
    };
    nock(CROWD).get(events).times(2).reply(200, '<events newEventToken="8047511070899496297:14"/>');
    expect(await crowd.fetchChangesSince(snapshotView(previous), '8047511070899496297:13')).toMatchObject({ kind: 'changes', changes: { cursor: '8047511070899496297:14' } });
    await crowd.fetchChangesSince(snapshotView(previous), "a b/c?d#e%f:g@h!$&'()*+,;=~");
    expect([...asked]).toEqual([`${API}/event/8047511070899496297:13`, `${API}/event/a%20b%2Fc%3Fd%23e%25f:g@h!$&'()*+,;=~`]);
  });

  it('gives every request a whole-request deadline: a JSON page that drips is retried, then the read fails', async () => {
    const crowd = connector(`${CROWD}/crowd`, { timeouts: { requestSeconds: 1 }, retries: { max: 1, baseDelayMs: 1 } });
    const searches = nock(CROWD).get(`${API}/search`).query(true).times(2).reply(200, () => drip('{"expand":"user","users":[', 100), { 'Content-Type': 'application/json' });
    const started = Date.now();
    const error = await failure(crowd.fetchSnapshot());
    expect(error).toMatchObject({ code: 'ERR_CROWD_CONNECT', retryable: true, message: expect.stringContaining('failed 2 times (last: no complete answer within 1 s') });
    expect(searches.isDone()).toBe(true);
    expect(Date.now() - started).toBeLessThan(20_000); // two deadlines of 1 s, with a generous margin for a busy machine
  });

  it('an abort ends a request in flight, or a streamed body, at once with the abort reason; it is never retried', async () => {
    const crowd = connector(`${CROWD}/crowd`, { timeouts: { requestSeconds: 60 } });
    const stop = new Error('stopping');
    nock(CROWD).get(`${API}/search`).query(true).delay(30_000).reply(200, users([]));
    const controller = new AbortController();
    setTimeout(() => controller.abort(stop), 100);
    const started = Date.now();
    expect(await crowd.fetchSnapshot({ signal: controller.signal }).catch((e: unknown) => e)).toBe(stop);
    expect(Date.now() - started).toBeLessThan(10_000);

    nock(CROWD).get(`${API}/search`).query({ 'entity-type': 'user', expand: 'user', 'start-index': '0', 'max-results': '2' }).reply(200, users([]));
    nock(CROWD).get(`${API}/search`).query({ 'entity-type': 'group', expand: 'group', 'start-index': '0', 'max-results': '2' }).reply(200, groups([]));
    nock(CROWD).get(`${API}/group/membership`).reply(200, () => drip('<memberships><membership group="customers"><users>', 100), { 'Content-Type': 'application/xml' });
    const streaming = new AbortController();
    setTimeout(() => streaming.abort(stop), 500);
    expect(await crowd.fetchSnapshot({ signal: streaming.signal }).catch((e: unknown) => e)).toBe(stop);
    const cursor = new AbortController();
    cursor.abort(stop);
    expect(await crowd.currentCursor({ signal: cursor.signal }).catch((e: unknown) => e)).toBe(stop);
  });

  it('the deadline covers a streamed XML body too (the membership document)', async () => {
    const crowd = connector(`${CROWD}/crowd`, { timeouts: { requestSeconds: 1 }, retries: { max: 1, baseDelayMs: 1 } });
    nock(CROWD).get(`${API}/search`).query({ 'entity-type': 'user', expand: 'user', 'start-index': '0', 'max-results': '2' }).reply(200, users([]));
    nock(CROWD).get(`${API}/search`).query({ 'entity-type': 'group', expand: 'group', 'start-index': '0', 'max-results': '2' }).reply(200, groups([]));
    nock(CROWD).get(`${API}/group/membership`).reply(200, () => drip('<memberships><membership group="customers"><users>', 100), { 'Content-Type': 'application/xml' });
    const error = await failure(crowd.fetchSnapshot());
    expect(error).toMatchObject({ code: 'ERR_CROWD_CONNECT', retryable: true, message: expect.stringContaining('GET group/membership: no complete answer within 1 s') });
  });
});
