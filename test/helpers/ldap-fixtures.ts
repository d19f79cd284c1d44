import { AD_SVC_DN, LIMITED_DN, SVC_DN, SVC_PW } from './slapd.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const line = (name: string, value: string): string => (/^[\x20-\x7e]*$/.test(value) && !/^[ :<]/.test(value) ? `${name}: ${value}` : `${name}:: ${b64(value)}`);
const uid = (i: number): string => `user${String(i).padStart(3, '0')}`;
export const PEOPLE = 'ou=People,dc=example,dc=com';
export const GROUPS = 'ou=Groups,dc=example,dc=com';
export const userDn = (i: number): string => `uid=${uid(i)},${PEOPLE}`;
const groupDn = (cn: string): string => `cn=${cn},${GROUPS}`;
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

/**
 * The entries a test directory starts with: its suffix, organisational units (parents before
 * children) and service accounts that bind with SVC_PW. Names come from each DN's first RDN.
 */
export function directorySkeleton(options: { suffix: string; organization: string; units: readonly string[]; serviceAccounts: readonly string[] }): string[] {
  const rdnValue = (dn: string): string => /^[^=]+=([^,]+)/.exec(dn)?.[1] ?? '';
  return [
    `dn: ${options.suffix}`, 'objectClass: dcObject', 'objectClass: organization', `o: ${options.organization}`, `dc: ${rdnValue(options.suffix)}`, '',
    ...options.units.flatMap((dn) => [`dn: ${dn}`, 'objectClass: organizationalUnit', `ou: ${rdnValue(dn)}`, '']),
    ...options.serviceAccounts.flatMap((dn) => [`dn: ${dn}`, 'objectClass: organizationalRole', 'objectClass: simpleSecurityObject', `cn: ${rdnValue(dn)}`, `userPassword: ${SVC_PW}`, '']),
  ];
}

/** 120 users (over the server's size limit of 50) in an OpenLDAP-style tree. */
export const EXAMPLE_USERS = 120;

/**
 * OpenLDAP-style directory: nested customer groups with a cycle (emea ⊂ sd-customers, benelux ⊂ emea,
 * emea ⊂ benelux), a posixGroup with memberUid, a disabled user (pwdAccountLockedTime), non-ASCII
 * names, a value with filter metacharacters, users' memberOf, and a referral under ou=Partners.
 */
export function exampleLdif(): string {
  const groups: Record<string, { cls: string; members?: string[]; memberUids?: string[] }> = {
    'sd-customers': { cls: 'groupOfNames', members: [groupDn('emea-customers'), ...range(0, 20).map(userDn)] },
    'emea-customers': { cls: 'groupOfNames', members: [groupDn('benelux-customers'), ...range(20, 60).map(userDn)] },
    'benelux-customers': { cls: 'groupOfNames', members: [groupDn('emea-customers'), ...range(60, 80).map(userDn)] },
    'partner-portal': { cls: 'posixGroup', memberUids: range(80, 90).map(uid) },
    'jira-servicedesk-users': { cls: 'groupOfNames', members: [userDn(19), ...range(100, 105).map(userDn)] },
  };
  const memberOf = new Map<string, string[]>();
  for (const [cn, g] of Object.entries(groups)) for (const m of g.members ?? []) memberOf.set(m, [...(memberOf.get(m) ?? []), groupDn(cn)]);
  const out = [
    ...directorySkeleton({ suffix: 'dc=example,dc=com', organization: 'Example', units: ['ou=Service,dc=example,dc=com', PEOPLE, GROUPS, 'ou=Partners,dc=example,dc=com'], serviceAccounts: [SVC_DN, LIMITED_DN] }),
    'dn: ou=Elsewhere,ou=Partners,dc=example,dc=com', 'objectClass: referral', 'objectClass: extensibleObject', 'ou: Elsewhere', 'ref: ldap://127.0.0.2:1/ou=Elsewhere,dc=other,dc=com', '',
  ];
  for (const i of range(0, EXAMPLE_USERS)) {
    const cn = i === 0 ? 'José Müller' : i === 1 ? 'Star (*) User\\' : `User ${i}`;
    out.push(
      `dn: ${userDn(i)}`, 'objectClass: inetOrgPerson', 'objectClass: extensibleObject', `uid: ${uid(i)}`, line('cn', cn), `sn: ${i}`, line('displayName', cn), `mail: ${uid(i)}@example.org`,
      ...(i === 2 ? ['pwdAccountLockedTime: 000001010000Z'] : []),
      ...(memberOf.get(userDn(i)) ?? []).map((g) => `memberOf: ${g}`),
      '',
    );
  }
  for (const [cn, g] of Object.entries(groups)) {
    out.push(`dn: ${groupDn(cn)}`, `objectClass: ${g.cls}`, `cn: ${cn}`, ...(g.cls === 'posixGroup' ? ['gidNumber: 5001'] : []), ...(g.members ?? []).map((m) => `member: ${m}`), ...(g.memberUids ?? []).map((m) => `memberUid: ${m}`), '');
  }
  return out.join('\n');
}

export const CORP_USERS = 60;
export const guidOf = (i: number): Buffer => Buffer.from(`a1b2c3d4e5f6071829304a5b6c7d${i.toString(16).padStart(4, '0')}`, 'hex');

/** Active Directory-style directory (msuser.schema): objectGUID, sAMAccountName, userAccountControl, group. */
export function corpLdif(): string {
  const ad = (dn: string): string[] => ['instanceType: 4', 'nTSecurityDescriptor:: AAAA', `objectCategory: CN=Person,CN=Schema,CN=Configuration,DC=corp,DC=example`, `distinguishedName: ${dn}`];
  const userDnAd = (i: number): string => `CN=Corp User ${i},OU=Users,DC=corp,DC=example`;
  const out = [
    ...directorySkeleton({ suffix: 'dc=corp,dc=example', organization: 'Corp', units: ['OU=Service,DC=corp,DC=example', 'OU=Users,DC=corp,DC=example', 'OU=Groups,DC=corp,DC=example'], serviceAccounts: [AD_SVC_DN] }),
  ];
  for (const i of range(0, CORP_USERS)) {
    out.push(
      `dn: ${userDnAd(i)}`, 'objectClass: user', 'objectClass: extensibleObject', `cn: Corp User ${i}`, `sn: ${i}`, `sAMAccountName: corp${i}`, `mail: corp${i}@corp.example`,
      `objectGUID:: ${guidOf(i).toString('base64')}`, `userAccountControl: ${i === 5 ? 514 : 512}`, ...ad(userDnAd(i)), '',
    );
  }
  const group = (cn: string, members: string[]): string[] => [`dn: CN=${cn},OU=Groups,DC=corp,DC=example`, 'objectClass: group', 'objectClass: extensibleObject', `cn: ${cn}`, 'groupType: -2147483646', `sAMAccountName: ${cn}`, ...ad(`CN=${cn},OU=Groups,DC=corp,DC=example`), ...members.map((m) => `member: ${m}`), ''];
  out.push(...group('SD-Customers', ['CN=EMEA,OU=Groups,DC=corp,DC=example', ...range(0, 20).map(userDnAd)]));
  out.push(...group('EMEA', range(20, 40).map(userDnAd)));
  return out.join('\n');
}
