import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jiraLicensingSchema } from '../../connectors/jira/config.js';
import { openJiraLicenceSource } from '../../connectors/jira/jira-licence-source.js';
import { parseConfig } from '../../src/config/load-config.js';
import { isDirbridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import type { LicenceSource } from '../../src/ports/licence-source.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
// The fixture runs in this process: CLI subprocesses must be awaited, never run synchronously.
import { runCliAsync, type CliResult } from '../helpers/cli.js';
import { serve } from '../helpers/serve.js';
import { useMongoServer } from '../helpers/mongo-server.js';
import { openMongoStore } from '../../src/store/mongodb/mongo-store.js';
import { JIRA_PASSWORD, JIRA_TOKEN, JIRA_USER, sampleJira, startJiraFixture, type JiraFixture } from '../helpers/jira-fixture.js';

const logger = createLogger({ level: 'silent' });

const source = (url: string, overrides: Record<string, unknown> = {}): LicenceSource =>
  openJiraLicenceSource(jiraLicensingSchema.parse({ url, token: JIRA_TOKEN, pageSize: 2, retries: { max: 2, baseDelayMs: 1 }, ...overrides }), { logger, baseDir: '/' });

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isDirbridgeError(error)) throw new Error(`expected a DirbridgeError, got ${String(error)}`);
  return { code: error.code, message: error.message };
}

async function members(src: LicenceSource, group: string): Promise<string[]> {
  const out: string[] = [];
  for await (const page of src.activeGroupMembers(group)) out.push(...page.map((u) => u.name));
  return out;
}

