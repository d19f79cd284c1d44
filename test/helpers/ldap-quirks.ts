import { guidOf } from './ldap-fixtures.js';
import { PAGE_CAP_DN, SVC_PW } from './slapd.js';

/**
 * Directory data as other people write it, loaded beside the tidy fixtures (in their own subtrees, so
 * the counts other tests rely on do not move). Each entry is here for a finding of the real-directories
 * issues; the comment on each names the quirk.
 */
export const QUIRKS = 'ou=Quirks,dc=example,dc=com';
export const Q_PEOPLE = `ou=People,${QUIRKS}`;
export const Q_GROUPS = `ou=Groups,${QUIRKS}`;
export const qUserDn = (uid: string): string => `uid=${uid},${Q_PEOPLE}`;
export const qGroupDn = (cn: string, under = Q_GROUPS): string => `cn=${cn},${under}`;
/** Units holding one group called "admins" each: five groups of one name in different places. */
export const ADMIN_UNITS = ['eng', 'ops', 'hr', 'it', 'sales'].map((ou) => `ou=${ou},${Q_GROUPS}`);
/** Entry UUIDs are set here (slapadd keeps them), so which copy of a duplicate wins is known. */
export const uuid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

interface Person {
  readonly dn: string;
  readonly uid: string;
  readonly uuid: string;
  readonly cn?: string;
  readonly displayName?: string;
  readonly extra?: readonly string[];
}

const person = (p: Person): string[] => [
  `dn: ${p.dn}`, 'objectClass: inetOrgPerson', 'objectClass: extensibleObject', `uid: ${p.uid}`, `cn: ${p.cn ?? p.uid}`, `sn: ${p.uid}`,
  ...(p.displayName === undefined ? [] : [`displayName: ${p.displayName}`]), `mail: ${p.uid.toLowerCase()}@quirks.example`, `entryUUID: ${p.uuid}`, ...(p.extra ?? []), '',
];

const groupOfNames = (dn: string, cn: string, members: readonly string[]): string[] => [`dn: ${dn}`, 'objectClass: groupOfNames', `cn: ${cn}`, ...members.map((m) => `member: ${m}`), ''];
const posixGroup = (cn: string, gid: number, memberUids: readonly string[]): string[] => [`dn: ${qGroupDn(cn)}`, 'objectClass: posixGroup', `cn: ${cn}`, `gidNumber: ${gid}`, ...memberUids.map((m) => `memberUid: ${m}`), ''];

/**
 * The OpenLDAP-style quirks, under ou=Quirks,dc=example,dc=com:
 * - people without displayName (nadia: cn only);
 * - one username held by two entries (pat in ou=People and in ou=Contractors); the group names the copy
 *   with the larger entryUUID, which loses the username;
 * - two entries whose DNs differ only in case (homeDirectory, an RDN attribute with case-exact
 *   matching); the group names the one read first, whose twin is read later and loses the username;
 * - posixGroup memberUid holding member DNs, a DN that matches nobody and a name that matches nobody;
 * - posixGroup memberUid holding uid values of people whose cn differs from their uid;
 * - a group the admin filters out (admin_staff) whose member alex carries memberOf pointing at it,
 *   and two more memberOf values on alex: a group that does not list alex (stale) and a group outside
 *   the groups' base DN;
 * - five groups called "admins" in different units.
 */
