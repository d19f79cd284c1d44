import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crowdConfigSchema } from '../../connectors/crowd/config.js';
import { openCrowdConnector } from '../../connectors/crowd/crowd-connector.js';
import { resolveMemberships } from '../../src/core/resolve-memberships.js';
import { createLogger } from '../../src/logger.js';
// The fixture runs in this process: CLI subprocesses must be awaited, never run synchronously.
import { makeWorkspace, runCliAsync } from '../helpers/cli.js';
import { APP_NAME, APP_PASSWORD, sampleCrowdDirectory, startCrowdFixture, type CrowdFixture } from '../helpers/crowd-fixture.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';

const logger = createLogger({ level: 'silent' });

const connector = (url: string, overrides: Record<string, unknown> = {}) =>
  openCrowdConnector(
    'crowd',
    crowdConfigSchema.parse({ type: 'crowd', url, application: { name: APP_NAME, password: APP_PASSWORD }, pageSize: 2, retries: { max: 2, baseDelayMs: 1 }, ...overrides }),
    { logger, baseDir: '/' },
  );

const crowdConfig = (url: string, password: string, extra = ''): string => `store: { url: "file:./store.db" }
directories:
  - id: crowd
    type: crowd
    url: ${url}
    application: { name: ${APP_NAME}, password: "${password}" }
    retries: { max: 4, baseDelayMs: 5 }${extra}
roles: { customer: { groups: [helpdesk-customers] } }
licensing: { licensedGroups: [jira-servicedesk-users] }
`;


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
      // Only the users the events name are planned: none of them is unchanged.
      expect(incremental.stdout).toContain('created 3, updated 1, reactivated 0, deactivated 2, unchanged 0, withheld 0');
      expect(incremental.stdout).toContain('~ update     cust001-renamed (crowd) renamed from cust001');
      expect(incremental.stdout).toContain('- deactivate cust002 (crowd): disabled-in-directory');
      expect(incremental.stdout).toContain('- deactivate cust015 (crowd): left-customer-groups');
      expect(fixture.requests.filter((r) => r.startsWith('GET search')).length).toBe(searchesBefore); // no full read

      const full = await cli('sync');
      expect(full.stdout).toContain('created 0, updated 0, reactivated 0, deactivated 0, unchanged 21, withheld 0');
      expect((await cli('sync', '--mode', 'incremental')).stdout).toContain('crowd: incremental read, 0 changes');
    });

    it('holds an incremental read to the count-drop gate and the deactivation limit, over the whole directory', async () => {
      const ws = makeWorkspace(`${crowdConfig(fixture.url, APP_PASSWORD)}safety: { maxDeactivations: { count: 2, percent: 10 } }\n`);
      const cli = (...args: string[]) => runCliAsync(['--config', ws.config, ...args], { cwd: ws.dir });
      expect((await cli('sync', '--mode', 'incremental')).stdout).toContain('created 20, updated 0');

      for (const name of ['cust004', 'cust005', 'cust006']) fixture.change.deleteUser(name);
      const rejected = await cli('sync', '--mode', 'incremental');
      expect(rejected.status).toBe(3);
      expect(rejected.stdout).toContain('crowd: incremental read, 3 changes');
      expect(`${rejected.stdout}${rejected.stderr}`).toContain('the plan deactivates 3 of 20 active customers; the limit is 2');
      // Nothing was applied and the stored snapshot did not move on: the same changes are read again.
      const allowed = await cli('sync', '--mode', 'incremental', '--allow-deactivations', '3');
      expect(allowed.status).toBe(0);
      expect(allowed.stdout).toContain('crowd: incremental read, 3 changes');
      expect(allowed.stdout).toContain('created 0, updated 0, reactivated 0, deactivated 3, unchanged 0, withheld 0');
      expect(allowed.stdout).toContain('crowd            complete  29 users');

      // 29 → 17 users (more than 30 % fewer): suspect, as a full read would be; its deactivations are withheld.
      for (let i = 10; i < 22; i++) fixture.change.deleteUser(`cust${String(i).padStart(3, '0')}`);
      const suspect = await cli('sync', '--mode', 'incremental');
      expect(suspect.status).toBe(7);
      expect(suspect.stdout).toContain('crowd: incremental read, 12 changes');
      expect(suspect.stdout).toContain('17 users, 41% fewer than the last trusted read (29): deactivations withheld');
      expect(suspect.stdout).toContain('deactivated 0, unchanged 0, withheld 10');
      expect((await cli('sync')).stdout).toContain('withheld 10'); // a full read agrees
    });

    it('a rename into a username an earlier directory holds shadows the customer, as a full sync does', async () => {
      const ldif = `dn: ou=People,dc=example,dc=com\nobjectClass: organizationalUnit\nou: People\n\ndn: uid=taken.name,ou=People,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: taken.name\ncn: Taken\nsn: Name\nmail: taken@example.com\nentryUUID: 5a1c6d2e-0000-4000-8000-000000000001\n\ndn: cn=helpdesk-customers,dc=example,dc=com\nobjectClass: groupOfNames\ncn: helpdesk-customers\nmember: uid=taken.name,ou=People,dc=example,dc=com\n`;
      const config = crowdConfig(fixture.url, APP_PASSWORD).replace('directories:\n', 'directories:\n  - { id: hr, type: ldif, path: ./hr.ldif }\n');
      const ws = makeWorkspace(config);
      writeFileSync(join(ws.dir, 'hr.ldif'), ldif);
      const cli = (...args: string[]) => runCliAsync(['--config', ws.config, ...args], { cwd: ws.dir });
      expect((await cli('sync')).stdout).toContain('created 21, updated 0');
      fixture.change.updateUser('cust004', { name: 'TAKEN.name' });
      const incremental = await cli('sync', '--mode', 'incremental', '--directory', 'crowd');
      expect(incremental.stdout).toContain('crowd: incremental read, 1 changes');
      expect(incremental.stdout).toContain('- deactivate cust004 (crowd): shadowed');
      expect(incremental.stdout).toContain('TAKEN.name in crowd is shadowed by hr');
      expect((await cli('sync')).stdout).toContain('created 0, updated 0, reactivated 0, deactivated 0');
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

    it('the event token lookup failing never fails the read: an HTML page means no token; XML is read', async () => {
      const cli = setup();
      fixture.faults.eventFormat = 'html'; // a login page where the token should be
      const unreadable = await cli('sync');
      expect(unreadable.status).toBe(0);
      expect(unreadable.stdout).toContain('created 20, updated 0');
      expect(unreadable.stdout).toContain('crowd: no event token for the next incremental run: GET event answered neither JSON nor an <events> document');
      const next = await cli('sync', '--mode', 'incremental');
      expect(next.status).toBe(0);
      expect(next.stdout).toContain('crowd: full read: no stored snapshot and event token yet');

      fixture.faults.eventFormat = 'xml'; // answered in XML although JSON was asked for
      expect((await cli('sync')).status).toBe(0);
      fixture.change.removeMember('helpdesk-customers', 'cust000');
      const incremental = await cli('sync', '--mode', 'incremental');
      expect(incremental.status).toBe(0);
      expect(incremental.stdout).toContain('crowd: incremental read, 1 changes');
      expect(incremental.stdout).toContain('- deactivate cust000 (crowd): left-customer-groups');
    });

    it('sends the token as Crowd issued it: a server that does not decode %3A still reads incrementally', async () => {
      fixture.faults.literalTokenPath = true;
      const cli = setup();
      await cli('sync', '--mode', 'incremental');
      fixture.change.updateUser('cust004', { displayName: 'Changed Name' });
      const incremental = await cli('sync', '--mode', 'incremental');
      expect(incremental.stdout).not.toContain('full read');
      expect(incremental.stdout).toContain('crowd: incremental read, 1 changes');
      expect(fixture.requests.filter((r) => r.startsWith('GET event/'))).toEqual([expect.stringMatching(/^GET event\/\d+:\d+$/)]);
    });
  });

  it('a slow-drip answer meets the whole-request deadline: the run ends, nobody is deactivated', async () => {
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(fixture.url).port) });
    try {
      const url = `http://127.0.0.1:${proxy.port}/crowd`;
      const ws = makeWorkspace(crowdConfig(url, APP_PASSWORD, '\n    timeouts: { requestSeconds: 1 }\n    pageSize: 100'));
      const cli = (...args: string[]) => runCliAsync(['--config', ws.config, ...args], { cwd: ws.dir });
      expect((await cli('sync')).stdout).toContain('created 20, updated 0');

      // Each answer's status line and headers arrive at once, then its body comes a byte every 0.3 s: an
      // idle timeout never fires, and a timeout that stops at the headers does not see it.
      proxy.mode = { kind: 'slow-drip', passBytes: 200, chunkBytes: 1, intervalMs: 300 };
      const started = Date.now();
      const dripped = await cli('sync');
      const seconds = (Date.now() - started) / 1000;
      expect(dripped.status).toBe(1);
      expect(dripped.stderr).toContain('ERR_CROWD_CONNECT');
      expect(dripped.stderr).toContain('no complete answer within 1 s');
      expect(dripped.stdout).toContain('deactivated 0');
      expect(dripped.stdout).toContain('withheld 20');
      // 5 attempts of 1 s each for the token and for the first page, plus backoff and start-up: far from the
      // minutes the drip would take to deliver one answer (generous: the machine is shared).
      expect(seconds).toBeLessThan(45);

      proxy.mode = { kind: 'pass' };
      const after = await cli('sync');
      expect(after.status).toBe(0); // the lease was released
      expect(after.stdout).toContain('created 0, updated 0, reactivated 0, deactivated 0, unchanged 20');
    } finally {
      await proxy.close();
    }
  }, 90_000);
});
