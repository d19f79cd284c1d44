import type { RecordDriver } from '../ports/record-driver.js';
import type { ApplicationAccess } from '../ports/licence-source.js';
import type { LicenceRead } from '../ports/store.js';
import { LICENCE_READS } from './records/collections.js';

/** `SyncStore.saveLicenceRead` / `loadLicenceRead`, written once over the record driver for every store. */
export function createLicenceReads(driver: RecordDriver) {
  return {
    async save(read: LicenceRead): Promise<void> {
      const doc = { source: read.source, label: read.label, readAt: read.readAt, applications: read.applications };
      // Insert, or replace the fields of the one record there is: two idempotent writes, no transaction.
      if ((await driver.insertMany(LICENCE_READS, [doc])) === 0) {
        await driver.updateEach(LICENCE_READS, [{ key: [read.source], set: { label: read.label, readAt: read.readAt, applications: read.applications } }]);
      }
    },
    async load(source: LicenceRead['source']): Promise<LicenceRead | null> {
      const [doc] = await driver.find(LICENCE_READS, { source }, { limit: 1 });
      if (doc === undefined) return null;
      return { source, label: String(doc['label']), readAt: String(doc['readAt']), applications: doc['applications'] as ApplicationAccess[] };
    },
  };
}
