import { describe, expect, it } from 'vitest';
import { applyPlanToCurrent, planSync } from '../../src/core/plan-sync.js';
import type { PlanAction } from '../../src/core/model.js';
import { current, group, policy, snapshot, user } from '../helpers/fixtures.js';

const names = (actions: readonly PlanAction[], kind: PlanAction['kind']): string[] =>
  actions.filter((a) => a.kind === kind).map((a) => (a.kind === 'deactivate' ? a.username : a.customer.username));

describe('planSync: roles', () => {
  it('makes members of nested default groups customers, through a cycle', () => {
    const snap = snapshot('a', [user('u1', 'ann'), user('u2', 'bob'), user('u3', 'cy')], [
      group('customers', ['u1'], ['emea']),
      group('emea', ['u2'], ['benelux']),
      group('benelux', [], ['emea']), // cycle: emea ⊂ benelux ⊂ emea
      group('other', ['u3']),
    ]);
    const plan = planSync({ policy: policy(), snapshots: [snap], current: [] });
    expect(names(plan.actions, 'create')).toEqual(['ann', 'bob']);
    expect(plan.actions.map((a) => (a.kind === 'create' ? a.customer.groups : []))).toEqual([['customers'], ['customers']]);
    expect(plan.violations).toEqual([]);
  });

  it('admits every active user of an allUsers directory, and no disabled one', () => {
    const snap = snapshot('a', [user('u1', 'ann'), user('u2', 'bob', { disabled: true })], []);
    const plan = planSync({ policy: policy({ directories: [{ id: 'a', allUsers: true }] }), snapshots: [snap], current: [] });
    expect(names(plan.actions, 'create')).toEqual(['ann']);
  });

  it('matches group names ignoring case, spaces and compatibility forms, so look-alike licensed groups still count', () => {
    const snap = snapshot('a', [user('u1', 'ann')], [group('g1', ['u1'], [], 'Customers'), group('g2', ['u1'], [], ' ＪＩＲＡ-users ')]);
    const plan = planSync({ policy: policy(), snapshots: [snap], current: [] });
    expect(plan.seatLeaks).toHaveLength(1);
    expect(plan.seatLeaks[0]?.licensedGroups).toEqual([' ＪＩＲＡ-users ']);
  });
});

describe('planSync: licensed membership policy', () => {
  const snap = snapshot('a', [user('u1', 'ann'), user('u2', 'bob')], [group('customers', ['u1', 'u2']), group('staff', ['u2'], [], 'staff'), group('jira-users', [], ['staff'])]);

  it('strip keeps the customer without the licensed group and reports the leak', () => {
    const plan = planSync({ policy: policy(), snapshots: [snap], current: [] });
    expect(names(plan.actions, 'create')).toEqual(['ann', 'bob']);
    const bob = plan.actions.find((a) => a.kind === 'create' && a.customer.username === 'bob');
    expect(bob?.kind === 'create' && bob.customer.groups).toEqual(['customers']);
    expect(plan.seatLeaks).toEqual([{ directoryId: 'a', externalId: 'u2', username: 'bob', customerGroups: ['customers'], licensedGroups: ['jira-users'], outcome: 'stripped' }]);
  });

  it('exclude leaves the user out and deactivates an existing customer', () => {
    const plan = planSync({ policy: policy({ onLicensedMembership: 'exclude' }), snapshots: [snap], current: [current('a', 'u2', 'x', true, 'bob')] });
    expect(names(plan.actions, 'create')).toEqual(['ann']);
    expect(plan.actions.find((a) => a.kind === 'deactivate')).toMatchObject({ username: 'bob', reason: 'licensed-membership' });
  });

  it('fail rejects the plan, naming the users', () => {
    const plan = planSync({ policy: policy({ onLicensedMembership: 'fail' }), snapshots: [snap], current: [] });
    expect(plan.violations).toHaveLength(1);
    expect(plan.violations[0]).toMatchObject({ kind: 'seat-leak', directoryId: 'a' });
    expect(plan.violations[0]?.message).toContain('bob');
  });
});

