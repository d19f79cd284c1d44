import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contentHash } from '../../src/core/content-hash.js';
import { normalizeGroupName } from '../../src/core/group-name.js';
import type { CurrentCustomer, DirectorySnapshot, SyncPolicy } from '../../src/core/model.js';
import { applyPlanToCurrent, planSync } from '../../src/core/plan-sync.js';

const DIRS = ['a', 'b'];
const USERNAMES = ['ann', 'Ann', 'bob', 'cy', 'dee', 'eve', 'fay', 'gus'];
const GROUP_NAMES = ['customers', 'partners', 'g1', 'jira-users', 'JIRA-Users ', 'staff', 'g2'];
const CUSTOMER_POOL = ['customers', 'partners', 'g1'];
const LICENSED_POOL = ['jira-users', 'staff', 'g2'];

const snapshotArb = (directoryId: string): fc.Arbitrary<DirectorySnapshot> =>
  fc
    .record({
      users: fc.array(fc.record({ username: fc.constantFrom(...USERNAMES), disabled: fc.boolean(), mail: fc.constantFrom('x@y', 'z@y') }), { maxLength: 8 }),
      groups: fc.array(fc.record({ name: fc.constantFrom(...GROUP_NAMES), users: fc.array(fc.nat(7), { maxLength: 5 }), children: fc.array(fc.nat(5), { maxLength: 3 }) }), { maxLength: 6 }),
    })
    .map(({ users, groups }) => ({
      directoryId,
      users: users.map((u, i) => ({ externalId: `${directoryId}-u${i}`, username: u.username, email: u.mail, displayName: null, disabled: u.disabled, location: null })),
      groups: groups.map((g, i) => ({
        id: `${directoryId}-g${i}`,
        name: g.name,
        memberUserIds: [...new Set(g.users.filter((n) => n < users.length).map((n) => `${directoryId}-u${n}`))],
        memberGroupIds: [...new Set(g.children.filter((n) => n < groups.length).map((n) => `${directoryId}-g${n}`))],
      })),
    }));

const policyArb: fc.Arbitrary<SyncPolicy> = fc.record({
  directories: fc.tuple(fc.boolean(), fc.boolean()).map(([x, y]) => [{ id: 'a', allUsers: x }, { id: 'b', allUsers: y }]),
  customerGroups: fc.subarray(CUSTOMER_POOL, { minLength: 1 }),
  licensedGroups: fc.subarray(LICENSED_POOL),
  onLicensedMembership: fc.constantFrom('strip' as const, 'exclude' as const),
  aggregateMemberships: fc.boolean(),
  safety: fc.constant({ maxDeactivations: { count: 500, percent: 10 }, countDropPercent: 30 }),
});

const currentArb: fc.Arbitrary<CurrentCustomer[]> = fc
  .uniqueArray(fc.record({ dir: fc.constantFrom(...DIRS), n: fc.nat(7), username: fc.constantFrom(...USERNAMES), active: fc.boolean(), hash: fc.constantFrom('h1', 'h2') }), {
    selector: (c) => `${c.dir}/${c.n}`,
    maxLength: 10,
  })
  .map((list) => list.map((c) => ({ directoryId: c.dir, externalId: `${c.dir}-u${c.n}`, username: c.username, hash: c.hash, active: c.active })));

const worldArb = fc.record({ policy: policyArb, a: snapshotArb('a'), b: snapshotArb('b'), current: currentArb, readB: fc.boolean() });

function shuffled<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('planSync properties', () => {
  it('no planned customer ever carries a licensed group, under any nesting (cycles included)', () => {
    fc.assert(
      fc.property(worldArb, ({ policy, a, b, current, readB }) => {
        const plan = planSync({ policy, snapshots: readB ? [a, b] : [a], current, allowDeactivations: 1e9 });
        const licensed = new Set(policy.licensedGroups.map(normalizeGroupName));
        for (const action of plan.actions) {
          if (action.kind !== 'deactivate') expect(action.customer.groups.some((g) => licensed.has(normalizeGroupName(g)))).toBe(false);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('plan → apply → plan gives zero actions', () => {
    fc.assert(
      fc.property(worldArb, ({ policy, a, b, current, readB }) => {
        const snapshots = readB ? [a, b] : [a];
        const plan = planSync({ policy, snapshots, current, allowDeactivations: 1e9 });
        fc.pre(plan.violations.length === 0);
        const again = planSync({ policy, snapshots, current: applyPlanToCurrent(current, plan), allowDeactivations: 1e9 });
        expect(again.actions).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });

  it('the plan does not depend on the order of users, groups, members or stored customers', () => {
    fc.assert(
      fc.property(worldArb, fc.nat(), ({ policy, a, b, current, readB }, seed) => {
        const shuffle = (s: DirectorySnapshot): DirectorySnapshot => ({
          ...s,
          users: shuffled(s.users, seed),
          groups: shuffled(s.groups, seed + 1).map((g) => ({ ...g, memberUserIds: shuffled(g.memberUserIds, seed + 2), memberGroupIds: shuffled(g.memberGroupIds, seed + 3) })),
        });
        const snapshots = readB ? [a, b] : [a];
        const one = planSync({ policy, snapshots, current });
        const two = planSync({ policy, snapshots: shuffled(snapshots.map(shuffle), seed + 4), current: shuffled(current, seed + 5) });
        expect(two).toEqual(one);
      }),
      { numRuns: 500 },
    );
  });
});

describe('contentHash', () => {
  /** The reference definition: cyrb53 over the parts' JSON text. */
  function reference(parts: readonly (string | null | readonly string[])[]): string {
    const text = JSON.stringify(parts);
    let h1 = 0xdeadbeef;
    let h2 = 0x41c6ce57;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ ch, 2654435761);
      h2 = Math.imul(h2 ^ ch, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, '0');
  }
  // Any UTF-16 code units: quotes, backslashes, control characters, lone and paired surrogates.
  const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u0001', '\ud800', '\udc00', 'é', 'a') }));
  const parts = fc.array(fc.oneof(text, fc.constant(null), fc.array(text, { maxLength: 3 })), { maxLength: 8 });

  it('equals cyrb53 of the JSON text of the parts, for any strings', () => {
    fc.assert(fc.property(parts, (p) => contentHash(p) === reference(p)), { numRuns: 2000 });
  });

  it('changes when a field boundary moves', () => {
    expect(contentHash(['ab', 'c'])).not.toBe(contentHash(['a', 'bc']));
    expect(contentHash([null])).not.toBe(contentHash(['null']));
  });
});
