/** A simple OpenLDAP-style export: `users` people, all direct members of the group `customers`. */
export function generateLdif(users: number, options: { prefix?: string } = {}): string {
  const prefix = options.prefix ?? 'user';
  const out = ['version: 1', '', 'dn: dc=example,dc=com', 'objectClass: dcObject', 'objectClass: organization', 'o: Example', 'dc: example', ''];
  const dns: string[] = [];
  for (let i = 0; i < users; i++) {
    const uid = `${prefix}${String(i).padStart(6, '0')}`;
    const dn = `uid=${uid},ou=People,dc=example,dc=com`;
    dns.push(dn);
    const uuid = `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
    out.push(`dn: ${dn}`, 'objectClass: inetOrgPerson', `uid: ${uid}`, `cn: User ${i}`, `sn: ${i}`, `mail: ${uid}@example.org`, `entryUUID: ${uuid}`, '');
  }
  out.push('dn: cn=customers,ou=Groups,dc=example,dc=com', 'objectClass: groupOfNames', 'cn: customers', ...dns.map((dn) => `member: ${dn}`), '');
  return out.join('\n');
}
