import { rmSync, writeFileSync } from 'node:fs';
import mongoose from 'mongoose';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/ports/store.js';
import { makeWorkspace, runCliAsync } from '../helpers/cli.js';
import { APP_NAME, APP_PASSWORD, sampleCrowdDirectory, startCrowdFixture } from '../helpers/crowd-fixture.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { generateLdif } from '../helpers/generate-ldif.js';
import { useMongoServer } from '../helpers/mongo-server.js';
import { metric, serve, until } from '../helpers/serve.js';

/** `dirbridge serve`: manual-run requests, outcomes in the metrics, stopping past the grace period, store outages. */
const TOKEN = 'trigger-token-S3NTINEL-4567';
const dirs: string[] = [];
const mongo = useMongoServer();
let n = 0;
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function workspace(options: { store?: string; directory?: string; users?: number; schedules?: string; grace?: number; groups?: string } = {}) {
  const ws = makeWorkspace(`store:
  url: ${options.store ?? 'file:./store.db'}
  leaseTtlSeconds: 10
directories:
${options.directory ?? '  - { id: sample, type: ldif, path: ./directory.ldif }'}
roles: { customer: { groups: [${options.groups ?? 'customers'}] } }
licensing: { licensedGroups: [jira-servicedesk-users] }
schedules: ${options.schedules ?? '[]'}
service: { host: 127.0.0.1, gracePeriodSeconds: ${options.grace ?? 30}, triggerToken: "\${env:TRIGGER}" }
`);
  dirs.push(ws.dir);
  writeFileSync(ws.ldif, generateLdif(options.users ?? 100));
  const cli = (...args: string[]) => runCliAsync(['--config', ws.config, ...args], { cwd: ws.dir, env: { TRIGGER: TOKEN } });
  return { ...ws, cli, serve: () => serve(ws.config, ws.dir, { TRIGGER: TOKEN }) };
}

const post = (url: string, body: string) => fetch(`${url}/runs`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' }, body });
const journal = async (url: string): Promise<RunRecord[]> => (await (await fetch(`${url}/runs?limit=500`)).json()) as RunRecord[];
const metrics = async (url: string): Promise<string> => (await fetch(`${url}/metrics`)).text();

describe('POST /runs', () => {
  it('answers 400 to invalid JSON, unknown fields and wrong values, and starts nothing; a valid body starts one run', async () => {
    const ws = workspace();
    const s = ws.serve();
    try {
      const url = await s.url;
      const refused: [string, RegExp][] = [
        ['{"directory": "sample"', /not valid JSON/],
        ['directory=sample', /not valid JSON/],
        ['{"directroy": "sample"}', /directroy/],
        ['{"directory": "sample", "mode": "fast"}', /mode/],
        ['{"directory": 5}', /directory/],
        ['["sample"]', /object/],
        ['null', /object/],
      ];
      for (const [body, why] of refused) {
        const response = await post(url, body);
        const answer = (await response.json()) as { error: string };
        expect({ body: body.slice(0, 40), status: response.status }).toEqual({ body: body.slice(0, 40), status: 400 });
        expect(answer.error).toMatch(why);
      }
      expect((await post(url, '{"directory": "nope"}')).status).toBe(400);
      const huge = await post(url, JSON.stringify({ directory: 'x'.repeat(5000) }));
      expect(huge.status).toBe(413);
      expect(((await huge.json()) as { error: string }).error).toMatch(/too large/);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await journal(url)).toEqual([]);
      expect(metric(await metrics(url), 'dirbridge_sync_runs_total', 'outcome="success"')).toBe(0);

      const accepted = await post(url, '{"directory": "sample", "mode": "full"}');
      expect(accepted.status).toBe(202);
      expect(await accepted.json()).toEqual({ accepted: true, directory: 'sample', mode: 'full' });
      await until(async () => ((await journal(url)).length === 1 ? true : undefined), 20_000, 'the run');
      expect(s.output()).not.toContain(TOKEN);
    } finally {
      s.child.kill('SIGTERM');
      expect(await s.exited).toBe(0);
    }
  });
});

describe('run outcomes in the metrics', () => {
  it('a suspect read is counted as "withheld", with the withheld deactivations as a gauge', async () => {
    const ws = workspace({ users: 100 });
    const s = ws.serve();
    try {
      const url = await s.url;
      expect((await post(url, '{}')).status).toBe(202);
      await until(async () => ((await journal(url)).length === 1 ? true : undefined), 20_000, 'the first run');
      writeFileSync(ws.ldif, generateLdif(60));
      expect((await post(url, '{}')).status).toBe(202);
      await until(async () => ((await journal(url)).length === 2 ? true : undefined), 20_000, 'the second run');
      expect((await journal(url))[0]).toMatchObject({ outcome: 'withheld', error: { code: 'ERR_DEACTIVATIONS_WITHHELD' } });
      const text = await metrics(url);
      expect(metric(text, 'dirbridge_sync_runs_total', 'outcome="withheld"')).toBe(1);
      expect(metric(text, 'dirbridge_sync_runs_total', 'outcome="success"')).toBe(1);
      expect(metric(text, 'dirbridge_deactivations_withheld')).toBe(40);
    } finally {
      s.child.kill('SIGTERM');
      expect(await s.exited).toBe(0);
    }
  });
});

