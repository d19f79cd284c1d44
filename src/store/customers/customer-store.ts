import { addressKey } from '../../core/address.js';
import { LOCAL_DIRECTORY, parseCustomerKey } from '../../core/customer-key.js';
import { compareEvents, type AccountType, type CustomerEvent, type CustomerView } from '../../core/customer-model.js';
import type { CustomerRecord } from '../../core/model.js';
import { DirbridgeError } from '../../errors.js';
import type { Filter, RecordDoc, RecordDriver, SortKey } from '../../ports/record-driver.js';
import { DEFAULT_PAGE_SIZE } from '../../ports/store.js';
import { assertNoLicensedGroups } from '../licensed-guard.js';
import { CUSTOMER_EVENTS, CUSTOMERS } from '../records/collections.js';
import { searchText } from '../search-text.js';
import { keyFields, keyFilter, localDoc, toView, type NewLocalCustomer } from './customer-docs.js';

export interface CustomerListQuery {
  /** Substring of username, e-mail or display name, any case. */
  readonly search?: string;
  readonly state?: 'active' | 'inactive' | 'all';
  readonly type?: AccountType;
  /** A directory id, `invited` or `signup`. */
  readonly origin?: string;
  /** Customers through this default group (any case, surrounding space ignored). */
  readonly group?: string;
  readonly needsMigration?: boolean;
  /** `username` (default), or `open-requests`: most open requests first. */
  readonly sort?: 'username' | 'open-requests';
  /** 1-based. */
  readonly page?: number;
  readonly pageSize?: number;
}

export interface CustomerListPage {
  readonly items: CustomerView[];
  readonly total: number;
  readonly page: number;
  readonly pageSize: number;
}

export const MAX_PAGE_SIZE = 500;
/** How many values one `$in` carries. */
export const IN_CHUNK = 500;

/**
 * The customers of every origin, written once over the record driver: the list (paged and filtered
 * in the store), lookups by key, address and username, customers no sync makes, and their history.
 */
