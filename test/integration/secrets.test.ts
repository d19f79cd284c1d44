import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncResult } from '../../src/engine/run-sync.js';
import type { CustomerPage } from '../../src/ports/store.js';
import { defaultConfig, editLdif, makeWorkspace, runCli, runCliAsync } from '../helpers/cli.js';
import { corpLdif, exampleLdif, GROUPS, PEOPLE, userDn } from '../helpers/ldap-fixtures.js';
import { startSlapd, SVC_DN, type Slapd } from '../helpers/slapd.js';

const workspaces: string[] = [];
afterAll(() => {
  for (const dir of workspaces) rmSync(dir, { recursive: true, force: true });
});
function workspace(config?: string) {
  const ws = makeWorkspace(config);
  workspaces.push(ws.dir);
  const cli = (args: string[], env: Record<string, string> = {}) => runCli(['--config', ws.config, ...args], { cwd: ws.dir, env });
  return { ...ws, cli };
}

/** Control characters a terminal acts on (tab and line feed excepted), C1 and bidirectional overrides included. */
// eslint-disable-next-line no-control-regex -- looking for control characters
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** An LDAP directory in the config that the commands below never read. */
const unreadLdap = `  - id: corp
    type: ldap
    url: ldaps://127.0.0.1:1
    bind: { dn: "cn=svc,dc=example,dc=com", password: "\${env:LDAP_PW}" }
    users: { baseDn: "dc=example,dc=com" }
roles:`;

describe('secrets are resolved only where they are used', () => {
  it('customers list, audit seats, runs and a sync of another directory work without the LDAP bind password; config validate names it', () => {
    const ws = workspace(defaultConfig().replace('roles:', unreadLdap));
    expect(ws.cli(['sync', '--directory', 'sample']).status).toBe(0);
    const page = JSON.parse(ws.cli(['customers', 'list', '--json']).stdout) as CustomerPage;
    expect(page.total).toBe(237);
    expect(ws.cli(['audit', 'seats', '--fail-on', 'never']).status).toBe(0);
    expect(ws.cli(['runs']).stdout).toContain('success');

    const validate = ws.cli(['config', 'validate']);
    expect(validate.status).toBe(2);
    expect(validate.stderr).toContain('ERR_SECRET');
    expect(validate.stderr).toContain('directories[1].bind.password: environment variable LDAP_PW is not set');
    const all = ws.cli(['sync']);
    expect(all.status).toBe(2);
    expect(all.stderr).toContain('directories[1].bind.password: environment variable LDAP_PW is not set');
  });

  it('values read from the environment at ordinary positions are shown as they are: a group name in customers list --json, the store path', () => {
    const config = defaultConfig().replace('url: file:./store.db', 'url: "file:./${env:STORE_FILE}"').replace('groups: [sd-customers, partner-portal]', 'groups: ["${env:CUSTOMER_GROUP}", partner-portal]');
    const ws = workspace(config);
    const env = { STORE_FILE: 'customers-store.db', CUSTOMER_GROUP: 'sd-customers' };
    const sync = ws.cli(['sync'], env);
    expect(sync.status).toBe(0);
    expect(sync.stdout).toContain('customers-store.db');
    const page = JSON.parse(ws.cli(['customers', 'list', '--json', '--page-size', '100'], env).stdout) as CustomerPage;
    expect(page.items.some((c) => c.groups.includes('sd-customers'))).toBe(true);
    expect(JSON.stringify(page)).not.toContain('[redacted]');
  });

  it('a MongoDB URL whose password holds reserved characters never shows any part of it', () => {
    for (const secret of ['Left/Right-S3NT', 'Left@Right-S3NT', 'Left?Right-S3NT', 'Left#Right-S3NT']) {
      const ws = workspace(defaultConfig().replace('url: file:./store.db', `url: "mongodb://dirbridge:${secret}@127.0.0.1:1/dirbridge"`));
      const result = ws.cli(['--json', 'customers', 'list']);
      expect(result.status, result.stderr).toBe(2);
      expect(result.stderr).toContain('ERR_CONFIG: store.url is not a valid MongoDB connection string');
      expect(`${result.stdout}${result.stderr}`).not.toMatch(/Left|Right-S3NT/);
    }
  });
});

