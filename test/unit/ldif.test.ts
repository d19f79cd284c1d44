import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLdif } from '../../connectors/ldif/ldif-parser.js';
import { openLdifConnector } from '../../connectors/ldif/ldif-connector.js';
import { ldifConfigSchema } from '../../connectors/ldif/config.js';
import { guidToString, normalizeDn } from '../../connectors/shared/snapshot-builder.js';
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

  it('fails with the line number when an entry lacks its stable id, and when the file is missing', async () => {
    const error = await connector('dn: uid=a,dc=x\nobjectClass: inetOrgPerson\nuid: a\n').fetchSnapshot().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DirbridgeError);
    expect(error).toMatchObject({ code: 'ERR_LDIF_PARSE' });
    expect((error as Error).message).toMatch(/line 1: user uid=a,dc=x has no entryUUID/);
    const missing = openLdifConnector('dir', ldifConfigSchema.parse({ type: 'ldif', path: 'nope.ldif' }), { logger, baseDir: tmp });
    await expect(missing.fetchSnapshot()).rejects.toMatchObject({ code: 'ERR_DIRECTORY_READ' });
  });

  it('normalises DNs for matching and formats GUIDs', () => {
    expect(normalizeDn('CN=A\\, B , OU=X ,DC=Y')).toBe('cn=a\\, b,ou=x,dc=y');
    expect(guidToString(Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'))).toBe('03020100-0504-0706-0809-0a0b0c0d0e0f');
  });
});
