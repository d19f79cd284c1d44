import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomerListPage } from '../../src/engine/customers/list.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { BIN, defaultConfig, makeWorkspace, runCliAsync } from '../helpers/cli.js';
import { dumpStore } from '../helpers/store-dump.js';

const ADMIN = 'admin-token-S3NTINEL-4a1f0c';
const PORTAL = 'portal-token-S3NTINEL-9b27de';
const MAIL = join(import.meta.dirname, '..', 'fixtures', 'mail');

describe('customer routes of dirbridge serve', () => {
  const ws = makeWorkspace(
    defaultConfig(`invitations: { portalUrl: "https://help.example.com/portal" }
signup: { public: false, rateLimit: { requests: 6, perSeconds: 3600 } }
service: { host: 127.0.0.1, adminToken: "\${env:ADMIN}", portalToken: "\${env:PORTAL}" }
`),
  );
  let child: ChildProcess;
  let url = '';
  let output = '';

  beforeAll(async () => {
    expect((await runCliAsync(['--config', ws.config, 'sync'], { cwd: ws.dir, env: { ADMIN, PORTAL } })).status).toBe(0);
    child = spawn(process.execPath, [BIN, '--config', ws.config, 'serve', '--port', '0', '--log-level', 'debug'], { cwd: ws.dir, env: { PATH: process.env['PATH'] ?? '', ADMIN, PORTAL } });
    url = await new Promise<string>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => {
        output += d.toString();
        const match = /"url":"http:\/\/[^:]+:(\d+)"/.exec(output);
        if (match !== null) resolve(`http://127.0.0.1:${match[1]}`);
      });
      child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      child.on('exit', () => reject(new Error(`serve exited early:\n${output}`)));
    });
  });
  afterAll(async () => {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(ws.dir, { recursive: true, force: true });
  });

  const call = (method: string, path: string, token: string | null, body?: string | Buffer, type = 'application/json') =>
    fetch(`${url}${path}`, { method, headers: { ...(token === null ? {} : { Authorization: `Bearer ${token}` }), 'Content-Type': type }, ...(body === undefined ? {} : { body }) });
  const dump = async (): Promise<unknown> => {
    const store = openSqliteStore({ path: join(ws.dir, 'store.db'), licensedGroups: ['jira-servicedesk-users', 'jira-administrators'] });
    try {
      return await dumpStore(store);
    } finally {
      await store.close();
    }
  };

  it('with signup off refuses an unknown address (POST /signup: 403) and an unknown sender (POST /intake/email: 422), writing nothing', async () => {
    const before = await dump();
    const signup = await call('POST', '/signup', PORTAL, JSON.stringify({ email: 'zoe@partner.example' }));
    expect(signup.status).toBe(403);
    expect(await signup.json()).toEqual({ error: { code: 'ERR_SIGNUP_REFUSED', message: expect.stringContaining('public signup is off'), retryable: false }, reason: 'signup-off' });
    const mail = await call('POST', '/intake/email', PORTAL, readFileSync(join(MAIL, 'latin1-from.eml')), 'message/rfc822');
    expect(mail.status).toBe(422);
    expect(await mail.json()).toMatchObject({ error: { code: 'ERR_NOT_PROCESSED' }, reason: 'signup-off' });
    expect(await dump()).toEqual(before);
  });

  it('keeps each route behind its own bearer token', async () => {
    expect((await call('GET', '/customers', null)).status).toBe(401);
    expect((await call('GET', '/customers', PORTAL)).status).toBe(401);
    expect((await call('POST', '/signup', ADMIN, '{}')).status).toBe(401);
    expect((await call('GET', '/customers', 'x'.repeat(40))).headers.get('www-authenticate')).toBe('Bearer');
  });

  it('lists, shows, invites and migrates over HTTP, as the CLI does', async () => {
    const page = (await (await call('GET', '/customers?pageSize=5&page=2&sort=open-requests', ADMIN)).json()) as CustomerListPage;
    expect(page).toMatchObject({ total: 237, page: 2, pageSize: 5 });
    expect(page.items).toHaveLength(5);
    expect((await call('GET', '/customers?type=nope', ADMIN)).status).toBe(400);

    const invited = await call('POST', '/customers/invitations', ADMIN, JSON.stringify({ addresses: ['ann@partner.example', 'carol.agent@example.com'] }));
    expect(invited.status).toBe(200);
    const { results } = (await invited.json()) as { results: { outcome: string; key: string }[] };
    expect(results.map((r) => r.outcome)).toEqual(['invited', 'exists']);
    const ann = results[0]?.key ?? '';

    const shown = (await (await call('GET', `/customers/${encodeURIComponent('ann@partner.example')}`, ADMIN)).json()) as { customer: { key: string; origin: string }; history: { kind: string }[] }[];
    expect(shown.map((d) => [d.customer.key, d.customer.origin, d.history.map((e) => e.kind)])).toEqual([[ann, 'invited', ['invited', 'invitation-link']]]);
    expect((await call('GET', '/customers/nobody%40nowhere.example', ADMIN)).status).toBe(404);

    const imported = await call('POST', '/requests/import?format=csv', ADMIN, `id,reporter,status,created\nH-1,${ann},open,2026-02-01\n`, 'text/csv');
    expect(await imported.json()).toMatchObject({ created: 1, reporters: [ann] });
    const badImport = await call('POST', '/requests/import?format=csv', ADMIN, 'id,reporter,status,created\nH-2,ann@partner.example,maybe,2026-02-01\n', 'text/csv');
    expect(badImport.status).toBe(400);
    expect(await badImport.json()).toMatchObject({ error: { code: 'ERR_REQUESTS_FILE', message: expect.stringContaining('the request body line 2: status "maybe"') } });

    const migrated = await call('POST', `/customers/${ann}/migrate`, ADMIN, '{}');
    expect(migrated.status).toBe(200);
    expect(await migrated.json()).toEqual({ source: ann, target: ann.replace(/^pc-/, 'ac-'), requestsMoved: 1 });
    const again = await call('POST', `/customers/${ann}/migrate`, ADMIN, '{}');
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: { code: 'ERR_ALREADY_MIGRATED' } });
    expect((await call('POST', `/customers/${ann}/reactivate`, ADMIN, '{}')).status).toBe(409);
    expect((await call('POST', '/customers/sample:nope/deactivate', ADMIN, '{}')).status).toBe(404);
  });

  it('accepts mail from a known customer, and rate-limits the portal routes (429 with Retry-After)', async () => {
    const invited = await call('POST', '/customers/invitations', ADMIN, JSON.stringify({ addresses: ['ann@partner.example'] }));
    expect(invited.status).toBe(200);
    const accepted = await call('POST', '/intake/email', PORTAL, readFileSync(join(MAIL, 'sender-reply-to.eml')), 'message/rfc822');
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toMatchObject({ outcome: 'accepted', request: { id: 'mail:sender-0001@partner.example', created: true } });
    // Three portal calls so far (six allowed per hour): three more pass, the next is refused.
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call('POST', '/signup', PORTAL, JSON.stringify({ email: 'ann@partner.example' }))).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await call('POST', '/signup', PORTAL, JSON.stringify({ email: 'ann@partner.example' }));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('never writes a bearer token to its log', () => {
    expect(output).toContain('customer request refused');
    expect(output).not.toContain(ADMIN);
    expect(output).not.toContain(PORTAL);
  });
});
