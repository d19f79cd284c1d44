import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CurrentCustomer, DirectorySnapshot, PlanAction, SyncPlan } from '../../src/core/model.js';
import { applyPlanToCurrent, toCustomerRecord } from '../../src/core/plan-sync.js';
import type { RunRecord, SyncStore } from '../../src/ports/store.js';
import { DirbridgeError, isDirbridgeError } from '../../src/errors.js';
import { user } from './fixtures.js';
import { describeCustomerConformance } from './customer-conformance.js';
import { describeLicenceConformance } from './licence-conformance.js';

export const LICENSED = ['jira-users', 'jira-servicedesk-users'];

/**
 * Opens a store whose licensed groups are LICENSED: a fresh, empty one without `name`; with a name,
 * the store of that name (fresh the first time, the same data again after), so that two processes
 * sharing one store can be played by two handles.
 */
export type StoreFactory = (name?: string) => Promise<SyncStore>;

const NOW = '2026-11-22T10:00:00.000Z';

const create = (id: string, username = id, groups: string[] = ['customers'], dir = 'dir-a'): PlanAction => ({
  kind: 'create',
  customer: toCustomerRecord(dir, user(id, username), groups),
});

const asPlan = (actions: PlanAction[]): SyncPlan => ({
  actions,
  summary: { create: 0, update: 0, reactivate: 0, deactivate: 0, unchanged: 0, withheld: 0, seatLeaks: 0, shadowed: 0, refused: 0 },
  directories: [],
  seatLeaks: [],
  shadowed: [],
  refused: [],
  violations: [],
});

const update = (id: string, username = id): PlanAction => ({
  kind: 'update',
  customer: toCustomerRecord('dir-a', user(id, username, { location: `uid=${username},ou=Moved` }), ['customers']),
  previousUsername: username,
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const sortState = (list: CurrentCustomer[]): CurrentCustomer[] =>
  [...list].sort((a, b) => `${a.directoryId}/${a.externalId}`.localeCompare(`${b.directoryId}/${b.externalId}`));

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isDirbridgeError(error) ? error.code : error).toBe(code);
}

/** Everything the port shows of a directory's stored snapshot, in key order (with the members of a group `ghost`, which has no row). */
export async function snapshotState(s: SyncStore, dir: string): Promise<unknown> {
  const inc = s.incremental;
  const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const keys = (await inc.userKeys(dir)).sort((a, b) => byKey(a.externalId, b.externalId));
  const rows = (await inc.users(dir, { ids: keys.map((k) => k.externalId) })).sort((a, b) => byKey(a.user.externalId, b.user.externalId));
  const groups = (await inc.groups(dir)).sort((a, b) => byKey(a.id, b.id));
  const groupIds = [...new Set([...groups.map((g) => g.id), ...rows.flatMap((r) => r.groups), 'ghost'])].sort(byKey);
  const members = (await inc.groupMembers(dir, groupIds)).map((m) => ({ groupId: m.groupId, members: [...m.members].sort(byKey) })).sort((a, b) => byKey(a.groupId, b.groupId));
  return { head: await inc.head(dir), keys, rows, groups, members };
}

