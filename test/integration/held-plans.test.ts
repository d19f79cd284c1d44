import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { approveHeldPlan, discardHeldPlan, getHeldPlan, holdRejectedPlan, listHeldPlans } from '../../src/engine/held-plans.js';
import { openConnector } from '../../src/engine/open-connector.js';
import { runSync, type EngineDeps } from '../../src/engine/run-sync.js';
import { createLogger } from '../../src/logger.js';
import { createHeldPlanRecords } from '../../src/store/held-plan-records.js';
import { openStore } from '../../src/store/open-store.js';
import { defaultConfig, editLdif, makeWorkspace, removeEntry } from '../helpers/cli.js';
import { failAfterWrites } from '../helpers/faulty-driver.js';
import { useMongoServer } from '../helpers/mongo-server.js';

const mongo = useMongoServer();
const dirs: string[] = [];
let n = 0;
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const GONE = ['wen.novak', 'yara.jensen', 'xavier.eriksen', 'hiro.novak'];

/** The engine over one store, with the sample directory and a deactivation limit of 3. */
async function engine(storeUrl: string, safety = '{ maxDeactivations: { count: 3, percent: 10 } }'): Promise<{ deps: EngineDeps; ldif: string; close(): Promise<void> }> {
  const ws = makeWorkspace(defaultConfig(`safety: ${safety}\n`).replace('url: file:./store.db', `url: "${storeUrl}"`));
  dirs.push(ws.dir);
  const loaded = loadConfig(ws.config, { env: {} });
  const logger = createLogger({ level: 'silent', secrets: loaded.secrets });
  const store = await openStore({ url: loaded.config.store.url, baseDir: loaded.baseDir, licensedGroups: loaded.config.licensing.licensedGroups });
  const deps: EngineDeps = { loaded, store, logger, openConnector: (dir) => openConnector(dir, { logger, baseDir: loaded.baseDir }) };
  return { deps, ldif: ws.ldif, close: () => store.close() };
}

describe.each([
  ['the embedded store', () => 'file:./store.db'],
  ['a MongoDB-wire server', () => mongo().uri(`held_${process.pid}_${n++}`)],
])('held plans on %s', (_name, url) => {
  it('keeps a plan a safety rule rejected (not a dry run), applies it once as saved, and records who decided', async () => {
    const { deps, ldif, close } = await engine(url());
    try {
      expect((await runSync(deps)).outcome).toBe('success');
      editLdif(ldif, (t) => GONE.reduce((text, uid) => removeEntry(text, `uid=${uid},`), t));
      expect((await runSync(deps, { dryRun: true })).outcome).toBe('rejected');
      expect(await listHeldPlans(deps)).toEqual([]);
      const rejected = await runSync(deps);
      expect(rejected.outcome).toBe('rejected');
      const [held] = await listHeldPlans(deps);
      expect(held).toMatchObject({ id: rejected.runId, status: 'held', deactivations: 4, decidedBy: null });
      const { deactivations } = await getHeldPlan(deps, rejected.runId);
      expect(deactivations.map((d) => [d.username, d.reason]).sort()).toEqual(GONE.map((u) => [u, 'missing-from-directory']).sort());

      // A run in progress (its lease held elsewhere): the approval fails, writes nothing, and the plan waits again.
      const busy = await deps.store.acquireLease({ name: 'sync:sample', owner: 'another-replica', ttlMs: 60_000 });
      await expect(approveHeldPlan(deps, rejected.runId, 'ann')).rejects.toMatchObject({ code: 'ERR_LEASE_HELD' });
      expect((await getHeldPlan(deps, rejected.runId)).held).toMatchObject({ status: 'held', decidedBy: null, outcome: expect.stringMatching(/^approval by ann failed: ERR_LEASE_HELD: directory sample is being synced by another-replica/) });
      if (busy.acquired) await deps.store.releaseLease(busy.lease);

      const applied = await approveHeldPlan(deps, rejected.runId, 'ann');
      expect(applied).toMatchObject({ outcome: 'success', written: 4 });
      expect((await getHeldPlan(deps, rejected.runId)).held).toMatchObject({ status: 'approved', decidedBy: 'ann', appliedRunId: applied.runId, outcome: 'success' });
      await expect(approveHeldPlan(deps, rejected.runId, 'bob')).rejects.toThrow(/already approved/);
      await expect(discardHeldPlan(deps, rejected.runId, 'bob')).rejects.toThrow(/already approved/);
      const inactive = await deps.store.listCustomers({ state: 'inactive', pageSize: 50 });
      expect(inactive.items.map((c) => c.username).sort()).toEqual([...GONE].sort());
    } finally {
      await close();
    }
  });

  it('holds the deactivations a suspect read withheld (the rest applied), and applies them when approved', async () => {
    const { deps, ldif, close } = await engine(url(), '{ countDropPercent: 1 }');
    try {
      expect((await runSync(deps)).outcome).toBe('success');
      editLdif(ldif, (t) => GONE.reduce((text, uid) => removeEntry(text, `uid=${uid},`), t));
      const withheld = await runSync(deps);
      expect(withheld).toMatchObject({ outcome: 'withheld', plan: { summary: { withheld: 4, deactivate: 0 } } });
      const { held, deactivations } = await getHeldPlan(deps, withheld.runId);
      expect(held).toMatchObject({ status: 'held', deactivations: 4, reasons: ['directory sample: read 301 users, 1% fewer than the last trusted read (305): deactivations withheld'] });
      expect(deactivations.map((d) => d.username).sort()).toEqual([...GONE].sort());
      expect((await approveHeldPlan(deps, withheld.runId, 'ann')).outcome).toBe('success');
      expect((await deps.store.listCustomers({ state: 'inactive', pageSize: 50 })).items.map((c) => c.username).sort()).toEqual([...GONE].sort());
      expect((await runSync(deps)).outcome).toBe('success'); // the smaller read is the trusted one now
      expect((await listHeldPlans(deps)).filter((h) => h.status === 'held')).toEqual([]);
    } finally {
      await close();
    }
  });
});

