import type { RecordDriver } from '../../ports/record-driver.js';
import { createAddressStore } from './address-store.js';
import { createCustomerStore } from './customer-store.js';
import { createRequestStore } from './request-store.js';

/** Customer management over one store's records: customers of every origin, requests, directory addresses. */
export function openCustomerRecords(driver: RecordDriver, options: { readonly licensedGroups: readonly string[] }) {
  const customers = createCustomerStore(driver, options);
  return { customers, requests: createRequestStore(driver, customers), addresses: createAddressStore(driver, customers) };
}

export type CustomerRecords = ReturnType<typeof openCustomerRecords>;
