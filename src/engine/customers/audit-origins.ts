import { addressKey } from '../../core/address.js';
import type { AccountType } from '../../core/customer-model.js';
import type { LicensedUser } from '../../core/customer-rules.js';
import { LOCAL_DIRECTORY } from '../../core/customer-key.js';
import type { LoadedConfig } from '../../config/load-config.js';
import type { SyncStore } from '../../ports/store.js';
import { CUSTOMERS } from '../../store/records/collections.js';
import { toView } from '../../store/customers/customer-docs.js';
import { recordsFor } from './records.js';

export interface OriginsAudit {
  /** Customers by account type, origin and state. */
  readonly counts: readonly { readonly accountType: AccountType; readonly origin: string; readonly active: boolean; readonly count: number }[];
  /** Active customers no directory owns whose address is a licensed directory user's: seat leaks of invitations and signups. */
  readonly leaks: readonly { readonly key: string; readonly email: string; readonly origin: string; readonly licensedUser: LicensedUser }[];
  readonly status: 'pass' | 'leak';
}

const PAGE = 500;

/** `audit seats` for customers of every origin: the invitations and signups a sync never sees. */
export async function auditOrigins(store: SyncStore, loaded: LoadedConfig): Promise<OriginsAudit> {
  const records = recordsFor(store, loaded);
  const counts = await records.customers.countByOrigin();
  const leaks: OriginsAudit['leaks'][number][] = [];
  let after = '';
  for (;;) {
    const page = (await store.records.find(CUSTOMERS, { directoryId: LOCAL_DIRECTORY, active: true, externalId: { $gt: after } }, { sort: [{ field: 'externalId', order: 'asc' }], limit: PAGE })).map(toView);
    if (page.length === 0) break;
    after = page[page.length - 1]?.externalId ?? after;
    const licensed = await records.addresses.licensedUsers(page.flatMap((c) => (c.email === null ? [] : [addressKey(c.email)])));
    for (const c of page) {
      const user = c.email === null ? undefined : licensed.get(addressKey(c.email))?.[0];
      if (user !== undefined) leaks.push({ key: c.key, email: c.email as string, origin: c.origin, licensedUser: user });
    }
    if (page.length < PAGE) break;
  }
  return { counts, leaks, status: leaks.length > 0 ? 'leak' : 'pass' };
}
