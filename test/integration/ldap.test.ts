import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load-config.js';
import type { DirectoryConfig } from '../../src/config/schema.js';
import { openConnector } from '../../src/engine/open-connector.js';
import { runSync } from '../../src/engine/run-sync.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ldapConfigSchema, validateLdapConfig, type LdapConfig } from '../../connectors/ldap/config.js';
import { openLdapConnector } from '../../connectors/ldap/ldap-connector.js';
import { readRangedValues } from '../../connectors/ldap/ranged-values.js';
import { guidToString } from '../../connectors/shared/snapshot-builder.js';
import { resolveMemberships } from '../../src/core/resolve-memberships.js';
import { planSync } from '../../src/core/plan-sync.js';
import { DirbridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { policy } from '../helpers/fixtures.js';
import { makeWorkspace, runCli } from '../helpers/cli.js';
import { corpLdif, CORP_USERS, EXAMPLE_USERS, exampleLdif, GROUPS, guidOf, PEOPLE, userDn } from '../helpers/ldap-fixtures.js';
import { AD_SVC_DN, LIMITED_DN, SLAPD_SIZE_LIMIT, startSlapd, SVC_DN, SVC_PW, type Slapd } from '../helpers/slapd.js';

let slapd: Slapd;
const logger = createLogger({ level: 'silent' });
beforeAll(async () => {
  slapd = await startSlapd({ example: exampleLdif(), corp: corpLdif() });
}, 60_000);
afterAll(async () => {
  await slapd?.stop();
});

/** A dirbridge config with one LDAP directory (id corp) on the test slapd. */
function ldapConfigYaml(storeUrl: string, password: string, extra: string, customerGroups: string): string {
  return `store: { url: "${storeUrl}" }
directories:
  - id: corp
    type: ldap
    url: ${slapd.ldapsUrl}
    tls: { caFile: ${slapd.caFile} }
    bind: { dn: "${SVC_DN}", password: "${password}" }
    users: { baseDn: "${PEOPLE}" }
    groups: { baseDn: "${GROUPS}" }
    ${extra}
roles: { customer: { groups: ${customerGroups} } }
`;
}

function config(overrides: Record<string, unknown> = {}): LdapConfig {
  return ldapConfigSchema.parse({
    type: 'ldap',
    url: slapd.ldapsUrl,
    tls: { caFile: slapd.caFile },
    bind: { dn: SVC_DN, password: SVC_PW },
    users: { baseDn: PEOPLE },
    groups: { baseDn: GROUPS },
    pageSize: 20,
    ...overrides,
  });
}
const connector = (overrides: Record<string, unknown> = {}) => openLdapConnector('corp', config(overrides), { logger, baseDir: '/' });

async function failure(overrides: Record<string, unknown>): Promise<DirbridgeError> {
  const error = await connector(overrides).fetchSnapshot().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DirbridgeError);
  return error as DirbridgeError;
}

