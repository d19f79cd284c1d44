import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWorkspace, runCliAsync } from '../helpers/cli.js';
import { corpLdif, exampleLdif } from '../helpers/ldap-fixtures.js';
import { AD_SVC_DN, startSlapd, SVC_PW, type Slapd } from '../helpers/slapd.js';

/** An AD distribution group (a group with its own mail) and a licensed group, added to the AD-style test tree. */
const EXTRA = `
dn: CN=Support Team,OU=Groups,DC=corp,DC=example
objectClass: group
objectClass: extensibleObject
cn: Support Team
groupType: 8
sAMAccountName: support-team
instanceType: 4
nTSecurityDescriptor:: AAAA
objectCategory: CN=Group,CN=Schema,CN=Configuration,DC=corp,DC=example
distinguishedName: CN=Support Team,OU=Groups,DC=corp,DC=example
mail: Support-Team@Corp.example
member: CN=Corp User 1,OU=Users,DC=corp,DC=example

dn: CN=jira-servicedesk-users,OU=Groups,DC=corp,DC=example
objectClass: group
objectClass: extensibleObject
cn: jira-servicedesk-users
groupType: -2147483646
sAMAccountName: jira-servicedesk-users
instanceType: 4
nTSecurityDescriptor:: AAAA
objectCategory: CN=Group,CN=Schema,CN=Configuration,DC=corp,DC=example
distinguishedName: CN=jira-servicedesk-users,OU=Groups,DC=corp,DC=example
member: CN=Corp User 30,OU=Users,DC=corp,DC=example
`;

let slapd: Slapd;
beforeAll(async () => {
  slapd = await startSlapd({ example: exampleLdif(), corp: `${corpLdif()}\n${EXTRA}` });
}, 60_000);
afterAll(async () => {
  await slapd?.stop();
});

describe('customer rules from a live Active Directory-style server (slapd)', () => {
  it("refuses to invite a distribution group's address, naming the group, and handles a licensed user's address by the policy", async () => {
    const ws = makeWorkspace(`store: { url: "file:./store.db" }
directories:
  - id: corp-ad
    type: ldap
    profile: active-directory
    url: ${slapd.ldapsUrl}
    tls: { caFile: ${slapd.caFile} }
    bind: { dn: "${AD_SVC_DN}", password: "\${env:BIND_PW}" }
    users: { baseDn: "OU=Users,DC=corp,DC=example" }
    groups: { baseDn: "OU=Groups,DC=corp,DC=example" }
    pageSize: 25
roles: { customer: { groups: [SD-Customers] } }
licensing: { licensedGroups: [jira-servicedesk-users], onLicensedMembership: exclude }
invitations: { portalUrl: "https://help.corp.example/portal" }
`);
    try {
      const cli = (...args: string[]) => runCliAsync(['--config', ws.config, ...args], { cwd: ws.dir, env: { BIND_PW: SVC_PW } });
      const sync = await cli('sync');
      expect(sync.status).toBe(0);
      expect(sync.stdout).toContain('corp-ad          complete  60 users, 4 groups');
      const group = await cli('customers', 'invite', 'support-team@corp.example');
      expect(group.status).toBe(8);
      expect(group.stderr).toBe('dirbridge: ERR_MAILING_LIST: support-team@corp.example: support-team@corp.example is the address of the group "Support Team" in directory corp-ad: mailing lists cannot be customers; invite its members one by one\n');
      const licensed = await cli('customers', 'invite', 'corp30@corp.example');
      expect(licensed.status).toBe(8);
      expect(licensed.stderr).toContain('ERR_LICENSED_EXCLUDED: corp30@corp.example: corp30@corp.example belongs to corp30 in corp-ad, who holds a licence seat through jira-servicedesk-users; licensing.onLicensedMembership is "exclude": not a customer');
      expect(`${group.stdout}${group.stderr}${licensed.stdout}${licensed.stderr}`).not.toContain(SVC_PW);
      expect((await cli('customers', 'list', '--origin', 'invited', '--json')).stdout).toContain('"total": 0');
    } finally {
      rmSync(ws.dir, { recursive: true, force: true });
    }
  });
});