describe('planSync: warnings', () => {
  it('names a customer group that no directory read holds, with its config path and the nearest name', () => {
    const snap = snapshot('a', [user('u1', 'ann')], [group('g1', ['u1'], [], 'Blue Team'), group('g2', [], [], 'customers')]);
    const plan = planSync({ policy: policy({ customerGroups: ['customers', 'Blue Teams', 'Zebra'] }), snapshots: [snap], current: [] });
    expect(plan.warnings).toEqual([
      expect.objectContaining({ kind: 'missing-group', group: 'Blue Teams', message: expect.stringContaining('customer group "Blue Teams" (roles.customer.groups[1]) exists in none of the directories read (a)') }),
      expect.objectContaining({ kind: 'missing-group', group: 'Zebra', message: expect.not.stringContaining('did you mean') }),
    ]);
    expect(plan.warnings?.[0]?.message).toContain('did you mean "Blue Team"?');
    expect(planSync({ policy: policy(), snapshots: [], current: [] }).warnings).toEqual([]); // nothing read: nothing to say
  });

  it('reports unresolved member references of customer and licensed groups and the groups nested in them, not of others', () => {
    const snap = {
      ...snapshot('a', [user('u1', 'ann')], [group('customers', ['u1'], ['child']), group('child'), group('other'), group('jira-users')]),
      unresolvedMembers: [
        { groupId: 'child', group: 'child', count: 2, examples: ['uid=x,ou=gone', 'y'] },
        { groupId: 'other', group: 'other', count: 1, examples: ['z'] },
        { groupId: 'jira-users', group: 'jira-users', count: 1, examples: ['uid=agent,ou=gone'] },
      ],
    };
    const plan = planSync({ policy: policy(), snapshots: [snap], current: [] });
    expect(plan.warnings).toEqual([
      { kind: 'unresolved-members', directoryId: 'a', group: 'child', count: 2, examples: ['uid=x,ou=gone', 'y'], message: 'child (a): 2 member references match no user or group read (e.g. uid=x,ou=gone, y): those members are not counted' },
      expect.objectContaining({ group: 'jira-users', count: 1, message: expect.stringContaining('1 member reference matches no user') }),
    ]);
  });
});

describe('planSync: directory order', () => {
  const a = snapshot('a', [user('a1', 'Ann')], [group('a-other', ['a1'], [], 'other')]);
  const b = snapshot('b', [user('b1', 'ann'), user('b2', 'bob')], [group('b-cust', ['b1', 'b2'], [], 'customers')]);
  const dirs = [{ id: 'a', allUsers: false }, { id: 'b', allUsers: false }];

  it('the first directory wins a username (case-insensitively); the lower copy is shadowed and its groups do not count', () => {
    const plan = planSync({ policy: policy({ directories: dirs }), snapshots: [a, b], current: [] });
    expect(names(plan.actions, 'create')).toEqual(['bob']);
    expect(plan.shadowed).toEqual([{ username: 'ann', directoryId: 'b', externalId: 'b1', location: 'uid=ann,ou=People', shadowedBy: 'a', shadowedByExternalId: 'a1', shadowedByLocation: 'uid=Ann,ou=People' }]);
  });

  it('one username in two entries of one directory: the smaller id wins, with the groups of both, and the shadowing names both entries', () => {
    // The group lists the copy that loses the username (as a member DN shared by two entries whose
    // DNs differ only in case, or two people with one uid in different units, can).
    const twice = snapshot('a', [user('id-2', 'pat', { location: 'uid=pat,ou=Contractors' }), user('id-1', 'Pat', { location: 'uid=Pat,ou=Staff' })], [group('customers', ['id-2'])]);
    const plan = planSync({ policy: policy(), snapshots: [twice], current: [] });
    expect(plan.actions.map((x) => (x.kind === 'create' ? [x.customer.externalId, x.customer.groups] : []))).toEqual([['id-1', ['customers']]]);
    expect(plan.shadowed).toEqual([{ username: 'pat', directoryId: 'a', externalId: 'id-2', location: 'uid=pat,ou=Contractors', shadowedBy: 'a', shadowedByExternalId: 'id-1', shadowedByLocation: 'uid=Pat,ou=Staff' }]);
    const reversed = planSync({ policy: policy(), snapshots: [{ ...twice, users: [...twice.users].reverse() }], current: [] });
    expect(reversed).toEqual(plan);
  });

  it('with three copies in one directory, every loser is shadowed by the final winner', () => {
    const three = snapshot('a', [user('c', 'kim'), user('b', 'kim'), user('a', 'kim')], [group('customers', ['c'])]);
    const plan = planSync({ policy: policy(), snapshots: [three], current: [] });
    expect(plan.shadowed.map((s) => [s.externalId, s.shadowedByExternalId])).toEqual([['b', 'a'], ['c', 'a']]);
    expect(names(plan.actions, 'create')).toEqual(['kim']);
  });

  it('aggregateMemberships unions the groups of every copy; the record belongs to the first directory', () => {
    const plan = planSync({ policy: policy({ directories: dirs, aggregateMemberships: true }), snapshots: [a, b], current: [] });
    const ann = plan.actions.find((x) => x.kind === 'create' && x.customer.username === 'Ann');
    expect(ann?.kind === 'create' && ann.customer.directoryId).toBe('a');
  });

  it('a stored customer of an unread higher directory still shadows the username', () => {
    const plan = planSync({ policy: policy({ directories: dirs }), snapshots: [b], current: [current('a', 'a1', 'h', true, 'ANN')] });
    expect(names(plan.actions, 'create')).toEqual(['bob']);
    expect(plan.summary.withheld).toBe(0);
  });

  it('deactivates the lower copy once a higher directory claims the username', () => {
    const before = [current('b', 'b1', 'h', true, 'ann')];
    const plan = planSync({ policy: policy({ directories: dirs }), snapshots: [a, b], current: before });
    expect(plan.actions.find((x) => x.kind === 'deactivate')).toMatchObject({ externalId: 'b1', reason: 'shadowed' });
  });
});

