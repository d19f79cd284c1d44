import { request as httpRequest } from 'node:http';
import { rmSync, writeFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/service/console/password.js';
import { launchChromium } from '../helpers/browser.js';
import { defaultConfig, makeWorkspace, runCliAsync } from '../helpers/cli.js';
import { serve, type Served } from '../helpers/serve.js';

const SECRETS = {
  COOKIE_SECRET: 'cookie-secret-S3NTINEL-0b8e61f4a2c95d37e1f0a4b6',
  CROWD_PW: 'crowd-app-S3NTINEL-7d41c2',
  SMTP_PW: 'smtp-pw-S3NTINEL-93be0a',
  ADMIN_TOKEN: 'admin-token-S3NTINEL-51f9e2c07a',
  TRIGGER_TOKEN: 'trigger-token-S3NTINEL-c6d2a98b14',
};
const PASSWORD = 'auditor-password-for-tests-8812';

/** A GET from a chosen local address (the loopback network is 127.0.0.0/8), with headers. */
function getFrom(localAddress: string, url: string, headers: Record<string, string>): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { localAddress, headers }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, location: res.headers.location });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the admin console keeps secrets out of its pages; trusted proxy header; sign-in rate limit', () => {
  const ws = makeWorkspace();
  let served: Served;
  let url = '';
  let browser: Browser;

  beforeAll(async () => {
    const config = `store:
  url: file:./store.db
directories:
  - id: sample
    type: ldif
    path: ./directory.ldif
  - id: crowd
    type: crowd
    url: http://127.0.0.1:9/crowd
    application: { name: dirbridge, password: "\${env:CROWD_PW}" }
roles:
  customer:
    groups: [sd-customers, partner-portal]
licensing:
  licensedGroups: [jira-servicedesk-users, jira-administrators]
invitations:
  portalUrl: "https://help.example.com/portal"
  smtp: { host: 127.0.0.1, port: 9, security: none, user: mailer, password: "\${env:SMTP_PW}", from: "Help <help@example.com>", timeoutSeconds: 2 }
service: { host: 127.0.0.1, adminToken: "\${env:ADMIN_TOKEN}", triggerToken: "\${env:TRIGGER_TOKEN}" }
console:
  users:
    - { username: ann, role: admin }
    - { username: otto, role: auditor, passwordHash: "${await hashPassword(PASSWORD)}" }
  cookieSecret: "\${env:COOKIE_SECRET}"
  loginRateLimit: { attempts: 3, perSeconds: 600 }
  trustedHeader: { name: X-Remote-User, proxies: [127.0.0.1] }
`;
    writeFileSync(ws.config, config);
    const sync = await runCliAsync(['--config', ws.config, 'sync'], { cwd: ws.dir, env: SECRETS });
    expect(sync.status, sync.stderr).toBe(1); // the Crowd directory cannot be read: a partial run
    served = serve(ws.config, ws.dir, SECRETS);
    url = await served.url;
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    served?.child.kill('SIGTERM');
    await served?.exited;
    rmSync(ws.dir, { recursive: true, force: true });
  });

  it('shows no secret on any page, download or failure message (cookie secret, directory and SMTP passwords, tokens)', async () => {
    const context = await browser.newContext({ extraHTTPHeaders: { 'X-Remote-User': 'ann' } });
    const page = await context.newPage();
    const seen: string[] = [];
    const visit = async (path: string): Promise<void> => {
      const response = await page.goto(`${url}${path}`);
      expect(response?.status(), path).toBeLessThan(500);
      seen.push(await page.content());
    };
    for (const path of ['/console/', '/console/customers', '/console/runs', '/console/plans', '/console/audit', '/console/directories', '/console/customers/invite']) await visit(path);
    const runs = JSON.parse((await runCliAsync(['--config', ws.config, 'runs', '--json'], { cwd: ws.dir, env: SECRETS })).stdout) as { runId: string }[];
    await visit(`/console/runs/${runs[0]?.runId ?? ''}`);
    await visit('/console/customers?search=carol');
    await page.getByRole('link', { name: 'carol.agent' }).click();
    await page.waitForURL(/\/console\/customers\/sample/);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: /Explain now/ }).click()]);
    const explained = await page.content();
    expect(explained).toContain('crowd could not be read');
    seen.push(explained);
    await page.goto(`${url}/console/directories`);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Test connection to crowd' }).click()]);
    const tested = await page.content();
    expect(tested).toContain('ERR_CROWD_CONNECT');
    seen.push(tested);
    await page.goto(`${url}/console/customers/invite`);
    await page.getByLabel('E-mail addresses (one per line)').fill('secret.test@partner.example');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Invite' }).click()]);
    const invited = await page.content();
    expect(invited).toContain('the e-mail was NOT sent');
    seen.push(invited);
    for (const download of ['/console/audit.csv', '/console/audit.json']) seen.push(await (await context.request.get(`${url}${download}`)).text());
    for (const text of [...seen, served.output()]) {
      for (const [name, value] of Object.entries(SECRETS)) expect(text.includes(value), `${name} in a page or the log`).toBe(false);
    }
    await context.close();
  });

  it('honours the trusted header only from a configured proxy address, and only for a configured user', async () => {
    expect((await getFrom('127.0.0.1', `${url}/console/`, { 'X-Remote-User': 'ann' })).status).toBe(200);
    const elsewhere = await getFrom('127.0.0.2', `${url}/console/`, { 'X-Remote-User': 'ann' });
    expect(elsewhere.status).toBe(302);
    expect(elsewhere.location).toMatch(/^\/console\/login/);
    expect((await getFrom('127.0.0.1', `${url}/console/`, { 'X-Remote-User': 'mallory' })).status).toBe(302);
    // ann has no password: the sign-in form cannot be used for her.
  });

  it('limits failed sign-in attempts per client address (429 past loginRateLimit.attempts, for a correct password too)', async () => {
    const login = await fetch(`${url}/console/login`);
    const cookies = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const token = /name="_csrf" value="([^"]+)"/.exec(await login.text())?.[1] ?? '';
    const attempt = (password: string) =>
      fetch(`${url}/console/login`, { method: 'POST', redirect: 'manual', headers: { Cookie: cookies, 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: token, username: 'otto', password }) });
    for (let i = 0; i < 3; i++) expect((await attempt('wrong-password')).status).toBe(401);
    const limited = await attempt(PASSWORD);
    expect(limited.status).toBe(429);
    expect(await limited.text()).toContain('Too many failed sign-in attempts');
  });
});

describe('dirbridge serve without a console section', () => {
  it('serves no console and says in its log how to turn it on', async () => {
    const ws = makeWorkspace(defaultConfig('service: { host: 127.0.0.1 }\n'));
    const served = serve(ws.config, ws.dir);
    try {
      const url = await served.url;
      expect((await fetch(`${url}/console/`)).status).toBe(404);
      expect(served.output()).toContain('admin console off: add a console section with at least one user');
    } finally {
      served.child.kill('SIGTERM');
      await served.exited;
      rmSync(ws.dir, { recursive: true, force: true });
    }
  });
});
