import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_DIRECTORY } from '../../src/core/customer-key.js';
import type { CustomerView } from '../../src/core/customer-model.js';
import { directoryAddresses } from '../../src/core/directory-addresses.js';
import type { PlanAction } from '../../src/core/model.js';
import { toCustomerRecord } from '../../src/core/plan-sync.js';
import { inviteCustomers } from '../../src/engine/customers/invite.js';
import { listCustomers } from '../../src/engine/customers/list.js';
import { deactivateCustomer, migrateCustomer, reactivateCustomer } from '../../src/engine/customers/migrate.js';
import { importRequests } from '../../src/engine/customers/requests-import.js';
import { signupCustomer } from '../../src/engine/customers/signup.js';
import { isDirbridgeError } from '../../src/errors.js';
import type { SyncStore } from '../../src/ports/store.js';
import { refreshMigrationFlags } from '../../src/store/customers/migration-flags.js';
import { openCustomerRecords, type CustomerRecords } from '../../src/store/customers/open-customer-records.js';
import { customerConfig, customerContext, TEST_NOW } from './customer-context.js';
import { failAfterWrites } from './faulty-driver.js';
import { dumpStore } from './store-dump.js';
import { migrateStore } from '../../src/engine/migrate-store.js';
import { group, snapshot, user } from './fixtures.js';

const NOW = TEST_NOW.toISOString();
const LICENSED = ['jira-users', 'jira-servicedesk-users'];

async function expectCode(promise: Promise<unknown>, code: string): Promise<unknown> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isDirbridgeError(error) ? error.code : error).toBe(code);
  return error;
}

const create = (dir: string, id: string, username: string, groups: string[], email = `${username}@example.org`): PlanAction => ({
  kind: 'create',
  customer: toCustomerRecord(dir, user(id, username, { email }), groups),
});

const csv = (rows: string[]): string => ['id,reporter,status,created,resolved', ...rows].join('\n');

/**
 * The customer-management conformance suite: every store operation above the record driver, on every
 * store. Part of the store conformance suite (describeStoreConformance runs it).
 */
