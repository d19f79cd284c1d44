import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '../logger.js';

/**
 * A full garbage collection at the boundary between two phases of a large run, where the working set of
 * the phase before dies (the read's decoding and DN index, the store's rows, the planner's indexes).
 *
 * V8 runs a full collection only once its old generation has grown to a limit it sets after the last
 * one: up to four times what survived it on a machine with memory to spare, the faster the program
 * allocates the higher. A phase that builds a large structure while the previous phase's garbage is
 * still uncollected therefore takes the process's resident memory to several times what it holds (a
 * million-user LDAP plan: 995 MB of heap for 485 MB alive). Collecting at the boundary sets that limit
 * from what the next phase really starts with. It costs one full collection (0.2–0.8 s with 300–500 MB
 * alive), so it is skipped below `MIN_HEAP_BYTES`, where the resident memory is small anyway, and when
 * the heap has grown less than a quarter (at least `MIN_GROWTH_BYTES`) since the last one left it:
 * then there is little to free (a million-user run frees 4–20 MB at such boundaries).
 *
 * The collector is V8's own `gc`, made reachable the documented way (`--expose-gc`, set at run time so
 * `dirbridge` needs no command-line flag): the flag only exposes the function, it changes no heap
 * setting, and a runtime that refuses it leaves collection to V8 as before.
 */
export const MIN_HEAP_BYTES = 256 * 2 ** 20;
export const MIN_GROWTH_BYTES = 64 * 2 ** 20;

let collector: (() => void) | null | undefined;
/** What the last collection here left alive. */
let lastLive = 0;

function fullCollection(): (() => void) | null {
  if (collector === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      const gc: unknown = runInNewContext('gc');
      collector = typeof gc === 'function' ? (gc as () => void) : null;
    } catch {
      collector = null;
    }
  }
  return collector;
}

/** Collects when the heap is large and has grown since the last collection here; logs (debug) what it freed and what it cost. */
export function collectAtPhaseBoundary(log: Logger, boundary: string, minHeapBytes = MIN_HEAP_BYTES): void {
  const before = process.memoryUsage().heapUsed;
  if (before < minHeapBytes || before < lastLive + Math.max(MIN_GROWTH_BYTES, lastLive / 4)) return;
  const gc = fullCollection();
  if (gc === null) return;
  const started = performance.now();
  gc();
  const after = process.memoryUsage().heapUsed;
  lastLive = after;
  log.debug({ boundary, heapMbBefore: Math.round(before / 2 ** 20), heapMbAfter: Math.round(after / 2 ** 20), ms: Math.round(performance.now() - started) }, 'collected at a phase boundary');
}
