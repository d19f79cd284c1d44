import type { LoadedConfig } from '../../config/load-config.js';
import type { SyncStore } from '../../ports/store.js';
import { openCustomerRecords, type CustomerRecords } from '../../store/customers/open-customer-records.js';

export function recordsFor(store: SyncStore, loaded: LoadedConfig): CustomerRecords {
  return openCustomerRecords(store.records, { licensedGroups: loaded.config.licensing.licensedGroups });
}
