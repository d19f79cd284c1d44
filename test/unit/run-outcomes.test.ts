import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import type { DirectoryConfig } from '../../src/config/schema.js';
import { openConnector } from '../../src/engine/open-connector.js';
import { runSync, type EngineDeps } from '../../src/engine/run-sync.js';
import { DirbridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { generateLdif } from '../helpers/generate-ldif.js';

/** How a run ends when it applied what it could but not everything: the engine on the embedded store. */
const logger = createLogger({ level: 'silent' });
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function setup(users: number) {
  const dir = mkdtempSync(join(tmpdir(), 'dirbridge-outcomes-'));
  dirs.push(dir);
  const ldif = join(dir, 'directory.ldif');
  writeFileSync(ldif, generateLdif(users));
  const loaded = parseConfig(
    `store: { url: "file:./store.db", leaseTtlSeconds: 10 }
directories:
  - { id: sample, type: ldif, path: ./directory.ldif }
roles: { customer: { groups: [customers] } }
`,
    { path: join(dir, 'dirbridge.yml'), env: {} },
  );
  let now = Date.now();
  const clock = { advance: (ms: number) => (now += ms) };
  const store = openSqliteStore({ path: join(dir, 'store.db'), licensedGroups: loaded.config.licensing.licensedGroups, clock: () => now });
  const deps: EngineDeps = { loaded, store, logger, openConnector: (d: DirectoryConfig) => openConnector(d, { logger, baseDir: dir }) };
  return { dir, ldif, store, deps, clock };
}

describe('run outcomes', () => {
  it('a suspect read (count-drop gate) ends as "withheld", with the reason in the journal, until an allowance applies it', async () => {
    const { ldif, store, deps } = setup(100);
    expect((await runSync(deps)).outcome).toBe('success');
    writeFileSync(ldif, generateLdif(60)); // 40 % fewer users than the last trusted read
    const suspect = await runSync(deps);
    expect(suspect.outcome).toBe('withheld');
    expect(suspect.plan.summary).toMatchObject({ deactivate: 0, withheld: 40 });
    const [run] = await store.listRuns({ limit: 1 });
    expect(run).toMatchObject({ outcome: 'withheld', verification: 'passed', error: { code: 'ERR_DEACTIVATIONS_WITHHELD' } });
    expect(run?.error?.message).toContain('40 deactivations withheld');
    expect(run?.error?.message).toContain('sample: read 60 users, 40% fewer than the last trusted read (100)');
    expect(run?.error?.message).toContain('--allow-deactivations 40');
    expect((await store.loadCurrent()).filter((c) => c.active)).toHaveLength(100);

    const allowed = await runSync(deps, { allowDeactivations: 40 });
    expect(allowed.outcome).toBe('success');
    expect(allowed.plan.summary).toMatchObject({ deactivate: 40, withheld: 0 });
    await store.close();
  });

  it('a run that lost its lease with nothing to write ends as "lease-lost" (ERR_LEASE_LOST), not success', async () => {
    const { store, deps, clock } = setup(20);
    expect((await runSync(deps)).outcome).toBe('success');
    // The run is paused past its lease's expiry while it reads; another process takes the lease meanwhile.
    const paused: EngineDeps = {
      ...deps,
      openConnector: async (d) => {
        const real = await deps.openConnector(d);
        return {
          ...real,
          fetchSnapshot: async (options) => {
            const snapshot = await real.fetchSnapshot(options);
            clock.advance(11_000);
            expect(await store.acquireLease({ name: 'sync:sample', owner: 'other-host:4242:abc', ttlMs: 10_000 })).toMatchObject({ acquired: true });
            return snapshot;
          },
        };
      },
    };
    const error = await runSync(paused).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DirbridgeError);
    expect(error).toMatchObject({ code: 'ERR_LEASE_LOST', exitCode: 5 });
    const [run] = await store.listRuns({ limit: 1 });
    expect(run).toMatchObject({ outcome: 'lease-lost', written: 0, error: { code: 'ERR_LEASE_LOST' } });
    expect(run?.error?.message).toContain('sync:sample');
    await store.close();
  });
});
