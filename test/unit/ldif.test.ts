import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLdif } from '../../connectors/ldif/ldif-parser.js';
import { openLdifConnector } from '../../connectors/ldif/ldif-connector.js';
import { ldifConfigSchema } from '../../connectors/ldif/config.js';
import { guidToString, normalizeDn, tidyDn } from '../../connectors/shared/snapshot-builder.js';
import { matchesFilter, scopeTest } from '../../connectors/shared/selection.js';
import { FilterParser } from 'ldapts';
import { planSync } from '../../src/core/plan-sync.js';
import { policy } from '../helpers/fixtures.js';
import { DirbridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { resolveMemberships } from '../../src/core/resolve-memberships.js';

const tmp = mkdtempSync(join(tmpdir(), 'dirbridge-ldif-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const logger = createLogger({ level: 'silent' });

async function entries(text: string) {
  const out = [];
  for await (const e of parseLdif(text.split('\n'))) out.push(e);
  return out;
}

function connector(text: string, config: Record<string, unknown> = {}) {
  const path = join(tmp, `d-${Math.random().toString(36).slice(2)}.ldif`);
  writeFileSync(path, text);
  return openLdifConnector('dir', ldifConfigSchema.parse({ type: 'ldif', path, ...config }), { logger, baseDir: tmp });
}

describe('LDIF parser (RFC 2849)', () => {
  it('reads comments, folded lines, base64 values, options and multi-valued attributes, with CRLF line ends', async () => {
    const text = [
      'version: 1',
      '# a comment',
      ' that continues',
      'dn: uid=jose,ou=People,dc=example,dc=com',
      'objectClass: inetOrgPerson',
      'cn:: Sm9zw6kgTcO8bGxlcg==',
      'description: a long value that is',
      '  folded',
      'member;range=0-1: a',
      'MEMBER: b',
      'empty:',
      '',
      '',
      'dn:: dWlkPXrDtmUsZGM9ZXhhbXBsZQ==',
      'uid: zoe',
    ].join('\r\n');
    const parsed = await entries(text);
    expect(parsed.map((e) => [e.line, e.entry.dn])).toEqual([
      [4, 'uid=jose,ou=People,dc=example,dc=com'],
      [14, 'uid=zöe,dc=example'],
    ]);
    const attrs = parsed[0]?.entry.attributes;
    expect(Buffer.from(attrs?.get('cn')?.[0] as Uint8Array).toString('utf8')).toBe('José Müller');
    expect(attrs?.get('description')).toEqual(['a long value that is folded']);
    expect(attrs?.get('member')).toEqual(['a', 'b']);
    expect(attrs?.get('empty')).toEqual(['']);
  });

  it.each([
    ['dn: a\nno colon here', 2, 'expected "attribute: value"'],
    ['dn: a\ncn:: !!!notbase64', 2, 'invalid base64'],
    ['cn: x', 1, 'must start with "dn:"'],
    ['dn: a\nchangetype: modify', 2, 'change records'],
    ['dn: a\njpegPhoto:< file:///etc/passwd', 2, 'URL values'],
    ['dn: a\ndn: b', 2, 'second "dn:"'],
    [' folded first', 1, 'continuation line'],
    ['version: 2', 1, 'version: 1'],
  ])('fails on %j at line %i', async (text, line, message) => {
    const error = await entries(text).catch((e: unknown) => e);
    expect(error).toMatchObject({ line });
    expect(String((error as Error).message)).toContain(message);
  });
});

describe('LDIF connector', () => {
  it('reads the sample directory: nested groups with a cycle, posixGroup members, disabled users', async () => {
    const sample = openLdifConnector('sample', ldifConfigSchema.parse({ type: 'ldif', path: join(import.meta.dirname, '..', '..', 'config', 'examples', 'sample-directory.ldif') }), { logger, baseDir: tmp });
    const snapshot = await sample.fetchSnapshot();
    expect(snapshot.users).toHaveLength(305);
    expect(snapshot.groups).toHaveLength(8);
    expect(snapshot.users.filter((u) => u.disabled)).toHaveLength(4);
    const index = resolveMemberships(snapshot, ['sd-customers', 'partner-portal', 'jira-servicedesk-users']);
    const carol = snapshot.users.find((u) => u.username === 'carol.agent');
    expect(index.groupsOf(carol?.externalId ?? '')).toEqual(['jira-servicedesk-users', 'sd-customers']);
    const inCustomers = snapshot.users.filter((u) => index.groupsOf(u.externalId).includes('sd-customers'));
    expect(inCustomers).toHaveLength(201); // 200 under ou=Customers through nesting, plus carol.agent
    expect(snapshot.users.filter((u) => index.groupsOf(u.externalId).includes('partner-portal'))).toHaveLength(40);
    const star = snapshot.users.find((u) => u.displayName?.startsWith('Star'));
    expect(star?.displayName).toBe('Star (*) User\\');
    const check = await sample.check();
    expect(check).toMatchObject({ users: 305, groups: 8, mapping: { externalId: 'entryUUID', username: 'uid' } });
  });

  it('maps Active Directory exports: objectGUID to its canonical form, userAccountControl bit 2, memberOf-only groups', async () => {
    const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const text = [
      'dn: CN=Ann Example,OU=Customers,DC=corp,DC=example',
      'objectClass: top',
      'objectClass: user',
      `objectGUID:: ${guid.toString('base64')}`,
      'sAMAccountName: ann',
      'userAccountControl: 514',
      'memberOf: CN=SD-Customers,OU=Groups,DC=corp,DC=example',
      '',
      'dn: CN=Bob,OU=Customers,DC=corp,DC=example',
      'objectClass: user',
      `objectGUID:: ${Buffer.alloc(16, 1).toString('base64')}`,
      'sAMAccountName: bob',
      'userAccountControl: 512',
      'memberOf: cn=sd-customers, ou=groups, dc=corp, dc=example',
    ].join('\n');
    const snap = await connector(text, { profile: 'active-directory' }).fetchSnapshot();
    expect(snap.users.map((u) => [u.externalId, u.username, u.disabled])).toEqual([
      ['33221100-5544-7766-8899-aabbccddeeff', 'ann', true],
      ['01010101-0101-0101-0101-010101010101', 'bob', false],
    ]);
    expect(snap.groups).toEqual([{ id: 'cn=sd-customers,ou=groups,dc=corp,dc=example', name: 'SD-Customers', memberUserIds: snap.users.map((u) => u.externalId), memberGroupIds: [] }]);
  });

  it('fails with the line number, the missing attribute and the fix when an entry lacks its stable id, and when the file is missing', async () => {
    const error = await connector('dn: uid=a,dc=x\nobjectClass: inetOrgPerson\nuid: a\n').fetchSnapshot().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DirbridgeError);
    expect(error).toMatchObject({ code: 'ERR_DIRECTORY_READ', retryable: false, details: { line: 1 } });
    expect((error as Error).message).toMatch(/line 1: user uid=a,dc=x has no entryUUID \(its stable id\)/);
    expect((error as Error).message).toContain('set the directory\'s attributes.id to an attribute every user carries, or use the DN with attributes: { id: dn } (a rename or move is then a new customer)');
    const missing = openLdifConnector('dir', ldifConfigSchema.parse({ type: 'ldif', path: 'nope.ldif' }), { logger, baseDir: tmp });
    await expect(missing.fetchSnapshot()).rejects.toMatchObject({ code: 'ERR_DIRECTORY_READ' });
  });

  it('normalises DNs for matching and formats GUIDs', () => {
    expect(normalizeDn('CN=A\\, B , OU=X ,DC=Y')).toBe('cn=a\\, b,ou=x,dc=y');
    expect(guidToString(Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'))).toBe('03020100-0504-0706-0809-0a0b0c0d0e0f');
  });
});

/** An LDIF person; `extra` lines are added as they are. */
function person(dn: string, uid: string, extra: string[] = []): string {
  const id = createHash('sha256').update(dn).digest('hex').slice(0, 12);
  return [`dn: ${dn}`, 'objectClass: inetOrgPerson', `uid: ${uid}`, `cn: ${uid}`, `sn: ${uid}`, `entryUUID: 00000000-0000-4000-8000-${id}`, ...extra, ''].join('\n');
}

describe('LDIF files as other projects write them', () => {
  it('the active-directory profile skips computer accounts: objectClass computer, or objectCategory Computer (12.4)', async () => {
    const entry = (cn: string, classes: string[], category: string, i: number) =>
      [`dn: CN=${cn},OU=Corp,DC=corp,DC=example`, ...classes.map((c) => `objectClass: ${c}`), `objectGUID:: ${Buffer.alloc(16, i).toString('base64')}`, `sAMAccountName: ${cn}`, `objectCategory: CN=${category},CN=Schema,CN=Configuration,DC=corp,DC=example`, ''].join('\n');
    const text = [
      entry('ann', ['top', 'person', 'organizationalPerson', 'user'], 'Person', 1),
      entry('WS-01', ['top', 'person', 'organizationalPerson', 'user', 'computer'], 'Computer', 2),
      entry('KIOSK', ['top', 'user'], 'Computer', 3),
      entry('bob', ['top', 'person', 'organizationalPerson', 'user', 'inetOrgPerson'], 'Person', 4),
    ].join('\n');
    const snapshot = await connector(text, { profile: 'active-directory' }).fetchSnapshot();
    expect(snapshot.users.map((u) => u.username)).toEqual(['ann', 'bob']);
    const plan = planSync({ policy: policy({ directories: [{ id: 'dir', allUsers: true }] }), snapshots: [snapshot], current: [] });
    expect(plan.summary.create).toBe(2);
  });

  it('memberUid holding DNs counts them as members, and unresolved references are counted per group (12.5)', async () => {
    const text = [
      person('uid=lee,ou=People,dc=x', 'lee'),
      person('uid=kim,ou=People,dc=x', 'kim'),
      ['dn: cn=posix,ou=Groups,dc=x', 'objectClass: posixGroup', 'cn: posix', 'gidNumber: 1', 'memberUid: uid=LEE, ou=People, dc=x', 'memberUid: kim', 'memberUid: uid=gone,ou=People,dc=x', 'memberUid: nobody', 'memberUid: cn=more,ou=Groups,dc=x', ''].join('\n'),
      ['dn: cn=more,ou=Groups,dc=x', 'objectClass: groupOfNames', 'cn: more', 'member: uid=kim,ou=People,dc=x', 'member: uid=other,ou=Elsewhere,dc=x', ''].join('\n'),
    ].join('\n');
    const snapshot = await connector(text).fetchSnapshot();
    const posix = snapshot.groups.find((g) => g.name === 'posix');
    expect(posix?.memberUserIds.map((id) => snapshot.users.find((u) => u.externalId === id)?.username).sort()).toEqual(['kim', 'lee']);
    expect(posix?.memberGroupIds).toEqual(['cn=more,ou=groups,dc=x']);
    expect(snapshot.unresolvedMembers).toEqual([
      { groupId: 'cn=posix,ou=groups,dc=x', group: 'posix', count: 2, examples: ['uid=gone,ou=people,dc=x', 'nobody'] },
      { groupId: 'cn=more,ou=groups,dc=x', group: 'more', count: 1, examples: ['uid=other,ou=elsewhere,dc=x'] },
    ]);
    expect((await connector(text).check()).unresolvedMembers).toHaveLength(2);
  });

  it('two entries whose DNs differ only in case: the member DN names both, and the one that wins the username is the customer (12.7)', async () => {
    // The group names the DN; the copy read last has the larger id and would have taken the DN alone.
    const text = [
      ['dn: uid=jdoe,ou=People,dc=x', 'objectClass: inetOrgPerson', 'uid: jdoe', 'cn: J', 'sn: D', 'entryUUID: 00000000-0000-4000-8000-000000000001', ''].join('\n'),
      ['dn: uid=JDoe,ou=People,dc=x', 'objectClass: inetOrgPerson', 'uid: JDoe', 'cn: J', 'sn: D', 'entryUUID: 00000000-0000-4000-8000-000000000002', ''].join('\n'),
      ['dn: cn=customers,ou=Groups,dc=x', 'objectClass: groupOfNames', 'cn: customers', 'member: uid=jdoe,ou=People,dc=x', ''].join('\n'),
    ].join('\n');
    const snapshot = await connector(text).fetchSnapshot();
    const plan = planSync({ policy: policy({ directories: [{ id: 'dir', allUsers: false }] }), snapshots: [snapshot], current: [] });
    expect(plan.actions.map((a) => (a.kind === 'create' ? a.customer.externalId : null))).toEqual(['00000000-0000-4000-8000-000000000001']);
    expect(plan.shadowed).toEqual([expect.objectContaining({ externalId: '00000000-0000-4000-8000-000000000002', location: 'uid=JDoe,ou=People,dc=x', shadowedByLocation: 'uid=jdoe,ou=People,dc=x' })]);
  });

  it('reads an export without entryUUID with id: dn; the DN is kept as written, without separator spacing (12.8)', async () => {
    const text = ['dn: uid=ann, ou=People, dc=x', 'objectClass: inetOrgPerson', 'uid: ann', 'cn: Ann', 'sn: A', ''].join('\n');
    const snapshot = await connector(text, { attributes: { id: 'dn' } }).fetchSnapshot();
    expect(snapshot.users.map((u) => u.externalId)).toEqual(['uid=ann,ou=People,dc=x']);
    expect(tidyDn(' CN=A\\, B , OU=X ')).toBe('CN=A\\, B,OU=X');
  });

  it('display names fall back to cn, then given name and surname (12.11)', async () => {
    const text = [
      person('uid=a,dc=x', 'a', ['displayName: Ann Display']),
      ['dn: uid=b,dc=x', 'objectClass: inetOrgPerson', 'uid: b', 'cn: Bob Common', 'sn: Common', 'entryUUID: 00000000-0000-4000-8000-00000000000b', ''].join('\n'),
      ['dn: uid=c,dc=x', 'objectClass: inetOrgPerson', 'uid: c', 'givenName: Cy', 'sn: Given', 'displayName: ', 'entryUUID: 00000000-0000-4000-8000-00000000000c', ''].join('\n'),
      ['dn: uid=d,dc=x', 'objectClass: inetOrgPerson', 'uid: d', 'entryUUID: 00000000-0000-4000-8000-00000000000d', ''].join('\n'),
    ].join('\n');
    const snapshot = await connector(text).fetchSnapshot();
    expect(snapshot.users.map((u) => u.displayName)).toEqual(['Ann Display', 'Bob Common', 'Cy Given', null]);
  });

  const withMemberOf = [
    person('uid=alex,ou=People,dc=x', 'alex', ['memberOf: cn=admin_staff,ou=Groups,dc=x', 'memberOf: cn=other,ou=Elsewhere,dc=x', 'gidNumber: 1000']),
    person('uid=ann,ou=People,dc=x', 'ann', ['memberOf: cn=customers,ou=Groups,dc=x']),
    ['dn: cn=customers,ou=Groups,dc=x', 'objectClass: groupOfNames', 'cn: customers', 'member: uid=ann,ou=People,dc=x', ''].join('\n'),
    ['dn: cn=admin_staff,ou=Groups,dc=x', 'objectClass: groupOfNames', 'cn: admin_staff', 'member: uid=alex,ou=People,dc=x', ''].join('\n'),
  ].join('\n');

  it('with a group selection only the selected groups exist; memberOf is not read (17.1)', async () => {
    const snapshot = await connector(withMemberOf, { groups: { baseDn: 'ou=Groups,dc=x', filter: '(!(cn=admin_staff))' } }).fetchSnapshot();
    expect(snapshot.groups.map((g) => g.name)).toEqual(['customers']);
    const whole = await connector(withMemberOf).fetchSnapshot(); // group entries in the file: memberOf is not needed
    expect(whole.groups.map((g) => g.name).sort()).toEqual(['admin_staff', 'customers']);
  });

  it('memberOf makes the groups of a file without group entries, and a value that is not a DN is refused (17.1)', async () => {
    const usersOnly = withMemberOf.split('\n\n').filter((b) => !b.includes('groupOfNames')).join('\n\n');
    const snapshot = await connector(usersOnly).fetchSnapshot();
    expect(snapshot.groups.map((g) => g.name).sort()).toEqual(['admin_staff', 'customers', 'other']);
    const error = await connector(usersOnly, { attributes: { memberOfAttribute: 'gidNumber' } }).fetchSnapshot().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_DIRECTORY_READ', message: expect.stringContaining('memberOfAttribute gidNumber holds "1000", which is not a group DN') });
  });

  it('memberUid values match the memberUidUserAttribute, uid by default, whatever the username attribute (17.2)', async () => {
    const text = [
      person('uid=kim,ou=People,dc=x', 'kim', ['employeeNumber: E7']),
      ['dn: cn=posix,ou=Groups,dc=x', 'objectClass: posixGroup', 'cn: posix', 'gidNumber: 1', 'memberUid: kim', ''].join('\n'),
      ['dn: cn=byemp,ou=Groups,dc=x', 'objectClass: posixGroup', 'cn: byemp', 'gidNumber: 2', 'memberUid: e7', ''].join('\n'),
    ].join('\n');
    const byMail = await connector(text, { attributes: { username: 'sn' } }).fetchSnapshot();
    expect(byMail.groups.find((g) => g.name === 'posix')?.memberUserIds).toHaveLength(1);
    expect(byMail.unresolvedMembers).toEqual([{ groupId: 'cn=byemp,ou=groups,dc=x', group: 'byemp', count: 1, examples: ['e7'] }]);
    const byEmployee = await connector(text, { attributes: { memberUidUserAttribute: 'employeeNumber' } }).fetchSnapshot();
    expect(byEmployee.groups.find((g) => g.name === 'byemp')?.memberUserIds).toHaveLength(1);
  });

  it('selects users and groups by base DN, scope and filter, as an LDAP search would (17.6)', async () => {
    const text = [
      person('uid=a,ou=People,dc=x', 'a', ['mail: a@x', 'employeeType: staff']),
      person('uid=b,ou=Sub,ou=People,dc=x', 'b', ['mail: b@x']),
      person('uid=c,ou=Other,dc=x', 'c', ['mail: c@x']),
      person('uid=d,ou=People,dc=x', 'd'),
      ['dn: cn=g1,ou=Groups,dc=x', 'objectClass: groupOfNames', 'cn: g1', 'member: uid=a,ou=People,dc=x', 'member: uid=c,ou=Other,dc=x', ''].join('\n'),
      ['dn: cn=g2,ou=Old,ou=Groups,dc=x', 'objectClass: groupOfNames', 'cn: g2', 'member: uid=a,ou=People,dc=x', ''].join('\n'),
    ].join('\n');
    const read = (config: Record<string, unknown>) => connector(text, config).fetchSnapshot();
    expect((await read({ users: { baseDn: 'ou=People,dc=x' } })).users.map((u) => u.username)).toEqual(['a', 'b', 'd']);
    expect((await read({ users: { baseDn: 'OU=People, DC=X', scope: 'one' } })).users.map((u) => u.username)).toEqual(['a', 'd']);
    expect((await read({ users: { baseDn: 'dc=x', filter: '(mail=*)' } })).users.map((u) => u.username)).toEqual(['a', 'b', 'c']);
    const selected = await read({ users: { baseDn: 'ou=People,dc=x' }, groups: { baseDn: 'ou=Groups,dc=x', scope: 'one' } });
    expect(selected.groups.map((g) => g.name)).toEqual(['g1']);
    expect(selected.unresolvedMembers).toEqual([{ groupId: 'cn=g1,ou=groups,dc=x', group: 'g1', count: 1, examples: ['uid=c,ou=other,dc=x'] }]);
    expect(() => ldifConfigSchema.parse({ type: 'ldif', path: 'x', users: { baseDn: 'dc=x', filter: '(cn:caseExactMatch:=A)' } })).toThrow(/extensible matches/);
  });

  it('evaluates filters on entries as a server would for the usual matching rules', () => {
    const entry = { dn: 'uid=a,dc=x', attributes: new Map<string, string[]>([['objectclass', ['top', 'inetOrgPerson']], ['cn', ['Ann  Example']], ['uidnumber', ['1000']], ['member', ['CN=G, OU=Groups,DC=X']], ['mail', ['Ann@X.org']]]) };
    const matches = (text: string) => matchesFilter(FilterParser.parseString(text), entry);
    expect(matches('(objectClass=INETORGPERSON)')).toBe(true);
    expect(matches('(cn=ann example)')).toBe(true);
    expect(matches('(cn=Ann*mple)')).toBe(true);
    expect(matches('(cn=*nn*x*)')).toBe(true);
    expect(matches('(cn=*z*)')).toBe(false);
    expect(matches('(uidNumber>=999)')).toBe(true);
    expect(matches('(uidNumber<=0999)')).toBe(false);
    expect(matches('(uidNumber=01000)')).toBe(true);
    expect(matches('(member=cn=g,ou=groups,dc=x)')).toBe(true);
    expect(matches('(&(mail=*@x.org)(!(description=*)))')).toBe(true);
    expect(matches('(|(sn=nobody)(!(objectClass=computer)))')).toBe(true);
    expect(matches('(!(cn=Ann Example))')).toBe(false);
    expect([scopeTest({ baseDn: 'dc=x', scope: 'one' })('uid=a,dc=x'), scopeTest({ baseDn: 'dc=x', scope: 'one' })('uid=a,ou=p,dc=x'), scopeTest({ baseDn: 'dc=x', scope: 'sub' })('dc=x')]).toEqual([true, false, true]);
  });
});
