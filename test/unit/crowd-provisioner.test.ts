import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { crowdConfigSchema } from '../../connectors/crowd/config.js';
import { openCrowdProvisioner } from '../../connectors/crowd/crowd-provisioner.js';
import { DirbridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { APP_NAME, APP_PASSWORD } from '../helpers/crowd-fixture.js';

const CROWD = 'https://crowd.test';
const API = '/crowd/rest/usermanagement/1';
const AUTH = `Basic ${Buffer.from(`${APP_NAME}:${APP_PASSWORD}`).toString('base64')}`;

const provisioner = () =>
  openCrowdProvisioner('crowd', crowdConfigSchema.parse({ type: 'crowd', url: `${CROWD}/crowd`, application: { name: APP_NAME, password: APP_PASSWORD } }), { logger: createLogger({ level: 'silent' }), baseDir: '/' });
const crowd = () => nock(CROWD, { reqheaders: { authorization: AUTH, accept: 'application/json' } });
const REQUEST = { username: 'zoe@partner.example', email: 'Zoe@Partner.example', displayName: 'Zoë Ünal', group: 'helpdesk-customers' };
const created = { name: 'zoe@partner.example', key: '1:9000', email: 'Zoe@Partner.example', 'display-name': 'Zoë Ünal', active: true };

async function failure(promise: Promise<unknown>): Promise<DirbridgeError> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DirbridgeError);
  expect(JSON.stringify(error) + String((error as Error).message)).not.toContain(APP_PASSWORD);
  return error as DirbridgeError;
}

describe('signup into Crowd (nock)', () => {
  beforeAll(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());
  afterAll(() => nock.enableNetConnect());

  it('creates the user with a random password, adds it to the customer group, and reads it back as a sync would', async () => {
    let password = '';
    crowd()
      .post(`${API}/user`, (body: Record<string, unknown>) => {
        password = String((body['password'] as { value?: unknown }).value);
        return body['name'] === 'zoe@partner.example' && body['email'] === 'Zoe@Partner.example' && body['first-name'] === 'Zoë' && body['last-name'] === 'Ünal' && body['active'] === true;
      })
      .reply(201, '', { Location: `${CROWD}${API}/user?username=zoe%40partner.example` });
    crowd().post(`${API}/user/group/direct`, { name: 'helpdesk-customers' }).query({ username: 'zoe@partner.example' }).reply(201);
    crowd().get(`${API}/user`).query({ username: 'zoe@partner.example' }).reply(200, created);
    const p = provisioner();
    expect(await p.provisionCustomer(REQUEST)).toEqual({
      created: true,
      user: { externalId: '1:9000', username: 'zoe@partner.example', email: 'Zoe@Partner.example', displayName: 'Zoë Ünal', disabled: false, location: null },
    });
    expect(password.length).toBeGreaterThanOrEqual(32);
    expect(nock.isDone()).toBe(true);
    await p.close();
  });

  it('finishes an interrupted signup: the user exists with the same address, the membership too', async () => {
    crowd().post(`${API}/user`).reply(400, { reason: 'INVALID_USER', message: 'User <zoe@partner.example> already exists' });
    crowd().get(`${API}/user`).query({ username: 'zoe@partner.example' }).twice().reply(200, created);
    crowd().post(`${API}/user/group/direct`).query({ username: 'zoe@partner.example' }).reply(409, { reason: 'MEMBERSHIP_ALREADY_EXISTS', message: 'already a member' });
    expect((await provisioner().provisionCustomer(REQUEST)).created).toBe(false);
  });

  it('refuses to take over a user of that name with another address', async () => {
    crowd().post(`${API}/user`).reply(400, { reason: 'INVALID_USER', message: 'User <zoe@partner.example> already exists' });
    crowd().get(`${API}/user`).query({ username: 'zoe@partner.example' }).reply(200, { ...created, email: 'someone.else@example.org' });
    const error = await failure(provisioner().provisionCustomer(REQUEST));
    expect(error.code).toBe('ERR_CROWD_RESPONSE');
    expect(error.message).toContain('a user of that name exists with another address');
  });

  it('reports a read-only directory (403) with the Read/Write advice, and a missing group as a config problem', async () => {
    crowd().post(`${API}/user`).reply(403, { reason: 'APPLICATION_PERMISSION_DENIED', message: 'Application does not have permission' });
    const readOnly = await failure(provisioner().provisionCustomer(REQUEST));
    expect(readOnly.code).toBe('ERR_CROWD_READ_ONLY');
    expect(readOnly.message).toContain('the Crowd directory is read-only for this application: set its permission to Read/Write');

    crowd().post(`${API}/user`).reply(201);
    crowd().post(`${API}/user/group/direct`).query(true).reply(400, { reason: 'GROUP_NOT_FOUND', message: 'Group <helpdesk-customers> does not exist' });
    const noGroup = await failure(provisioner().provisionCustomer(REQUEST));
    expect(noGroup.code).toBe('ERR_CONFIG');
    expect(noGroup.message).toContain('signup.target.group');

    crowd().post(`${API}/user`).reply(401, 'Application failed to authenticate');
    expect((await failure(provisioner().provisionCustomer(REQUEST))).code).toBe('ERR_CROWD_AUTH');
  });

  it('probes writes by re-adding an existing membership: 409 allowed, 403 read-only, no member unknown', async () => {
    const members = (names: string[]) => crowd().get(`${API}/group/user/direct`).query({ groupname: 'helpdesk-customers', 'start-index': '0', 'max-results': '1' }).reply(200, { expand: 'user', users: names.map((name) => ({ name })) });
    members(['cust000']);
    crowd().post(`${API}/user/group/direct`, { name: 'helpdesk-customers' }).query({ username: 'cust000' }).reply(409, { reason: 'MEMBERSHIP_ALREADY_EXISTS' });
    expect(await provisioner().probeWrites('helpdesk-customers')).toMatchObject({ writes: 'allowed' });
    members(['cust000']);
    crowd().post(`${API}/user/group/direct`).query(true).reply(403, { reason: 'APPLICATION_PERMISSION_DENIED' });
    expect(await provisioner().probeWrites('helpdesk-customers')).toMatchObject({ writes: 'read-only', detail: expect.stringContaining('Read/Write') });
    members([]);
    expect(await provisioner().probeWrites('helpdesk-customers')).toMatchObject({ writes: 'unknown', detail: expect.stringContaining('no member') });
  });
});
