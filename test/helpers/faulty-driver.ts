import { DirbridgeError } from '../../src/errors.js';
import type { RecordDriver } from '../../src/ports/record-driver.js';

/**
 * A record driver that lets `allowed` writes through and fails every later one before it reaches the
 * store, as a crash or a lost connection would: for proving that multi-write operations converge when
 * run again. Reads always pass. `writes` counts the writes attempted.
 */
export function failAfterWrites(inner: RecordDriver, allowed: number): RecordDriver & { readonly writes: number } {
  let writes = 0;
  const gate = <T>(fn: () => Promise<T>): Promise<T> => {
    writes++;
    if (writes > allowed) return Promise.reject(new DirbridgeError('ERR_STORE', `injected store failure at write ${writes}`));
    return fn();
  };
  return {
    kind: inner.kind,
    get writes() {
      return writes;
    },
    find: (spec, filter, options) => inner.find(spec, filter, options),
    count: (spec, filter) => inner.count(spec, filter),
    countBy: (spec, filter, fields) => inner.countBy(spec, filter, fields),
    insertMany: (spec, docs) => gate(() => inner.insertMany(spec, docs)),
    updateMany: (spec, filter, set) => gate(() => inner.updateMany(spec, filter, set)),
    updateEach: (spec, updates) => gate(() => inner.updateEach(spec, updates)),
    deleteMany: (spec, filter) => gate(() => inner.deleteMany(spec, filter)),
    bumpRevision: () => gate(() => inner.bumpRevision()),
  };
}
