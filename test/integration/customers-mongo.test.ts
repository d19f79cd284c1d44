import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CustomerListPage } from '../../src/engine/customers/list.js';
import { defaultConfig, editLdif, makeWorkspace, runCliAsync } from '../helpers/cli.js';
import { useMongoServer } from '../helpers/mongo-server.js';

const dirs: string[] = [];
const mongo = useMongoServer();
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const MAIL = join(import.meta.dirname, '..', 'fixtures', 'mail');

describe('customer management on MongoDB through the built CLI', () => {
  it('invites, signs up, takes mail, imports requests, lists by open requests, flags and migrates, as on the embedded store', async () => {
    const extra = 'invitations: { portalUrl: "https://help.example.com/portal" }\nsignup: { public: true }\n';
    const ws = makeWorkspace(defaultConfig(extra).replace('url: file:./store.db', `url: ${mongo().uri(`customers_${process.pid}`)}`));
    dirs.push(ws.dir);
    const cli = (...args: string[]) => runCliAsync(['--config', ws.config, ...args], { cwd: ws.dir });
    const list = async (...args: string[]) => JSON.parse((await cli('customers', 'list', '--json', ...args)).stdout) as CustomerListPage;

    expect((await cli('sync')).status).toBe(0);
    expect((await cli('customers', 'invite', 'newhire@example.com', 'all@x')).status).toBe(8);
    expect((await cli('customers', 'signup', 'jorg.muller@partner.example')).status).toBe(0);
    const mail = await cli('intake', 'email', join(MAIL, 'latin1-from.eml'));
    expect(mail.stdout).toMatch(/^accepted: pc-[0-9a-f]+/);
    const csv = join(ws.dir, 'r.csv');
    writeFileSync(csv, 'id,reporter,status,created\nM-1,newhire@example.com,open,2026-01-01\nM-2,newhire@example.com,open,2026-01-02\n');
    expect((await cli('requests', 'import', csv)).status).toBe(0);

    const top = await list('--sort', 'open-requests', '--page-size', '3');
    expect(top.items.map((c) => [c.username, c.openRequests, c.origin])).toEqual([
      ['newhire@example.com', 2, 'invited'],
      ['jorg.muller@partner.example', 1, 'signup'],
      [top.items[2]?.username, 0, 'sample'],
    ]);

    editLdif(ws.ldif, (t) => `${t.replace('cn: sd-customers\n', 'cn: sd-customers\nmember: uid=new.hire,ou=Customers,ou=People,dc=example,dc=com\n')}\ndn: uid=new.hire,ou=Customers,ou=People,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: new.hire\ncn: New Hire\nsn: Hire\nmail: newhire@example.com\nentryUUID: 0b7c0f0e-0000-4000-8000-000000000002\n`);
    expect((await cli('sync')).stdout).toContain('created 1, updated 0, reactivated 0, deactivated 0');
    const flagged = await list('--needs-migration');
    expect(flagged.items.map((c) => c.needsMigrationTo)).toEqual(['sample:0b7c0f0e-0000-4000-8000-000000000002']);
    const key = flagged.items[0]?.key ?? '';
    const migrated = await cli('customers', 'migrate', key);
    expect(migrated.stdout).toContain(`migrated ${key} → sample:0b7c0f0e-0000-4000-8000-000000000002: 2 request(s)`);
    expect((await cli('customers', 'migrate', key)).status).toBe(8);
    expect((await list('--search', 'new.hire')).items[0]).toMatchObject({ openRequests: 2, accountType: 'account' });
    expect((await list('--state', 'inactive')).items.map((c) => [c.key, c.deactivatedReason])).toEqual([[key, 'migrated']]);
  });
});