describe('held plan records', () => {
  it('supersede what is still held and keep only the most recent decided plans', async () => {
    const { deps, close } = await engine('file:./store.db');
    try {
      const plans = createHeldPlanRecords(deps.store.records);
      const plan = (await runSync(deps, { dryRun: true })).plan;
      const held = (id: string, status: 'held' | 'discarded') => ({ id, createdAt: `2026-01-0${id}T00:00:00.000Z`, storeRevision: 1, status, reasons: [], deactivations: 0, plan, decidedBy: null, decidedAt: null, appliedRunId: null, outcome: null });
      for (const id of ['1', '2', '3']) await plans.insert(held(id, 'discarded'));
      await plans.insert(held('4', 'held'));
      await plans.insert(held('5', 'held'));
      expect(await plans.supersede('5')).toBe(1);
      expect(await plans.prune(2)).toBe(2);
      expect((await plans.list(10)).map((p) => [p.id, p.status, p.outcome])).toEqual([['5', 'held', null], ['4', 'superseded', 'superseded by 5'], ['3', 'discarded', null]]);
    } finally {
      await close();
    }
  });
});

describe('a plan that cannot be held', () => {
  it('leaves the run as it was (rejected, exit 3) and says why in the log', async () => {
    const { deps, ldif, close } = await engine('file:./store.db');
    try {
      expect((await runSync(deps)).outcome).toBe('success');
      editLdif(ldif, (t) => GONE.reduce((text, uid) => removeEntry(text, `uid=${uid},`), t));
      const lines: string[] = [];
      const logger = createLogger({ level: 'info', secrets: deps.loaded.secrets, destination: { write: (line: string) => void lines.push(line) } as never });
      const failing = { ...deps, logger, store: Object.assign(Object.create(deps.store) as typeof deps.store, { records: failAfterWrites(deps.store.records, 0) }) };
      const dry = await runSync(deps, { dryRun: true });
      expect(await holdRejectedPlan(failing, { runId: 'run-x', plan: dry.plan, storeRevision: dry.storeRevision, now: '2026-01-01T00:00:00.000Z' })).toBe(false);
      expect(lines.join('')).toContain('the plan could not be held for approval');
      expect(lines.join('')).toContain('injected store failure');
      expect(await listHeldPlans(deps)).toEqual([]);
    } finally {
      await close();
    }
  });
});
