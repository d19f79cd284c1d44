import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ldapConfigSchema } from '../../connectors/ldap/config.js';
import { openLdapConnector } from '../../connectors/ldap/ldap-connector.js';
import { ldifConfigSchema } from '../../connectors/ldif/config.js';
import { openLdifConnector } from '../../connectors/ldif/ldif-connector.js';
import type { DirectorySnapshot } from '../../src/core/model.js';
import { planSync } from '../../src/core/plan-sync.js';
import { resolveMemberships } from '../../src/core/resolve-memberships.js';
import { DirbridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { runCli } from '../helpers/cli.js';
import { policy } from '../helpers/fixtures.js';
import { corpLdif, CORP_USERS, exampleLdif } from '../helpers/ldap-fixtures.js';
import { ADMIN_UNITS, computersLdif, Q_GROUPS, Q_PEOPLE, qGroupDn, QUIRKS, quirksLdif, qUserDn, uuid } from '../helpers/ldap-quirks.js';
import { AD_SVC_DN, LIMITED_DN, PAGE_CAP, PAGE_CAP_DN, startSlapd, SVC_DN, SVC_PW, type Slapd } from '../helpers/slapd.js';

/**
 * Directory data nobody on the project wrote: computer accounts, memberUid holding DNs, one username
 * in two entries, DNs that differ only in case, exports without entryUUID, a group the admin filters
 * out that users' memberOf still names, five groups of one name, people without displayName. Read
 * from a real slapd and, for the LDIF reader, from exports of that same slapd made with ldapsearch.
 */
let slapd: Slapd;
const tmp = mkdtempSync(join(tmpdir(), 'dirbridge-ldap-data-'));
const logger = createLogger({ level: 'silent' });
beforeAll(async () => {
  slapd = await startSlapd({ example: `${exampleLdif()}\n\n${quirksLdif()}`, corp: `${corpLdif()}\n\n${computersLdif()}` });
}, 60_000);
afterAll(async () => {
  await slapd?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const quirks = { users: { baseDn: Q_PEOPLE }, groups: { baseDn: Q_GROUPS } };
const ad = { profile: 'active-directory', bind: { dn: AD_SVC_DN, password: SVC_PW }, users: { baseDn: 'DC=corp,DC=example' }, groups: { baseDn: 'OU=Groups,DC=corp,DC=example' } };

function ldap(overrides: Record<string, unknown> = {}) {
  const config = ldapConfigSchema.parse({ type: 'ldap', url: slapd.ldapsUrl, tls: { caFile: slapd.caFile }, bind: { dn: SVC_DN, password: SVC_PW }, pageSize: 20, ...quirks, ...overrides });
  return openLdapConnector('corp', config, { logger, baseDir: tmp });
}

let exports = 0;
function ldif(text: string, overrides: Record<string, unknown> = {}) {
  const path = join(tmp, `export-${++exports}.ldif`);
  writeFileSync(path, text);
  return openLdifConnector('corp', ldifConfigSchema.parse({ type: 'ldif', path, ...overrides }), { logger, baseDir: tmp });
}

/** What a snapshot says, independent of read order: users by username, groups by DN with member names. */
function summary(snapshot: DirectorySnapshot) {
  const name = new Map(snapshot.users.map((u) => [u.externalId, u.username]));
  return {
    users: snapshot.users.map((u) => `${u.username} ${u.externalId}`).sort(),
    groups: snapshot.groups.map((g) => `${g.id}: ${[...g.memberUserIds].map((id) => name.get(id) ?? id).sort().join(' ')} | ${[...g.memberGroupIds].sort().join(' ')}`).sort(),
    unresolved: [...(snapshot.unresolvedMembers ?? [])].map((u) => `${u.groupId}: ${u.count} [${[...u.examples].sort().join(' ')}]`).sort(),
  };
}

const usernames = (snapshot: DirectorySnapshot): string[] => snapshot.users.map((u) => u.username).sort();

function workspace(directory: string, customerGroups: string, extra = '') {
  const dir = mkdtempSync(join(tmp, 'ws-'));
  const config = join(dir, 'dirbridge.yml');
  writeFileSync(
    config,
    `store: { url: "file:./store.db" }
directories:
  - id: corp
    type: ldap
    url: ${slapd.ldapsUrl}
    tls: { caFile: ${slapd.caFile} }
    ${directory}
roles: { customer: { groups: ${customerGroups} } }
licensing: { licensedGroups: [jira-servicedesk-users] }
${extra}`,
  );
  return (...args: string[]) => runCli(['--config', config, ...args], { cwd: dir });
}
const quirkDirectory = `bind: { dn: "${SVC_DN}", password: "${SVC_PW}" }
    users: { baseDn: "${Q_PEOPLE}" }
    groups: { baseDn: "${Q_GROUPS}" }
    pageSize: 20`;

describe('Active Directory computer accounts (12.4)', () => {
  it('the active-directory profile reads people only: computers (objectClass computer, or objectCategory Computer) are not users', async () => {
    const snapshot = await ldap(ad).fetchSnapshot();
    expect(snapshot.users).toHaveLength(CORP_USERS);
    expect(snapshot.users.filter((u) => /WS-|KIOSK|SRV/.test(u.username))).toEqual([]);
    const plan = planSync({ policy: policy({ directories: [{ id: 'corp', allUsers: true }] }), snapshots: [snapshot], current: [] });
    expect(plan.summary.create).toBe(CORP_USERS - 1); // corp5 is disabled
  });

  it('the LDIF reader applies the same selection to an export of that directory', async () => {
    const exported = slapd.exportLdif('DC=corp,DC=example', { bindDn: AD_SVC_DN });
    expect(exported).toMatch(/^dn: cn=WS-0001,ou=Workstations,/im);
    const fromLdif = await ldif(exported, { profile: 'active-directory' }).fetchSnapshot();
    const fromLdap = await ldap(ad).fetchSnapshot();
    expect(fromLdif.users).toHaveLength(CORP_USERS);
    expect(summary(fromLdif).users).toEqual(summary(fromLdap).users);
  });
});

describe('memberUid holding member DNs (12.5)', () => {
  it('accepts DN values in memberUid and reports the references that match nobody, per group', async () => {
    const snapshot = await ldap().fetchSnapshot();
    const posix = snapshot.groups.find((g) => g.name === 'posix-dns');
    const lee = snapshot.users.find((u) => u.username === 'lee');
    expect(posix?.memberUserIds).toEqual([lee?.externalId]);
    expect(snapshot.unresolvedMembers).toEqual([{ groupId: qGroupDn('posix-dns').toLowerCase(), group: 'posix-dns', count: 2, examples: [qUserDn('ghost').toLowerCase(), 'nobody-here'] }]);
    const fromLdif = await ldif(slapd.exportLdif(QUIRKS, { operational: true }), quirks).fetchSnapshot();
    expect(summary(fromLdif)).toEqual(summary(snapshot));
  });

  it('names them in plan and sync summaries, directories test and explain', () => {
    const cli = workspace(quirkDirectory, '[posix-dns]');
    const warning = /posix-dns \(corp\): 2 member references match no user or group read \(e\.g\. uid=ghost,ou=people,ou=quirks,dc=example,dc=com, nobody-here\)/;
    const plan = cli('plan');
    expect(plan.status).toBe(0);
    expect(plan.stdout).toContain('created 1,');
    expect(plan.stdout).toMatch(warning);
    expect(cli('sync').stdout).toMatch(warning);
    const probe = cli('directories', 'test', 'corp');
    expect(probe.status).toBe(0);
    expect(probe.stdout).toMatch(/posix-dns: 2 member references match no user or group read/);
    const explain = cli('explain', 'lee');
    expect(explain.stdout).toMatch(/^lee: CUSTOMER: member of posix-dns in corp/);
    expect(explain.stdout).toMatch(warning);
    expect(JSON.parse(cli('plan', '--json').stdout)).toMatchObject({ plan: { warnings: [{ kind: 'unresolved-members', directoryId: 'corp', group: 'posix-dns', count: 2 }] } });
  });
});

describe('a customer group that exists in no directory (12.6)', () => {
  it('warns in plan and sync, fails config validate --live, and shows in audit seats', () => {
    const cli = workspace(quirkDirectory, '[quirk-customers, Blue Teams]');
    const warning = /customer group "Blue Teams" \(roles\.customer\.groups\[1\]\) exists in none of the directories read \(corp\)/;
    const plan = cli('plan');
    expect(plan.status).toBe(0);
    expect(plan.stdout).toMatch(warning);
    const sync = cli('sync');
    expect(sync.status).toBe(0);
    expect(sync.stdout).toMatch(warning);
    expect(cli('config', 'validate').status).toBe(0); // offline: the config itself is valid
    const live = cli('config', 'validate', '--live');
    expect(live.status).toBe(2);
    expect(live.stderr).toContain('ERR_CONFIG');
    expect(live.stderr).toMatch(/roles\.customer\.groups\[1\]: customer group "Blue Teams" exists in none of the directories/);
    expect(live.stdout).toMatch(/corp \[ldap\]: \d+ users, \d+ groups/);
    expect(cli('audit', 'seats').stdout).toMatch(warning);
    expect(cli('audit', 'seats', '--live').stdout).toMatch(warning);
    const fixed = workspace(quirkDirectory, '[quirk-customers]')('config', 'validate', '--live');
    expect(fixed.status).toBe(0);
  });

  it('suggests the nearest group name', () => {
    const cli = workspace(quirkDirectory, '[quirk-customer]');
    expect(cli('plan').stdout).toContain('did you mean "quirk-customers"?');
  });
});

describe('one username in two entries, and DNs that differ only in case (12.7)', () => {
  it('the group lookup and the planner agree on the winner, and the shadowing names both entries', async () => {
    const snapshot = await ldap().fetchSnapshot();
    const plan = planSync({ policy: policy({ directories: [{ id: 'corp', allUsers: false }], customerGroups: ['quirk-customers'] }), snapshots: [snapshot], current: [] });
    const created = plan.actions.flatMap((a) => (a.kind === 'create' ? [`${a.customer.username} ${a.customer.externalId}`] : []));
    expect(created).toEqual(expect.arrayContaining([`pat ${uuid(2)}`, `robin ${uuid(4)}`]));
    expect(plan.shadowed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ username: 'pat', externalId: uuid(3), location: `uid=pat,ou=Contractors,${Q_PEOPLE}`, shadowedBy: 'corp', shadowedByExternalId: uuid(2), shadowedByLocation: qUserDn('pat') }),
        expect.objectContaining({ username: 'Robin', externalId: uuid(5), shadowedByExternalId: uuid(4) }),
      ]),
    );
  });

  it('the summary names both DNs', () => {
    const sync = workspace(quirkDirectory, '[quirk-customers]')('sync');
    expect(sync.stdout).toContain(`pat in corp (uid=pat,ou=Contractors,${Q_PEOPLE}) is shadowed by corp (uid=pat,${Q_PEOPLE})`);
    expect(sync.stdout).not.toMatch(/is shadowed by corp$/m);
  });
});

