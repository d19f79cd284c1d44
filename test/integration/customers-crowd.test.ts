import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CustomerView } from '../../src/core/customer-model.js';
import type { CustomerListPage } from '../../src/engine/customers/list.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
// The fixture runs in this process: CLI subprocesses must be awaited, never run synchronously.
import { makeWorkspace, runCliAsync, type CliResult } from '../helpers/cli.js';
import { APP_NAME, APP_PASSWORD, sampleCrowdDirectory, startCrowdFixture, type CrowdFixture } from '../helpers/crowd-fixture.js';
import { dumpStore } from '../helpers/store-dump.js';

const config = (url: string): string => `store: { url: "file:./store.db" }
directories:
  - id: crowd
    type: crowd
    url: ${url}
    application: { name: ${APP_NAME}, password: "\${env:CROWD_PW}" }
    retries: { max: 1, baseDelayMs: 5 }
roles: { customer: { groups: [helpdesk-customers] } }
licensing: { licensedGroups: [jira-servicedesk-users] }
signup: { public: true, target: { directory: crowd } }
`;

describe('signup into a Crowd directory (fixture server, built CLI)', () => {
  let fixture: CrowdFixture;
  let ws: ReturnType<typeof makeWorkspace>;
  const cli = (...args: string[]): Promise<CliResult> => runCliAsync(['--config', ws.config, ...args], { cwd: ws.dir, env: { CROWD_PW: APP_PASSWORD } });
  const byEmail = async (email: string): Promise<CustomerView[]> => (JSON.parse((await cli('customers', 'list', '--state', 'all', '--search', email, '--json')).stdout) as CustomerListPage).items;
  const dump = async (): Promise<unknown> => {
    const store = openSqliteStore({ path: join(ws.dir, 'store.db'), licensedGroups: ['jira-servicedesk-users'] });
    try {
      return await dumpStore(store);
    } finally {
      await store.close();
    }
  };

  beforeEach(async () => {
    fixture = await startCrowdFixture(sampleCrowdDirectory());
    ws = makeWorkspace(config(fixture.url));
  });
  afterEach(async () => {
    await fixture.close();
  });

  it('config validate warns that signup into Crowd needs Read/Write permission', async () => {
    const result = await cli('config', 'validate');
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('warning: signup.target is the Crowd directory crowd: signups create users there, which needs the application\'s permission on that directory set to Read/Write');
  });

  it('into a read-only directory: fails with the Read/Write advice and writes nothing, in Crowd or in the store', async () => {
    expect((await cli('sync')).status).toBe(0);
    fixture.faults.readOnly = true;
    const probe = await cli('directories', 'test', 'crowd');
    expect(probe.stdout).toMatch(/^writes: read-only \(the Crowd directory is read-only for this application: set its permission to Read\/Write/m);
    const before = await dump();
    const users = fixture.users.length;
    const result = await cli('customers', 'signup', 'zoe@partner.example', '--name', 'Zoë Ünal');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^dirbridge: ERR_CROWD_READ_ONLY: directory crowd .*: POST user was refused \(HTTP 403 APPLICATION_PERMISSION_DENIED\): the Crowd directory is read-only for this application: set its permission to Read\/Write/);
    expect(result.stdout + result.stderr).not.toContain(APP_PASSWORD);
    expect(fixture.users).toHaveLength(users);
    expect(await dump()).toEqual(before);
  });

  it('into a writable directory: one customer for that person through the next incremental and full syncs', async () => {
    expect((await cli('sync')).status).toBe(0); // a full read keeps the event token for the incremental one
    const probe = await cli('directories', 'test', 'crowd');
    expect(probe.stdout).toMatch(/^writes: allowed \(re-adding cust000 to helpdesk-customers answered 409 MEMBERSHIP_ALREADY_EXISTS/m);

    const signup = await cli('customers', 'signup', 'Zoe@Partner.example', '--name', 'Zoë Ünal');
    expect(signup.stderr).toBe('');
    expect(signup.stdout).toMatch(/^Zoe@partner\.example: signed up: user zoe@partner\.example created in Crowd directory crowd and added to its customer group, key crowd:1:9000$/m);
    expect(fixture.groups.find((g) => g.name === 'helpdesk-customers')?.users).toContain('zoe@partner.example');
    const [created] = await byEmail('zoe@partner.example');
    expect(created).toMatchObject({ key: 'crowd:1:9000', accountType: 'account', origin: 'crowd', active: true, groups: ['helpdesk-customers'], displayName: 'Zoë Ünal' });

    const incremental = await cli('sync', '--mode', 'incremental');
    expect(incremental.stdout).toContain('crowd: incremental read, 2 changes');
    expect(incremental.stdout).toContain('created 0, updated 0, reactivated 0, deactivated 0');
    const full = await cli('sync');
    expect(full.stdout).toContain('created 0, updated 0, reactivated 0, deactivated 0');
    const after = await byEmail('zoe@partner.example');
    expect(after.map((c) => [c.key, c.active])).toEqual([['crowd:1:9000', true]]);

    const again = await cli('customers', 'signup', 'zoe@partner.example');
    expect(again.stdout).toMatch(/already a customer, crowd:1:9000/);
    const show = await cli('customers', 'show', 'crowd:1:9000');
    expect(show.stdout).toMatch(/signed up through cli into crowd as zoe@partner\.example/);
  });
});