describe('directory data as printed', () => {
  it('control characters from an LDIF never reach the terminal: not in errors, not in log lines, not in data', () => {
    const ws = workspace();
    const evil = 'uid=evil\u001b[2J\u001b]0;pwned\u0007\u009b31m\u202e,ou=Customers,ou=People,dc=example,dc=com';
    editLdif(ws.ldif, (text) => `${text.trimEnd()}\n\ndn: ${evil}\nobjectClass: inetOrgPerson\nuid: evil\ncn: evil\nsn: evil\n`);
    const sync = ws.cli(['--log-level', 'trace', 'sync']);
    expect(sync.status).toBe(1);
    expect(sync.stdout).toContain('ERR_DIRECTORY_READ'); // the file is well-formed; the entry lacks its stable id
    const probe = ws.cli(['directories', 'test', 'sample']);
    expect(probe.stderr).toContain('ERR_DIRECTORY_READ');
    expect(probe.stderr).toContain('uid=evil\\u001b[2J');
    for (const output of [sync.stdout, sync.stderr, probe.stdout, probe.stderr]) expect(output).not.toMatch(CONTROL);

    const clean = workspace();
    editLdif(clean.ldif, (text) => text.replace('displayName:: V2VuIE5vdsOhaw==', `displayName:: ${Buffer.from('Wen \u001b[31mNovák\u009b0m').toString('base64')}`));
    expect(clean.cli(['sync']).status).toBe(0);
    const list = clean.cli(['customers', 'list', '--search', 'wen.novak']);
    expect(list.stdout).toContain('Wen \\u001b[31mNovák\\u009b0m');
    expect(list.stdout).not.toMatch(CONTROL);
  });

  it('a user with an oversized e-mail address is refused with a reason in the summary, plan and JSON; the rest is synced', () => {
    const ws = workspace();
    const mail = `${'x'.repeat(300)}@example.org`;
    editLdif(ws.ldif, (text) =>
      `${text.replace('cn: sd-customers\n', 'cn: sd-customers\nmember: uid=long.mail,ou=Customers,ou=People,dc=example,dc=com\n').trimEnd()}\n\n` +
      `dn: uid=long.mail,ou=Customers,ou=People,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: long.mail\ncn: Long Mail\nsn: Mail\nmail: ${mail}\nentryUUID: 0b7c3d5e-0000-4000-8000-000000000001\n`,
    );
    const plan = ws.cli(['plan']);
    expect(plan.status).toBe(0);
    expect(plan.stdout).toContain('refused 1');
    expect(plan.stdout).toContain('long.mail (sample): email is 312 octets long, over the limit of 254');
    const sync = ws.cli(['--json', 'sync']);
    expect(sync.status).toBe(0);
    const result = JSON.parse(sync.stdout) as SyncResult;
    expect(result.plan.summary).toMatchObject({ create: 237, refused: 1 });
    expect(result.plan.refused).toEqual([expect.objectContaining({ username: 'long.mail', fields: [{ field: 'email', length: 312, limit: 254 }] })]);
    const stored = JSON.parse(ws.cli(['customers', 'list', '--json', '--search', 'long.mail']).stdout) as CustomerPage;
    expect(stored.total).toBe(0);
  });
});

describe('scrubbing against a real slapd: directory data is never rewritten', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    slapd = await startSlapd({ example: exampleLdif(), corp: corpLdif() });
    slapd.modify(`dn: cn=admins,${GROUPS}\nchangetype: add\nobjectClass: groupOfNames\ncn: admins\nmember: ${userDn(0)}\nmember: ${userDn(1)}\n`);
  });
  afterAll(async () => {
    await slapd.stop();
  });
  const setPassword = (password: string): void => slapd.modify(`dn: ${SVC_DN}\nchangetype: modify\nreplace: userPassword\nuserPassword: ${password}\n`);
  const ldapConfig = (url: string, extra = ''): string => `store: { url: "file:./store.db" }
directories:
  - id: corp
    type: ldap
    url: ${url}
    tls: { caFile: ${slapd.caFile}${extra} }
    bind: { dn: "${SVC_DN}", password: "\${env:LDAP_PW}" }
    users: { baseDn: "${PEOPLE}" }
    groups: { baseDn: "${GROUPS}" }
    pageSize: 20
roles: { customer: { groups: [admins] } }
`;

  it('with the bind password "admin", the group "admins" is printed as it is by sync, explain and customers list --json, and the weak secret is reported', async () => {
    setPassword('admin');
    const ws = workspace(ldapConfig(slapd.ldapsUrl));
    const run = (...args: string[]) => runCliAsync(['--config', ws.config, ...args], { cwd: ws.dir, env: { LDAP_PW: 'admin' } });
    const sync = await run('sync');
    expect(sync.status, sync.stdout).toBe(0);
    expect(sync.stdout).toContain('via admins');
    expect(sync.stderr).toContain('directories[0].bind.password (${env:LDAP_PW}): this secret is shorter than 8 characters');
    const explain = await run('explain', 'user000');
    expect(explain.stdout).toContain('customer group admins: admins');
    const page = JSON.parse((await run('customers', 'list', '--json')).stdout) as CustomerPage;
    expect(page.items.map((c) => c.groups)).toEqual([['admins'], ['admins']]);
    for (const output of [sync, explain]) expect(`${output.stdout}${output.stderr}`).not.toContain('[redacted]');
  });

  it('with the bind password "password", dirbridge\'s own warnings read as written', async () => {
    setPassword('password');
    const ws = workspace(ldapConfig(slapd.ldapUrl, ', allowPlaintext: true'));
    const probe = await runCliAsync(['--config', ws.config, 'directories', 'test', 'corp'], { cwd: ws.dir, env: { LDAP_PW: 'password' } });
    expect(probe.status, probe.stdout + probe.stderr).toBe(0);
    expect(probe.stderr).toContain('ldap:// without StartTLS: the bind password crosses the network in clear');
    expect(probe.stderr).toContain('this secret is a common password');
    expect(probe.stderr).not.toContain('[redacted]');
  });
});