describe('planSync: diff', () => {
  const base = snapshot('a', [user('u1', 'ann'), user('u2', 'bob')], [group('customers', ['u1', 'u2'])]);

  it('a rename or move (same stable id, new name and DN) is an update in place', () => {
    const first = planSync({ policy: policy(), snapshots: [base], current: [] });
    const state = applyPlanToCurrent([], first);
    const renamed = snapshot('a', [user('u1', 'annie', { location: 'uid=annie,ou=Moved' }), user('u2', 'bob')], [group('customers', ['u1', 'u2'])]);
    const plan = planSync({ policy: policy(), snapshots: [renamed], current: state });
    expect(plan.actions).toHaveLength(1);
    expect(plan.actions[0]).toMatchObject({ kind: 'update', previousUsername: 'ann', customer: { externalId: 'u1', username: 'annie' } });
  });

  it('deactivates with a reason, never deletes, and reactivates on return', () => {
    const state = applyPlanToCurrent([], planSync({ policy: policy(), snapshots: [base], current: [] }));
    const left = snapshot('a', [user('u1', 'ann'), user('u2', 'bob')], [group('customers', ['u1'])]);
    const plan = planSync({ policy: policy(), snapshots: [left], current: state });
    expect(plan.actions).toEqual([{ kind: 'deactivate', directoryId: 'a', externalId: 'u2', username: 'bob', reason: 'left-customer-groups' }]);
    const after = applyPlanToCurrent(state, plan);
    expect(after).toHaveLength(2);
    const back = planSync({ policy: policy(), snapshots: [base], current: after });
    expect(back.actions.map((x) => x.kind)).toEqual(['reactivate']);
  });

  it('gives the reasons missing-from-directory and disabled-in-directory', () => {
    const state = [current('a', 'u1', 'h'), current('a', 'u2', 'h'), current('a', 'u3', 'h')];
    const snap = snapshot('a', [user('u1', 'ann'), user('u2', 'bob', { disabled: true })], [group('customers', ['u1', 'u2'])]);
    const plan = planSync({ policy: policy(), snapshots: [snap], current: state });
    expect(plan.actions.filter((x) => x.kind === 'deactivate').map((x) => x.kind === 'deactivate' && [x.externalId, x.reason])).toEqual([
      ['u2', 'disabled-in-directory'],
      ['u3', 'missing-from-directory'],
    ]);
  });
});