describe('exports without entryUUID, and id: dn (12.8)', () => {
  it('an export without the stable id fails with the attribute and the fix; id: dn reads it, as it reads the server', async () => {
    const exported = slapd.exportLdif(Q_PEOPLE);
    expect(exported).not.toContain('entryUUID');
    const error = await ldif(exported).fetchSnapshot().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DirbridgeError);
    expect((error as Error).message).toMatch(/line \d+: user uid=nadia,ou=People,ou=Quirks,dc=example,dc=com has no entryUUID/);
    expect((error as Error).message).toContain('attributes: { id: dn }');
    const byDn = await ldif(exported, { attributes: { id: 'dn' } }).fetchSnapshot();
    expect(byDn.users.find((u) => u.username === 'nadia')?.externalId).toBe(qUserDn('nadia'));
    const fromServer = await ldap({ attributes: { id: 'dn' }, groups: undefined }).fetchSnapshot();
    expect(summary(byDn).users).toEqual(summary(fromServer).users);
  });
});

describe('directories test reads as sync reads (12.9)', () => {
  const probe = (bindDn: string, pageSize: number) =>
    workspace(`bind: { dn: "${bindDn}", password: "${SVC_PW}" }
    users: { baseDn: "ou=People,dc=example,dc=com" }
    groups: { baseDn: "ou=Groups,dc=example,dc=com" }
    pageSize: ${pageSize}`, '[sd-customers]');

  it('fails where sync fails: a page size above the server cap, with the server message', () => {
    const cli = probe(PAGE_CAP_DN, PAGE_CAP + 50);
    const test = cli('directories', 'test', 'corp');
    expect(test.status).toBe(1);
    expect(test.stderr).toContain('ERR_LDAP_SEARCH');
    expect(test.stderr).toContain('illegal pagedResults page size');
    expect(test.stderr).toContain('pageSize');
    expect(cli('sync').status).toBe(1);
    expect(probe(PAGE_CAP_DN, PAGE_CAP)('directories', 'test', 'corp').status).toBe(0);
  });

  it('fails where sync fails: a size limit met only past the first page', () => {
    const test = probe(LIMITED_DN, 25)('directories', 'test', 'corp');
    expect(test.status).toBe(1);
    expect(test.stderr).toContain("size limit cut the search");
  });
});

