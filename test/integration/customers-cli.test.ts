import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CustomerView } from '../../src/core/customer-model.js';
import type { CustomerListPage } from '../../src/engine/customers/list.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { defaultConfig, editLdif, makeWorkspace, runCliAsync, type CliResult } from '../helpers/cli.js';
import { startSmtpServer, type SmtpServer } from '../helpers/smtp-server.js';
import { dumpStore } from '../helpers/store-dump.js';

const SMTP_PASSWORD = 'smtp-S3NTINEL-9f2c61';
const WRONG_PASSWORD = 'wrong-S3NTINEL-77ab03';
const MAIL = join(import.meta.dirname, '..', 'fixtures', 'mail');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function workspace(extra: string) {
  const ws = makeWorkspace(defaultConfig(extra));
  dirs.push(ws.dir);
  const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> => runCliAsync(['--config', ws.config, ...args], { cwd: ws.dir, env: { SMTP_PW: SMTP_PASSWORD, ...env } });
  const list = async (...args: string[]): Promise<CustomerListPage> => JSON.parse((await cli(['customers', 'list', '--json', ...args])).stdout) as CustomerListPage;
  const dump = async (): Promise<unknown> => {
    const store = openSqliteStore({ path: join(ws.dir, 'store.db'), licensedGroups: ['jira-servicedesk-users', 'jira-administrators'] });
    try {
      return await dumpStore(store);
    } finally {
      await store.close();
    }
  };
  return { ...ws, cli, list, dump };
}

const PORTAL = 'https://help.example.com/servicedesk/customer/portal/1';

