import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/service/console/password.js';
import { launchChromium, SCREENSHOTS } from '../helpers/browser.js';
import { defaultConfig, editLdif, makeWorkspace, removeEntry, runCliAsync } from '../helpers/cli.js';
import { serve, type Served } from '../helpers/serve.js';

const ADMIN_PASSWORD = 'correct-horse-admin-7731';
const AUDITOR_PASSWORD = 'battery-staple-audit-4410';
const COOKIE_SECRET = 'cookie-secret-S3NTINEL-5f0e2b9c41d7a8e6f3b2c1d0';
const ALL_STAFF = '\ndn: cn=all-staff,ou=Groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: all-staff\nmail: All-Staff@Example.com\nmember: uid=alice.agent,ou=Staff,ou=People,dc=example,dc=com\n';

async function consoleConfig(extra = ''): Promise<string> {
  return defaultConfig(`invitations: { portalUrl: "https://help.example.com/portal" }
safety: { maxDeactivations: { count: 3, percent: 10 } }
service: { host: 127.0.0.1 }
console:
  users:
    - { username: ann, role: admin, passwordHash: "${await hashPassword(ADMIN_PASSWORD)}" }
    - { username: otto, role: auditor, passwordHash: "${await hashPassword(AUDITOR_PASSWORD)}" }
  cookieSecret: "\${env:COOKIE_SECRET}"
  loginRateLimit: { attempts: 50, perSeconds: 60 }
${extra}`);
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function signIn(browser: Browser, url: string, username: string, password: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(`${url}/console/`);
  expect(new URL(page.url()).pathname).toBe('/console/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await nav(page, () => page.getByRole('button', { name: 'Sign in' }).click());
  await page.waitForURL(`${url}/console/`);
  return { context, page };
}

const txt = async (locator: Locator): Promise<string> => ((await locator.first().textContent()) ?? '').replace(/\s+/g, ' ').trim();

/** Runs an action that loads another page, and waits until that page has loaded. */
async function nav(page: Page, action: () => Promise<void>): Promise<void> {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), action()]);
}

/** The CSRF token of a console page, as a form would carry it. */
async function tokenOf(page: Page): Promise<string> {
  return (await page.locator('input[name="_csrf"]').first().getAttribute('value')) ?? '';
}

