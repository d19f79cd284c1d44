import { describe, expect, it } from 'vitest';
import { movedMembers } from '../../connectors/ldap/incremental-read.js';

describe('members who joined or left changed groups (LDAP incremental)', () => {
  // Stored member ids per group, as the store answers: a group stored without members has no entry.
  const stored = new Map<string, string[]>([
    ['g1', ['a', 'b']],
    ['g2', ['c']],
    ['g4', ['e', 'f']],
    ['g5', ['g']],
  ]);
  const storedGroups = new Map([...stored.keys(), 'g3'].map((id) => [id, {}]));
  const asked: string[][] = [];
  const view = {
    groupMembers: async (ids: readonly string[]) => {
      asked.push([...ids]);
      return ids.flatMap((id) => (stored.has(id) ? [{ groupId: id, members: stored.get(id) ?? [] }] : []));
    },
  };
  const now = new Map<string, Set<string>>([
    ['g1', new Set(['a', 'x'])], // b left, x joined
    ['g2', new Set(['c'])], // unchanged members
    ['g3', new Set(['y'])], // stored without members: y joined
    ['g4', new Set()], // everyone left
    ['g6', new Set(['z'])], // new to the store: z joined
  ]);

  it('is the difference of each group, whatever the batch size, asking only for stored groups', async () => {
    for (const size of [1, 2, 50]) {
      asked.length = 0;
      const moved = await movedMembers(now, ['g1', 'g2', 'g3', 'g4', 'g5', 'g6'], storedGroups, view, size);
      expect([...moved].sort()).toEqual(['b', 'e', 'f', 'g', 'x', 'y', 'z']);
      expect(asked.flat()).toEqual(['g1', 'g2', 'g3', 'g4', 'g5']);
      expect(Math.max(...asked.map((a) => a.length))).toBeLessThanOrEqual(size);
    }
  });
});