export function quirksLdif(): string {
  const units = [QUIRKS, Q_PEOPLE, `ou=Contractors,${Q_PEOPLE}`, Q_GROUPS, ...ADMIN_UNITS];
  const rdnValue = (dn: string): string => /^[^=]+=([^,]+)/.exec(dn)?.[1] ?? '';
  const out = units.flatMap((dn) => [`dn: ${dn}`, 'objectClass: organizationalUnit', `ou: ${rdnValue(dn)}`, '']);
  // The service account whose server caps its page size (slapd.ts gives it size.pr=PAGE_CAP).
  out.push(`dn: ${PAGE_CAP_DN}`, 'objectClass: organizationalRole', 'objectClass: simpleSecurityObject', 'cn: svc-pagecap', `userPassword: ${SVC_PW}`, '');
  out.push(
    ...person({ dn: qUserDn('nadia'), uid: 'nadia', uuid: uuid(1), cn: 'Nadia Noname' }),
    ...person({ dn: qUserDn('pat'), uid: 'pat', uuid: uuid(2), displayName: 'Pat (staff)' }),
    ...person({ dn: `uid=pat,ou=Contractors,${Q_PEOPLE}`, uid: 'pat', uuid: uuid(3), displayName: 'Pat (contractor)' }),
    ...person({ dn: `homeDirectory=/home/robin,${Q_PEOPLE}`, uid: 'robin', uuid: uuid(4), displayName: 'Robin', extra: ['homeDirectory: /home/robin'] }),
    ...person({ dn: `homeDirectory=/home/Robin,${Q_PEOPLE}`, uid: 'Robin', uuid: uuid(5), displayName: 'Robin Twin', extra: ['homeDirectory: /home/Robin'] }),
    ...person({ dn: qUserDn('lee'), uid: 'lee', uuid: uuid(6), displayName: 'Lee' }),
    ...person({ dn: qUserDn('kim'), uid: 'kim', uuid: uuid(7), cn: 'kim.cn', displayName: 'Kim' }),
    ...person({ dn: qUserDn('sam'), uid: 'sam', uuid: uuid(8), cn: 'sam.cn', displayName: 'Sam' }),
    ...person({ dn: qUserDn('alex'), uid: 'alex', uuid: uuid(9), displayName: 'Alex', extra: [`memberOf: ${qGroupDn('admin_staff')}`, `memberOf: ${qGroupDn('quirk-customers')}`, 'memberOf: cn=elsewhere,ou=Other,dc=example,dc=com'] }),
    ...person({ dn: qUserDn('ash'), uid: 'ash', uuid: uuid(10), displayName: 'Ash', extra: [`memberOf: ${qGroupDn('admins', ADMIN_UNITS[0])}`] }),
  );
  out.push(
    ...groupOfNames(qGroupDn('quirk-customers'), 'quirk-customers', [qUserDn('nadia'), `uid=pat,ou=Contractors,${Q_PEOPLE}`, `homeDirectory=/home/robin,${Q_PEOPLE}`, qGroupDn('admins', ADMIN_UNITS[0])]),
    ...posixGroup('posix-dns', 6001, [qUserDn('lee'), `UID=Lee, OU=People, ${QUIRKS}`, qUserDn('ghost'), 'nobody-here']),
    ...posixGroup('posix-uids', 6002, ['kim', 'sam']),
    ...groupOfNames(qGroupDn('admin_staff'), 'admin_staff', [qUserDn('alex')]),
    ...ADMIN_UNITS.flatMap((unit, i) => groupOfNames(qGroupDn('admins', unit), 'admins', i === 0 ? [qUserDn('ash')] : [qUserDn('lee')])),
  );
  return out.join('\n');
}

export const WORKSTATIONS = 'OU=Workstations,DC=corp,DC=example';

/**
 * Active Directory computer accounts: `computer` is a subclass of `user`, so objectClass=user matches
 * them too. Three in OU=Workstations (one of them, made by hand, carries only objectClass user with
 * objectCategory Computer) and one among the people in OU=Users.
 */
export function computersLdif(): string {
  const computer = (dn: string, name: string, i: number, classes: readonly string[]): string[] => [
    `dn: ${dn}`, ...classes.map((c) => `objectClass: ${c}`), 'objectClass: extensibleObject', `cn: ${name}`, `sn: ${name}`, `sAMAccountName: ${name}$`,
    `objectGUID:: ${guidOf(1000 + i).toString('base64')}`, 'userAccountControl: 4096', 'instanceType: 4', 'nTSecurityDescriptor:: AAAA', `dNSHostName: ${name.toLowerCase()}.corp.example`,
    'objectCategory: CN=Computer,CN=Schema,CN=Configuration,DC=corp,DC=example', `distinguishedName: ${dn}`, '',
  ];
  const full = ['top', 'person', 'organizationalPerson', 'user', 'computer'];
  return [
    `dn: ${WORKSTATIONS}`, 'objectClass: organizationalUnit', 'ou: Workstations', '',
    ...computer(`CN=WS-0001,${WORKSTATIONS}`, 'WS-0001', 1, full),
    ...computer(`CN=WS-0002,${WORKSTATIONS}`, 'WS-0002', 2, full),
    ...computer(`CN=KIOSK-01,${WORKSTATIONS}`, 'KIOSK-01', 3, ['top', 'person', 'organizationalPerson', 'user']),
    ...computer('CN=SRV-FILES,OU=Users,DC=corp,DC=example', 'SRV-FILES', 4, full),
  ].join('\n');
}