export function describeCustomerConformance(name: string, factory: () => Promise<SyncStore>): void {
  describe(`customer conformance: ${name}`, () => {
    let store: SyncStore;
    let records: CustomerRecords;
    beforeEach(async () => {
      store = await factory();
      records = openCustomerRecords(store.records, { licensedGroups: LICENSED });
    });
    afterEach(async () => {
      await store.close();
    });

    const seed = async (): Promise<void> => {
      const actions = Array.from({ length: 22 }, (_, i) => create('dir-a', `a${i}`, `user${String(i).padStart(2, '0')}`, ['customers']));
      actions.push(create('dir-b', 'b1', 'bea', ['Partners ']), create('dir-b', 'b2', 'bo', ['partners', 'customers']));
      await store.applyActions(actions, { runId: 'r1', now: NOW });
      const ctx = customerContext(store, { loaded: customerConfig('invitations: { portalUrl: "https://help.example.org/portal" }') });
      await inviteCustomers(ctx, { addresses: ['ann@partner.example', 'ÅSA@Partner.example', 'cy@partner.example'] });
      const signup = customerContext(store, { loaded: customerConfig('signup: { public: true }') });
      await signupCustomer(signup, { address: 'dee@public.example', name: 'Dee' });
    };

    it('lists customers of every origin, 20 to a page, with type, origin and request counts; filters and sorts in the store', async () => {
      await seed();
      const ctx = customerContext(store);
      await importRequests(ctx, {
        source: 'r.csv',
        format: 'csv',
        text: csv(['R-1,user05@example.org,open,2026-01-01,', 'R-2,user05@example.org,open,2026-01-02,', 'R-3,ann@partner.example,open,2026-01-03,', 'R-4,ann@partner.example,closed,2026-01-03,2026-01-04', 'R-5,dir-b:b1,closed,2026-01-05,2026-01-06']),
      });

      const first = await listCustomers(ctx, {});
      expect(first).toMatchObject({ total: 28, page: 1, pageSize: 20 });
      expect(first.items).toHaveLength(20);
      const ann = (await listCustomers(ctx, { search: 'ANN@' })).items;
      expect(ann.map((c) => [c.username, c.accountType, c.origin, c.openRequests, c.closedRequests])).toEqual([['ann@partner.example', 'portal-only', 'invited', 1, 1]]);

      expect((await listCustomers(ctx, { type: 'portal-only' })).items.map((c) => c.username)).toEqual(['ann@partner.example', 'cy@partner.example', 'dee@public.example', 'ÅSA@partner.example']);
      expect((await listCustomers(ctx, { type: 'account' })).total).toBe(24);
      expect((await listCustomers(ctx, { origin: 'invited' })).total).toBe(3);
      expect((await listCustomers(ctx, { origin: 'signup' })).items.map((c) => [c.username, c.displayName])).toEqual([['dee@public.example', 'Dee']]);
      expect((await listCustomers(ctx, { origin: 'dir-b' })).items.map((c) => c.username)).toEqual(['bea', 'bo']);
      expect((await listCustomers(ctx, { group: 'PARTNERS' })).items.map((c) => c.username)).toEqual(['bea', 'bo']);
      expect((await listCustomers(ctx, { group: 'customers', origin: 'dir-b' })).items.map((c) => c.username)).toEqual(['bo']);
      const byOpen = await listCustomers(ctx, { sort: 'open-requests', pageSize: 4 });
      expect(byOpen.items.map((c) => [c.username, c.openRequests])).toEqual([['user05', 2], ['ann@partner.example', 1], ['bea', 0], ['bo', 0]]);
      expect((await listCustomers(ctx, { sort: 'open-requests', page: 7, pageSize: 4 })).items.map((c) => c.username)).toEqual(['user19', 'user20', 'user21', 'ÅSA@partner.example']);
    });

    it('finds customers by key, by address in any case (non-ASCII too) and by username', async () => {
      await seed();
      const { customers } = records;
      const [asa] = await customers.byEmails(['åsa@PARTNER.EXAMPLE']);
      expect(asa).toMatchObject({ directoryId: LOCAL_DIRECTORY, email: 'ÅSA@partner.example', accountType: 'portal-only', origin: 'invited', active: true });
      expect((await customers.byKeys([asa!.key])).get(asa!.key)?.email).toBe('ÅSA@partner.example');
      expect(asa!.key).toMatch(/^pc-[0-9a-f]{20}$/);
      const [bea] = await customers.byUsername('BEA');
      expect(bea).toMatchObject({ key: 'dir-b:b1', accountType: 'account', origin: 'dir-b', groups: ['Partners '], openRequests: 0 });
      expect((await customers.byEmails(['BEA@example.org'])).map((c) => c.key)).toEqual(['dir-b:b1']);
    });

    it("keeps the management fields through a sync's writes, and a customer no directory owns out of the sync's hands", async () => {
      await seed();
      await records.requests.upsert([{ id: 'R-9', reporterKey: 'dir-a:a1', status: 'open', createdAt: NOW, resolvedAt: null, source: 'import' }], NOW);
      const renamed = toCustomerRecord('dir-a', user('a1', 'user01-renamed'), ['customers']);
      await store.applyActions([{ kind: 'update', customer: renamed, previousUsername: 'user01' }, { kind: 'deactivate', directoryId: 'dir-a', externalId: 'a2', username: 'user02', reason: 'left-customer-groups' }], { runId: 'r2', now: NOW });
      const found = await records.customers.byKeys(['dir-a:a1', 'dir-a:a2']);
      expect(found.get('dir-a:a1')).toMatchObject({ username: 'user01-renamed', openRequests: 1, origin: 'dir-a', accountType: 'account' });
      expect(found.get('dir-a:a2')).toMatchObject({ active: false, deactivatedReason: 'left-customer-groups' });
      const local = (await store.loadCurrent()).filter((c) => c.directoryId === LOCAL_DIRECTORY);
      expect(local).toHaveLength(4); // loadCurrent has them; the engine plans without them (directoryCustomers)
    });

    it('creates a customer no sync owns once per address, and refuses one carrying a licensed group, writing nothing', async () => {
      const c = { externalId: 'pc-0000aaaa', username: 'x@example.org', email: 'x@example.org', displayName: null, accountType: 'portal-only' as const, origin: 'invited' as const, invitation: null };
      expect(await records.customers.insertLocal([c], NOW)).toBe(1);
      expect(await records.customers.insertLocal([c, { ...c, externalId: 'pc-0000bbbb' }], NOW)).toBe(1);
      await expectCode(records.customers.insertAccount(toCustomerRecord('dir-a', user('z', 'zed'), ['customers', ' JIRA-Users']), NOW), 'ERR_STORE_INVARIANT');
      expect(await records.customers.byUsername('zed')).toEqual([]);
      expect(await store.findLicensedCustomers(LICENSED, 10)).toEqual([]);
    });

    it('raises the store revision with every customer write outside a sync (invitation, signup, a change by hand), so a saved or held plan made before is stale', async () => {
      const revisions = [await store.revision()];
      await inviteCustomers(customerContext(store, { loaded: customerConfig('invitations: { portalUrl: "https://help.example.org/portal" }') }), { addresses: ['rev@partner.example'] });
      revisions.push(await store.revision());
      await signupCustomer(customerContext(store, { loaded: customerConfig('signup: { public: true }') }), { address: 'rev.signup@public.example', name: 'Rev' });
      revisions.push(await store.revision());
      const [invited] = await records.customers.byEmails(['rev@partner.example']);
      expect(await records.customers.update(invited?.key ?? '', { displayName: 'Rev Renamed' })).toBe(true);
      revisions.push(await store.revision());
      for (const step of revisions.slice(1).map((r, i) => r - (revisions[i] ?? 0))) expect(step).toBeGreaterThan(0);
    });

    it('keeps requests idempotent by id, counts them on their customers, and moves them in bulk', async () => {
      await seed();
      const ctx = customerContext(store);
      const text = csv(['R-1,user01,open,2026-01-01T10:00:00+02:00,', 'R-2,dir-a:a1,closed,2026-01-01,2026-01-02', 'R-3,dir-a:a2,open,2026-01-01,']);
      expect(await importRequests(ctx, { source: 'r.csv', format: 'csv', text })).toMatchObject({ created: 3, updated: 0, unchanged: 0, rows: 3 });
      expect(await importRequests(ctx, { source: 'r.csv', format: 'csv', text })).toMatchObject({ created: 0, updated: 0, unchanged: 3 });
      expect((await records.requests.byIds(['R-1'])).get('R-1')).toMatchObject({ reporterKey: 'dir-a:a1', createdAt: '2026-01-01T08:00:00.000Z', status: 'open' });
      const updated = csv(['R-1,user01,closed,2026-01-01T08:00:00Z,2026-01-03', 'R-3,dir-a:a2,open,2026-01-01,']);
      expect(await importRequests(ctx, { source: 'r.csv', format: 'csv', text: updated })).toMatchObject({ created: 0, updated: 1, unchanged: 1 });
      let found = await records.customers.byKeys(['dir-a:a1', 'dir-a:a2']);
      expect([found.get('dir-a:a1')?.openRequests, found.get('dir-a:a1')?.closedRequests, found.get('dir-a:a2')?.openRequests]).toEqual([0, 2, 1]);
      expect(await records.requests.move('dir-a:a2', 'dir-a:a1', NOW)).toBe(1);
      await records.requests.recount(['dir-a:a1', 'dir-a:a2']);
      found = await records.customers.byKeys(['dir-a:a1', 'dir-a:a2']);
      expect([found.get('dir-a:a1')?.openRequests, found.get('dir-a:a2')?.openRequests]).toEqual([1, 0]);
    });

    it('refuses a requests file with a bad row, naming every line, and writes nothing of it', async () => {
      await seed();
      const ctx = customerContext(store);
      const text = csv(['R-1,user01,open,2026-01-01,', 'R-2,nobody@example.org,open,2026-01-01,', 'R-3,user03,maybe,2026-01-01,', 'R-4,user04,open,2026-02-30,']);
      const error = await expectCode(importRequests(ctx, { source: 'bad.csv', format: 'csv', text }), 'ERR_REQUESTS_FILE');
      expect((error as Error).message).toMatch(/bad\.csv line 3: no customer has the key, e-mail or username nobody@example\.org\n {2}bad\.csv line 4: status "maybe"/);
      expect((error as Error).message).toMatch(/bad\.csv line 5: created "2026-02-30"/);
      const second = await expectCode(importRequests(ctx, { source: 'bad.csv', format: 'csv', text: csv(['R-1,user01,open,2026-01-01,', 'R-2,nobody@example.org,open,2026-01-01,']) }), 'ERR_REQUESTS_FILE');
      expect((second as Error).message).toMatch(/bad\.csv line 3: no customer has the key, e-mail or username nobody@example\.org/);
      expect((await records.requests.byIds(['R-1', 'R-2'])).size).toBe(0);
    });

    it('keeps directory addresses by difference, and gives the rules their facts', async () => {
      const snap = snapshot(
        'dir-a',
        [user('u1', 'agent', { email: 'Agent@Corp.example' }), user('u2', 'cust'), user('u3', 'off', { email: 'off@corp.example', disabled: true })],
        [{ ...group('all', [], [], 'All Staff'), mail: 'all-staff@corp.example' }, group('lic', ['u1', 'u3'], [], 'jira-users'), group('c', ['u2'], [], 'customers')],
      );
      const addresses = directoryAddresses(snap, LICENSED);
      expect(addresses.map((a) => [a.kind, a.address, a.name])).toEqual([['group', 'all-staff@corp.example', 'All Staff'], ['licensed-user', 'agent@corp.example', 'agent']]);
      expect(await records.addresses.replace('dir-a', addresses)).toEqual({ added: 2, removed: 0, changed: 0 });
      expect(await records.addresses.replace('dir-a', addresses)).toEqual({ added: 0, removed: 0, changed: 0 });
      expect(await records.addresses.replace('dir-a', addresses.slice(1))).toEqual({ added: 0, removed: 1, changed: 0 });
      await records.addresses.replace('dir-a', addresses);
      const facts = await records.addresses.facts(['ALL-STAFF@corp.example', 'agent@corp.example', 'new@corp.example']);
      expect(facts.get('all-staff@corp.example')).toEqual({ customers: [], groups: [{ directoryId: 'dir-a', name: 'All Staff' }], licensedUsers: [] });
      expect(facts.get('agent@corp.example')?.licensedUsers).toEqual([{ directoryId: 'dir-a', username: 'agent', licensedGroups: ['jira-users'] }]);
      expect(facts.get('new@corp.example')).toEqual({ customers: [], groups: [], licensedUsers: [] });
    });

    it('flags a portal-only customer whose address an account has, and clears the flag when the account goes', async () => {
      await seed();
      await store.applyActions([create('dir-b', 'b3', 'ann', ['partners'], 'Ann@Partner.example')], { runId: 'r2', now: NOW });
      expect(await refreshMigrationFlags(records.customers, { now: NOW, runId: 'r2' })).toEqual({ flagged: 1, cleared: 0 });
      expect(await refreshMigrationFlags(records.customers, { now: NOW, runId: 'r2' })).toEqual({ flagged: 0, cleared: 0 });
      const flagged = (await customerContext(store).records.customers.list({ needsMigration: true })).items;
      expect(flagged.map((c) => [c.username, c.needsMigrationTo])).toEqual([['ann@partner.example', 'dir-b:b3']]);
      expect((await records.customers.history(flagged[0]!.key)).map((e) => e.kind)).toEqual(['invited', 'invitation-link', 'flagged-for-migration']);
      await store.applyActions([{ kind: 'deactivate', directoryId: 'dir-b', externalId: 'b3', username: 'ann', reason: 'missing-from-directory' }], { runId: 'r3', now: NOW });
      expect(await refreshMigrationFlags(records.customers, { now: NOW, runId: 'r3' })).toEqual({ flagged: 0, cleared: 1 });
    });

    it('never reactivates a migrated profile, and never deactivates a directory account by hand', async () => {
      await seed();
      const ctx = customerContext(store);
      const [ann] = await records.customers.byEmails(['ann@partner.example']);
      const done = await migrateCustomer(ctx, { who: ann!.key });
      expect(done.target).toMatch(/^ac-/);
      await expectCode(migrateCustomer(ctx, { who: ann!.key }), 'ERR_ALREADY_MIGRATED');
      await expectCode(reactivateCustomer(ctx, { who: ann!.key }), 'ERR_ALREADY_MIGRATED');
      await expectCode(deactivateCustomer(ctx, { who: 'dir-a:a1' }), 'ERR_OWNED_BY_DIRECTORY');
      const [cy] = await records.customers.byEmails(['cy@partner.example']);
      expect((await deactivateCustomer(ctx, { who: cy!.key })).deactivatedReason).toBe('deactivated-by-admin');
      expect((await reactivateCustomer(ctx, { who: cy!.key })).active).toBe(true);
    });

    it('copies customers of every origin, their requests, history and directory addresses to another store (store migrate-from)', async () => {
      await seed();
      const ctx = customerContext(store);
      await importRequests(ctx, { source: 'r.csv', format: 'csv', text: csv(['R-1,ann@partner.example,open,2026-01-01,', 'R-2,user01,closed,2026-01-01,2026-01-02']) });
      await records.addresses.replace('dir-a', directoryAddresses(snapshot('dir-a', [], [{ ...group('g', [], [], 'Staff'), mail: 'staff@corp.example' }]), LICENSED));
      const target = await factory();
      try {
        const first = await migrateStore(store, target);
        expect(first).toMatchObject({ customers: 28, records: { customers: 5, requests: 2, customer_events: 7, directory_addresses: 1 } });
        const second = await migrateStore(store, target);
        expect(second.records).toMatchObject({ requests: 0, customer_events: 0, directory_addresses: 0 });
        const records = (dump: unknown): unknown => Object.fromEntries(Object.entries(dump as Record<string, unknown>).filter(([name]) => name !== 'revision' && name !== 'runs'));
        expect(records(await dumpStore(target))).toEqual(records(await dumpStore(store)));
      } finally {
        await target.close();
      }
    });

    for (const scenario of ['to the directory account with the same address', 'to a new local account'] as const) {
      it(`a migration ${scenario} interrupted after any single write converges when run again`, async () => {
        const toDirectory = scenario.startsWith('to the directory');
        const prepare = async (target: SyncStore): Promise<{ source: CustomerView; ctx: ReturnType<typeof customerContext> }> => {
          const ctx = customerContext(target, { loaded: customerConfig('invitations: { portalUrl: "https://help.example.org/portal" }') });
          // Invited first; the directory brings an account with the same address afterwards.
          await inviteCustomers(ctx, { addresses: ['ann@partner.example'], name: 'Ann' });
          await target.applyActions([create('dir-a', 'a1', 'ann.account', ['customers'], 'ann@partner.example'), create('dir-a', 'a2', 'other', ['customers'])], { runId: 'r1', now: NOW });
          const [source] = (await ctx.records.customers.byEmails(['ann@partner.example'])).filter((c) => c.accountType === 'portal-only');
          await importRequests(ctx, {
            source: 'r.csv',
            format: 'csv',
            text: csv([`P-1,${source!.key},open,2026-01-01,`, `P-2,${source!.key},closed,2026-01-01,2026-01-02`, `P-3,${source!.key},open,2026-01-03,`, 'A-1,dir-a:a1,open,2026-01-01,', 'O-1,dir-a:a2,open,2026-01-01,']),
          });
          return { source: source!, ctx };
        };
        const request = (source: CustomerView) => ({ who: source.key, ...(toDirectory ? { to: 'ann.account' } : {}) });
        const state = async (target: SyncStore, source: CustomerView) => {
          const r = openCustomerRecords(target.records, { licensedGroups: LICENSED });
          const all = (await r.customers.list({ state: 'all', pageSize: 100 })).items;
          const requests = [...(await r.requests.byIds(['P-1', 'P-2', 'P-3', 'A-1', 'O-1'])).values()].sort((a, b) => a.id.localeCompare(b.id));
          const history = [...(await r.customers.history(source.key)), ...(await r.customers.history(source.successorKey ?? 'none'))];
          return { all, requests, history };
        };

        // The uninterrupted migration: the reference, and how many writes it makes.
        const reference = await factory();
        let writes: number;
        let expected;
        try {
          const { source, ctx } = await prepare(reference);
          const counting = failAfterWrites(reference.records, Number.MAX_SAFE_INTEGER);
          const outcome = await migrateCustomer(customerContext(reference, { loaded: ctx.loaded, driver: counting }), request(source));
          writes = counting.writes;
          expect(outcome).toMatchObject({ source: source.key, requestsMoved: 3 });
          expect(outcome.target).toBe(toDirectory ? 'dir-a:a1' : source.key.replace(/^pc-/, 'ac-'));
          expected = await state(reference, { ...source, successorKey: outcome.target });
          const migrated = expected.all.find((c) => c.key === source.key)!;
          expect(migrated).toMatchObject({ active: false, deactivatedReason: 'migrated', successorKey: outcome.target, migrationDone: true, openRequests: 0, closedRequests: 0 });
          const account = expected.all.find((c) => c.key === outcome.target)!;
          expect(account).toMatchObject({ active: true, accountType: 'account', openRequests: toDirectory ? 3 : 2, closedRequests: 1 });
          expect(account.key).not.toBe(source.key);
        } finally {
          await reference.close();
        }
        expect(writes).toBeGreaterThanOrEqual(6);

        for (let allowed = 0; allowed < writes; allowed++) {
          const target = await factory();
          try {
            const { source, ctx } = await prepare(target);
            const failing = failAfterWrites(target.records, allowed);
            await expectCode(migrateCustomer(customerContext(target, { loaded: ctx.loaded, driver: failing }), request(source)), 'ERR_STORE');
            // In between, every request is still owned by exactly one active customer.
            const between = await state(target, source);
            for (const r of between.requests) expect(between.all.filter((c) => c.key === r.reporterKey && c.active)).toHaveLength(1);
            const outcome = await migrateCustomer(ctx, request(source));
            const after = await state(target, { ...source, successorKey: outcome.target });
            expect({ allowed, ...after }).toEqual({ allowed, ...expected });
            await expectCode(migrateCustomer(ctx, request(source)), 'ERR_ALREADY_MIGRATED');
          } finally {
            await target.close();
          }
        }
      });
    }
  });
}
