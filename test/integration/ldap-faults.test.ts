import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ldapConfigSchema } from '../../connectors/ldap/config.js';
import { openLdapConnector } from '../../connectors/ldap/ldap-connector.js';
import { parseConfig } from '../../src/config/load-config.js';
import { openConnector } from '../../src/engine/open-connector.js';
import { runSync } from '../../src/engine/run-sync.js';
import { DirbridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { corpLdif, exampleLdif, GROUPS, PEOPLE } from '../helpers/ldap-fixtures.js';
import { startSlapd, SVC_DN, SVC_PW, type Slapd } from '../helpers/slapd.js';

/** Network faults between the LDAP connector and a real slapd, made by a TCP proxy in between. */
let slapd: Slapd;
let plain: FaultProxy;
let tls: FaultProxy;
const logger = createLogger({ level: 'silent' });
const portOf = (url: string): number => Number(new URL(url).port);

beforeAll(async () => {
  slapd = await startSlapd({ example: exampleLdif(), corp: corpLdif() });
  plain = await startFaultProxy({ host: '127.0.0.1', port: portOf(slapd.ldapUrl) });
  tls = await startFaultProxy({ host: '127.0.0.1', port: portOf(slapd.ldapsUrl) });
}, 60_000);
afterEach(() => {
  plain.mode = { kind: 'pass' };
  tls.mode = { kind: 'pass' };
});
afterAll(async () => {
  await plain?.close();
  await tls?.close();
  await slapd?.stop();
});

const connector = (url: string, overrides: Record<string, unknown> = {}) =>
  openLdapConnector(
    'corp',
    ldapConfigSchema.parse({ type: 'ldap', url, tls: { caFile: slapd.caFile, allowPlaintext: true }, bind: { dn: SVC_DN, password: SVC_PW }, users: { baseDn: PEOPLE }, groups: { baseDn: GROUPS }, pageSize: 10, ...overrides }),
    { logger, baseDir: '/' },
  );

async function failure(promise: Promise<unknown>): Promise<DirbridgeError> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DirbridgeError);
  expect(String((error as Error).message)).not.toContain(SVC_PW);
  return error as DirbridgeError;
}

describe('LDAP connection faults (TCP proxy in front of slapd)', () => {
  it('a connection reset during bind is a retryable connection failure, not a refused bind', async () => {
    const url = `ldap://127.0.0.1:${plain.port}`;
    expect((await connector(url).fetchSnapshot()).users.length).toBeGreaterThan(0); // the relay itself is sound

    plain.mode = { kind: 'reset', afterBytes: 0 }; // the bind request reaches slapd, its answer never comes back
    const afterAnswer = await failure(connector(url).fetchSnapshot());
    expect(afterAnswer).toMatchObject({ code: 'ERR_LDAP_CONNECT', retryable: true, message: expect.stringContaining('during bind: connection reset') });

    plain.mode = { kind: 'reset', afterBytes: 8, direction: 'request' }; // reset half-way through sending the bind request
    const halfSent = await failure(connector(url).fetchSnapshot());
    expect(halfSent).toMatchObject({ code: 'ERR_LDAP_CONNECT', retryable: true });
    expect(plain.stats.reset).toBeGreaterThanOrEqual(2);
  });

  it('a black-holed server is a connection failure within the operation timeout', async () => {
    plain.mode = { kind: 'black-hole' };
    const started = Date.now();
    const error = await failure(connector(`ldap://127.0.0.1:${plain.port}`, { timeouts: { operationSeconds: 1 } }).fetchSnapshot());
    expect(error).toMatchObject({ code: 'ERR_LDAP_CONNECT', retryable: true, message: expect.stringContaining('stopped answering during bind') });
    expect(Date.now() - started).toBeLessThan(20_000); // a deadline, not a hang (generous: the machine is shared)
  });
});

describe('an aborted read', () => {
  it('ends a page in flight at once with the abort reason, not after the operation timeout', async () => {
    const controller = new AbortController();
    const reason = new DirbridgeError('ERR_RUN_ABORTED', 'stopped');
    let frozenAt = 0;
    const read = connector(slapd.ldapsUrl, { timeouts: { operationSeconds: 120 } }).fetchSnapshot({
      signal: controller.signal,
      onProgress: () => {
        if (frozenAt !== 0) return;
        slapd.signal('SIGSTOP'); // the next page never comes
        frozenAt = Date.now();
        setTimeout(() => controller.abort(reason), 200);
      },
    });
    try {
      const error = await read.catch((e: unknown) => e);
      expect(error).toBe(reason);
      expect(Date.now() - frozenAt).toBeLessThan(30_000); // far below the 120 s operation timeout
    } finally {
      slapd.signal('SIGCONT');
    }
  });
});

describe('a disconnect in the middle of a search (LDAPS through the proxy)', () => {
  it('fails the read as a lost connection: nobody is deactivated and the store is unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dirbridge-disconnect-'));
    const yaml = `store: { url: "file:${dir}/store.db" }
directories:
  - id: corp
    type: ldap
    url: ldaps://127.0.0.1:${tls.port}
    tls: { caFile: ${slapd.caFile} }
    bind: { dn: "${SVC_DN}", password: "${SVC_PW}" }
    users: { baseDn: "${PEOPLE}" }
    groups: { baseDn: "${GROUPS}" }
    pageSize: 10
roles: { customer: { groups: [sd-customers] } }
`;
    const loaded = parseConfig(yaml, { path: join(dir, 'dirbridge.yml'), env: {} });
    const store = openSqliteStore({ path: join(dir, 'store.db'), licensedGroups: loaded.config.licensing.licensedGroups });
    const progress: string[] = [];
    const deps = { loaded, store, logger, openConnector: (d: Parameters<typeof openConnector>[0]) => openConnector(d, { logger, baseDir: dir }), onProgress: (text: string) => progress.push(text) };
    try {
      const first = await runSync(deps);
      expect(first.outcome).toBe('success');
      const before = await store.loadCurrent();
      expect(before.filter((c) => c.active)).toHaveLength(79);
      const runsBefore = (await store.listRuns({ limit: 10 })).length;

      // The TLS handshake, the bind and the first pages of users pass; the connection then dies.
      tls.mode = { kind: 'reset', afterBytes: 12_000 };
      progress.length = 0;
      const second = await runSync(deps);
      expect(progress.some((p) => /^corp: [1-9]\d* users/.test(p))).toBe(true); // it failed mid-search, after pages had arrived
      expect(second.outcome).toBe('partial');
      expect(second.failures).toEqual([expect.objectContaining({ directoryId: 'corp', code: expect.stringMatching(/^ERR_(LDAP_CONNECT|DIRECTORY_READ)$/) })]);
      expect(second.plan.directories[0]).toMatchObject({ status: 'failed' });
      expect(second.plan.summary).toMatchObject({ deactivate: 0, withheld: 79 });
      expect(second.written).toBe(0);
      expect(await store.loadCurrent()).toEqual(before);
      expect((await store.listRuns({ limit: 10 })).length).toBe(runsBefore + 1);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
