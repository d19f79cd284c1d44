import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { CustomerPage } from '../../src/ports/store.js';
import { defaultConfig, editLdif, makeWorkspace, removeEntry, runCli } from '../helpers/cli.js';

const workspaces: string[] = [];
afterAll(() => {
  for (const dir of workspaces) rmSync(dir, { recursive: true, force: true });
});
function workspace(config?: string) {
  const ws = makeWorkspace(config);
  workspaces.push(ws.dir);
  const cli = (...args: string[]) => runCli(['--config', ws.config, ...args], { cwd: ws.dir });
  const customers = (...args: string[]): CustomerPage => JSON.parse(cli('customers', 'list', '--json', ...args).stdout) as CustomerPage;
  return { ...ws, cli, customers };
}

/** uid=…,ou=Customers DNs of users that are direct members of sd-customers, in file order. */
function directCustomerMembers(ldif: string): string[] {
  const block = ldif.split('\n\n').find((b) => b.startsWith('dn: cn=sd-customers,'));
  return (block ?? '').split('\n').filter((l) => l.startsWith('member: uid=')).map((l) => l.slice('member: '.length));
}

describe('dirbridge CLI (subprocess)', () => {
  it('syncs the sample directory, prints the summary and seat audit, and changes nothing on a second run', () => {
    const ws = workspace();
    const first = ws.cli('sync');
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('created 237, updated 0, reactivated 0, deactivated 0, unchanged 0, withheld 0');
    expect(first.stdout).toContain('seat leaks found: 1');
    expect(first.stdout).toMatch(/carol\.agent \(sample\): customer via sd-customers; licensed via jira-servicedesk-users → stripped/);
    expect(first.stdout).toContain('Outcome: success (237 customers written');
    const second = ws.cli('sync');
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('created 0, updated 0, reactivated 0, deactivated 0, unchanged 237, withheld 0');
    expect(ws.customers().total).toBe(237);
    const carol = ws.customers('--search', 'carol.agent').items[0];
    expect(carol?.groups).toEqual(['sd-customers']);
  });

  it('shows exactly the edits made to the directory: a rename in place, a removal from a group, a deletion', () => {
    const ws = workspace();
    expect(ws.cli('sync').status).toBe(0);
    const text = readFileSync(ws.ldif, 'utf8');
    const [renamedDn, leaverDn, deletedDn] = directCustomerMembers(text);
    const oldUid = /^uid=([^,]+)/.exec(renamedDn ?? '')?.[1] ?? '';
    const leaverUid = /^uid=([^,]+)/.exec(leaverDn ?? '')?.[1] ?? '';
    const deletedUid = /^uid=([^,]+)/.exec(deletedDn ?? '')?.[1] ?? '';
    const before = ws.customers('--search', oldUid).items.find((c) => c.username === oldUid);
    editLdif(ws.ldif, (t) =>
      removeEntry(t, deletedDn ?? '')
        .replace(`member: ${leaverDn}\n`, '')
        .replaceAll(`uid=${oldUid},`, 'uid=renamed.user,')
        .replace(`\nuid: ${oldUid}\n`, '\nuid: renamed.user\n'),
    );
    const result = ws.cli('sync');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('created 0, updated 1, reactivated 0, deactivated 2, unchanged 234, withheld 0');
    expect(result.stdout).toContain(`~ update     renamed.user (sample) renamed from ${oldUid}`);
    expect(result.stdout).toContain(`- deactivate ${leaverUid} (sample): left-customer-groups`);
    expect(result.stdout).toContain(`- deactivate ${deletedUid} (sample): missing-from-directory`);
    const after = ws.customers('--search', 'renamed.user').items[0];
    expect(after?.externalId).toBe(before?.externalId);
    expect(after?.location).toBe(renamedDn?.replace(oldUid, 'renamed.user'));
    expect(ws.customers('--state', 'inactive').items.map((c) => [c.username, c.deactivatedReason]).sort()).toEqual(
      [[leaverUid, 'left-customer-groups'], [deletedUid, 'missing-from-directory']].sort(),
    );
    expect(ws.cli('sync').stdout).toContain('created 0, updated 0, reactivated 0, deactivated 0, unchanged 235');
  });

  it('refuses a plan that deactivates more than the limit, applies nothing, and accepts an explicit allowance', () => {
    const ws = workspace();
    expect(ws.cli('sync').status).toBe(0);
    const members = directCustomerMembers(readFileSync(ws.ldif, 'utf8')).slice(0, 30);
    editLdif(ws.ldif, (t) => members.reduce((acc, dn) => removeEntry(acc, dn), t));
    const rejected = ws.cli('sync');
    expect(rejected.status).toBe(3);
    expect(rejected.stdout).toContain('Plan REJECTED by safety rules (nothing was applied)');
    const planned = Number(/the plan deactivates (\d+) of 237 active customers; the limit is 23 /.exec(rejected.stdout)?.[1]);
    expect(planned).toBeGreaterThan(23); // 30 entries deleted; any already disabled was no customer
    expect(ws.customers().total).toBe(237);
    expect(ws.cli('sync', '--allow-deactivations', String(planned - 1)).status).toBe(3);
    const allowed = ws.cli('sync', '--allow-deactivations', String(planned));
    expect(allowed.status).toBe(0);
    expect(ws.customers().total).toBe(237 - planned);
    const runs = JSON.parse(ws.cli('runs', '--json').stdout) as { outcome: string }[];
    expect(runs.map((r) => r.outcome)).toEqual(['success', 'rejected', 'rejected', 'success']);
  });

  it('withholds deactivations when a directory cannot be read, and exits with the failure code', () => {
    const ws = workspace();
    expect(ws.cli('sync').status).toBe(0);
    rmSync(ws.ldif);
    const result = ws.cli('sync');
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('failed');
    expect(result.stdout).toContain('withheld 237');
    expect(ws.customers().total).toBe(237);
  });

  it('saves a plan and applies exactly that plan, refusing it once the store has changed', () => {
    const ws = workspace();
    const planFile = join(ws.dir, 'plan.json');
    const planned = ws.cli('plan', '--out', planFile);
    expect(planned.status).toBe(0);
    expect(planned.stdout).toContain('dry run, nothing written');
    expect(ws.customers().total).toBe(0);
    editLdif(ws.ldif, (t) => t.replaceAll('sd-customers', 'sd-customers-renamed')); // the directory changes after planning
    const applied = ws.cli('sync', '--plan', planFile);
    expect(applied.status).toBe(0);
    expect(ws.customers().total).toBe(237);
    const stale = ws.cli('sync', '--plan', planFile);
    expect(stale.status).toBe(3);
    expect(stale.stderr).toContain('ERR_PLAN_STALE');
    const bad = ws.cli('sync', '--plan', ws.config);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('ERR_PLAN_FILE');
  });

  it('audits seats: leaks fail the audit (exit 4) unless only violations are asked for; JSON and CSV', () => {
    const ws = workspace();
    expect(ws.cli('audit', 'seats').status).toBe(0); // nothing synced yet: nothing to report
    ws.cli('sync');
    const audit = ws.cli('audit', 'seats');
    expect(audit.status).toBe(4);
    expect(audit.stderr).toBe('dirbridge: ERR_AUDIT_FINDINGS: the seat audit status is leak (--fail-on leak)\n');
    expect(audit.stdout).toMatch(/^Seat audit .*: LEAK/);
    expect(audit.stdout).toContain('3. store        PASS  0 of 237 active customers carry a licensed group');
    expect(audit.stdout).toContain('4. after apply  PASS');
    expect(ws.cli('audit', 'seats', '--fail-on', 'violation').status).toBe(0);
    const json = JSON.parse(ws.cli('audit', 'seats', '--json', '--live').stdout) as { plan: { source: string; seatLeaks: { username: string }[] } };
    expect(json.plan.source).toBe('live');
    expect(json.plan.seatLeaks.map((l) => l.username)).toEqual(['carol.agent']);
    const csv = ws.cli('audit', 'seats', '--csv').stdout.trim().split('\n');
    expect(csv[0]).toBe('view,status,directory,username,externalId,customerGroups,licensedGroups,outcome,customerKey,email,origin');
    expect(csv).toHaveLength(3);
  });

  it('lists and searches customers 20 to a page', () => {
    const ws = workspace();
    ws.cli('sync');
    const page = ws.customers('--page', '2');
    expect(page).toMatchObject({ total: 237, page: 2, pageSize: 20 });
    expect(page.items).toHaveLength(20);
    const human = ws.cli('customers', 'list', '--search', 'star (*)');
    expect(human.stdout).toMatch(/^1 customer\(s\); page 1 of 1; sorted by username\n/);
    expect(human.stdout).toContain('Star (*) User\\');
  });

  it('explains why someone is, or is not, a customer', () => {
    const ws = workspace();
    ws.cli('sync');
    const carol = ws.cli('explain', 'CAROL.AGENT');
    expect(carol.status).toBe(0);
    expect(carol.stdout).toMatch(/^CAROL\.AGENT: CUSTOMER: member of emea-customers → sd-customers in sample; also in licensed group\(s\) jira-servicedesk-users/);
    expect(carol.stdout).toContain('LICENSED group jira-servicedesk-users: jira-servicedesk-users');
    const agent = ws.cli('explain', 'alice.agent');
    expect(agent.stdout).toMatch(/^alice\.agent: NOT-CUSTOMER: in sample, but in none of the customer groups/);
    expect(ws.cli('explain', 'nobody').status).toBe(1);
  });

  it('config validate: a licensed customer default group is a config error that names the group', () => {
    const ws = workspace(defaultConfig().replace('[sd-customers, partner-portal]', '[sd-customers, jira-servicedesk-users]'));
    const result = ws.cli('config', 'validate');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('ERR_CONFIG');
    expect(result.stderr).toContain('roles.customer.groups[1]: group "jira-servicedesk-users" is a customer default group and also a licensed group');
    expect(result.stderr).toContain('would consume a licence seat');
    expect(ws.cli('sync').status).toBe(2);
  });

  it('reports the lease holder and exits 5 while another process syncs the same directory', async () => {
    const ws = workspace();
    const store = openSqliteStore({ path: join(ws.dir, 'store.db'), licensedGroups: [] });
    const held = await store.acquireLease({ name: 'sync:sample', owner: 'other-host:4242:abc', ttlMs: 60_000 });
    const blocked = ws.cli('sync');
    expect(blocked.status).toBe(5);
    expect(blocked.stderr).toContain('ERR_LEASE_HELD: directory sample is being synced by other-host:4242:abc');
    if (held.acquired) await store.releaseLease(held.lease);
    await store.close();
    expect(ws.cli('sync').status).toBe(0);
    const runs = JSON.parse(ws.cli('runs', '--json').stdout) as { outcome: string; error: { message: string } | null }[];
    expect(runs.map((r) => r.outcome)).toEqual(['success', 'skipped']);
    expect(runs[1]?.error?.message).toContain('other-host:4242:abc');
  });

  it('never prints a secret: not in errors, not in trace logs', () => {
    const sentinel = 'S3NTINEL-9f1e2d3c';
    // The bind password's variable also sits in a filter that fails validation: the message quoting the filter is scrubbed.
    const ldap = `  - id: corp
    type: ldap
    url: ldaps://127.0.0.1:1
    bind: { dn: "cn=svc,dc=example,dc=com", password: "\${env:SECRET_PART}" }
    users: { baseDn: "dc=example,dc=com", filter: "(uid=\${env:SECRET_PART}" }
roles:`;
    const ws = workspace(defaultConfig().replace('roles:', ldap));
    const result = runCli(['--config', ws.config, '--log-level', 'trace', '--json', 'sync'], { cwd: ws.dir, env: { SECRET_PART: sentinel } });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('directories[1].users.filter: not a valid LDAP filter');
    expect(result.stderr).toContain('[redacted]');
    expect(`${result.stdout}\n${result.stderr}`).not.toContain(sentinel);
  });

  it('answers usage errors with exit 2 and a --json error object', () => {
    const ws = workspace();
    expect(ws.cli('frobnicate').status).toBe(2);
    const missing = runCli(['--json', 'sync'], { cwd: join(ws.dir, '..') });
    expect(missing.status).toBe(2);
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: { code: 'ERR_CONFIG' } });
    expect(ws.cli('sync', '--directory', 'nope').stderr).toContain('ERR_USAGE: unknown directory nope');
  });
});