describe('customer management through the built CLI', () => {
  let smtp: SmtpServer;
  beforeEach(async () => {
    smtp = await startSmtpServer({ user: 'dirbridge', password: SMTP_PASSWORD, reject: '^bounce@' });
  });
  afterEach(async () => {
    await smtp.stop();
  });

  const smtpConfig = (port: number): string => `invitations:
  portalUrl: ${PORTAL}
  subject: "Your access to the Example help center, {{name}}"
  smtp: { host: 127.0.0.1, port: ${port}, security: none, user: dirbridge, password: "\${env:SMTP_PW}", from: "Example Help <help@example.com>", timeoutSeconds: 5 }
`;

  it('e-mails invitations through a real SMTP server; a failed send leaves the customer invited and unsent until --resend; the SMTP password is never shown or stored', async () => {
    const ws = workspace(smtpConfig(smtp.port));
    expect((await ws.cli(['sync'])).status).toBe(0);

    const wrong = await ws.cli(['customers', 'invite', 'ann@partner.example', '--name', 'Ann Lee', '--log-level', 'trace'], { SMTP_PW: WRONG_PASSWORD });
    expect(wrong.status).toBe(1);
    expect(wrong.stdout).toContain('ann@partner.example  pc-');
    expect(wrong.stdout).toContain('invited, but the e-mail was NOT sent (SMTP 127.0.0.1:');
    expect(wrong.stdout).toContain('authentication failed (check invitations.smtp.user and its password reference): 535');
    expect(wrong.stderr).toContain('dirbridge: ERR_MAIL_SEND: 1 invitation(s) not sent (the customers are invited); retry with: dirbridge customers invite --resend');

    const second = await ws.cli(['customers', 'invite', 'bounce@partner.example', 'cy@partner.example', '--log-level', 'trace']);
    expect(second.status).toBe(1);
    expect(second.stdout).toMatch(/\+ cy@partner\.example {2}pc-[0-9a-f]+: invitation e-mailed/);
    expect(second.stdout).toMatch(/\+ bounce@partner\.example {2}pc-[0-9a-f]+: invited, but the e-mail was NOT sent \(.*the server refused the recipient: 550/);
    for (const text of [wrong.stdout, wrong.stderr, second.stdout, second.stderr, JSON.stringify(await ws.dump())]) {
      expect(text).not.toContain(SMTP_PASSWORD);
      expect(text).not.toContain(WRONG_PASSWORD);
    }
    const unsent = (await ws.list('--type', 'portal-only')).items.filter((c) => c.invitation?.status === 'unsent').map((c) => c.email);
    expect(unsent.sort()).toEqual(['ann@partner.example', 'bounce@partner.example']);
    expect((await ws.cli(['customers', 'list', '--origin', 'invited'])).stdout).toContain('active, invitation unsent');

    // The server now takes bounce@ too; --resend retries every unsent invitation.
    await smtp.stop();
    smtp = await startSmtpServer({ user: 'dirbridge', password: SMTP_PASSWORD, port: smtp.port });
    const resend = await ws.cli(['customers', 'invite', '--resend']);
    expect(resend.status).toBe(0);
    expect(resend.stdout).toMatch(/^invitations: 2 invited, 0 already customers, 0 refused$/m);
    const messages = await smtp.waitFor(2);
    const annMail = messages.find((m) => m.to.includes('ann@partner.example'));
    const parsed = await PostalMime.parse(annMail?.raw ?? '');
    expect(parsed.subject).toBe('Your access to the Example help center, Ann Lee');
    expect(parsed.from).toMatchObject({ address: 'help@example.com', name: 'Example Help' });
    expect(parsed.text).toContain(`${PORTAL}?email=ann%40partner.example`);
    expect(parsed.text).toMatch(/^Hello Ann Lee,/);

    const show = await ws.cli(['customers', 'show', 'ann@partner.example']);
    expect(show.stdout).toMatch(/invitation +sent .* \(message <.+>\); 2 attempt\(s\)/);
    expect(show.stdout).toMatch(/invited by cli\n.*invitation NOT sent: SMTP .*authentication failed.*\n.*invitation e-mailed to ann@partner\.example/);
  });

  it('without SMTP prints the invitation link; refuses a distribution group by name; never duplicates a customer; exit 8 for refusals', async () => {
    const ws = workspace(`invitations: { portalUrl: "${PORTAL}" }\nmailingLists: ["*-all@partner.example"]\n`);
    editLdif(ws.ldif, (t) => `${t}\ndn: cn=all-staff,ou=Groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: all-staff\nmail: All-Staff@Example.com\nmember: uid=alice.agent,ou=Staff,ou=People,dc=example,dc=com\n`);
    expect((await ws.cli(['sync'])).status).toBe(0);
    const before = await ws.dump();
    const refused = await ws.cli(['customers', 'invite', 'all-staff@example.com']);
    expect(refused.status).toBe(8);
    expect(refused.stderr).toBe('dirbridge: ERR_MAILING_LIST: all-staff@example.com: all-staff@example.com is the address of the group "all-staff" in directory sample: mailing lists cannot be customers; invite its members one by one\n');
    expect(await ws.dump()).toEqual(before);

    const mixed = await ws.cli(['customers', 'invite', 'new.person@partner.example', 'WEN.NOVAK@customer2.example.org', 'team-all@partner.example', 'bad@', '--json']);
    expect(mixed.status).toBe(8);
    const results = (JSON.parse(mixed.stdout) as { results: { address: string; outcome: string; key?: string; code?: string; link?: string; delivery?: string }[] }).results;
    expect(results.map((r) => [r.address, r.outcome, r.code ?? r.delivery ?? ''])).toEqual([
      ['new.person@partner.example', 'invited', 'link'],
      ['WEN.NOVAK@customer2.example.org', 'exists', ''],
      ['team-all@partner.example', 'refused', 'ERR_MAILING_LIST'],
      ['bad@', 'refused', 'ERR_INVALID_ADDRESS'],
    ]);
    expect(results[0]?.link).toBe(`${PORTAL}?email=new.person%40partner.example`);
    expect(results[1]?.key).toMatch(/^sample:/);
    const again = await ws.cli(['customers', 'invite', 'New.Person@partner.example']);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/= New\.Person@partner\.example {2}pc-[0-9a-f]+: already a customer/);
    expect((await ws.list('--origin', 'invited')).total).toBe(1);
  });

  it('signup off: an unknown address is refused by signup and by the e-mail channel (exit 9), and nothing is written', async () => {
    const ws = workspace(`invitations: { portalUrl: "${PORTAL}" }\nsignup: { public: false }\n`);
    expect((await ws.cli(['sync'])).status).toBe(0);
    const before = await ws.dump();
    const signup = await ws.cli(['customers', 'signup', 'zoe@partner.example']);
    expect(signup.status).toBe(8);
    expect(signup.stderr).toBe('dirbridge: ERR_SIGNUP_REFUSED: zoe@partner.example is not a customer and public signup is off (signup.public): invite the person instead (dirbridge customers invite zoe@partner.example)\n');
    const mail = await ws.cli(['intake', 'email', join(MAIL, 'encoded-from-multipart.eml')]);
    expect(mail.status).toBe(9);
    expect(mail.stderr).toBe('dirbridge: ERR_NOT_PROCESSED: not processed: Zoe.Unal@partner.example is not a customer and public signup is off (signup.public): invite the person instead (dirbridge customers invite Zoe.Unal@partner.example)\n');
    expect(await ws.dump()).toEqual(before);

    const bad = await ws.cli(['intake', 'email', join(ws.dir, 'dirbridge.yml')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^dirbridge: ERR_MESSAGE_FILE: the file has no message headers/);

    // A known customer's mail is accepted whatever the switch, and becomes one open request.
    const invited = await ws.cli(['customers', 'invite', 'ann@partner.example']);
    expect(invited.status).toBe(0);
    const accepted = await ws.cli(['intake', 'email', join(MAIL, 'sender-reply-to.eml')]);
    expect(accepted.status).toBe(0);
    expect(accepted.stdout).toMatch(/^accepted: pc-[0-9a-f]+\n {2}from {7}Ann Lee <ann@partner\.example>\n {2}sender {5}assistant@partner\.example \(posted on behalf of the author; not the requester\)\n {2}reply-to {3}team@partner\.example\n/);
    expect(accepted.stdout).toContain('request    mail:sender-0001@partner.example (new, open)');
    expect((await ws.list('--search', 'ann@partner')).items[0]).toMatchObject({ openRequests: 1 });
  });

  it('imports requests, flags a portal-only customer a sync finds an account for, migrates it once for good, and a sync never deactivates an invited customer', async () => {
    const ws = workspace(`invitations: { portalUrl: "${PORTAL}" }\n`);
    expect((await ws.cli(['sync'])).status).toBe(0);
    expect((await ws.cli(['customers', 'invite', 'newhire@example.com', '--name', 'New Hire'])).status).toBe(0);
    expect((await ws.cli(['customers', 'invite', 'stays.invited@partner.example'])).status).toBe(0);
    const [portal] = (await ws.list('--search', 'newhire@')).items as [CustomerView];

    const csv = join(ws.dir, 'requests.csv');
    writeFileSync(csv, `id,reporter,status,created,resolved\nSD-1,newhire@example.com,open,2026-01-05T09:00:00Z,\nSD-2,${portal.key},closed,2026-01-06,2026-01-07\nSD-3,newhire@example.com,open,2026-01-08,\n`);
    const imported = await ws.cli(['requests', 'import', csv]);
    expect(imported.stdout).toBe(`${csv}: 3 request(s): 3 new, 0 updated, 0 unchanged; counts refreshed for 1 customer(s)\n`);
    expect((await ws.cli(['requests', 'import', csv])).stdout).toContain('0 new, 0 updated, 3 unchanged');
    const json = join(ws.dir, 'requests.json');
    writeFileSync(json, '[\n  {"id": "SD-4", "reporter": "newhire@example.com", "status": "open", "created": "2026-01-09"},\n  {"id": "SD-5", "reporter": "nobody@nowhere.example", "status": "open", "created": "2026-01-09"}\n]\n');
    const bad = await ws.cli(['requests', 'import', json]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(`${json} line 3: no customer has the key, e-mail or username nobody@nowhere.example`);
    expect(bad.stderr).toContain('nothing of it was written');
    expect((await ws.list('--search', 'newhire@')).items[0]).toMatchObject({ openRequests: 2, closedRequests: 1 });

    // The directory brings an account with the same address; many others leave it.
    editLdif(ws.ldif, (t) =>
      `${t.replace(/^member: uid=[a-z]+\.[a-z]+,ou=Customers,ou=People,dc=example,dc=com\n/m, '').replace('cn: sd-customers\n', 'cn: sd-customers\nmember: uid=new.hire,ou=Customers,ou=People,dc=example,dc=com\n')}\n` +
      'dn: uid=new.hire,ou=Customers,ou=People,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: new.hire\ncn: New Hire\nsn: Hire\ndisplayName: New Hire\nmail: NewHire@Example.com\nentryUUID: 0b7c0f0e-0000-4000-8000-000000000001\n',
    );
    const sync = await ws.cli(['sync']);
    expect(sync.status).toBe(0);
    expect(sync.stdout).not.toContain('~local');
    expect(sync.stdout).toMatch(/created 1, updated 0, reactivated 0, deactivated 1,/);
    const flagged = await ws.list('--needs-migration');
    expect(flagged.items.map((c) => [c.key, c.needsMigrationTo])).toEqual([[portal.key, 'sample:0b7c0f0e-0000-4000-8000-000000000001']]);
    expect((await ws.cli(['customers', 'show', portal.key])).stdout).toContain(`NEEDS MIGRATION an account has this address: sample:0b7c0f0e-0000-4000-8000-000000000001 (new.hire); migrate with: dirbridge customers migrate ${portal.key}`);
    expect((await ws.list('--origin', 'invited', '--state', 'all')).items.map((c) => c.active)).toEqual([true, true]);

    const migrated = await ws.cli(['customers', 'migrate', portal.key, '--to', 'new.hire']);
    expect(migrated.status).toBe(0);
    expect(migrated.stdout).toBe(`migrated ${portal.key} → sample:0b7c0f0e-0000-4000-8000-000000000001: 3 request(s) now belong to sample:0b7c0f0e-0000-4000-8000-000000000001; ${portal.key} is inactive (migrated) for good\n`);
    const account = (await ws.list('--search', 'new.hire')).items[0];
    expect(account).toMatchObject({ openRequests: 2, closedRequests: 1, accountType: 'account', origin: 'sample' });
    const old = (await ws.list('--state', 'inactive', '--type', 'portal-only')).items;
    expect(old.map((c) => [c.key, c.deactivatedReason, c.successorKey, c.openRequests])).toEqual([[portal.key, 'migrated', account?.key, 0]]);
    expect((await ws.cli(['customers', 'list', '--state', 'inactive', '--type', 'portal-only'])).stdout).toContain(`inactive (migrated → ${account?.key ?? ''})`);

    const twice = await ws.cli(['customers', 'migrate', portal.key]);
    expect(twice.status).toBe(8);
    expect(twice.stderr).toMatch(/^dirbridge: ERR_ALREADY_MIGRATED: pc-[0-9a-f]+ was migrated to sample:0b7c0f0e-.*; a migration cannot be repeated or undone\n$/);
    const reactivate = await ws.cli(['customers', 'reactivate', portal.key]);
    expect(reactivate.status).toBe(8);
    expect(reactivate.stderr).toContain('ERR_ALREADY_MIGRATED');
    const history = (await ws.cli(['customers', 'show', portal.key])).stdout;
    expect(history).toMatch(/invited by cli\n.*invitation link printed[^\n]*\n.*flagged: the account sample:0b7c0f0e-\S+ has this address \(needs migration\) by run run-\S+\n.*migrated to sample:0b7c0f0e-\S+: 3 request\(s\) moved by cli\n/);
    expect((await ws.cli(['customers', 'show', 'new.hire'])).stdout).toMatch(/created by run run-\S+ via sd-customers\n.*took over pc-[0-9a-f]+ and its 3 request\(s\) by cli/);
  });

  it("shows a directory customer's history: created by which run and through which groups, renamed, deactivated and why, reactivated", async () => {
    const ws = workspace(`invitations: { portalUrl: "${PORTAL}" }\n`);
    expect((await ws.cli(['sync'])).status).toBe(0);
    const [wen] = (await ws.list('--search', 'wen.novak')).items as [CustomerView];
    editLdif(ws.ldif, (t) => t.replaceAll('uid=wen.novak,', 'uid=wen.novak-li,').replace('\nuid: wen.novak\n', '\nuid: wen.novak-li\n'));
    expect((await ws.cli(['sync'])).stdout).toContain('renamed from wen.novak');
    const saved = readFileSync(ws.ldif, 'utf8');
    editLdif(ws.ldif, (t) => t.replaceAll('member: uid=wen.novak-li,ou=Customers,ou=People,dc=example,dc=com\n', ''));
    expect((await ws.cli(['sync'])).stdout).toContain('deactivate wen.novak-li (sample): left-customer-groups');
    writeFileSync(ws.ldif, saved);
    expect((await ws.cli(['sync'])).stdout).toContain('reactivate wen.novak-li');
    const history = (await ws.cli(['customers', 'show', wen.key])).stdout;
    expect(history).toMatch(/^wen\.novak-li\n {2}key +sample:/);
    expect(history).toMatch(/created by run run-\S+ via \S+\n.*renamed wen\.novak → wen\.novak-li by run run-\S+\n.*deactivated by run run-\S+: left-customer-groups\n.*reactivated by run run-\S+\n/);
  });

  it('audit seats covers customers of every origin: an invited licensed user is a leak (exit 4)', async () => {
    const ws = workspace(`invitations: { portalUrl: "${PORTAL}" }\n`);
    expect((await ws.cli(['sync'])).status).toBe(0);
    const invite = await ws.cli(['customers', 'invite', 'alice.agent@example.com']);
    expect(invite.status).toBe(0);
    expect(invite.stdout).toContain('seat leak reported: alice.agent@example.com is alice.agent in sample, licensed via jira-servicedesk-users; the customer carries no group');
    const audit = await ws.cli(['audit', 'seats']);
    expect(audit.status).toBe(4);
    expect(audit.stdout).toMatch(/all origins {2}LEAK {2}active customers: 1 portal-only invited, 237 account sample; 1 invited or signed-up customer\(s\) have a licensed user's address/);
    expect(audit.stdout).toMatch(/pc-[0-9a-f]+ <alice\.agent@example\.com> \(invited\) is alice\.agent in sample, licensed via jira-servicedesk-users/);
  });
});
