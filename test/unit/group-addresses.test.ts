import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ldifConfigSchema } from '../../connectors/ldif/config.js';
import { openLdifConnector } from '../../connectors/ldif/ldif-connector.js';
import { directoryAddresses } from '../../src/core/directory-addresses.js';
import { createLogger } from '../../src/logger.js';

const tmp = mkdtempSync(join(tmpdir(), 'dirbridge-groupmail-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const AD = `dn: CN=Ann Lee,OU=Staff,DC=corp,DC=example
objectClass: user
objectGUID:: AAECAwQFBgcICQoLDA0ODw==
sAMAccountName: ann
mail: ann@corp.example
userAccountControl: 512

dn: CN=Support Team,OU=Groups,DC=corp,DC=example
objectClass: group
cn: Support Team
mail: Support@Corp.example
groupType: 8
member: CN=Ann Lee,OU=Staff,DC=corp,DC=example

dn: CN=jira-servicedesk-users,OU=Groups,DC=corp,DC=example
objectClass: group
cn: jira-servicedesk-users
member: CN=Ann Lee,OU=Staff,DC=corp,DC=example
`;

describe("a group's own address", () => {
  it('is read with the group (an AD distribution group) and kept as a mailing list; licensed users are kept by address', async () => {
    const path = join(tmp, 'ad.ldif');
    writeFileSync(path, AD);
    const connector = openLdifConnector('corp-ad', ldifConfigSchema.parse({ type: 'ldif', path, profile: 'active-directory' }), { logger: createLogger({ level: 'silent' }), baseDir: tmp });
    const snapshot = await connector.fetchSnapshot();
    expect(snapshot.groups.map((g) => [g.name, g.mail ?? null])).toEqual([['Support Team', 'Support@Corp.example'], ['jira-servicedesk-users', null]]);
    expect(directoryAddresses(snapshot, ['jira-servicedesk-users']).map((a) => [a.kind, a.address, a.name])).toEqual([
      ['group', 'support@corp.example', 'Support Team'],
      ['licensed-user', 'ann@corp.example', 'ann'],
    ]);
  });
});