export function createCustomerStore(driver: RecordDriver, options: { readonly licensedGroups: readonly string[] }) {
  /**
   * A customer write raises the store revision first, so that a saved or held plan made before it is
   * stale. First, not after: a failed raise writes nothing (the operation is retried whole), and a
   * write that fails after it only makes such a plan stale for nothing (the safe way).
   */
  const changing = async <T>(write: () => Promise<T>): Promise<T> => {
    await driver.bumpRevision();
    return write();
  };
  const findCustomers = async (filter: Filter, sort?: readonly SortKey[]): Promise<CustomerView[]> =>
    (await driver.find(CUSTOMERS, filter, sort === undefined ? {} : { sort })).map(toView);

  return {
    async list(query: CustomerListQuery): Promise<CustomerListPage> {
      const page = Math.max(1, Math.floor(query.page ?? 1));
      const pageSize = Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(query.pageSize ?? DEFAULT_PAGE_SIZE)));
      const filter = listFilter(query);
      const byName: SortKey[] = [
        { field: 'usernameLc', order: 'asc' },
        { field: 'directoryId', order: 'asc' },
        { field: 'externalId', order: 'asc' },
      ];
      const sort = query.sort === 'open-requests' ? [{ field: 'openRequests', order: 'desc' } as const, ...byName] : byName;
      const [total, docs] = await Promise.all([driver.count(CUSTOMERS, filter), driver.find(CUSTOMERS, filter, { sort, skip: (page - 1) * pageSize, limit: pageSize })]);
      return { items: docs.map(toView), total, page, pageSize };
    },

    async byKeys(keys: readonly string[]): Promise<Map<string, CustomerView>> {
      const out = new Map<string, CustomerView>();
      const refs = keys.map((k) => parseCustomerKey(k)).filter((r) => r !== null);
      const byDirectory = new Map<string, string[]>();
      for (const r of refs) byDirectory.set(r.directoryId, [...(byDirectory.get(r.directoryId) ?? []), r.externalId]);
      for (const [directoryId, ids] of byDirectory) {
        for (let i = 0; i < ids.length; i += IN_CHUNK) {
          for (const c of await findCustomers({ directoryId, externalId: { $in: ids.slice(i, i + IN_CHUNK) } })) out.set(c.key, c);
        }
      }
      return out;
    },

    async byEmails(addresses: readonly string[]): Promise<CustomerView[]> {
      const keys = [...new Set(addresses.map(addressKey))];
      const out: CustomerView[] = [];
      for (let i = 0; i < keys.length; i += IN_CHUNK) out.push(...(await findCustomers({ emailLc: { $in: keys.slice(i, i + IN_CHUNK) } })));
      return out;
    },

    async byUsername(username: string): Promise<CustomerView[]> {
      return findCustomers({ usernameLc: username.toLowerCase() }, [{ field: 'directoryId', order: 'asc' }, { field: 'externalId', order: 'asc' }]);
    },

    /** Customers no sync makes; an existing key is skipped (the same address, invited twice). Returns the keys written. */
    async insertLocal(customers: readonly NewLocalCustomer[], now: string): Promise<number> {
      const docs = customers.map((c) => localDoc(c, now));
      assertNoLicensedGroups(docs.map((d) => ({ kind: 'create', customer: d as unknown as CustomerRecord })), options.licensedGroups);
      return docs.length === 0 ? 0 : changing(() => driver.insertMany(CUSTOMERS, docs));
    },

    /**
     * A directory's account written outside a sync (a signup into Crowd): the record the next sync of
     * that directory computes for the user, so the sync finds it in place. Skipped when it exists.
     */
    async insertAccount(record: CustomerRecord, now: string): Promise<number> {
      assertNoLicensedGroups([{ kind: 'create', customer: record }], options.licensedGroups);
      return changing(() => driver.insertMany(CUSTOMERS, [
        {
          directoryId: record.directoryId,
          externalId: record.externalId,
          username: record.username,
          usernameLc: record.username.toLowerCase(),
          email: record.email,
          emailLc: record.email?.toLowerCase() ?? null,
          displayName: record.displayName,
          location: record.location,
          search: searchText(record),
          groups: [...record.groups],
          hash: record.hash,
          active: true,
          createdAt: now,
          updatedAt: now,
        },
      ]));
    },

    /** Sets fields of one customer when it (still) matches `expect`; false when it did not. */
    async update(key: string, set: RecordDoc, expect: Filter = {}): Promise<boolean> {
      return (await changing(() => driver.updateMany(CUSTOMERS, { ...keyFilter(key), ...expect }, set))) === 1;
    },

    async updateEach(updates: readonly { readonly key: string; readonly set: RecordDoc }[]): Promise<number> {
      return updates.length === 0 ? 0 : changing(() => driver.updateEach(CUSTOMERS, updates.map((u) => ({ key: keyFields(u.key), set: u.set }))));
    },

    /** Pages through active portal-only customers in key order (for refreshing migration flags). */
    async portalOnlyAfter(afterExternalId: string, limit: number): Promise<CustomerView[]> {
      return (
        await driver.find(
          CUSTOMERS,
          { directoryId: LOCAL_DIRECTORY, accountType: 'portal-only', active: true, externalId: { $gt: afterExternalId } },
          { sort: [{ field: 'externalId', order: 'asc' }], limit },
        )
      ).map(toView);
    },

    /** Active accounts (of any origin) with one of these addresses. */
    async activeAccountsWith(emailKeys: readonly string[]): Promise<CustomerView[]> {
      const out: CustomerView[] = [];
      for (let i = 0; i < emailKeys.length; i += IN_CHUNK) {
        out.push(...(await findCustomers({ emailLc: { $in: emailKeys.slice(i, i + IN_CHUNK) }, active: true, accountType: { $ne: 'portal-only' } })));
      }
      return out;
    },

    /** Invitations still to send, in key order. */
    async unsentInvitations(afterExternalId: string, limit: number): Promise<CustomerView[]> {
      return (
        await driver.find(CUSTOMERS, { directoryId: LOCAL_DIRECTORY, invitationStatus: 'unsent', active: true, externalId: { $gt: afterExternalId } }, { sort: [{ field: 'externalId', order: 'asc' }], limit })
      ).map(toView);
    },

    async countByOrigin(): Promise<{ accountType: AccountType; origin: string; active: boolean; count: number }[]> {
      const groups = await driver.countBy(CUSTOMERS, {}, ['accountType', 'origin', 'directoryId', 'active']);
      const merged = new Map<string, { accountType: AccountType; origin: string; active: boolean; count: number }>();
      for (const g of groups) {
        const accountType = (g.values['accountType'] as AccountType | null) ?? 'account';
        const origin = (g.values['origin'] as string | null) ?? (g.values['directoryId'] as string);
        const active = g.values['active'] === true || g.values['active'] === 1;
        const id = `${accountType}/${origin}/${active}`;
        const entry = merged.get(id) ?? { accountType, origin, active, count: 0 };
        entry.count += g.count;
        merged.set(id, entry);
      }
      return [...merged.values()].sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0) || a.accountType.localeCompare(b.accountType) || Number(b.active) - Number(a.active));
    },

    async appendEvents(events: readonly CustomerEvent[]): Promise<number> {
      if (events.length === 0) return 0;
      return driver.insertMany(CUSTOMER_EVENTS, events.map((e) => ({ ...e })));
    },

    async history(key: string): Promise<CustomerEvent[]> {
      const docs = await driver.find(CUSTOMER_EVENTS, { customerKey: key }, { sort: [{ field: 'at', order: 'asc' }, { field: 'id', order: 'asc' }] });
      return docs.map((d) => d as unknown as CustomerEvent).sort(compareEvents);
    },
  };
}

export type CustomerStore = ReturnType<typeof createCustomerStore>;

function listFilter(query: CustomerListQuery): Filter {
  const filter: Record<string, Filter[keyof Filter]> = {};
  const state = query.state ?? 'active';
  if (state !== 'all') filter['active'] = state === 'active';
  if (query.type === 'portal-only') filter['accountType'] = 'portal-only';
  else if (query.type === 'account') filter['accountType'] = { $ne: 'portal-only' };
  if (query.origin !== undefined) {
    if (query.origin === 'invited' || query.origin === 'signup') filter['origin'] = query.origin;
    else filter['directoryId'] = query.origin;
  }
  if (query.group !== undefined && query.group.trim() !== '') filter['groups'] = { $hasItem: query.group };
  if (query.needsMigration === true) filter['needsMigrationTo'] = { $ne: null };
  if (query.search !== undefined && query.search !== '') filter['search'] = { $contains: query.search.toLowerCase() };
  return filter;
}

export function notFound(who: string): DirbridgeError {
  return new DirbridgeError('ERR_CUSTOMER_NOT_FOUND', `no customer has the key, e-mail or username ${who}`);
}