describe('Jira licence source against the fixture server', () => {
  let jira: JiraFixture;
  beforeEach(async () => {
    jira = await startJiraFixture(sampleJira());
  });
  afterEach(async () => {
    await jira.close();
  });

  it('reads every application with its access groups, default groups and seat figures, with the token as a bearer', async () => {
    const read = await source(jira.url).readApplications();
    expect(read.kind).toBe('applications');
    if (read.kind !== 'applications') return;
    expect(read.applications.map((a) => a.key)).toEqual(['jira-servicedesk', 'jira-software', 'jira-core']);
    expect(read.applications[1]).toEqual({
      key: 'jira-software',
      name: 'Jira Software',
      groups: ['jira-software-users', 'jira-administrators'],
      defaultGroups: ['jira-software-users'],
      seats: { numberOfSeats: 25, remainingSeats: 22, userCount: 3, hasUnlimitedSeats: false },
    });
    expect(read.applications[2]?.seats.hasUnlimitedSeats).toBe(true);
    expect(jira.authorizations).toEqual([`Bearer ${JIRA_TOKEN}`]);
    expect(jira.requests).toEqual(['GET /jira/rest/api/2/applicationrole']);
  });

  it('authenticates with a username and password (HTTP Basic) instead of a token', async () => {
    const basic = openJiraLicenceSource(jiraLicensingSchema.parse({ url: jira.url, username: JIRA_USER, password: JIRA_PASSWORD }), { logger, baseDir: '/' });
    expect((await basic.readApplications()).kind).toBe('applications');
    expect(jira.authorizations[0]).toMatch(/^Basic /);
  });

  it('reads group members page by page, active users only', async () => {
    const src = source(jira.url);
    expect(await members(src, 'jira-software-users')).toEqual(['cust-dev', 'dev.one']);
    const pages = jira.requests.filter((r) => r.includes('groupname=jira-software-users'));
    expect(pages).toEqual([
      'GET /jira/rest/api/2/group/member?groupname=jira-software-users&includeInactiveUsers=false&startAt=0&maxResults=2',
    ]);
    jira.groups.set('big', Array.from({ length: 7 }, (_, i) => `u${i}`));
    jira.users.push(...Array.from({ length: 7 }, (_, i) => ({ name: `u${i}`, active: i !== 4 })));
    expect(await members(src, 'big')).toEqual(['u0', 'u1', 'u2', 'u3', 'u5', 'u6']);
    expect(jira.requests.filter((r) => r.includes('groupname=big')).map((r) => /startAt=(\d+)/.exec(r)?.[1])).toEqual(['0', '2', '4']);
    expect(await members(src, 'no-such-group')).toEqual([]);
  });

  it('never follows a redirect to a login page: it is an unexpected answer, with the token kept to Jira', async () => {
    jira.faults.redirectToLogin = true;
    const redirected = await failure(source(jira.url).readApplications());
    expect(redirected.code).toBe('ERR_JIRA_RESPONSE');
    expect(redirected.message).toContain('answered HTTP 302');
    expect(jira.requests).toEqual(['GET /jira/rest/api/2/applicationrole']);
  });

  it('takes an empty list of applications for a broken answer, never for "nothing is licensed"', async () => {
    jira.applications.splice(0);
    const empty = await failure(source(jira.url).readApplications());
    expect(empty.code).toBe('ERR_JIRA_RESPONSE');
    expect(empty.message).toContain('no application at all');
  });

  it('says an older Jira without application roles (404) is unsupported, not an error', async () => {
    jira.faults.noApplicationRoles = true;
    const read = await source(jira.url).readApplications();
    expect(read).toMatchObject({ kind: 'unsupported' });
    expect(read.kind === 'unsupported' && read.reason).toContain('HTTP 404');
  });

  it('fails a refused token (401) and a missing permission (403) with their own codes, never retried, with no credential in the message', async () => {
    jira.faults.unauthorized = true;
    const auth = await failure(source(jira.url).readApplications());
    expect(auth.code).toBe('ERR_JIRA_AUTH');
    expect(auth.message).toContain('licensing.jira.token');
    expect(jira.requests).toHaveLength(1);
    jira.faults.unauthorized = false;
    jira.faults.notAdmin = true;
    const permission = await failure(source(jira.url).readApplications());
    expect(permission.code).toBe('ERR_JIRA_PERMISSION');
    expect(permission.message).toContain('Jira Administrators global permission');
    expect(jira.requests).toHaveLength(2);
    for (const m of [auth.message, permission.message]) expect(m).not.toContain(JIRA_TOKEN);
  });

  it('retries a 5xx burst; Jira down and a slow Jira fail as outages after the retries', async () => {
    jira.faults.failNext = 2;
    expect((await source(jira.url).readApplications()).kind).toBe('applications');
    expect(jira.requests).toHaveLength(3);
    jira.faults.down = true;
    const down = await failure(source(jira.url).readApplications());
    expect(down.code).toBe('ERR_JIRA_CONNECT');
    expect(down.message).toContain('failed 3 times (last: HTTP 503)');
    jira.faults.down = false;
    jira.faults.latencyMs = 400;
    const slow = await failure(source(jira.url, { timeouts: { requestSeconds: 0.1 }, retries: { max: 1, baseDelayMs: 1 } }).readApplications());
    expect(slow.code).toBe('ERR_JIRA_CONNECT');
    expect(slow.message).toContain('no complete answer within 0.1 s');
  });
});

/** A directory in an LDIF file: customers in sd-customers and partners, one of them a developer in Jira. */
const LDIF = `version: 1

${['ann', 'bob', 'cust-dev', 'partner.pat', 'agent.smith']
  .map((uid, i) => `dn: uid=${uid},ou=People,dc=example,dc=com
