import { parseCustomerKey } from '../../core/customer-key.js';
import type { CustomerView } from '../../core/customer-model.js';
import type { CustomerRecords } from '../../store/customers/open-customer-records.js';

/**
 * Customers a person names by key, e-mail or username (in that order of trust): a key names one; an
 * address or a username may name several (an account and a portal-only profile, or one per directory).
 */
export async function resolveCustomers(records: CustomerRecords, who: string): Promise<CustomerView[]> {
  const text = who.trim();
  if (parseCustomerKey(text) !== null) {
    const found = (await records.customers.byKeys([text])).get(text);
    if (found !== undefined) return [found];
  }
  if (text.includes('@')) {
    const byEmail = await records.customers.byEmails([text]);
    if (byEmail.length > 0) return sortByKey(byEmail);
  }
  return records.customers.byUsername(text);
}

/** The customer that stands for an address or username among several: active accounts, then active portal-only customers. */
export function preferred(customers: readonly CustomerView[]): CustomerView | null {
  const sorted = sortByKey(customers);
  return sorted.find((c) => c.active && c.accountType === 'account') ?? sorted.find((c) => c.active) ?? null;
}

export function sortByKey(customers: readonly CustomerView[]): CustomerView[] {
  return [...customers].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** A migrated profile stands for its successor (followed a few steps, in case the successor was migrated too). */
export async function followSuccessor(records: CustomerRecords, customer: CustomerView): Promise<CustomerView> {
  let current = customer;
  for (let i = 0; i < 5 && current.successorKey !== null; i++) {
    const next = (await records.customers.byKeys([current.successorKey])).get(current.successorKey);
    if (next === undefined) break;
    current = next;
  }
  return current;
}