describe('SIGTERM past the grace period', () => {
  it('aborts a run in the middle of its read: exit 1, the journal says so, the lease is released', async () => {
    const fixture = await startCrowdFixture(sampleCrowdDirectory(200));
    const ws = workspace({
      grace: 1,
      groups: 'helpdesk-customers',
      directory: `  - id: crowd
    type: crowd
    url: ${fixture.url}
    application: { name: ${APP_NAME}, password: "${APP_PASSWORD}" }
    pageSize: 5
    retries: { max: 0 }`,
    });
    const s = ws.serve();
    try {
      const url = await s.url;
      fixture.faults.latencyMs = 1000; // a full read now takes 40 pages and more: well past the grace period
      expect((await post(url, '{}')).status).toBe(202);
      await until(async () => (fixture.requests.some((r) => r.startsWith('GET search')) ? true : undefined), 30_000, 'the read to start');
      s.child.kill('SIGTERM');
      expect(await s.exited).toBe(1);
      const requests = fixture.requests.filter((r) => r.startsWith('GET search')).length;
      expect(requests).toBeLessThan(20); // the read stopped: it never reached its 40th page
      expect(s.output()).not.toContain('ERR_STORE');
      expect(s.output()).toContain('grace period over: aborting the current run');

      fixture.faults.latencyMs = 0;
      const [aborted] = JSON.parse((await ws.cli('runs', '--json')).stdout) as RunRecord[];
      expect(aborted).toMatchObject({ outcome: 'failed', written: 0, error: { code: 'ERR_RUN_ABORTED' } });
      const again = await ws.cli('sync');
      expect(again.status).toBe(0); // no lease left behind
      expect(again.stdout).toContain('created 20, updated 0');
    } finally {
      s.child.kill('SIGKILL');
      await fixture.close();
    }
  }, 120_000);

  it('aborts the apply loop between batches (grace 0): the store is never closed under a write, a rerun converges', async () => {
    const store = mongo().uri(`serve_abort_${process.pid}_${n++}`);
    const ws = workspace({ store, users: 10_000, grace: 0 });
    const s = ws.serve();
    const conn = await mongoose.createConnection(store).asPromise();
    try {
      const url = await s.url;
      expect((await post(url, '{}')).status).toBe(202);
      await until(async () => (((await conn.db?.collection('customers').countDocuments({})) ?? 0) > 0 ? true : undefined), 60_000, 'the run to start writing');
      s.child.kill('SIGTERM');
      expect(await s.exited).toBe(1);
      expect(s.output()).not.toContain('ERR_STORE');
      const [aborted] = (await conn.db?.collection('sync_runs').find({}).sort({ startedAt: -1 }).limit(1).toArray()) as unknown as RunRecord[];
      expect(aborted).toMatchObject({ outcome: 'failed', error: { code: 'ERR_RUN_ABORTED' } });
      const stored = (await conn.db?.collection('customers').countDocuments({})) ?? 0;
      expect(stored).toBe(aborted?.written);
      expect(stored).toBeLessThan(10_000);
      const again = await ws.cli('sync');
      expect(again.status).toBe(0);
      expect(again.stdout).toContain(`created ${10_000 - stored}, updated 0, reactivated 0, deactivated 0, unchanged ${stored}`);
    } finally {
      s.child.kill('SIGKILL');
      await conn.close();
    }
  }, 180_000);
});

describe('a schedule tick while the store is down', () => {
  it('is skipped with a JSON log line and counted as store-unavailable; no stack trace on stderr', async () => {
    const server = new URL(mongo().uri('x'));
    const proxy = await startFaultProxy({ host: server.hostname, port: Number(server.port) });
    const ws = workspace({ store: `mongodb://127.0.0.1:${proxy.port}/serve_ticks_${process.pid}_${n++}`, users: 10, schedules: '[{ cron: "*/2 * * * * *" }]' });
    const s = ws.serve();
    try {
      const url = await s.url;
      await until(async () => ((await journal(url)).length > 0 ? true : undefined), 30_000, 'a scheduled run');
      proxy.mode = { kind: 'reset', afterBytes: 0 }; // the store goes away: every connection is refused from now on
      proxy.cut();
      await until(async () => (/"msg":"tick skipped: the store is unreachable"/.test(s.output()) ? true : undefined), 60_000, 'a skipped tick');
      proxy.mode = { kind: 'pass' };
      const text = await until(async () => {
        const t = await metrics(url);
        return metric(t, 'dirbridge_schedule_ticks_skipped_total', 'reason="store-unavailable"') > 0 ? t : undefined;
      }, 60_000, 'the counter');
      expect(metric(text, 'dirbridge_schedule_ticks_skipped_total', 'reason="store-unavailable"')).toBeGreaterThan(0);
      const skipped = s.output().split('\n').find((line) => line.includes('tick skipped: the store is unreachable')) ?? '';
      expect(JSON.parse(skipped)).toMatchObject({ level: 40, code: 'ERR_STORE', schedule: 0 });
      expect(s.errors()).not.toMatch(/NODE-CRON|^\s+at /m);
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
      await proxy.close();
    }
  }, 180_000);
});
