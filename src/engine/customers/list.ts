import type { CustomerEvent, CustomerView } from '../../core/customer-model.js';
import type { CustomerListPage, CustomerListQuery } from '../../store/customers/customer-store.js';
import { notFound } from '../../store/customers/customer-store.js';
import type { CustomerContext } from './context.js';
import { resolveCustomers } from './resolve.js';

export type { CustomerListPage, CustomerListQuery };

/** `customers list` / GET /customers: twenty to a page by default, filtered and sorted in the store. */
export async function listCustomers(ctx: CustomerContext, query: CustomerListQuery): Promise<CustomerListPage> {
  return ctx.records.customers.list(query);
}

export interface CustomerDetail {
  readonly customer: CustomerView;
  readonly history: readonly CustomerEvent[];
  /** The customers named by its links: successor, predecessor migration target, needs-migration account. */
  readonly related: readonly CustomerView[];
}

/** `customers show KEY|EMAIL|USERNAME` / GET /customers/{who}: each customer named, with its history. */
export async function showCustomers(ctx: CustomerContext, who: string): Promise<CustomerDetail[]> {
  const found = await resolveCustomers(ctx.records, who);
  if (found.length === 0) throw notFound(who);
  const out: CustomerDetail[] = [];
  for (const customer of found) {
    const links = [customer.successorKey, customer.migrationTo, customer.needsMigrationTo].filter((k): k is string => k !== null);
    const related = [...(await ctx.records.customers.byKeys([...new Set(links)])).values()];
    out.push({ customer, history: await ctx.records.customers.history(customer.key), related });
  }
  return out;
}