objectClass: inetOrgPerson
uid: ${uid}
cn: ${uid}
sn: ${uid}
mail: ${uid}@example.org
entryUUID: 00000000-0000-4000-8000-00000000000${i}
`)
  .join('\n')}
dn: cn=sd-customers,ou=Groups,dc=example,dc=com
objectClass: groupOfNames
cn: sd-customers
entryUUID: 00000000-0000-4000-8000-0000000000a0
member: uid=ann,ou=People,dc=example,dc=com
member: uid=bob,ou=People,dc=example,dc=com
member: uid=cust-dev,ou=People,dc=example,dc=com

dn: cn=partners,ou=Groups,dc=example,dc=com
objectClass: groupOfNames
cn: partners
entryUUID: 00000000-0000-4000-8000-0000000000a1
member: uid=bob,ou=People,dc=example,dc=com
member: uid=partner.pat,ou=People,dc=example,dc=com

dn: cn=jira-servicedesk-users,ou=Groups,dc=example,dc=com
objectClass: groupOfNames
cn: jira-servicedesk-users
entryUUID: 00000000-0000-4000-8000-0000000000a2
member: uid=agent.smith,ou=People,dc=example,dc=com
`;

function workspace(url: string, customerGroups = '[sd-customers, partners]', storeUrl = 'file:./store.db'): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dirbridge-jira-'));
  writeFileSync(join(dir, 'directory.ldif'), LDIF);
  const config = join(dir, 'dirbridge.yml');
  writeFileSync(
    config,
    `store: { url: "${storeUrl}" }
directories:
  - { id: corp, type: ldif, path: ./directory.ldif }
roles: { customer: { groups: ${customerGroups} } }
licensing:
  source: jira
  licensedGroups: [jira-servicedesk-users]
  jira:
    url: ${url}
    token: \${env:JIRA_TOKEN}
    retries: { max: 1, baseDelayMs: 1 }
`,
  );
  return { dir, config };
}

