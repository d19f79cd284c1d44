import { describe, expect, it } from 'vitest';
import { applyPlanToCurrent, planSync } from '../../src/core/plan-sync.js';
import type { PlanAction } from '../../src/core/model.js';
import { group, policy, snapshot, user } from '../helpers/fixtures.js';

const created = (actions: readonly PlanAction[]): string[] => actions.flatMap((a) => (a.kind === 'create' ? [a.customer.username] : []));
const longEmail = (octets: number): string => `${'x'.repeat(octets - '@example.org'.length)}@example.org`;

describe('planSync: field limits', () => {
  it('refuses a user whose e-mail address is longer than RFC 5321 allows, and creates the others', () => {
    const snap = snapshot('a', [user('u1', 'ann'), user('u2', 'bob', { email: longEmail(255) }), user('u3', 'cy', { email: longEmail(254) })], [group('customers', ['u1', 'u2', 'u3'])]);
    const plan = planSync({ policy: policy(), snapshots: [snap], current: [] });
    expect(created(plan.actions)).toEqual(['ann', 'cy']);
    expect(plan.summary).toMatchObject({ create: 2, refused: 1 });
    expect(plan.refused).toEqual([
      { directoryId: 'a', externalId: 'u2', username: 'bob', fields: [{ field: 'email', length: 255, limit: 254 }], reason: 'email is 255 octets long, over the limit of 254' },
    ]);
  });

  it('measures e-mail addresses in UTF-8 octets and names in characters', () => {
    const umlauts = `${'ü'.repeat(127)}@x.org`; // 127 characters of 2 octets each
    const name = '名'.repeat(255); // 255 characters, 765 octets: within the name limit
    const snap = snapshot('a', [user('u1', 'ann', { email: umlauts }), user('u2', 'bob', { displayName: name })], [group('customers', ['u1', 'u2'])]);
    const plan = planSync({ policy: policy(), snapshots: [snap], current: [] });
    expect(created(plan.actions)).toEqual(['bob']);
    expect(plan.refused.map((r) => [r.username, r.fields.map((f) => f.field)])).toEqual([['ann', ['email']]]);
  });

  it('checks username, display name, every carried group name, external id and location, and reports every field over its limit', () => {
    const snap = snapshot(
      'a',
      [user('u1', 'n'.repeat(256), { email: 'n@example.org', displayName: 'd'.repeat(256), location: 'l'.repeat(2049) }), user('i'.repeat(1025), 'ok')],
      [group('g1', ['u1'], [], `  customers${' '.repeat(250)}`), group('g2', ['i'.repeat(1025)], [], 'customers')],
    );
    const plan = planSync({ policy: policy({ customerGroups: ['customers'] }), snapshots: [snap], current: [] });
    expect(plan.actions).toEqual([]);
    const [first, second] = plan.refused;
    expect(first?.fields.map((f) => f.field)).toEqual(['username', 'displayName', 'location', 'group']);
    expect(first?.username).toHaveLength(65); // shortened for the report: 64 characters and an ellipsis
    expect(second?.fields).toEqual([{ field: 'externalId', length: 1025, limit: 1024 }]);
  });

  it('leaves the stored customer of a refused user as it is: neither updated nor deactivated', () => {
    const before = planSync({ policy: policy(), snapshots: [snapshot('a', [user('u1', 'ann')], [group('customers', ['u1'])])], current: [] });
    const stored = applyPlanToCurrent([], before);
    const after = planSync({ policy: policy(), snapshots: [snapshot('a', [user('u1', 'ann', { email: longEmail(300) })], [group('customers', ['u1'])])], current: stored });
    expect(after.actions).toEqual([]);
    expect(after.summary).toMatchObject({ update: 0, deactivate: 0, refused: 1 });
  });

  it('a refused user still holds the username: a lower directory copy stays shadowed', () => {
    const pol = policy({ directories: [{ id: 'a', allUsers: true }, { id: 'b', allUsers: true }] });
    const plan = planSync({ policy: pol, snapshots: [snapshot('a', [user('u1', 'ann', { email: longEmail(300) })], []), snapshot('b', [user('v1', 'ann')], [])], current: [] });
    expect(plan.actions).toEqual([]);
    expect(plan.shadowed).toMatchObject([{ username: 'ann', directoryId: 'b' }]);
  });

  it('refuses nothing within the limits (the sample sizes)', () => {
    const plan = planSync({ policy: policy(), snapshots: [snapshot('a', [user('u1', 'ann')], [group('customers', ['u1'])])], current: [] });
    expect(plan.refused).toEqual([]);
    expect(plan.summary.refused).toBe(0);
  });
});
