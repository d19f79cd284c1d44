import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { collectAtPhaseBoundary } from '../../src/engine/phase-memory.js';

function capture(): { logger: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  let out = '';
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => (out += line) } as never });
  return { logger, lines: () => out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** Some 100 MB of objects that survive young collections (held across many allocations), then let go. */
function leaveGarbage(): number {
  const held: { id: number; name: string }[] = [];
  for (let i = 0; i < 1_000_000; i++) held.push({ id: i, name: `user-${i}-${'x'.repeat(40)}` });
  return held.length;
}

describe('a collection at a phase boundary', () => {
  it("frees the phase before's garbage and logs what it freed", () => {
    expect(leaveGarbage()).toBe(1_000_000);
    const { logger, lines } = capture();
    collectAtPhaseBoundary(logger, 'test boundary', 0);
    const line = lines().find((l) => l['msg'] === 'collected at a phase boundary');
    expect(line?.['boundary']).toBe('test boundary');
    const before = Number(line?.['heapMbBefore']);
    const after = Number(line?.['heapMbAfter']);
    expect(before - after).toBeGreaterThan(50);
  });

  it('does nothing right after a collection left nothing to free', () => {
    const { logger, lines } = capture();
    collectAtPhaseBoundary(logger, 'first', 0);
    collectAtPhaseBoundary(logger, 'second', 0);
    expect(lines().map((l) => l['boundary'])).not.toContain('second');
  });

  it('does nothing while the heap is below the threshold', () => {
    const { logger, lines } = capture();
    collectAtPhaseBoundary(logger, 'small heap', Number.MAX_SAFE_INTEGER);
    expect(lines()).toEqual([]);
  });
});
