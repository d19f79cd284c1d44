import { rmSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import mongoose from 'mongoose';
import type { RunRecord } from '../../src/ports/store.js';
import { makeWorkspace, runCliAsync } from '../helpers/cli.js';
import { generateLdif } from '../helpers/generate-ldif.js';
import { useMongoServer } from '../helpers/mongo-server.js';
import { metric, serve as serveProcess, until, type Served } from '../helpers/serve.js';

const TOKEN = 'trigger-token-S3NTINEL-0123';
const dirs: string[] = [];
const mongo = useMongoServer();
let n = 0;
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const serve = (config: string, cwd: string): Served => serveProcess(config, cwd, { TRIGGER: TOKEN });

function workspace(options: { store?: string; users?: number; schedules?: string } = {}) {
  const ws = makeWorkspace(`store:
  url: ${options.store ?? 'file:./store.db'}
  leaseTtlSeconds: 10
directories:
  - { id: sample, type: ldif, path: ./directory.ldif }
roles: { customer: { groups: [${options.users === undefined ? 'sd-customers, partner-portal' : 'customers'}] } }
licensing: { licensedGroups: [jira-servicedesk-users] }
schedules: ${options.schedules ?? '[]'}
service: { host: 127.0.0.1, gracePeriodSeconds: 30, triggerToken: "\${env:TRIGGER}" }
`);
  dirs.push(ws.dir);
  if (options.users !== undefined) writeFileSync(ws.ldif, generateLdif(options.users));
  return ws;
}

const runs = async (url: string): Promise<RunRecord[]> => (await (await fetch(`${url}/runs?limit=500`)).json()) as RunRecord[];
const trigger = (url: string, token = TOKEN) => fetch(`${url}/runs`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify({ directory: 'sample' }) });

describe('dirbridge serve', () => {
  it('answers probes, runs on request with a bearer token, and exposes correct metrics', async () => {
    const ws = workspace();
    const s = serve(ws.config, ws.dir);
    try {
      const url = await s.url;
      expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect((await trigger(url, 'wrong-token-0000000000')).status).toBe(401);
      expect((await trigger(url)).status).toBe(202);
      await until(async () => ((await runs(url)).some((r) => r.outcome === 'success') ? true : undefined), 20_000, 'the run');
      // The journal has the run before the run has finished (held plans, customer addresses come after its record): the metrics count it at its end.
      const text = await until(async () => {
        const body = await (await fetch(`${url}/metrics`)).text();
        return metric(body, 'dirbridge_sync_runs_total', 'outcome="success"') === 1 ? body : undefined;
      }, 20_000, 'the run in the metrics');
      expect(metric(text, 'dirbridge_sync_runs_total', 'outcome="success"')).toBe(1);
      expect(metric(text, 'dirbridge_sync_duration_seconds_count')).toBe(1);
      expect(metric(text, 'dirbridge_customers', 'state="active"')).toBe(237);
      expect(metric(text, 'dirbridge_customers', 'state="inactive"')).toBe(0);
      expect(metric(text, 'dirbridge_seat_leaks')).toBe(1);
      expect(metric(text, 'dirbridge_last_success_timestamp_seconds', 'directory="sample"')).toBeGreaterThan(Date.now() / 1000 - 60);

      rmSync(ws.ldif);
      expect((await trigger(url)).status).toBe(202);
      await until(async () => ((await runs(url)).some((r) => r.outcome === 'partial') ? true : undefined), 20_000, 'the failed read');
      const after = await (await fetch(`${url}/metrics`)).text();
      expect(metric(after, 'dirbridge_directory_read_errors_total', 'directory="sample",code="ERR_DIRECTORY_READ"')).toBe(1);
      expect(metric(after, 'dirbridge_deactivations_refused_total', 'rule="incomplete-or-suspect-read"')).toBe(237);
      expect(metric(after, 'dirbridge_sync_runs_total', 'outcome="partial"')).toBe(1);
      expect(s.output()).not.toContain(TOKEN);
      expect(s.output()).toMatch(/"runId":"run-[^"]+".*"msg":"run finished"/);
    } finally {
      s.child.kill('SIGTERM');
      expect(await s.exited).toBe(0);
    }
  });

  it('two replicas on one MongoDB, a schedule every 5 s, for a minute: every tick runs exactly once, never overlapping', async () => {
    const store = mongo().uri(`serve_${process.pid}_${n++}`);
    // Every 5 s: a run of the sample directory on FerretDB takes 1-3 s when the whole suite loads the
    // machine, and a tick that comes while a run is still going is skipped by design (never overlapping).
    const ws = workspace({ store, schedules: '[{ cron: "*/5 * * * * *" }]' });
    const a = serve(ws.config, ws.dir);
    const b = serve(ws.config, ws.dir);
    const urls = await Promise.all([a.url, b.url]);
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 61_000));
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect(await Promise.all([a.exited, b.exited])).toEqual([0, 0]);
    const conn = await mongoose.createConnection(store).asPromise();
    const journal = (await conn.db?.collection('sync_runs').find({}).toArray()) as unknown as RunRecord[];
    await conn.close();
    const success = journal.filter((r) => r.outcome === 'success').sort((x, y) => x.startedAt.localeCompare(y.startedAt));
    const slots = success.map((r) => Math.floor(Date.parse(r.startedAt) / 5000));
    expect(new Set(slots).size).toBe(slots.length); // no tick ran twice
    expect(slots[slots.length - 1]! - slots[0]! + 1).toBe(slots.length); // no tick was missed
    expect(slots.length).toBeGreaterThanOrEqual(Math.floor((Date.now() - started) / 5000) - 2);
    for (let i = 1; i < success.length; i++) expect(success[i]!.startedAt >= success[i - 1]!.finishedAt).toBe(true); // never overlapping
    expect(new Set(success.map((r) => r.actor.pid)).size).toBe(2); // both replicas took ticks
    expect(urls).toHaveLength(2);
  }, 120_000);

  it('SIGTERM during a run: exits 0 within the grace period, releases the lease, leaves the store consistent', async () => {
    const store = mongo().uri(`serve_${process.pid}_${n++}`);
    const ws = workspace({ store, users: 10_000 });
    const s = serve(ws.config, ws.dir);
    const url = await s.url;
    expect((await trigger(url)).status).toBe(202);
    const conn = await mongoose.createConnection(store).asPromise();
    try {
      await until(async () => ((await conn.db?.collection('customers').countDocuments({})) ?? 0) > 0 ? true : undefined, 60_000, 'the run to start writing');
      const signalled = Date.now();
      s.child.kill('SIGTERM');
      expect(await s.exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(30_000);
      const lease = await conn.db?.collection('leases').findOne({ _id: 'sync:sample' as never });
      expect((lease?.['expiresAt'] as Date).getTime()).toBeLessThanOrEqual(Date.now());
      expect(await conn.db?.collection('customers').countDocuments({ active: true })).toBe(10_000);
      const again = await runCliAsync(['--config', ws.config, 'sync'], { cwd: ws.dir, env: { TRIGGER: TOKEN } });
      expect(again.stdout).toContain('created 0, updated 0, reactivated 0, deactivated 0, unchanged 10000');
    } finally {
      await conn.close();
    }
  }, 120_000);
});
