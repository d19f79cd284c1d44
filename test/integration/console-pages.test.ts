import { rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/service/console/password.js';
import { defaultConfig, editLdif, makeWorkspace, removeEntry, runCliAsync } from '../helpers/cli.js';
import { serve, type Served } from '../helpers/serve.js';

/**
 * The console's pages over plain HTTP, signed in through the trusted proxy header (no browser): what
 * an admin reads after each action, the journal's triggers, held plans against the store's revision.
 */
const COOKIE_SECRET = 'cookie-secret-S3NTINEL-a41f09c2e87d3b56f0a9';
const GHOST = 'member: uid=ghost.user,ou=Gone,dc=example,dc=com';
const AS_ANN = { 'X-Remote-User': 'ann' };
const PAM_PASSWORD = 'pam-signs-in-often-5521';

interface Page {
  readonly status: number;
  readonly text: string;
}

/** The page's text without tags, its white space collapsed. */
const plain = (html: string): string => html.replace(/<[^>]*>/g, ' ').replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/\s+/g, ' ').trim();

describe('the admin console pages (plain HTTP, trusted header)', () => {
  const ws = makeWorkspace();
  const env = { COOKIE_SECRET };
  const cli = (args: string[]) => runCliAsync(['--config', ws.config, ...args], { cwd: ws.dir, env });
  let served: Served;
  let url = '';

  const get = async (path: string, headers: Record<string, string> = AS_ANN): Promise<Page> => {
    const response = await fetch(`${url}${path}`, { headers, redirect: 'manual' });
    return { status: response.status, text: await response.text() };
  };
  /** A form posted as the console's own page would post it (its CSRF token and cookie). */
  const post = async (path: string, form: Record<string, string>): Promise<Page> => {
    const page = await fetch(`${url}/console/runs`, { headers: AS_ANN });
    const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { ...AS_ANN, Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form, _csrf: token }),
    });
    const location = response.headers.get('location');
    if (response.status === 303 && location !== null) return get(location);
    return { status: response.status, text: await response.text() };
  };
  /** The sign-in form, filled and posted as a browser would (its CSRF token and cookie). */
  const signIn = async (username: string, password: string): Promise<Page> => {
    const form = await fetch(`${url}/console/login`);
    const cookie = form.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
    const response = await fetch(`${url}/console/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username, password, _csrf: token }),
    });
    return { status: response.status, text: await response.text() };
  };
  const runs = async (): Promise<{ runId: string; outcome: string; actor: { trigger: string } }[]> => JSON.parse((await cli(['runs', '--json', '--limit', '100'])).stdout) as never;
  const planStatus = async (id: string): Promise<string> => /<dt>Status<\/dt><dd>([a-z]+)/.exec((await get(`/console/plans/${id}`)).text)?.[1] ?? '?';

  beforeAll(async () => {
    writeFileSync(
      ws.config,
      defaultConfig(`invitations: { portalUrl: "https://help.example.com/portal" }
safety: { maxDeactivations: { count: 3, percent: 10 } }
service: { host: 127.0.0.1 }
console:
  users: [{ username: ann, role: admin }, { username: pam, role: auditor, passwordHash: "${await hashPassword(PAM_PASSWORD)}" }]
  cookieSecret: "\${env:COOKIE_SECRET}"
  loginRateLimit: { attempts: 2, perSeconds: 600 }
  trustedHeader: { name: X-Remote-User, proxies: [127.0.0.1] }
`),
    );
    // A member reference in a customer group that names no entry read.
    editLdif(ws.ldif, (t) => t.replace(/(dn: cn=sd-customers,[^\n]*\n(?:[^\n]+\n)*?)(member: )/, `$1${GHOST}\n$2`));
    expect((await cli(['sync'])).status).toBe(0);
    served = serve(ws.config, ws.dir, env);
    url = await served.url;
  }, 120_000);
  afterAll(async () => {
    served?.child.kill('SIGTERM');
    await served?.exited;
    rmSync(ws.dir, { recursive: true, force: true });
  });

  it("shows an invited address's seat leak and its invitation link, on the results and on the customer's page", async () => {
    const invited = await post('/console/customers/invite', { addresses: 'alice.agent@example.com' });
    expect(invited.status).toBe(200);
    const row = plain(/<tr class="invited">[\s\S]*?<\/tr>/.exec(invited.text)?.[0] ?? '');
    expect(row).toContain('seat leak reported: alice.agent@example.com is alice.agent in sample, licensed via jira-servicedesk-users');
    const link = 'https://help.example.com/portal?email=alice.agent%40example.com';
    expect(row).toContain(`send this link: ${link}`);
    expect(invited.text).toContain(`href="${link}"`);
    expect(plain(invited.text)).toContain('1 address handled.');
    const key = /href="\/console\/customers\/(pc-[0-9a-f]+)"/.exec(invited.text)?.[1] ?? '';
    const customer = await get(`/console/customers/${key}`);
    expect(plain(customer.text)).toContain('Invitation link for another mailer (1 attempt)');
    expect(customer.text).toContain(`href="${link}"`);
    const cliShown = (await cli(['customers', 'show', key])).stdout;
    expect(cliShown).toContain(link); // the CLI prints it too: it is the customer's, not a secret
  });

  it("gives the audit CSV's origins rows their own columns (the customer's key, address and origin), the same from the console and audit seats --csv", async () => {
    const response = await fetch(`${url}/console/audit.csv`, { headers: AS_ANN });
    const csv = await response.text();
    expect(csv).toBe((await cli(['audit', 'seats', '--csv', '--fail-on', 'never'])).stdout);
    const [header, ...rows] = csv.trim().split('\n').map((line) => line.split(','));
    expect(header).toEqual(['view', 'status', 'directory', 'username', 'externalId', 'customerGroups', 'licensedGroups', 'outcome', 'customerKey', 'email', 'origin']);
    const origins = rows.filter((r) => r[0] === 'origins').map((r) => Object.fromEntries((header ?? []).map((name, i) => [name, r[i]])));
    const key = /^pc-[0-9a-f]+$/;
    expect(origins).toEqual([
      { view: 'origins', status: 'leak', directory: 'sample', username: 'alice.agent', externalId: '', customerGroups: '', licensedGroups: 'jira-servicedesk-users', outcome: 'portal-only', customerKey: expect.stringMatching(key), email: 'alice.agent@example.com', origin: 'invited' },
    ]);
    for (const row of rows) expect(row, row.join(',')).toHaveLength(header?.length ?? 0);
  });

  it('refuses a display name given with several addresses (nothing invited, the form kept), and gives it to a single address', async () => {
    const both = 'pat.one@partner.example\npat.two@partner.example';
    const refused = await post('/console/customers/invite', { addresses: both, name: 'Pat Example' });
    expect(refused.status).toBe(422);
    expect(plain(refused.text)).toContain('A display name goes with a single address, and 2 addresses were given: nothing was invited.');
    expect(refused.text).toContain('pat.one@partner.example\npat.two@partner.example</textarea>');
    expect(refused.text).toContain('value="Pat Example"');
    for (const address of ['pat.one@partner.example', 'pat.two@partner.example']) expect((await cli(['customers', 'show', address])).status).not.toBe(0);
    expect(plain((await get('/console/customers/invite')).text)).toContain('Display name (only when inviting a single address)');

    const one = await post('/console/customers/invite', { addresses: 'pat.one@partner.example', name: 'Pat Example' });
    expect(one.status).toBe(200);
    const shown = JSON.parse((await cli(['customers', 'show', 'pat.one@partner.example', '--json'])).stdout) as { customer: { displayName: string | null } }[];
    expect(shown[0]?.customer.displayName).toBe('Pat Example');
  });

  it('confirms a resent invitation on the customer\'s page, as the other actions do', async () => {
    const invited = await post('/console/customers/invite', { addresses: 'resend.me@partner.example' });
    const key = /href="\/console\/customers\/(pc-[0-9a-f]+)"/.exec(invited.text)?.[1] ?? '';
    expect(plain((await get(`/console/customers/${key}`)).text)).not.toContain('again');
    const resent = await post(`/console/customers/${key}/resend`, {});
    expect(resent.status).toBe(200);
    expect(resent.text).toContain('<h1>Customer resend.me@partner.example</h1>');
    expect(plain(/<p class="flash ok" role="status">[\s\S]*?<\/p>/.exec(resent.text)?.[0] ?? '')).toBe('The invitation was issued again: no mailer is set up (invitations.smtp), so send the customer the link below.');
    expect(plain(resent.text)).toContain('Invitation link for another mailer (2 attempts)');
  });

  it('sends a page number past the last to the last page, keeping the filters', async () => {
    const first = plain((await get('/console/customers?sort=open-requests')).text);
    const pages = Number(/customers, page 1 of (\d+)/.exec(first)?.[1]);
    expect(pages).toBeGreaterThan(1);
    const beyond = await get(`/console/customers?sort=open-requests&page=${pages + 1}`);
    expect(beyond.status).toBe(302);
    const last = await fetch(`${url}/console/customers?sort=open-requests&page=${pages + 1}`, { headers: AS_ANN });
    expect(new URL(last.url).search).toBe(`?sort=open-requests&page=${pages}`);
    const text = await last.text();
    expect(plain(text)).toContain(`page ${pages} of ${pages}`);
    expect(text).not.toContain('No customer matches.');
    const none = await fetch(`${url}/console/customers?search=no-such-customer-anywhere&page=4`, { headers: AS_ANN });
    expect(new URL(none.url).search).toBe('?search=no-such-customer-anywhere&page=1');
    expect(plain(await none.text())).toContain('No customer matches.');
  });

  it('shows the member references a directory test could not resolve, as directories test prints them', async () => {
    const tested = plain((await post('/console/directories/sample/test', {})).text);
    expect(tested).toContain('Member references that match no user or group read (1 group):');
    expect(tested).toContain('sd-customers: 1 member reference matches no user or group read (e.g. uid=ghost.user,ou=gone,dc=example,dc=com)');
    expect((await cli(['directories', 'test', 'sample'])).stdout).toContain('member references that match no user or group read (1 group(s)):');
  });

  it('answers an unknown run or plan with 404 and its own code, and a malformed address with the 400 page', async () => {
    const run = await get('/console/runs/nosuch');
    expect(run.status).toBe(404);
    expect(plain(run.text)).toContain('ERR_RUN_NOT_FOUND: no run nosuch');
    const plan = await get('/console/plans/nosuch');
    expect(plan.status).toBe(404);
    expect(plain(plan.text)).toContain('ERR_PLAN_NOT_FOUND: no held plan nosuch');
    const bad = await get('/console/customers/%');
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('<h1>Bad request</h1>');
    expect(bad.text).not.toContain('FST_ERR_BAD_URL');
  });

  it('records a run started from the console as console:USER, in the journal and in dirbridge runs', async () => {
    const before = (await runs()).length;
    expect(plain((await post('/console/runs', { mode: 'full' })).text)).toContain('A run was started');
    await expect.poll(async () => (await runs()).length, { timeout: 20_000 }).toBe(before + 1);
    const [newest] = await runs();
    expect(newest?.actor.trigger).toBe('console:ann');
    expect((await cli(['runs', '--limit', '1'])).stdout).toContain('(console:ann)');
    expect(plain((await get('/console/runs')).text)).toContain('console:ann');
  });

  it('tells the console user to approve a held plan (no CLI flag), and charts the safety rejection apart from licence violations', async () => {
    editLdif(ws.ldif, (t) => ['wen.novak', 'yara.jensen', 'xavier.eriksen', 'hiro.novak'].reduce((text, uid) => removeEntry(text, `uid=${uid},`), t));
    const rejected = JSON.parse((await cli(['sync', '--json'])).stdout) as { runId: string; outcome: string };
    expect(rejected.outcome).toBe('rejected');
    const second = await cli(['sync']); // holds a newer plan, superseding the first
    expect(second.stdout + second.stderr).toContain('re-run with --allow-deactivations 4'); // the CLI keeps its wording
    const latest = (await runs())[0]?.runId ?? '';
    const planLink = `href="/console/plans/${latest}"`;
    for (const path of ['/console/', '/console/runs', '/console/plans', `/console/runs/${latest}`]) {
      const page = await get(path);
      expect(page.text, path).not.toContain('--allow-deactivations');
      expect(page.text, path).toContain(planLink);
    }
    expect((await get(`/console/runs/${rejected.runId}`)).text).not.toContain('--allow-deactivations');
    const plan = plain((await get(`/console/plans/${latest}`)).text);
    expect(plan).not.toContain('--allow-deactivations');
    expect(plan).toContain('Review the deactivations below, then approve this plan to apply them');

    const dashboard = (await get('/console/')).text;
    const table = /<table id="leaks-per-run"[\s\S]*?<\/table>/.exec(dashboard)?.[0] ?? '';
    expect(plain(/<thead>[\s\S]*?<\/thead>/.exec(table)?.[0] ?? '')).toBe('Run started Seat leaks Licence violations Rejected by a safety rule');
    const lastRow = [...table.matchAll(/<tr><th scope="row">[^<]*<\/th>((?:<td>\d+<\/td>)+)<\/tr>/g)].at(-1)?.[1] ?? '';
    expect([...lastRow.matchAll(/<td>(\d+)<\/td>/g)].map((m) => Number(m[1])).slice(1)).toEqual([0, 1]);
    const audit = (await get('/console/audit')).text;
    expect(plain(/<table id="audit-history"[\s\S]*?<thead>[\s\S]*?<\/thead>/.exec(audit)?.[0] ?? '')).toContain('Customers Seat leaks Licence violations Rejected by a safety rule');
    const run = plain((await get(`/console/runs/${latest}`)).text);
    expect(run).toContain('Invariant re-check not run (nothing was written)');
  });

  it('refuses a held plan once a console invitation changed the store, and names the console user on the run an approval starts', async () => {
    const held = (await runs())[0]?.runId ?? '';
    expect(await planStatus(held)).toBe('held');
    expect((await post('/console/customers/invite', { addresses: 'between.hold.and.approval@partner.example' })).status).toBe(200);
    const stale = await post(`/console/plans/${held}/approve`, { confirm: 'yes' });
    expect(plain(stale.text)).toContain('The store changed since the plan was made');
    expect(await planStatus(held)).toBe('stale');

    const again = JSON.parse((await cli(['sync', '--json'])).stdout) as { runId: string; outcome: string };
    expect(again.outcome).toBe('rejected');
    const approved = await post(`/console/plans/${again.runId}/approve`, { confirm: 'yes' });
    expect(plain(approved.text)).toContain('The plan was approved and applied.');
    const [applied] = await runs();
    expect(applied).toMatchObject({ outcome: 'success', actor: { trigger: 'console:ann' } });
  });

  it('marks a held plan superseded once a later run applied deactivations, and no longer counts or offers it', async () => {
    editLdif(ws.ldif, (t) => ['ada.petrov', 'farid.eriksen', 'kwame.baker', 'tomas.muller'].reduce((text, uid) => removeEntry(text, `uid=${uid},`), t));
    const rejected = JSON.parse((await cli(['sync', '--json'])).stdout) as { runId: string; outcome: string };
    expect(rejected.outcome).toBe('rejected');
    expect(await planStatus(rejected.runId)).toBe('held');
    const applied = JSON.parse((await cli(['sync', '--allow-deactivations', '4', '--json'])).stdout) as { runId: string; outcome: string };
    expect(applied.outcome).toBe('success');
    const plan = await get(`/console/plans/${rejected.runId}`);
    expect(plain(plan.text)).toContain(`superseded by ${applied.runId}`);
    expect(plan.text).not.toContain('Approve and apply');
    expect(plain((await get('/console/')).text)).toContain('0 plans held for approval');
  });

  it('words a plan by what became of it: would change while held, changed once approved, would have changed when discarded, stale or superseded', async () => {
    editLdif(ws.ldif, (t) => ['mateo.lambert', 'vik.lambert', 'chloe.lambert', 'priya.adler'].reduce((text, uid) => removeEntry(text, `uid=${uid},`), t));
    const rejected = JSON.parse((await cli(['sync', '--json'])).stdout) as { runId: string; outcome: string };
    expect(rejected.outcome).toBe('rejected');
    const held = (await get(`/console/plans/${rejected.runId}`)).text;
    expect(plain(/<dt>[^<]*<\/dt><dd>\d+ created/.exec(held)?.[0] ?? '')).toBe('Would change 0 created');
    expect(held).toContain('<h2>Customers it would deactivate</h2>');
    expect((await post(`/console/plans/${rejected.runId}/discard`, {})).status).toBe(200);
    const list = (await get('/console/plans')).text;
    const plans = [...list.matchAll(/<th scope="row"><a href="\/console\/plans\/([^"]+)">[^<]*<\/a><\/th><td>[^<]*<\/td><td>([a-z]+)<\/td>/g)].map((m) => [m[1] as string, m[2] as string] as const);
    expect(new Set(plans.map(([, status]) => status))).toEqual(new Set(['approved', 'stale', 'superseded', 'discarded']));
    const wording: Record<string, [string, string]> = {
      approved: ['Changed', 'Customers it deactivated'],
      discarded: ['Would have changed (discarded, not applied)', 'Customers it would have deactivated'],
      stale: ['Would have changed (not applied: the store had changed since)', 'Customers it would have deactivated'],
      superseded: ['Would have changed (not applied: superseded)', 'Customers it would have deactivated'],
    };
    for (const [id, status] of plans) {
      const page = (await get(`/console/plans/${id}`)).text;
      const [label, heading] = wording[status] ?? ['?', '?'];
      expect(plain(/<dt>[^<]*<\/dt><dd>\d+ created/.exec(page)?.[0] ?? ''), `${status} ${id}`).toBe(`${label} ${/<dd>(\d+) created/.exec(page)?.[1] ?? ''} created`);
      expect(page, `${status} ${id}`).toContain(`<h2>${heading}</h2>`);
      expect(page, `${status} ${id}`).not.toContain('Would change');
    }
  });

  it('says "1 customer", serves an icon and keeps its log JSON', async () => {
    expect((await get('/console/')).text).toContain('<link rel="icon" href="data:,">'); // no request for /favicon.ico
    const one = plain((await get('/console/customers?search=between.hold.and.approval')).text);
    expect(one).toContain('1 customer ');
    expect(one).not.toContain('1 customers');
    const nonJson = served.output().split('\n').filter((line) => line.trim() !== '' && !line.startsWith('{'));
    expect(nonJson).toEqual([]);
  });

  it('counts only failed sign-ins toward the limit (a correct password never uses it up), and sends a rate-limited user to the sign-in page', async () => {
    for (let i = 0; i < 3; i++) expect((await signIn('pam', PAM_PASSWORD)).status, `sign-in ${i + 1}`).toBe(303); // the limit is 2 attempts
    expect((await signIn('pam', 'not-her-password')).status).toBe(401);
    expect((await signIn('nobody', 'whatever')).status).toBe(401);
    const limited = await signIn('pam', PAM_PASSWORD); // two failures from this address: even a correct password waits for the window
    expect(limited.status).toBe(429);
    expect(limited.text).toContain('Too many failed sign-in attempts from your address');
    expect(limited.text).toContain('href="/console/login"');
    expect(limited.text).not.toContain('Back to the dashboard');
  });
});