describe('Jira as the licence truth, through the CLI', () => {
  let jira: JiraFixture;
  let ws: { dir: string; config: string };
  const cli = (...args: string[]): Promise<CliResult> => runCliAsync(['--config', ws.config, ...args], { cwd: ws.dir, env: { JIRA_TOKEN } });
  const stored = async (): Promise<Record<string, string[]>> => {
    const store = openSqliteStore({ path: join(ws.dir, 'store.db'), licensedGroups: [] });
    try {
      const page = await store.listCustomers({ pageSize: 100 });
      return Object.fromEntries(page.items.map((c) => [c.username, [...c.groups]]));
    } finally {
      await store.close();
    }
  };

  beforeEach(async () => {
    jira = await startJiraFixture(sampleJira());
    ws = workspace(jira.url);
  });
  afterEach(async () => {
    await jira.close();
  });

  it('strips a group made licensed in Jira between two syncs from every customer on the next', async () => {
    const first = await cli('sync', '--json');
    expect(first.status, first.stderr).toBe(0);
    expect(await stored()).toEqual({ ann: ['sd-customers'], bob: ['partners', 'sd-customers'], 'cust-dev': ['sd-customers'], 'partner.pat': ['partners'] });

    jira.applications[1]?.groups.push('partners'); // an admin gives partners Jira Software
    const second = await cli('sync', '--json');
    expect(second.status, second.stderr).toBe(0);
    const result = JSON.parse(second.stdout) as { licensing: { status: string; licensedGroups: string[]; warnings: string[] }; plan: { seatLeaks: { username: string; licensedGroups: string[] }[] } };
    expect(result.licensing.status).toBe('read');
    expect(result.licensing.licensedGroups).toContain('partners');
    expect(result.licensing.warnings.join(' ')).toContain('customer group "partners" grants access to the Jira application "Jira Software" (jira-software)');
    expect(result.plan.seatLeaks.map((l) => l.username).sort()).toEqual(['bob', 'partner.pat']);
    expect(second.stdout).toContain('2 stored customers of corp carry a licensed group: the group became licensed since (config or Jira)');
    expect(await stored()).toEqual({ ann: ['sd-customers'], bob: ['sd-customers'], 'cust-dev': ['sd-customers'], 'partner.pat': [] });
  });

  it('keeps the last set read when Jira is down, says so, and marks the audit stale', async () => {
    jira.applications[1]?.groups.push('partners');
    expect((await cli('sync')).status).toBe(0);
    jira.faults.down = true;
    const down = await cli('sync', '--json');
    expect(down.status, down.stderr).toBe(0);
    const result = JSON.parse(down.stdout) as { licensing: { status: string; readAt: string | null; licensedGroups: string[]; warnings: string[] } };
    expect(result.licensing.status).toBe('stale');
    expect(result.licensing.readAt).not.toBeNull();
    expect(result.licensing.licensedGroups).toEqual(expect.arrayContaining(['jira-servicedesk-users', 'partners', 'jira-software-users']));
    expect(result.licensing.warnings[0]).toContain('the licensed set is STALE: Jira could not be read (ERR_JIRA_CONNECT');
    expect((await stored())['bob']).toEqual(['sd-customers']);
    const text = await cli('sync');
    expect(text.stdout).toContain('Licensed groups: 4, STALE (Jira could not be read; access groups read 20');
    expect((await cli('runs')).stdout).toContain('licensed set STALE (Jira not read; groups read 20');

    const audit = await cli('audit', 'seats', '--json');
    expect(audit.status).toBe(4);
    const report = JSON.parse(audit.stdout) as { stale: boolean; jira: { state: string; status: string; applications: { key: string; customers: unknown }[] } };
    expect(report.stale).toBe(true);
    expect(report.jira.state).toBe('stale');
    expect(report.jira.status).toBe('violation');
    expect(report.jira.applications.map((a) => a.key)).toEqual(['jira-servicedesk', 'jira-software', 'jira-core']);
    expect(report.jira.applications[0]?.customers).toBeNull();
    expect((await cli('audit', 'seats', '--fail-on', 'violation')).status).toBe(4);
  });

  it('fails config validate --live and plan when a customer group is an application\'s default group, naming the application', async () => {
    jira.applications[0]?.defaultGroups.push('partners');
    jira.applications[0]?.groups.push('partners');
    const validate = await cli('config', 'validate', '--live');
    expect(validate.status, validate.stdout).toBe(2);
    expect(validate.stderr).toContain('ERR_CONFIG');
    expect(validate.stderr).toContain('roles.customer.groups[1]: customer group "partners" is a default group of the Jira application "Jira Service Management" (jira-servicedesk)');
    const plan = await cli('plan');
    expect(plan.status).toBe(3);
    expect(plan.stdout).toContain('licensed-customer-group: roles.customer.groups[1]: customer group "partners" is a default group of the Jira application "Jira Service Management"');
    expect(await stored()).toEqual({});

    jira.applications[0]?.defaultGroups.pop();
    jira.applications[0]?.groups.pop();
    const clean = await cli('config', 'validate', '--live');
    expect(clean.status, clean.stderr).toBe(0);
    expect(clean.stdout).toContain('The config matches its directories and Jira.');
  });

  it("lists in the audit's Jira view exactly the active customers the access groups hold, with the group, in text, JSON and CSV", async () => {
    jira.groups.get('jira-administrators')?.push('ann');
    jira.users.push({ name: 'ann' }, { name: 'bob', active: false });
    jira.groups.get('jira-software-users')?.push('bob'); // inactive in Jira: not counted
    expect((await cli('sync')).status).toBe(0);

    const audit = await cli('audit', 'seats', '--json');
    expect(audit.status).toBe(4);
    const report = JSON.parse(audit.stdout) as {
      stale: boolean;
      status: string;
      jira: { state: string; status: string; applications: { key: string; seats: Record<string, unknown>; customers: { username: string; via: string[] }[] }[] };
    };
    expect(report.stale).toBe(false);
    expect(report.jira.state).toBe('read');
    expect(report.jira.status).toBe('leak');
    const counted = Object.fromEntries(report.jira.applications.map((a) => [a.key, a.customers.map((c) => `${c.username} via ${c.via.join('+')}`)]));
    expect(counted).toEqual({
      'jira-servicedesk': ['ann via jira-administrators'],
      'jira-software': ['ann via jira-administrators', 'cust-dev via jira-software-users'],
      'jira-core': [],
    });
    expect(report.jira.applications[1]?.seats).toEqual({ numberOfSeats: 25, remainingSeats: 21, userCount: 4, hasUnlimitedSeats: false });

    const csv = (await cli('audit', 'seats', '--csv')).stdout.trim().split('\n');
    expect(csv).toContain('jira,leak,corp,cust-dev,00000000-0000-4000-8000-000000000002,jira-software,jira-software-users,counted,,,');
    expect(csv).toContain('jira-seats,leak,,,,jira-software,jira-software-users;jira-administrators,seats=25;used=4;remaining=21,,,');
    const text = await cli('audit', 'seats');
    expect(text.stdout).toContain('5. jira         LEAK  3 active customer(s) counted as application users');
    expect(text.stdout).toContain('cust-dev (corp) via jira-software-users');
    expect((await cli('audit', 'seats', '--fail-on', 'never')).status).toBe(0);
    expect((await cli('audit', 'seats', '--fail-on', 'violation')).status).toBe(0);

    jira.groups.set('jira-administrators', ['agent.smith']);
    jira.groups.set('jira-software-users', ['dev.one']);
    const clean = await cli('audit', 'seats', '--json');
    expect(clean.status, clean.stdout).toBe(0);
    expect((JSON.parse(clean.stdout) as { jira: { status: string } }).jira.status).toBe('pass');
  });

  it("shows the Jira view on the console's audit page: seats per application, the customers counted and why, and STALE when Jira is down", async () => {
    jira.groups.get('jira-software-users')?.push('partner.pat');
    jira.users.push({ name: 'partner.pat' });
    expect((await cli('sync')).status).toBe(0);
    writeFileSync(ws.config, `${readFileSync(ws.config, 'utf8')}service: { host: 127.0.0.1 }\nconsole:\n  users: [{ username: otto, role: auditor }]\n  cookieSecret: "\${env:COOKIE_SECRET}"\n  trustedHeader: { name: X-Remote-User, proxies: [127.0.0.1] }\n`);
    const served = serve(ws.config, ws.dir, { JIRA_TOKEN, COOKIE_SECRET: 'cookie-secret-S3NTINEL-6a0d3f9e2b7c41' });
    try {
      const page = async (): Promise<string> => {
        const res = await fetch(`${await served.url}/console/audit`, { headers: { 'X-Remote-User': 'otto' } });
        expect(res.status).toBe(200);
        return (await res.text()).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
      };
      const read = await page();
      expect(read).toContain('5. Jira: leak');
      expect(read).toContain(`Read now from Jira ${jira.url}/: 2 active customers counted as application users.`);
      expect(read).toContain('Jira Software (jira-software) jira-software-users, jira-administrators jira-software-users 25 4 21 cust-dev (corp) via jira-software-users partner.pat (corp) via jira-software-users');
      expect(read).toContain('Jira Core (jira-core) — — unlimited 0 none');
      expect(read).not.toContain('STALE');
      expect(read).not.toContain(JIRA_TOKEN);

      jira.faults.down = true;
      const stale = await page();
      expect(stale).toContain('STALE: Jira could not be read now');
      expect(stale).toContain('5. Jira: violation');
      expect(stale).toContain('STALE, unproven.');
      expect(stale).toMatch(/Jira Software \(jira-software\) [^]*? unknown/);
    } finally {
      served.child.kill('SIGTERM');
      await served.exited;
    }
  });

  it('fails a sync on a refused token with ERR_JIRA_AUTH, asked once, and never prints the token', async () => {
    jira.faults.unauthorized = true;
    const run = await cli('--log-level', 'debug', 'sync');
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('ERR_JIRA_AUTH');
    expect(jira.requests).toHaveLength(1);
    expect(`${run.stdout}${run.stderr}`).not.toContain(JIRA_TOKEN);
    const runs = await cli('runs', '--json');
    expect(runs.stdout).toContain('ERR_JIRA_AUTH');
    expect(runs.stdout).not.toContain(JIRA_TOKEN);
  });

  it('resolves the token only when Jira is read, and never shows it: not in a log line, an error, a warning or the run journal, even when Jira echoes it', async () => {
    const configText = readFileSync(ws.config, 'utf8');
    const loaded = parseConfig(configText, { path: ws.config, env: {} });
    expect(loaded.config.licensing.jira?.token).not.toContain('${env:'); // a stand-in until used
    const missing = (() => {
      try {
        loaded.resolveSecrets(loaded.config.licensing.jira);
        return null;
      } catch (error) {
        return error as Error;
      }
    })();
    expect(missing?.message).toContain('licensing.jira.token: environment variable JIRA_TOKEN is not set');

    jira.faults.echoCredential = true;
    const run = await cli('--log-level', 'debug', 'sync', '--json');
    expect(run.status, run.stderr).toBe(0);
    expect(jira.authorizations[0]).toBe(`Bearer ${JIRA_TOKEN}`); // it was sent, and echoed back
    const result = JSON.parse(run.stdout) as { licensing: { status: string; warnings: string[] } };
    expect(result.licensing.status).toBe('stale');
    expect(result.licensing.warnings[0]).toContain('bad request header: Bearer [redacted]');
    expect(run.stderr).toContain('[redacted]');
    const runs = await cli('runs', '--json');
    const audit = await cli('audit', 'seats', '--json');
    for (const out of [run.stdout, run.stderr, runs.stdout, runs.stderr, audit.stdout, audit.stderr]) expect(out).not.toContain(JIRA_TOKEN);
  });

  it('falls back to the configured list with a warning when Jira has no application roles', async () => {
    jira.faults.noApplicationRoles = true;
    const run = await cli('sync', '--json');
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { licensing: { status: string; licensedGroups: string[]; warnings: string[] } };
    expect(result.licensing.status).toBe('unsupported');
    expect(result.licensing.licensedGroups).toEqual(['jira-servicedesk-users']);
    expect(result.licensing.warnings[0]).toContain('HTTP 404');
  });
});