describe('LDAP connector against a real slapd', () => {
  it('pages past the server size limit as a non-root service account, over LDAPS', async () => {
    const snapshot = await connector().fetchSnapshot();
    expect(EXAMPLE_USERS).toBeGreaterThan(SLAPD_SIZE_LIMIT);
    expect(snapshot.users).toHaveLength(EXAMPLE_USERS);
    expect(snapshot.groups.map((g) => g.name).sort()).toEqual(['benelux-customers', 'emea-customers', 'jira-servicedesk-users', 'partner-portal', 'sd-customers']);
    expect(new Set(snapshot.users.map((u) => u.externalId)).size).toBe(EXAMPLE_USERS);
    expect(snapshot.users[0]?.externalId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/); // entryUUID
  });

  it('maps nested groups with a cycle, memberUid groups, disabled users, non-ASCII and metacharacter values', async () => {
    const snapshot = await connector().fetchSnapshot();
    const index = resolveMemberships(snapshot, ['sd-customers', 'partner-portal', 'jira-servicedesk-users']);
    const byUid = new Map(snapshot.users.map((u) => [u.username, u]));
    const groupsOf = (uid: string) => index.groupsOf(byUid.get(uid)?.externalId ?? '');
    expect(groupsOf('user070')).toEqual(['sd-customers']); // benelux ⊂ emea ⊂ sd-customers, with a cycle
    expect(groupsOf('user085')).toEqual(['partner-portal']);
    expect(groupsOf('user019')).toEqual(['jira-servicedesk-users', 'sd-customers']);
    expect(byUid.get('user002')?.disabled).toBe(true);
    expect(byUid.get('user003')?.disabled).toBe(false);
    expect(byUid.get('user000')?.displayName).toBe('José Müller');
    expect(byUid.get('user001')?.displayName).toBe('Star (*) User\\');
    const plan = planSync({ policy: policy({ customerGroups: ['sd-customers', 'partner-portal'], licensedGroups: ['jira-servicedesk-users'] }), snapshots: [{ ...snapshot, directoryId: 'a' }], current: [] });
    expect(plan.summary.create).toBe(89); // 90 users in customer groups, one disabled
    expect(plan.seatLeaks.map((l) => l.username)).toEqual(['user019']);
  });

  it('a rename (modrdn) keeps the entryUUID: the planner updates the customer in place', async () => {
    const before = await connector().fetchSnapshot();
    const user = before.users.find((u) => u.username === 'user003');
    // The group's member value follows the rename, as OpenLDAP's refint overlay makes it.
    const sdCustomers = `cn=sd-customers,${GROUPS}`;
    const renamedDn = `uid=user003-renamed,${PEOPLE}`;
    slapd.modify(`dn: ${userDn(3)}\nchangetype: modrdn\nnewrdn: uid=user003-renamed\ndeleteoldrdn: 1\n\ndn: ${sdCustomers}\nchangetype: modify\ndelete: member\nmember: ${userDn(3)}\n-\nadd: member\nmember: ${renamedDn}\n`);
    try {
      const after = await connector().fetchSnapshot();
      const renamed = after.users.find((u) => u.externalId === user?.externalId);
      expect(renamed).toMatchObject({ username: 'user003-renamed', location: `uid=user003-renamed,${PEOPLE}` });
      const p = policy({ customerGroups: ['sd-customers'] });
      const first = planSync({ policy: p, snapshots: [{ ...before, directoryId: 'a' }], current: [] });
      const current = first.actions.flatMap((a) => (a.kind === 'create' ? [{ directoryId: 'a', externalId: a.customer.externalId, username: a.customer.username, hash: a.customer.hash, active: true }] : []));
      const second = planSync({ policy: p, snapshots: [{ ...after, directoryId: 'a' }], current });
      expect(second.actions).toEqual([expect.objectContaining({ kind: 'update', previousUsername: 'user003', customer: expect.objectContaining({ username: 'user003-renamed' }) })]);
    } finally {
      slapd.modify(`dn: ${renamedDn}\nchangetype: modrdn\nnewrdn: uid=user003\ndeleteoldrdn: 1\n\ndn: ${sdCustomers}\nchangetype: modify\ndelete: member\nmember: ${renamedDn}\n-\nadd: member\nmember: ${userDn(3)}\n`);
    }
  });

  it('reads memberships from memberOf when groups are not configured', async () => {
    const snapshot = await connector({ groups: undefined }).fetchSnapshot();
    const index = resolveMemberships(snapshot, ['sd-customers']);
    expect(snapshot.users.filter((u) => index.groupsOf(u.externalId).length > 0)).toHaveLength(20); // direct members only: memberOf is not nested
  });

  it('maps an Active Directory-style tree: objectGUID to its canonical form, userAccountControl bit 2', async () => {
    const snapshot = await connector({
      profile: 'active-directory',
      bind: { dn: AD_SVC_DN, password: SVC_PW },
      users: { baseDn: 'OU=Users,DC=corp,DC=example' },
      groups: { baseDn: 'OU=Groups,DC=corp,DC=example' },
    }).fetchSnapshot();
    expect(snapshot.users).toHaveLength(CORP_USERS);
    const corp5 = snapshot.users.find((u) => u.username === 'corp5');
    expect(corp5).toMatchObject({ externalId: guidToString(guidOf(5)), disabled: true, email: 'corp5@corp.example' });
    expect(snapshot.users.find((u) => u.username === 'corp6')?.disabled).toBe(false);
    const index = resolveMemberships(snapshot, ['sd-customers']);
    expect(snapshot.users.filter((u) => index.groupsOf(u.externalId).length > 0)).toHaveLength(40); // 20 direct + 20 through EMEA
  });

  it('works over StartTLS, and refuses a plaintext bind unless explicitly allowed', async () => {
    const snapshot = await connector({ url: slapd.ldapUrl, startTls: true }).fetchSnapshot();
    expect(snapshot.users).toHaveLength(EXAMPLE_USERS);
    expect(validateLdapConfig(config({ url: slapd.ldapUrl }))).toEqual([{ path: ['startTls'], message: expect.stringContaining('would send the bind password in clear') }]);
    expect(validateLdapConfig(config({ url: slapd.ldapUrl, tls: { allowPlaintext: true } }))).toEqual([]);
    expect((await connector({ url: slapd.ldapUrl, tls: { allowPlaintext: true } }).fetchSnapshot()).users).toHaveLength(EXAMPLE_USERS);
  });

  it('fails precisely: untrusted CA, wrong host name, bad credentials, unreachable, missing base DN', async () => {
    expect(await failure({ tls: {} })).toMatchObject({ code: 'ERR_LDAP_TLS', message: expect.stringContaining('not signed by a trusted CA') });
    const wrongHost = await failure({ tls: { caFile: slapd.caFile, serverName: 'other.test' } });
    expect(wrongHost).toMatchObject({ code: 'ERR_LDAP_TLS', message: expect.stringContaining('does not name this host') });
    expect((await connector({ tls: { caFile: slapd.caFile, serverName: 'ldap.test' } }).fetchSnapshot()).users).toHaveLength(EXAMPLE_USERS);
    const bind = await failure({ bind: { dn: SVC_DN, password: 'wrong-password' } });
    expect(bind).toMatchObject({ code: 'ERR_LDAP_BIND', message: expect.stringContaining(`bind as ${SVC_DN} failed: invalid credentials`) });
    expect(await failure({ url: 'ldaps://127.0.0.1:9' })).toMatchObject({ code: 'ERR_LDAP_CONNECT', message: expect.stringContaining('connection refused') });
    expect(await failure({ users: { baseDn: 'ou=Peeple,dc=example,dc=com' } })).toMatchObject({ code: 'ERR_LDAP_SEARCH', message: expect.stringContaining('base DN not found: ou=Peeple') });
    expect(() => config({ users: { baseDn: PEOPLE, filter: '(mail=*' } })).toThrow(/not a valid LDAP filter/);
  });

  it('a server size limit is an incomplete read, never a shorter one', async () => {
    const error = await failure({ bind: { dn: LIMITED_DN, password: SVC_PW } });
    expect(error).toMatchObject({ code: 'ERR_LDAP_SEARCH', message: expect.stringContaining("size limit cut the search under ou=People") });
  });

  it('a referral inside the scope is an incomplete read', async () => {
    const error = await failure({ users: { baseDn: 'ou=Partners,dc=example,dc=com', scope: 'sub' }, groups: undefined });
    expect(error).toMatchObject({ code: 'ERR_LDAP_SEARCH', message: expect.stringContaining('a referral inside ou=Partners') });
  });

  it('combines the user filter with the profile object classes without string concatenation', async () => {
    const snapshot = await connector({ users: { baseDn: PEOPLE, filter: '(|(cn=Star \\28\\2a\\29*)(cn=Jos*))' }, groups: undefined }).fetchSnapshot();
    expect(snapshot.users.map((u) => u.username).sort()).toEqual(['user000', 'user001']);
  });

  it('directories test reports counts, a sample user and the mapping; sync never logs the bind password', () => {
    const ws = makeWorkspace(ldapConfigYaml('file:./store.db', '${env:LDAP_PW}', 'pageSize: 25', '[sd-customers, partner-portal]'));
    try {
      const env = { LDAP_PW: SVC_PW };
      const probe = runCli(['--config', ws.config, 'directories', 'test', 'corp'], { cwd: ws.dir, env });
      expect(probe.status).toBe(0);
      expect(probe.stdout).toMatch(/^corp: OK, 120 users, 5 groups \(read whole, as a sync reads it\)/);
      expect(probe.stdout).toContain('externalId   ← entryUUID');
      const sync = runCli(['--config', ws.config, '--log-level', 'trace', 'sync'], { cwd: ws.dir, env });
      expect(sync.status).toBe(0);
      expect(sync.stdout).toContain('created 89, updated 0');
      const bad = runCli(['--config', ws.config, '--log-level', 'trace', 'sync'], { cwd: ws.dir, env: { LDAP_PW: `${SVC_PW}-wrong` } });
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain('ERR_LDAP_BIND');
      expect(bad.stdout).toContain('withheld 89');
      for (const out of [probe, sync, bad]) expect(`${out.stdout}${out.stderr}`).not.toContain(SVC_PW);
    } finally {
      rmSync(ws.dir, { recursive: true, force: true });
    }
  });
});