describe('planSync: safety rules', () => {
  const many = (n: number): ReturnType<typeof current>[] => Array.from({ length: n }, (_, i) => current('a', `u${i}`, 'h'));

  it('a failed or unread directory loses nobody: its deactivations are withheld', () => {
    const plan = planSync({ policy: policy(), snapshots: [], failedDirectories: ['a'], current: many(3) });
    expect(plan.actions).toEqual([]);
    expect(plan.summary.withheld).toBe(3);
    expect(plan.directories[0]).toMatchObject({ directoryId: 'a', status: 'failed' });
  });

  it('an empty snapshot for a directory that owns active customers is a violation, not a wipe', () => {
    const plan = planSync({ policy: policy(), snapshots: [snapshot('a', [], [])], current: many(2) });
    expect(plan.violations.map((v) => v.kind)).toContain('empty-snapshot');
  });

  it('rejects more deactivations than the count limit, unless explicitly allowed', () => {
    const p = policy({ safety: { maxDeactivations: { count: 2, percent: 100 }, countDropPercent: 100 } });
    const snap = snapshot('a', [user('keep')], [group('customers', ['keep'])]);
    expect(planSync({ policy: p, snapshots: [snap], current: many(2) }).violations).toEqual([]);
    const rejected = planSync({ policy: p, snapshots: [snap], current: many(3) });
    expect(rejected.violations.map((v) => v.kind)).toEqual(['too-many-deactivations']);
    expect(rejected.violations[0]?.message).toContain('--allow-deactivations 3');
    expect(planSync({ policy: p, snapshots: [snap], current: many(3), allowDeactivations: 3 }).violations).toEqual([]);
    expect(planSync({ policy: p, snapshots: [snap], current: many(3), allowDeactivations: 2 }).violations).toHaveLength(1);
  });

  it('applies the percent limit from 100 active customers on', () => {
    const p = policy({ safety: { maxDeactivations: { count: 500, percent: 10 }, countDropPercent: 100 } });
    const keep = (n: number) => snapshot('a', Array.from({ length: n }, (_, i) => user(`u${i}`)), [group('customers', Array.from({ length: n }, (_, i) => `u${i}`))]);
    expect(planSync({ policy: p, snapshots: [keep(90)], current: many(100) }).violations).toEqual([]); // 10 of 100: at the limit
    expect(planSync({ policy: p, snapshots: [keep(89)], current: many(100) }).violations).toHaveLength(1); // 11 of 100
    expect(planSync({ policy: p, snapshots: [keep(1)], current: many(99) }).violations).toEqual([]); // below 100: count rule only
  });

  it('a read far smaller than the last trusted read is suspect: deactivations withheld unless allowed', () => {
    const snap = snapshot('a', [user('u0')], [group('customers', ['u0'])]);
    const plan = planSync({ policy: policy(), snapshots: [snap], current: many(3), lastTrustedCounts: { a: 10 } });
    expect(plan.directories[0]).toMatchObject({ status: 'suspect' });
    expect(plan.summary).toMatchObject({ deactivate: 0, withheld: 2 });
    const allowed = planSync({ policy: policy(), snapshots: [snap], current: many(3), lastTrustedCounts: { a: 10 }, allowDeactivations: 2 });
    expect(allowed.summary).toMatchObject({ deactivate: 2, withheld: 0 });
  });

  it('an incremental read plans only the users its events name; the gate and the limit count the whole directory', () => {
    const snap = snapshot('a', [user('u1')], [group('customers', ['u1'])]);
    const plan = planSync({ policy: policy(), snapshots: [snap], current: many(4), scoped: { a: { users: 3, affected: new Set(['u1', 'u2']) } } });
    expect(plan.actions.flatMap((x) => (x.kind === 'deactivate' ? [x.externalId] : []))).toEqual(['u2']);
    expect(plan.summary).toMatchObject({ deactivate: 1, withheld: 0 });
    expect(plan.directories[0]).toMatchObject({ status: 'complete', users: 3 });
    // The count-drop gate compares the directory's whole count (here 1 of a trusted 10), not the users read.
    const dropped = planSync({ policy: policy(), snapshots: [snap], current: many(4), lastTrustedCounts: { a: 10 }, scoped: { a: { users: 1, affected: new Set(['u1', 'u2']) } } });
    expect(dropped.directories[0]).toMatchObject({ status: 'suspect' });
    expect(dropped.summary).toMatchObject({ deactivate: 0, withheld: 1 });
    const kept = planSync({ policy: policy(), snapshots: [snap], current: many(4), lastTrustedCounts: { a: 4 }, scoped: { a: { users: 3, affected: new Set(['u1', 'u2']) } } });
    expect(kept.directories[0]).toMatchObject({ status: 'complete' });
    // The deactivation limit's percentage is of every active customer, not only those loaded.
    const limited = { ...policy(), safety: { ...policy().safety, maxDeactivations: { count: 500, percent: 0.5 } } };
    expect(planSync({ policy: limited, snapshots: [snap], current: many(4), scoped: { a: { users: 3, affected: new Set(['u1', 'u2']) } }, activeCustomers: 100 }).violations).toEqual([
      expect.objectContaining({ kind: 'too-many-deactivations' }),
    ]);
    expect(planSync({ policy: limited, snapshots: [snap], current: many(4), scoped: { a: { users: 3, affected: new Set(['u1', 'u2']) } }, activeCustomers: 200 }).violations).toEqual([]);
  });

  it('never deactivates customers of a directory removed from the config', () => {
    const plan = planSync({ policy: policy(), snapshots: [snapshot('a', [user('u1')], [group('customers', ['u1'])])], current: [current('gone', 'x', 'h')] });
    expect(plan.summary).toMatchObject({ deactivate: 0, withheld: 0 });
    expect(plan.directories.map((d) => [d.directoryId, d.status])).toEqual([['a', 'complete'], ['gone', 'not-read']]);
  });
});