describe('Jira as the licence truth, on the MongoDB store', () => {
  const mongo = useMongoServer();
  let jira: JiraFixture;
  afterEach(async () => {
    await jira.close();
  });

  it('keeps the last set read in the store: a group licensed in Jira stays stripped while Jira is down', async () => {
    jira = await startJiraFixture(sampleJira());
    const url = mongo().uri(`jira_${process.pid}`);
    const ws = workspace(jira.url, '[sd-customers, partners]', url);
    const cli = (...args: string[]): Promise<CliResult> => runCliAsync(['--config', ws.config, ...args], { cwd: ws.dir, env: { JIRA_TOKEN } });
    jira.applications[1]?.groups.push('partners');
    expect((await cli('sync')).status).toBe(0);
    jira.faults.down = true;
    const down = await cli('sync', '--json');
    expect(down.status, down.stderr).toBe(0);
    expect((JSON.parse(down.stdout) as { licensing: { status: string; licensedGroups: string[] } }).licensing).toMatchObject({ status: 'stale', licensedGroups: expect.arrayContaining(['partners']) as unknown });
    const store = await openMongoStore({ url, licensedGroups: [] });
    try {
      expect((await store.loadLicenceRead('jira'))?.applications.map((a) => a.key)).toEqual(['jira-servicedesk', 'jira-software', 'jira-core']);
      expect((await store.findLicensedCustomers(['partners'], 10)).map((c) => c.username)).toEqual([]);
      expect((await store.listCustomers({ pageSize: 10 })).total).toBe(4);
    } finally {
      await store.close();
    }
    const audit = await cli('audit', 'seats', '--json');
    expect((JSON.parse(audit.stdout) as { stale: boolean }).stale).toBe(true);
  });
});