describe('display names (12.11)', () => {
  it('fall back to cn when displayName is absent, so a search by name finds the person', async () => {
    const snapshot = await ldap().fetchSnapshot();
    expect(snapshot.users.find((u) => u.username === 'nadia')?.displayName).toBe('Nadia Noname');
    expect(snapshot.users.find((u) => u.username === 'lee')?.displayName).toBe('Lee');
    const cli = workspace(quirkDirectory, '[quirk-customers]');
    expect(cli('sync').status).toBe(0);
    const found = JSON.parse(cli('customers', 'list', '--search', 'noname', '--json').stdout) as { items: { username: string }[] };
    expect(found.items.map((c) => c.username)).toEqual(['nadia']);
  });
});

describe('groups are the groups the search returns (17.1)', () => {
  it('a group the filter leaves out makes nobody a customer, whatever memberOf says', async () => {
    const snapshot = await ldap({ groups: { baseDn: Q_GROUPS, filter: '(!(cn=admin_staff))' } }).fetchSnapshot();
    const names = snapshot.groups.map((g) => g.name);
    expect(names).not.toContain('admin_staff');
    expect(names).not.toContain('elsewhere');
    const alex = snapshot.users.find((u) => u.username === 'alex');
    expect(snapshot.groups.filter((g) => g.memberUserIds.includes(alex?.externalId ?? ''))).toEqual([]); // memberOf also names quirk-customers, which does not list alex
    const plan = planSync({ policy: policy({ directories: [{ id: 'corp', allUsers: false }], customerGroups: ['quirk-customers', 'admin_staff'] }), snapshots: [snapshot], current: [] });
    expect(plan.actions.some((a) => a.kind === 'create' && a.customer.username === 'alex')).toBe(false);
    expect(plan.warnings).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'missing-group', group: 'admin_staff' })]));
    const fromLdif = await ldif(slapd.exportLdif(QUIRKS, { operational: true }), { ...quirks, groups: { baseDn: Q_GROUPS, filter: '(!(cn=admin_staff))' } }).fetchSnapshot();
    expect(summary(fromLdif)).toEqual(summary(snapshot));
  });

  it('without a group search, memberOf values are the groups, and a value that is not a DN is refused', async () => {
    const snapshot = await ldap({ groups: undefined }).fetchSnapshot();
    expect(snapshot.groups.map((g) => g.name).sort()).toEqual(['admin_staff', 'admins', 'elsewhere', 'quirk-customers']);
    const error = await ldap({ groups: undefined, attributes: { memberOfAttribute: 'sn' } }).fetchSnapshot().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DirbridgeError);
    expect((error as Error).message).toMatch(/memberOfAttribute sn holds "[^"]+", which is not a group DN/);
    expect((error as Error).message).toContain('attributes.memberOfAttribute');
  });
});