/** The store conformance suite: every adapter passes it unchanged. */
export function describeStoreConformance(name: string, factory: StoreFactory): void {
  describeCustomerConformance(name, factory);
  describeLicenceConformance(name, factory);
  describe(`store conformance: ${name}`, () => {
    let store: SyncStore;
    beforeEach(async () => {
      store = await factory();
    });
    afterEach(async () => {
      await store.close();
    });

    it('starts empty', async () => {
      expect(await store.loadCurrent()).toEqual([]);
      expect(await store.listRuns({ limit: 10 })).toEqual([]);
      expect(await store.getDirectoryStates()).toEqual({});
    });

    it('applies creates, updates, deactivations and reactivations as the core defines them', async () => {
      const first = [create('u1', 'ann'), create('u2', 'bob'), create('u3', 'cy', ['customers'], 'dir-b')];
      await store.applyActions(first, { runId: 'r1', now: NOW });
      let expected = applyPlanToCurrent([], asPlan(first));
      expect(sortState(await store.loadCurrent())).toEqual(sortState(expected));

      const renamed = toCustomerRecord('dir-a', user('u1', 'annie', { location: 'uid=annie,ou=Moved' }), ['customers']);
      const second: PlanAction[] = [
        { kind: 'update', customer: renamed, previousUsername: 'ann' },
        { kind: 'deactivate', directoryId: 'dir-a', externalId: 'u2', username: 'bob', reason: 'left-customer-groups' },
      ];
      await store.applyActions(second, { runId: 'r2', now: NOW });
      expected = applyPlanToCurrent(expected, asPlan(second));
      expect(sortState(await store.loadCurrent())).toEqual(sortState(expected));

      const [bob] = await store.findByUsername('BOB');
      expect(bob).toMatchObject({ active: false, deactivatedReason: 'left-customer-groups', deactivatedAt: NOW, lastRunId: 'r2' });
      const [annie] = await store.findByUsername('annie');
      expect(annie).toMatchObject({ externalId: 'u1', location: 'uid=annie,ou=Moved', active: true, groups: ['customers'] });

      const third: PlanAction[] = [{ kind: 'reactivate', customer: toCustomerRecord('dir-a', user('u2', 'bob'), ['customers']) }];
      await store.applyActions(third, { runId: 'r3', now: NOW });
      const [back] = await store.findByUsername('bob');
      expect(back).toMatchObject({ active: true, deactivatedReason: null, deactivatedAt: null });
    });

    it('is idempotent: applying the same actions twice gives the same state', async () => {
      const actions = [create('u1'), create('u2'), { kind: 'deactivate', directoryId: 'dir-a', externalId: 'u1', username: 'u1', reason: 'missing-from-directory' } as const];
      await store.applyActions(actions, { runId: 'r1', now: NOW });
      const once = sortState(await store.loadCurrent());
      await store.applyActions(actions, { runId: 'r1', now: NOW });
      expect(sortState(await store.loadCurrent())).toEqual(once);
      expect(once).toHaveLength(2);
    });

    it('writes in batches and reports each committed batch', async () => {
      const actions = Array.from({ length: 25 }, (_, i) => create(`u${i}`));
      const seen: number[] = [];
      const result = await store.applyActions(actions, { runId: 'r1', now: NOW, batchSize: 10, onBatch: (n) => void seen.push(n) });
      expect(result.written).toBe(25);
      expect(seen).toEqual([10, 20, 25]);
      expect(await store.loadCurrent()).toHaveLength(25);
    });

    it('refuses a customer carrying a licensed group, whatever its spelling, and writes nothing of that call', async () => {
      for (const licensed of ['jira-users', 'JIRA-Users ']) {
        await expectCode(store.applyActions([create('ok'), create('bad', 'bad', ['customers', licensed])], { runId: 'r1', now: NOW }), 'ERR_STORE_INVARIANT');
      }
      expect(await store.loadCurrent()).toEqual([]);
      expect(await store.findLicensedCustomers(LICENSED, 10)).toEqual([]);
    });

    it('finds stored customers carrying a group that has since become licensed, whatever its spelling', async () => {
      await store.applyActions([create('u1', 'ann', ['customers', 'Partners ']), create('u2', 'bob'), create('u3', 'cy', ['say "hi"\\'])], { runId: 'r1', now: NOW });
      const found = await store.findLicensedCustomers(['partners', ' Say "Hi"\\'], 10);
      expect(found.map((c) => c.username).sort()).toEqual(['ann', 'cy']);
      // The one licence rule: Unicode compatibility forms (full-width letters) match too.
      expect((await store.findLicensedCustomers(['ｐａｒｔｎｅｒｓ'], 10)).map((c) => c.username)).toEqual(['ann']);
      expect(await store.findLicensedCustomers(['partner', 'say'], 10)).toEqual([]);
    });

    it('finds a stored customer whose group is a full-width look-alike of a licensed group', async () => {
      // Stored while `jira-users-old` was not licensed; licensed since.
      await store.applyActions([create('u1', 'ann', ['customers', 'ｊｉｒａ-ｕｓｅｒｓ-old'])], { runId: 'r1', now: NOW });
      expect(await store.findLicensedCustomers(LICENSED, 10)).toEqual([]);
      expect((await store.findLicensedCustomers([...LICENSED, 'jira-users-old'], 10)).map((c) => c.username)).toEqual(['ann']);
      await expectCode(store.applyActions([create('u2', 'bob', ['customers', 'Ｊｉｒａ-Users'])], { runId: 'r2', now: NOW }), 'ERR_STORE_INVARIANT');
    });

    it('marks a stored customer damaged when its fields no longer give its hash, so the next plan rewrites it', async () => {
      await store.applyActions([create('u1', 'ann'), create('u2', 'bob')], { runId: 'r1', now: NOW });
      const current = await store.loadCurrent();
      expect(current.every((c) => c.damage === undefined)).toBe(true);
      // A stale copy imported over a customer keeps the old hash with other fields: the hash no longer fits.
      const [bob] = await store.findByUsername('bob');
      await store.importCustomers([{ ...bob!, displayName: 'Mallory' }]);
      const after = await store.loadCurrent();
      const damaged = after.find((c) => c.username === 'bob');
      expect(damaged?.damage).toEqual({ kind: 'hash-mismatch' });
      expect(damaged?.hash).not.toBe(bob?.hash);
      expect(after.find((c) => c.username === 'ann')?.damage).toBeUndefined();
    });

    it('loads the same compact state with a hint of the users read, whatever the hint spells differently', async () => {
      await store.applyActions([create('u1', 'ann'), create('u2', 'bob'), create('u3', 'cy', ['customers'], 'dir-b')], { runId: 'r1', now: NOW });
      const [bob] = await store.findByUsername('bob');
      await store.importCustomers([{ ...bob!, displayName: 'Mallory' }]);
      const plain = sortState(await store.loadCurrent());
      // The read renamed ann to Ann (another spelling), knows bob as he is stored and has no u3 in dir-b.
      const read = new Map([['dir-a/u1', { externalId: 'u1', username: 'Ann' }], ['dir-a/u2', { externalId: 'u2', username: 'bob' }], ['dir-b/u1', { externalId: 'u1', username: 'zed' }]]);
      const hinted = sortState(await store.loadCurrent({ readUsers: (directoryId, externalId) => read.get(`${directoryId}/${externalId}`) }));
      expect(hinted).toEqual(plain);
      expect(hinted.find((c) => c.externalId === 'u1')?.username).toBe('ann');
      expect(hinted.find((c) => c.externalId === 'u2')?.damage).toEqual({ kind: 'hash-mismatch' });
    });

    it('exports and imports whole customers, keeping state and timestamps', async () => {
      await store.applyActions([create('u1', 'ann'), create('u2', 'bob'), create('u3', 'cy')], { runId: 'r1', now: NOW });
      await store.applyActions([{ kind: 'deactivate', directoryId: 'dir-a', externalId: 'u2', username: 'bob', reason: 'shadowed' }], { runId: 'r2', now: '2026-11-23T00:00:00.000Z' });
      const batches: number[] = [];
      const all = [];
      for await (const batch of store.exportCustomers(2)) {
        batches.push(batch.length);
        all.push(...batch);
      }
      expect(batches).toEqual([2, 1]);
      const target = await factory();
      try {
        await target.importCustomers(all);
        await target.importCustomers(all);
        const copied = [];
        for await (const batch of target.exportCustomers(100)) copied.push(...batch);
        expect(copied).toEqual(all);
        expect(copied.find((c) => c.username === 'bob')).toMatchObject({ active: false, deactivatedReason: 'shadowed', createdAt: NOW, updatedAt: '2026-11-23T00:00:00.000Z' });
        await expectCode(target.importCustomers([{ ...all[0]!, groups: ['jira-users'] }]), 'ERR_STORE_INVARIANT');
      } finally {
        await target.close();
      }
    });

    it('bumps the revision on every apply', async () => {
      const before = await store.revision();
      await store.applyActions([create('u1')], { runId: 'r1', now: NOW });
      expect(await store.revision()).toBeGreaterThan(before);
    });

    it('lists customers 20 to a page, sorted by username, and searches name, username and e-mail', async () => {
      const actions = Array.from({ length: 45 }, (_, i) => create(`id${i}`, `user${String(i).padStart(2, '0')}`));
      actions.push({ kind: 'create', customer: toCustomerRecord('dir-a', { ...user('z', 'zed'), displayName: 'ZOË MÜLLER', email: 'zoe@partner.example' }, ['customers']) });
      actions.push({ kind: 'create', customer: toCustomerRecord('dir-a', { ...user('p', 'percent'), displayName: '100%_literal' }, ['customers']) });
      await store.applyActions(actions, { runId: 'r1', now: NOW });
      await store.applyActions([{ kind: 'deactivate', directoryId: 'dir-a', externalId: 'id0', username: 'user00', reason: 'missing-from-directory' }], { runId: 'r2', now: NOW });

      const page1 = await store.listCustomers({});
      expect(page1).toMatchObject({ total: 46, page: 1, pageSize: 20 });
      expect(page1.items.map((c) => c.username).slice(0, 3)).toEqual(['percent', 'user01', 'user02']);
      const page3 = await store.listCustomers({ page: 3 });
      expect(page3.items.map((c) => c.username)).toEqual(['user40', 'user41', 'user42', 'user43', 'user44', 'zed']);

      expect((await store.listCustomers({ search: 'müller' })).items.map((c) => c.username)).toEqual(['zed']);
      expect((await store.listCustomers({ search: 'Zoë' })).items.map((c) => c.username)).toEqual(['zed']);
      expect((await store.listCustomers({ search: 'partner.example' })).items.map((c) => c.username)).toEqual(['zed']);
      expect((await store.listCustomers({ search: 'user1' })).total).toBe(10);
      expect((await store.listCustomers({ search: '%_' })).items.map((c) => c.username)).toEqual(['percent']);
      expect((await store.listCustomers({ search: '.*' })).total).toBe(0);
      expect((await store.listCustomers({ state: 'inactive' })).items.map((c) => c.username)).toEqual(['user00']);
      expect((await store.listCustomers({ state: 'all' })).total).toBe(47);
    });

    it('keeps a run journal, newest first, filterable by directory', async () => {
      const run = (runId: string, startedAt: string, dir: string): RunRecord => ({
        runId,
        startedAt,
        finishedAt: startedAt,
        outcome: 'success',
        actor: { host: 'h', pid: 1, trigger: 'cli' },
        directories: [{ directoryId: dir, status: 'complete', users: 1, groups: 0, note: null }],
        summary: null,
        seatLeaks: [],
        violations: [],
        written: 0,
        verification: 'passed',
        error: null,
      });
      await store.recordRun(run('r1', '2026-11-22T01:00:00.000Z', 'a'));
      await store.recordRun(run('r2', '2026-11-22T02:00:00.000Z', 'b'));
      await store.recordRun(run('r3', '2026-11-22T03:00:00.000Z', 'a'));
      expect((await store.listRuns({ limit: 10 })).map((r) => r.runId)).toEqual(['r3', 'r2', 'r1']);
      expect((await store.listRuns({ limit: 1 })).map((r) => r.runId)).toEqual(['r3']);
      expect((await store.listRuns({ limit: 10, directoryId: 'a' })).map((r) => r.runId)).toEqual(['r3', 'r1']);
      expect((await store.listRuns({ limit: 10 }))[0]).toEqual(run('r3', '2026-11-22T03:00:00.000Z', 'a'));
    });

    describe('normalised snapshot rows (incremental reads)', () => {
      const head = (cursor: string, users: number, groups = 3) => ({ cursor, fingerprint: 'fp1', users, groups });
      const snapshot = () => {
        const users = Array.from({ length: 2500 }, (_, i) => user(`k${i}`, `User${i}`));
        const groups = [
          { id: 'all', name: 'All', memberUserIds: users.map((u) => u.externalId), memberGroupIds: ['odd', 'odd'] },
          { id: 'odd', name: 'Odd', memberUserIds: users.filter((_, i) => i % 2 === 1).map((u) => u.externalId), memberGroupIds: [] },
          { id: 'empty', name: 'Empty', memberUserIds: [], memberGroupIds: ['all'] },
        ];
        return { directoryId: 'crowd', users, groups };
      };
      const ids = (rows: { user: { externalId: string } }[]): string[] => rows.map((r) => r.user.externalId).sort();

      it('replaces a whole snapshot and finds users by id, by name (any case) and by group; other directories are apart', async () => {
        const inc = store.incremental;
        expect(await inc.head('crowd')).toBeNull();
        await inc.replace('crowd', snapshot(), head('t1', 2500));
        await inc.replace('other', { directoryId: 'other', users: [user('k1', 'user1')], groups: [{ id: 'odd', name: 'Odd', memberUserIds: ['k1'], memberGroupIds: [] }] }, head('o1', 1, 1));
        expect(await inc.head('crowd')).toEqual(head('t1', 2500));
        expect((await inc.groups('crowd')).sort((a, b) => a.id.localeCompare(b.id))).toEqual([
          { id: 'all', name: 'All', children: ['odd'] },
          { id: 'empty', name: 'Empty', children: ['all'] },
          { id: 'odd', name: 'Odd', children: [] },
        ]);
        expect(await inc.users('crowd', { ids: ['k1', 'nobody'] })).toEqual([{ user: user('k1', 'User1'), groups: ['all', 'odd'] }]);
        expect(await inc.users('crowd', { names: ['USER2', 'user4'] })).toEqual(expect.arrayContaining([{ user: user('k2', 'User2'), groups: ['all'] }, { user: user('k4', 'User4'), groups: ['all'] }]));
        const odd = await inc.users('crowd', { memberOf: ['odd'] });
        expect(odd).toHaveLength(1250);
        expect(ids(await inc.users('crowd', { ids: ['k0'], names: ['user3'], memberOf: ['empty'] }))).toEqual(['k0', 'k3']);
        await inc.replace('crowd', { directoryId: 'crowd', users: [user('k9', 'nine')], groups: [] }, head('t2', 1, 0));
        expect(await inc.users('crowd', { memberOf: ['odd'], ids: ['k1'] })).toEqual([]);
        expect(await inc.groups('crowd')).toEqual([]);
        expect(await inc.users('other', { memberOf: ['odd'] })).toEqual([{ user: user('k1', 'user1'), groups: ['odd'] }]);
      });

      it('applies row changes: upserts move memberships, deletions remove users and groups, the head moves on', async () => {
        const inc = store.incremental;
        await inc.replace('crowd', snapshot(), head('t1', 2500));
        await inc.apply(
          'crowd',
          {
            users: [
              { user: { ...user('k1', 'renamed'), email: 'r@example.org' }, groups: ['all'] },
              { user: user('k-new', 'Newbie'), groups: ['odd', 'fresh'] },
            ],
            deletedUsers: ['k3'],
            groups: [{ id: 'fresh', name: 'Fresh', children: [] }, { id: 'all', name: 'All', children: [] }],
            deletedGroups: ['empty'],
          },
          head('t2', 2500, 3),
        );
        expect(await inc.head('crowd')).toEqual(head('t2', 2500, 3));
        expect(await inc.users('crowd', { names: ['user1'] })).toEqual([]);
        expect(await inc.users('crowd', { names: ['RENAMED'] })).toEqual([{ user: { ...user('k1', 'renamed'), email: 'r@example.org' }, groups: ['all'] }]);
        expect(await inc.users('crowd', { ids: ['k3'] })).toEqual([]);
        const odd = ids(await inc.users('crowd', { memberOf: ['odd'] }));
        expect(odd).toContain('k-new');
        expect(odd).not.toContain('k1');
        expect(odd).not.toContain('k3');
        expect(ids(await inc.users('crowd', { memberOf: ['fresh'] }))).toEqual(['k-new']);
        expect((await inc.groups('crowd')).map((g) => `${g.id}:${g.children.join(',')}`).sort()).toEqual(['all:', 'fresh:', 'odd:']);
        const keys = await inc.userKeys('crowd');
        expect(keys).toHaveLength(2500);
        expect(keys.find((k) => k.externalId === 'k-new')).toEqual({ externalId: 'k-new', location: user('k-new', 'Newbie').location });
        expect(keys.some((k) => k.externalId === 'k3')).toBe(false);
        expect(await inc.userKeys('other-directory')).toEqual([]);
        const members = await inc.groupMembers('crowd', ['fresh', 'odd', 'empty', 'nowhere']);
        expect(members.map((m) => ({ groupId: m.groupId, members: [...m.members].sort() })).sort((a, b) => a.groupId.localeCompare(b.groupId))).toEqual([
          { groupId: 'fresh', members: ['k-new'] },
          { groupId: 'odd', members: [...odd].sort() },
        ]);
      });

      const stateOf = snapshotState;
      const range = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `k${from + i}`);
      /** 1,200 users (more than one chunk of stored rows is read at a time), nested groups, one very large. */
      const before = (): DirectorySnapshot => ({
        directoryId: 'crowd',
        users: range(0, 1200).map((id) => user(id, `User${id.slice(1)}`)),
        groups: [
          { id: 'all', name: 'All', memberUserIds: range(0, 1200), memberGroupIds: ['odd'] },
          { id: 'odd', name: 'Odd', memberUserIds: range(0, 1200).filter((_, i) => i % 2 === 1), memberGroupIds: [] },
          { id: 'tens', name: 'Tens', memberUserIds: range(0, 1200).filter((_, i) => i % 10 === 0), memberGroupIds: ['all', 'odd'] },
          { id: 'doomed', name: 'Doomed', memberUserIds: ['k1', 'k2', 'k3', 'k4', 'k5'], memberGroupIds: [] },
          { id: 'renamed', name: 'Old name', memberUserIds: ['k7'], memberGroupIds: [] },
          { id: 'kids', name: 'Kids', memberUserIds: [], memberGroupIds: ['odd'] },
        ],
      });

      it('a replace over stored rows leaves exactly what a replace into an empty store leaves, whatever changed and whatever was stored', async () => {
        const inc = store.incremental;
        const other: DirectorySnapshot = { directoryId: 'other', users: [user('k1', 'elsewhere'), user('k9', 'nine')], groups: [{ id: 'all', name: 'All', memberUserIds: ['k1', 'k9'], memberGroupIds: [] }] };
        await inc.replace('other', other, head('o1', 2, 1));
        await inc.replace('crowd', before(), head('t1', 1200, 6));
        // Incremental updates since: k3 left its groups, k4 is gone, a member of a group without a row, a new group.
        await inc.apply(
          'crowd',
          { users: [{ user: user('k3', 'User3'), groups: [] }, { user: user('k-ghost', 'ghost'), groups: ['ghost'] }], deletedUsers: ['k4'], groups: [{ id: 'fresh', name: 'Fresh', children: [] }], deletedGroups: [] },
          head('t2', 1200, 7),
        );
        const otherBefore = await stateOf(store, 'other');

        const next = before();
        const users = next.users.filter((u) => u.externalId !== 'k9').map((u) => {
          if (u.externalId === 'k1') return { ...u, email: 'changed@example.org' };
          if (u.externalId === 'k2') return { ...u, username: 'Renamed2' };
          if (u.externalId === 'k5') return { ...u, disabled: true };
          if (u.externalId === 'k6') return { ...u, location: 'uid=User6,ou=Moved' };
          if (u.externalId === 'k8') return { ...u, displayName: null };
          return u;
        });
        users.push(user('k1200', 'User1200'), user('k1201', 'User1201'));
        const groups = next.groups
          .filter((g) => g.id !== 'doomed')
          .map((g) => {
            // k3 is listed again where the incremental update had removed it (its group digests are stale).
            if (g.id === 'all') return { ...g, memberUserIds: [...g.memberUserIds.filter((m) => m !== 'k10' && m !== 'k9'), 'k1200'] };
            if (g.id === 'tens') return { ...g, memberUserIds: [...g.memberUserIds, 'k11', 'not-a-user'] };
            if (g.id === 'renamed') return { ...g, name: 'New name' };
            if (g.id === 'kids') return { ...g, memberGroupIds: ['tens', 'all'] };
            return g;
          });
        groups.push({ id: 'new-group', name: 'New group', memberUserIds: ['k1201', 'k1'], memberGroupIds: ['kids'] });
        const after: DirectorySnapshot = { directoryId: 'crowd', users, groups };

        const writes = await inc.replace('crowd', after, head('t3', 1201, 6));
        const fresh = await factory();
        try {
          await fresh.incremental.replace('crowd', after, head('t3', 1201, 6));
          expect(await stateOf(store, 'crowd')).toEqual(await stateOf(fresh, 'crowd'));
        } finally {
          await fresh.close();
        }
        expect(await stateOf(store, 'other')).toEqual(otherBefore);
        // The unchanged users were not written again.
        expect(writes.users.written).toBeGreaterThan(0);
        expect(writes.users.written).toBeLessThan(30);
        expect(writes.users.deleted).toBe(2); // k9 and k-ghost
        expect(writes.groups.deleted).toBe(2); // doomed and fresh
      });

      it('a replace by a snapshot in which every row changed leaves what a replace into an empty store leaves', async () => {
        const renamed = (s: DirectorySnapshot): DirectorySnapshot => ({
          directoryId: 'crowd',
          users: s.users.map((u) => ({ ...u, externalId: `x${u.externalId}` })),
          groups: s.groups.map((g) => ({ ...g, memberUserIds: g.memberUserIds.map((m) => `x${m}`) })),
        });
        await store.incremental.replace('crowd', before(), head('t1', 1200, 6));
        const writes = await store.incremental.replace('crowd', renamed(before()), head('t2', 1200, 6));
        expect(writes.users).toEqual({ written: 1200, deleted: 1200 });
        const fresh = await factory();
        try {
          await fresh.incremental.replace('crowd', renamed(before()), head('t2', 1200, 6));
          expect(await stateOf(store, 'crowd')).toEqual(await stateOf(fresh, 'crowd'));
        } finally {
          await fresh.close();
        }
      });

      it('a replace with nothing changed writes no row, only the head; a few changed users write only those', async () => {
        const inc = store.incremental;
        const first = await inc.replace('crowd', before(), head('t1', 1200, 6));
        expect(first.users.written).toBe(1200);
        const none = { written: 0, deleted: 0 };
        expect(await inc.replace('crowd', before(), head('t2', 1200, 6))).toEqual({ users: none, groups: none, memberships: none });
        expect(await inc.head('crowd')).toEqual(head('t2', 1200, 6));
        const changed = before();
        const emails = new Set(['k17', 'k400', 'k401', 'k1000', 'k1199']);
        const users = changed.users.map((u) => (emails.has(u.externalId) ? { ...u, email: `new-${u.externalId}@example.org` } : u));
        expect(await inc.replace('crowd', { ...changed, users }, head('t3', 1200, 6))).toEqual({ users: { written: 5, deleted: 0 }, groups: none, memberships: none });
        expect((await inc.users('crowd', { ids: ['k400'] }))[0]?.user.email).toBe('new-k400@example.org');
      });

      it('loads the compact state of the customers named by key or by username, and counts the active ones', async () => {
        await store.applyActions([create('u1', 'Ann'), create('u2', 'bob'), create('u3', 'ann', ['customers'], 'dir-b'), create('u4', 'cy')], { runId: 'r1', now: NOW });
        await store.applyActions([{ kind: 'deactivate', directoryId: 'dir-a', externalId: 'u4', username: 'cy', reason: 'missing-from-directory' }], { runId: 'r2', now: NOW });
        const found = await store.incremental.customers({ directoryId: 'dir-a', externalIds: ['u2', 'u4', 'zz'], usernames: ['ANN'] });
        expect(sortState(found).map((c) => `${c.directoryId}/${c.externalId}/${c.username}/${String(c.active)}`)).toEqual(['dir-a/u1/Ann/true', 'dir-a/u2/bob/true', 'dir-a/u4/cy/false', 'dir-b/u3/ann/true']);
        expect(sortState(found)).toEqual(sortState(await store.loadCurrent()).filter((c) => found.some((f) => f.externalId === c.externalId && f.directoryId === c.directoryId)));
        expect(await store.incremental.countActive('dir-b')).toBe(2);
        expect(await store.incremental.countActive('none')).toBe(3);
        expect(await store.incremental.countStored('dir-a')).toBe(3);
        expect(await store.incremental.countStored('dir-c')).toBe(0);
      });
    });

    it('stores per-directory state', async () => {
      await store.putDirectoryState('a', { lastTrustedUsers: 10, lastTrustedAt: NOW });
      await store.putDirectoryState('a', { lastTrustedUsers: 12, lastTrustedAt: NOW });
      expect(await store.getDirectoryStates()).toEqual({ a: { lastTrustedUsers: 12, lastTrustedAt: NOW } });
    });

    it('grants a lease to one owner at a time, with a fencing token that grows', async () => {
      const first = await store.acquireLease({ name: 'sync:a', owner: 'one', ttlMs: 60_000 });
      expect(first.acquired).toBe(true);
      const second = await store.acquireLease({ name: 'sync:a', owner: 'two', ttlMs: 60_000 });
      expect(second).toMatchObject({ acquired: false, holder: 'one' });
      const other = await store.acquireLease({ name: 'sync:b', owner: 'two', ttlMs: 60_000 });
      expect(other.acquired).toBe(true);
      if (!first.acquired) return;
      expect(await store.renewLease(first.lease, 60_000)).toBe(true);
      await store.releaseLease(first.lease);
      const third = await store.acquireLease({ name: 'sync:a', owner: 'two', ttlMs: 60_000 });
      expect(third.acquired && third.lease.token).toBe(first.lease.token + 1);
      expect(await store.renewLease(first.lease, 60_000)).toBe(false);
    });

    it('tells who holds a lease without claiming it', async () => {
      expect(await store.peekLease('sync:peek')).toBeNull();
      const held = await store.acquireLease({ name: 'sync:peek', owner: 'holder-1', ttlMs: 60_000 });
      expect(await store.peekLease('sync:peek')).toEqual({ holder: 'holder-1', expiresAt: held.acquired ? held.lease.expiresAt : '' });
      expect((await store.acquireLease({ name: 'sync:peek', owner: 'other', ttlMs: 60_000 })).acquired).toBe(false);
      if (held.acquired) await store.releaseLease(held.lease);
      expect(await store.peekLease('sync:peek')).toBeNull();
      const next = await store.acquireLease({ name: 'sync:peek', owner: 'other', ttlMs: 60_000 });
      expect(next.acquired && held.acquired && next.lease.token).toBe(held.acquired ? held.lease.token + 1 : -1); // peeking took no token
    });

    it('prunes expired leases by name prefix', async () => {
      await store.acquireLease({ name: 'tick:a:1', owner: 'one', ttlMs: 1 });
      await store.acquireLease({ name: 'tick:a:2', owner: 'one', ttlMs: 60_000 });
      await store.acquireLease({ name: 'sync:a', owner: 'one', ttlMs: 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await store.pruneLeases('tick:')).toBe(1);
      expect((await store.acquireLease({ name: 'tick:a:2', owner: 'two', ttlMs: 1 })).acquired).toBe(false);
      expect((await store.acquireLease({ name: 'sync:a', owner: 'two', ttlMs: 1 })).acquired).toBe(true);
    });

    it('lets a lease expire, and fences the old holder out of writes', async () => {
      const old = await store.acquireLease({ name: 'sync:a', owner: 'sleepy', ttlMs: 50 });
      await new Promise((resolve) => setTimeout(resolve, 120));
      const fresh = await store.acquireLease({ name: 'sync:a', owner: 'awake', ttlMs: 60_000 });
      expect(old.acquired && fresh.acquired).toBe(true);
      if (!old.acquired || !fresh.acquired) return;
      expect(fresh.lease.token).toBeGreaterThan(old.lease.token);
      await expectCode(store.applyActions([create('u1')], { runId: 'r-old', now: NOW, fence: [old.lease] }), 'ERR_LEASE_LOST');
      expect(await store.loadCurrent()).toEqual([]);
      await store.applyActions([create('u1')], { runId: 'r-new', now: NOW, fence: [fresh.lease] });
      expect(await store.loadCurrent()).toHaveLength(1);
    });
  });

  describe(`store conformance: ${name}: concurrency`, () => {
    let n = 0;
    const shared = async (): Promise<[SyncStore, SyncStore]> => {
      const id = `shared-${process.pid}-${Date.now().toString(36)}-${n++}`;
      const one = await factory(id);
      return [one, await factory(id)];
    };

    it('two stores racing for one lease: exactly one wins each round, and the loser is told who holds it', async () => {
      const [a, b] = await shared();
      try {
        for (let round = 0; round < 8; round++) {
          const [ra, rb] = await Promise.all([a.acquireLease({ name: `sync:r${round}`, owner: 'a', ttlMs: 60_000 }), b.acquireLease({ name: `sync:r${round}`, owner: 'b', ttlMs: 60_000 })]);
          expect([ra.acquired, rb.acquired].filter(Boolean)).toHaveLength(1);
          const loser = ra.acquired ? rb : ra;
          expect(loser).toMatchObject({ acquired: false, holder: ra.acquired ? 'a' : 'b' });
        }
        // After expiry both race again: one wins, with a larger token than the expired holder's.
        const first = await a.acquireLease({ name: 'sync:x', owner: 'a', ttlMs: 1 });
        await sleep(30);
        const [ra, rb] = await Promise.all([a.acquireLease({ name: 'sync:x', owner: 'a2', ttlMs: 60_000 }), b.acquireLease({ name: 'sync:x', owner: 'b2', ttlMs: 60_000 })]);
        const winners = [ra, rb].filter((r) => r.acquired);
        expect(winners).toHaveLength(1);
        expect(first.acquired && winners[0]?.acquired && winners[0].lease.token > first.lease.token).toBe(true);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('a writer paused between two write commands, whose lease moved on meanwhile, writes nothing more and fails ERR_LEASE_LOST', async () => {
      const [a, b] = await shared();
      try {
        const ids = Array.from({ length: 250 }, (_, i) => `p${i}`);
        await a.applyActions(ids.map((id) => create(id)), { runId: 'r-setup', now: NOW });
        const old = await a.acquireLease({ name: 'sync:dir-a', owner: 'paused', ttlMs: 1 });
        if (!old.acquired) throw new Error('no lease');
        let pausedAt = -1;
        const result = a.applyActions(ids.map((id) => update(id)), {
          runId: 'r-old',
          now: NOW,
          fence: [old.lease],
          batchSize: 100,
          onChunk: async (written) => {
            if (pausedAt >= 0) return;
            pausedAt = written; // the process pauses here; its lease expires and another takes it
            await sleep(30);
            const fresh = await b.acquireLease({ name: 'sync:dir-a', owner: 'awake', ttlMs: 60_000 });
            expect(fresh.acquired).toBe(true);
          },
        });
        await expectCode(result, 'ERR_LEASE_LOST');
        expect(pausedAt).toBeGreaterThan(0);
        expect(pausedAt).toBeLessThan(ids.length);
        const byOld = (await b.listCustomers({ state: 'all', pageSize: 1000 })).items.filter((c) => c.lastRunId === 'r-old');
        expect(byOld).toHaveLength(pausedAt);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('an aborted apply (the heartbeat found the lease lost) writes nothing after the abort', async () => {
      const store = await factory();
      try {
        const controller = new AbortController();
        const reason = new DirbridgeError('ERR_LEASE_LOST', 'lease sync:dir-a expired or was taken over');
        const actions = Array.from({ length: 250 }, (_, i) => create(`q${i}`));
        const error = await store.applyActions(actions, { runId: 'r1', now: NOW, batchSize: 100, signal: controller.signal, onChunk: () => controller.abort(reason) }).catch((e: unknown) => e);
        expect(error).toBe(reason);
        expect(await store.loadCurrent()).toHaveLength(100);
      } finally {
        await store.close();
      }
    });
  });
}