describe('a directory outage in the middle of a sync', () => {
  it('slapd frozen after the first page: the read fails by timeout, the store is left as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dirbridge-outage-'));
    const yaml = ldapConfigYaml(`file:${dir}/store.db`, SVC_PW, 'pageSize: 10\n    timeouts: { operationSeconds: 1 }', '[sd-customers]');
    const loaded = parseConfig(yaml, { path: join(dir, 'dirbridge.yml'), env: {} });
    const store = openSqliteStore({ path: join(dir, 'store.db'), licensedGroups: loaded.config.licensing.licensedGroups });
    let freezeAfterFirstPage = false;
    const deps = {
      loaded,
      store,
      logger,
      openConnector: async (d: DirectoryConfig) => {
        const real = await openConnector(d, { logger, baseDir: dir });
        return {
          ...real,
          fetchSnapshot: () =>
            real.fetchSnapshot({
              onProgress: () => {
                if (freezeAfterFirstPage) {
                  freezeAfterFirstPage = false;
                  slapd.signal('SIGSTOP');
                }
              },
            }),
        };
      },
    };
    try {
      const first = await runSync(deps);
      expect(first.outcome).toBe('success');
      const before = await store.loadCurrent();
      expect(before.filter((c) => c.active)).toHaveLength(79);

      freezeAfterFirstPage = true;
      const second = await runSync(deps);
      expect(second.outcome).toBe('partial');
      expect(second.failures).toEqual([expect.objectContaining({ directoryId: 'corp', code: 'ERR_LDAP_CONNECT' })]);
      expect(second.plan.directories[0]).toMatchObject({ status: 'failed' });
      expect(second.plan.summary).toMatchObject({ deactivate: 0, withheld: 79 });
      expect(await store.loadCurrent()).toEqual(before);
    } finally {
      slapd.signal('SIGCONT');
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('AD ranged attribute retrieval (recorded entries: slapd cannot emulate MaxValRange)', () => {
  it('follows member;range=… until the last range', async () => {
    const member = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `CN=U${from + i},DC=corp`);
    const first = { dn: 'CN=Big,DC=corp', 'member;range=0-1499': member(0, 1499) };
    const asked: string[] = [];
    const values = await readRangedValues(first, 'member', async (_dn, attribute) => {
      asked.push(attribute);
      return attribute === 'member;range=1500-*' ? { 'member;range=1500-2999': member(1500, 2999) } : { 'member;range=3000-*': member(3000, 3199) };
    });
    expect(asked).toEqual(['member;range=1500-*', 'member;range=3000-*']);
    expect(values).toHaveLength(3200);
    expect(await readRangedValues({ dn: 'x', member: ['a', 'b'] }, 'member', async () => ({}))).toEqual(['a', 'b']);
  });

  it('never reads a broken range sequence as a shorter group', async () => {
    await expect(readRangedValues({ dn: 'x', 'member;range=0-1': ['a', 'b'] }, 'member', async () => ({}))).rejects.toThrow(/no range starting at 2/);
  });
});