describe('memberUid values match a configurable user attribute (17.2)', () => {
  it('matches memberUid against uid by default, also when the username comes from cn, and reports what matches nobody', async () => {
    const byCn = await ldap({ attributes: { username: 'cn' } }).fetchSnapshot();
    const index = resolveMemberships(byCn, ['posix-uids']);
    expect(byCn.users.filter((u) => index.groupsOf(u.externalId).length > 0).map((u) => u.username).sort()).toEqual(['kim.cn', 'sam.cn']);
    const wrong = await ldap({ attributes: { username: 'cn', memberUidUserAttribute: 'mail' } }).fetchSnapshot();
    expect(wrong.unresolvedMembers).toEqual(expect.arrayContaining([{ groupId: qGroupDn('posix-uids').toLowerCase(), group: 'posix-uids', count: 2, examples: ['kim', 'sam'] }]));
    const fromLdif = await ldif(slapd.exportLdif(QUIRKS, { operational: true }), { ...quirks, attributes: { username: 'cn' } }).fetchSnapshot();
    expect(summary(fromLdif)).toEqual(summary(byCn));
  });
});

describe('explain tells same-named groups apart (17.5)', () => {
  it('one path per group, each group named by its DN when its name is shared', () => {
    const cli = workspace(quirkDirectory, '[quirk-customers, admins]');
    const ash = cli('explain', 'ash');
    expect(ash.status).toBe(0);
    const adminsDn = qGroupDn('admins', ADMIN_UNITS[0]).toLowerCase();
    const lines = ash.stdout.split('\n').filter((l) => l.includes('customer group'));
    expect(lines).toEqual([`    customer group admins [${adminsDn}]: admins [${adminsDn}]`, `    customer group quirk-customers: admins [${adminsDn}] → quirk-customers`]);
    const lee = cli('explain', 'lee').stdout.split('\n').filter((l) => l.includes('customer group admins'));
    expect(lee).toHaveLength(4);
    expect(new Set(lee).size).toBe(4);
  });
});

describe('the LDIF reader selects users and groups as the LDAP reader does (17.6)', () => {
  it('reads one subtree of an export that holds several, by base DN, scope and filter', async () => {
    const whole = slapd.exportLdif('dc=example,dc=com', { operational: true });
    const selection = { users: { baseDn: Q_PEOPLE, scope: 'one', filter: '(|(mail=*@quirks.example)(cn=Nadia*))' }, groups: { baseDn: Q_GROUPS, scope: 'sub', filter: '(|(cn=admins)(objectClass=posixGroup))' } };
    const fromLdif = await ldif(whole, selection).fetchSnapshot();
    const fromLdap = await ldap(selection).fetchSnapshot();
    expect(usernames(fromLdif)).not.toContain('user000');
    expect(fromLdif.users.filter((u) => u.username === 'pat')).toHaveLength(1); // ou=Contractors is below scope one
    expect(summary(fromLdif)).toEqual(summary(fromLdap));
    expect(fromLdif.groups.map((g) => g.name).sort()).toEqual(['admins', 'admins', 'admins', 'admins', 'admins', 'posix-dns', 'posix-uids']);
  });
});