describe('the admin console in headless Chromium', () => {
  const ws = makeWorkspace();
  const env = { COOKIE_SECRET };
  const cli = (args: string[]) => runCliAsync(['--config', ws.config, ...args], { cwd: ws.dir, env });
  let served: Served;
  let url = '';
  let browser: Browser;
  let admin: { context: BrowserContext; page: Page };
  let auditor: { context: BrowserContext; page: Page };

  beforeAll(async () => {
    writeFileSync(ws.config, await consoleConfig());
    editLdif(ws.ldif, (t) => `${t}${ALL_STAFF}`);
    expect((await cli(['sync'])).status).toBe(0);
    served = serve(ws.config, ws.dir, env);
    url = await served.url;
    browser = await launchChromium();
    admin = await signIn(browser, url, 'ann', ADMIN_PASSWORD);
    auditor = await signIn(browser, url, 'otto', AUDITOR_PASSWORD);
  });
  afterAll(async () => {
    await browser?.close();
    served?.child.kill('SIGTERM');
    await served?.exited;
    rmSync(ws.dir, { recursive: true, force: true });
  });

  it('signs in an admin and an auditor, each seeing what their role allows; refuses a wrong password; signs out', async () => {
    const { page } = admin;
    expect(await txt(page.locator('h1'))).toBe('Dashboard');
    await page.waitForSelector('.chart-canvas canvas'); // Chart.js drew the charts over the tables
    expect(await page.locator('header .who').textContent()).toContain('ann (admin)');
    expect(await page.locator('table.data tbody tr').count()).toBeGreaterThan(0);
    await shot(page, 'dashboard');
    await page.goto(`${url}/console/customers`);
    expect(await page.getByRole('link', { name: 'Invite customers' }).isVisible()).toBe(true);

    const a = auditor.page;
    await a.goto(`${url}/console/customers`);
    expect(await a.locator('header .who').textContent()).toContain('otto (auditor)');
    expect(await a.getByRole('link', { name: 'Invite customers' }).count()).toBe(0);
    await a.goto(`${url}/console/runs`);
    expect(await a.getByRole('button', { name: 'Start a run now' }).count()).toBe(0);

    const context = await browser.newContext();
    const page2 = await context.newPage();
    await page2.goto(`${url}/console/login`);
    await shot(page2, 'login');
    await page2.getByLabel('Username').fill('ann');
    await page2.getByLabel('Password').fill('not-her-password');
    const [refused] = await Promise.all([page2.waitForResponse((r) => r.request().method() === 'POST'), page2.getByRole('button', { name: 'Sign in' }).click()]);
    expect(refused.status()).toBe(401);
    expect(await txt(page2.getByRole('alert'))).toBe('Unknown username or wrong password.');
    const signedIn = await signIn(browser, url, 'ann', ADMIN_PASSWORD);
    const cookie = (await signedIn.context.cookies()).find((c) => c.name === 'dirbridge_console');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console' });
    await signedIn.page.getByRole('button', { name: 'Sign out' }).click();
    await signedIn.page.waitForURL(`${url}/console/login`);
    await signedIn.page.goto(`${url}/console/runs`);
    expect(new URL(signedIn.page.url()).pathname).toBe('/console/login');
    await Promise.all([context.close(), signedIn.context.close()]);
  });

  it('searches customers, pages twenty at a time, and opens one with its history and a live explanation (group path, licence conflict)', async () => {
    const { page } = admin;
    await page.goto(`${url}/console/customers`);
    expect(await page.locator('table.data tbody tr').count()).toBe(20);
    expect(await txt(page.locator('table.data caption'))).toContain('237 customers, page 1 of 12');
    await nav(page, () => page.getByRole('link', { name: 'Next page' }).click());
    expect(await txt(page.locator('table.data caption'))).toContain('page 2 of 12');
    await page.getByLabel('Search').fill('carol.agent');
    await nav(page, () => page.getByRole('button', { name: 'Search' }).click());
    expect(await page.locator('table.data tbody tr').count()).toBe(1);
    expect(await txt(page.locator('thead'))).toContain('Open requests');
    await shot(page, 'customers');
    await nav(page, () => page.getByRole('link', { name: 'carol.agent' }).click());
    expect(await txt(page.locator('h1'))).toBe('Customer carol.agent');
    expect(await txt(page.locator('table.data'))).toContain('created');
    await nav(page, () => page.getByRole('button', { name: /Explain now/ }).click());
    expect(await txt(page.locator('.verdict'))).toContain('customer');
    expect(await txt(page.locator('ul.paths'))).toContain('Customer group sd-customers');
    expect(await txt(page.locator('li.conflict'))).toContain('Licence conflict: licensed group jira-servicedesk-users');
    await shot(page, 'customer');
  });

  it('answers 403 to an auditor on every admin action, with a forged form and without one, and changes nothing', async () => {
    const { page, context } = auditor;
    await page.goto(`${url}/console/customers`);
    const token = await tokenOf(page);
    expect(token).not.toBe('');
    for (const path of ['/console/customers/invite', '/console/customers/sample:x/migrate']) {
      const response = await page.goto(`${url}${path}`);
      expect(response?.status(), path).toBe(403);
    }
    await shot(page, 'forbidden');
    const posts: [string, Record<string, string>][] = [
      ['/console/customers/invite', { addresses: 'eve@partner.example' }],
      ['/console/customers/pc-abcd1234/resend', {}],
      ['/console/customers/pc-abcd1234/migrate', { confirm: 'yes' }],
      ['/console/runs', { mode: 'full' }],
      ['/console/plans/run-x/approve', { confirm: 'yes' }],
      ['/console/plans/run-x/discard', {}],
      ['/console/directories/sample/test', {}],
    ];
    const runsBefore = JSON.parse((await cli(['runs', '--json'])).stdout) as unknown[];
    for (const [path, form] of posts) {
      for (const withToken of [true, false]) {
        const response = await context.request.post(`${url}${path}`, { form: withToken ? { ...form, _csrf: token } : form, maxRedirects: 0 });
        expect(response.status(), `${path} ${withToken ? 'with' : 'without'} a token`).toBe(403);
      }
    }
    // A form planted in the auditor's own page, carrying a valid token, is refused as well.
    await page.goto(`${url}/console/customers`);
    const plant = `(() => {
      const form = document.createElement('form');
      form.method = 'post';
      form.action = '/console/customers/invite';
      form.innerHTML = '<input name="_csrf" value=${JSON.stringify(token)}><input name="addresses" value="eve@partner.example">';
      document.body.appendChild(form);
      form.submit();
    })()`;
    await page.evaluate(plant);
    await page.waitForURL(`${url}/console/customers/invite`);
    expect(await txt(page.locator('h1'))).toBe('Not allowed');
    expect((await cli(['customers', 'show', 'eve@partner.example'])).status).not.toBe(0);
    expect(JSON.parse((await cli(['runs', '--json'])).stdout)).toHaveLength(runsBefore.length);
  });

  it('refuses a POST without a CSRF token, from a signed-in admin too', async () => {
    const before = JSON.parse((await cli(['runs', '--json'])).stdout) as unknown[];
    const response = await admin.context.request.post(`${url}/console/runs`, { form: { mode: 'full' }, maxRedirects: 0 });
    expect(response.status()).toBe(403);
    expect(await response.text()).toContain('Form expired');
    const forged = await admin.context.request.post(`${url}/console/runs`, { form: { mode: 'full', _csrf: 'forged-token' }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    const login = await admin.context.request.post(`${url}/console/login`, { form: { username: 'ann', password: ADMIN_PASSWORD }, maxRedirects: 0 });
    expect(login.status()).toBe(403);
    expect(JSON.parse((await cli(['runs', '--json'])).stdout)).toHaveLength(before.length);
  });

  it('invites customers, refusing a mailing-list address on the page; migrates one after the irreversibility is confirmed', async () => {
    const { page } = admin;
    await page.goto(`${url}/console/customers`);
    await nav(page, () => page.getByRole('link', { name: 'Invite customers' }).click());
    await page.getByLabel('E-mail addresses (one per line)').fill('new.customer@partner.example\nall-staff@example.com');
    await nav(page, () => page.getByRole('button', { name: 'Invite' }).click());
    expect(await txt(page.getByRole('alert'))).toContain('1 of 2 addresses was refused');
    const refused = page.locator('tr.refused');
    expect(await txt(refused)).toContain('all-staff@example.com');
    expect(await txt(refused)).toContain('ERR_MAILING_LIST');
    expect(await txt(refused)).toContain('the group "all-staff" in directory sample');
    expect(await txt(page.locator('tr.invited'))).toContain('new.customer@partner.example');
    await shot(page, 'invite');
    expect((await cli(['customers', 'show', 'all-staff@example.com'])).status).not.toBe(0);

    await nav(page, () => page.locator('tr.invited a').first().click());
    expect(await txt(page.locator('table.data'))).toContain('console:ann');
    await nav(page, () => page.getByRole('link', { name: 'Migrate to an account…' }).click());
    expect(await txt(page.locator('.warning-box'))).toContain('A migration cannot be undone.');
    await shot(page, 'migrate');
    const key = decodeURIComponent(new URL(page.url()).pathname.split('/')[3] ?? '');
    await page.getByLabel('I understand that this migration is irreversible').check();
    await nav(page, () => page.getByRole('button', { name: 'Migrate' }).click());
    expect(await txt(page.locator('h1'))).toContain('new.customer@partner.example');
    const shown = JSON.parse((await cli(['customers', 'show', key, '--json'])).stdout) as { customer: { active: boolean; deactivatedReason: string; successorKey: string } }[];
    expect(shown[0]?.customer).toMatchObject({ active: false, deactivatedReason: 'migrated' });
    expect(shown[0]?.customer.successorKey).toMatch(/^ac-/);
  });

  it('holds a plan a safety rule rejected, lists exactly what it would deactivate, and applies it as saved when an admin approves', async () => {
    const gone = ['wen.novak', 'yara.jensen', 'xavier.eriksen', 'hiro.novak', 'hiro.rossi'];
    editLdif(ws.ldif, (t) => gone.reduce((text, uid) => removeEntry(text, `uid=${uid},`), t));
    const rejected = await cli(['sync']);
    expect(rejected.status).toBe(3);
    const { page } = admin;
    await page.goto(`${url}/console/plans`);
    await shot(page, 'plans');
    await nav(page, () => page.locator('table.data tbody tr').first().getByRole('link').click());
    expect(await txt(page.locator('dl.facts'))).toContain('the plan deactivates 5 of');
    const rows = await page.locator('table.data tbody tr').allTextContents();
    expect((await page.locator('table.data tbody tr th').allTextContents()).sort()).toEqual([...gone].sort());
    for (const row of rows) expect(row).toContain('missing-from-directory');
    await shot(page, 'plan');
    // The README's picture (docs/console-held-plan.png is a copy of this file): the top of the page at 1280 × 815, scaled to 880 × 560.
    const readme = await browser.newContext({ storageState: await admin.context.storageState(), viewport: { width: 1280, height: 815 }, deviceScaleFactor: 880 / 1280 });
    const readmePage = await readme.newPage();
    await readmePage.goto(page.url());
    await readmePage.screenshot({ path: join(SCREENSHOTS, 'readme-held-plan.png') });
    await readme.close();
    // The auditor sees the plan but no buttons.
    await auditor.page.goto(page.url());
    expect(await auditor.page.getByRole('button', { name: 'Approve and apply' }).count()).toBe(0);

    await page.getByLabel(/I reviewed the 5 deactivations/).check();
    await nav(page, () => page.getByRole('button', { name: 'Approve and apply' }).click());
    expect(await txt(page.getByRole('status'))).toBe('The plan was approved and applied.');
    expect(await txt(page.locator('dl.facts'))).toContain('approved by ann');
    const inactive = JSON.parse((await cli(['customers', 'list', '--state', 'inactive', '--json', '--page-size', '100'])).stdout) as { items: { username: string; deactivatedReason: string }[] };
    for (const uid of gone) expect(inactive.items.find((c) => c.username === uid)?.deactivatedReason).toBe('missing-from-directory');
    await nav(page, () => page.locator('dl.facts a').filter({ hasText: /^run-/ }).first().click());
    expect(await txt(page.locator('dl.facts'))).toContain('success');
    const changed = page.locator('table.data').filter({ has: page.locator('caption', { hasText: /\d+ changes/ }) });
    expect(await txt(changed.locator('caption'))).toBe('5 changes');
    const lines = (await changed.locator('tbody tr').allTextContents()).map((l) => l.replace(/\s+/g, ' ').trim());
    expect(lines).toHaveLength(5);
    for (const line of lines) expect(line).toMatch(/^deactivated\s*[a-z.]+\s*sample:[0-9a-f-]+\s*missing-from-directory$/);
    expect((await changed.locator('tbody th a').allTextContents()).sort()).toEqual([...gone].sort());
    await shot(page, 'run');
    await page.goto(`${url}/console/runs`);
    await shot(page, 'runs');
  });

  it('keeps only the newest held plan, refuses to apply it once the store moved on, and records who discarded another', async () => {
    const more = ['ada.petrov', 'farid.eriksen', 'kwame.baker', 'tomas.muller'];
    editLdif(ws.ldif, (t) => more.reduce((text, uid) => removeEntry(text, `uid=${uid},`), t));
    const first = JSON.parse((await cli(['sync', '--json'])).stdout) as { runId: string; outcome: string };
    const second = JSON.parse((await cli(['sync', '--json'])).stdout) as { runId: string; outcome: string };
    expect([first.outcome, second.outcome]).toEqual(['rejected', 'rejected']);
    const { page } = admin;
    await page.goto(`${url}/console/plans/${first.runId}`);
    expect(await txt(page.locator('dl.facts'))).toContain(`superseded by ${second.runId}`);
    expect(await page.getByRole('button', { name: 'Approve and apply' }).count()).toBe(0);
    expect((await cli(['customers', 'invite', 'while.held@partner.example'])).status).toBe(0); // the store moves on
    await page.goto(`${url}/console/plans/${second.runId}`);
    await page.getByLabel(/I reviewed the 4 deactivations/).check();
    await nav(page, () => page.getByRole('button', { name: 'Approve and apply' }).click());
    expect(await txt(page.getByRole('alert'))).toContain('The store changed since the plan was made');
    expect(await txt(page.locator('dl.facts'))).toContain('stale');

    editLdif(ws.ldif, (t) => ['mateo.lambert', 'vik.lambert', 'chloe.lambert', 'priya.adler'].reduce((text, uid) => removeEntry(text, `uid=${uid},`), t));
    const third = JSON.parse((await cli(['sync', '--json'])).stdout) as { runId: string; outcome: string };
    expect(third.outcome).toBe('rejected');
    await page.goto(`${url}/console/plans/${third.runId}`);
    await nav(page, () => page.getByRole('button', { name: 'Discard' }).click());
    expect(await txt(page.locator('dl.facts'))).toContain('discarded by ann');
    await page.goto(`${url}/console/plans`);
    const statuses = await page.locator('table.data tbody tr td:nth-child(3)').allTextContents();
    expect(statuses.slice(0, 4)).toEqual(['discarded', 'stale', 'superseded', 'approved']);
  });

  it('downloads the seat audit as CSV and JSON, matching audit seats --csv and --json', async () => {
    const { page } = admin;
    await page.goto(`${url}/console/audit`);
    await page.waitForSelector('[data-chart-for="audit-history"] canvas');
    // Customers (hundreds) on the left axis, the per-run findings (a handful) on their own axis on the right.
    const axes = await page.evaluate(`(() => {
      const chart = window.Chart.getChart(document.querySelector('[data-chart-for="audit-history"] canvas'));
      const scale = (id) => chart.scales[id] ? { position: chart.scales[id].position, title: chart.options.scales[id].title.text } : null;
      return { datasets: chart.data.datasets.map((d) => [d.label, d.yAxisID]), y: scale('y'), y1: scale('y1') };
    })()`);
    expect(axes).toEqual({
      datasets: [['Customers', 'y'], ['Seat leaks', 'y1'], ['Licence violations', 'y1'], ['Rejected by a safety rule', 'y1']],
      y: { position: 'left', title: 'Customers' },
      y1: { position: 'right', title: 'Findings per run' },
    });
    await shot(page, 'audit');
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'CSV' }).click()]);
    const downloaded = readFileSync(await csv.path(), 'utf8');
    const expected = await cli(['audit', 'seats', '--csv', '--fail-on', 'never']);
    expect(downloaded).toBe(expected.stdout);
    expect(downloaded).toContain('carol.agent');
    const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'JSON' }).click()]);
    const fromPage = JSON.parse(readFileSync(await json.path(), 'utf8')) as Record<string, unknown>;
    const fromCli = JSON.parse((await cli(['audit', 'seats', '--json', '--fail-on', 'never'])).stdout) as Record<string, unknown>;
    expect({ ...fromPage, generatedAt: null }).toEqual({ ...fromCli, generatedAt: null });
    // The auditor may download it too.
    const response = await auditor.context.request.get(`${url}/console/audit.csv`);
    expect(response.status()).toBe(200);
    expect(await response.text()).toBe(expected.stdout);
  });

  it('gives every page a language, one h1, a label for each control and a skip link reached first by keyboard', async () => {
    const { page } = admin;
    const runs = JSON.parse((await cli(['runs', '--json'])).stdout) as { runId: string }[];
    const plans = ['/console/plans'];
    await page.goto(`${url}/console/plans`);
    const planLink = await page.locator('table.data tbody th a').first().getAttribute('href');
    if (planLink !== null) plans.push(planLink);
    const pages = ['/console/', '/console/customers', '/console/customers/invite', '/console/runs', `/console/runs/${runs[0]?.runId ?? ''}`, ...plans, '/console/audit', '/console/directories'];
    await page.goto(`${url}/console/customers?search=carol.agent`);
    pages.push((await page.locator('table.data tbody th a').first().getAttribute('href')) ?? '');
    const audit = `(() => {
      const controls = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')];
      return {
        lang: document.documentElement.lang,
        h1: document.querySelectorAll('h1').length,
        unlabelled: controls.filter((c) => c.labels.length === 0 && !c.getAttribute('aria-label')).map((c) => c.name || c.id),
        unnamedButtons: [...document.querySelectorAll('button')].filter((b) => b.textContent.trim() === '').length,
        tablesWithoutHeaders: [...document.querySelectorAll('table')].filter((t) => t.querySelectorAll('th[scope]').length === 0).length,
      };
    })()`;
    for (const path of pages) {
      await page.goto(`${url}${path}`);
      expect(await page.evaluate(audit), path).toEqual({ lang: 'en', h1: 1, unlabelled: [], unnamedButtons: 0, tablesWithoutHeaders: 0 });
      await page.keyboard.press('Tab');
      expect(await page.evaluate('document.activeElement.textContent.trim()'), path).toBe('Skip to content');
    }
  });

  it('shows each directory with its last read and lease, tests a connection, and starts a run', async () => {
    const { page } = admin;
    await page.goto(`${url}/console/directories`);
    const row = page.locator('table.data tbody tr', { hasText: 'sample' });
    expect(await txt(row)).toContain('ldif');
    expect(await txt(row)).toContain('free');
    await nav(page, () => page.getByRole('button', { name: 'Test connection to sample' }).click());
    expect(await txt(page.getByRole('status'))).toContain('OK:');
    await shot(page, 'directories');
    const before = JSON.parse((await cli(['runs', '--json'])).stdout) as unknown[];
    await page.goto(`${url}/console/runs`);
    await nav(page, () => page.getByRole('button', { name: 'Start a run now' }).click());
    expect(await txt(page.getByRole('status'))).toContain('A run was started');
    await expect.poll(async () => (JSON.parse((await cli(['runs', '--json'])).stdout) as unknown[]).length, { timeout: 20_000 }).toBe(before.length + 1);
    await page.goto(`${url}/console/`);
    await page.waitForSelector('.chart-canvas canvas');
    await shot(page, 'dashboard-after-runs');
  });
});
