import { addressKey } from '../../core/address.js';
import type { AddressFacts, LicensedUser } from '../../core/customer-rules.js';
import type { DirectoryAddress } from '../../core/directory-addresses.js';
import type { RecordDriver } from '../../ports/record-driver.js';
import { DIRECTORY_ADDRESSES } from '../records/collections.js';
import { IN_CHUNK, type CustomerStore } from './customer-store.js';

/** Group and licensed-user addresses per directory, replaced after each complete read, and the facts the rules need about an address. */
export function createAddressStore(driver: RecordDriver, customers: CustomerStore) {
  return {
    /** Makes the stored addresses of one directory exactly `addresses`, writing only the difference. */
    async replace(directoryId: string, addresses: readonly DirectoryAddress[]): Promise<{ added: number; removed: number; changed: number }> {
      const stored = new Map((await driver.find(DIRECTORY_ADDRESSES, { directoryId })).map((d) => [d['id'] as string, d]));
      const wanted = new Map(addresses.map((a) => [a.id, a]));
      const added = addresses.filter((a) => !stored.has(a.id));
      const removed = [...stored.keys()].filter((id) => !wanted.has(id));
      const changed = addresses.filter((a) => {
        const old = stored.get(a.id);
        return old !== undefined && JSON.stringify(old['licensedGroups']) !== JSON.stringify(a.licensedGroups);
      });
      for (let i = 0; i < added.length; i += 1000) await driver.insertMany(DIRECTORY_ADDRESSES, added.slice(i, i + 1000).map((a) => ({ ...a, licensedGroups: [...a.licensedGroups] })));
      await driver.updateEach(DIRECTORY_ADDRESSES, changed.map((a) => ({ key: [a.id], set: { licensedGroups: [...a.licensedGroups] } })));
      for (let i = 0; i < removed.length; i += IN_CHUNK) await driver.deleteMany(DIRECTORY_ADDRESSES, { id: { $in: removed.slice(i, i + IN_CHUNK) } });
      return { added: added.length, removed: removed.length, changed: changed.length };
    },

    /**
     * After an incremental read: makes the stored licensed-user addresses of the named users (their
     * usernames before and after the changes) exactly the licensed-user entries of `addresses`, writing
     * only the difference. Other users' entries and group addresses are left as they are.
     */
    async replaceUsers(directoryId: string, usernames: readonly string[], addresses: readonly DirectoryAddress[]): Promise<{ added: number; removed: number; changed: number }> {
      const names = [...new Set(usernames)];
      const stored = new Map<string, Record<string, unknown>>();
      for (let i = 0; i < names.length; i += IN_CHUNK) {
        for (const d of await driver.find(DIRECTORY_ADDRESSES, { directoryId, kind: 'licensed-user', name: { $in: names.slice(i, i + IN_CHUNK) } })) stored.set(d['id'] as string, d);
      }
      const wantedList = addresses.filter((a) => a.kind === 'licensed-user');
      const wanted = new Map(wantedList.map((a) => [a.id, a]));
      const added = wantedList.filter((a) => !stored.has(a.id));
      const removed = [...stored.keys()].filter((id) => !wanted.has(id));
      const changed = wantedList.filter((a) => {
        const old = stored.get(a.id);
        return old !== undefined && JSON.stringify(old['licensedGroups']) !== JSON.stringify(a.licensedGroups);
      });
      for (let i = 0; i < added.length; i += 1000) await driver.insertMany(DIRECTORY_ADDRESSES, added.slice(i, i + 1000).map((a) => ({ ...a, licensedGroups: [...a.licensedGroups] })));
      await driver.updateEach(DIRECTORY_ADDRESSES, changed.map((a) => ({ key: [a.id], set: { licensedGroups: [...a.licensedGroups] } })));
      for (let i = 0; i < removed.length; i += IN_CHUNK) await driver.deleteMany(DIRECTORY_ADDRESSES, { id: { $in: removed.slice(i, i + IN_CHUNK) } });
      return { added: added.length, removed: removed.length, changed: changed.length };
    },

    /** Everything the rules need about each address: its customers, groups with that address, licensed users with it. */
    async facts(addresses: readonly string[]): Promise<Map<string, AddressFacts>> {
      const keys = [...new Set(addresses.map(addressKey))];
      const out = new Map<string, { customers: AddressFacts['customers'][number][]; groups: { directoryId: string; name: string }[]; licensedUsers: LicensedUser[] }>(
        keys.map((k) => [k, { customers: [], groups: [], licensedUsers: [] }]),
      );
      for (let i = 0; i < keys.length; i += IN_CHUNK) {
        const docs = await driver.find(DIRECTORY_ADDRESSES, { address: { $in: keys.slice(i, i + IN_CHUNK) } }, { sort: [{ field: 'id', order: 'asc' }] });
        for (const d of docs) {
          const entry = out.get(d['address'] as string);
          if (entry === undefined) continue;
          if (d['kind'] === 'group') entry.groups.push({ directoryId: d['directoryId'] as string, name: d['name'] as string });
          else entry.licensedUsers.push({ directoryId: d['directoryId'] as string, username: d['name'] as string, licensedGroups: (d['licensedGroups'] as string[] | null) ?? [] });
        }
      }
      for (const c of await customers.byEmails(keys)) out.get(addressKey(c.email ?? ''))?.customers.push(c);
      return out as Map<string, AddressFacts>;
    },

    /** The licensed directory users holding each of these (lower-cased) addresses. */
    async licensedUsers(emailKeys: readonly string[]): Promise<Map<string, LicensedUser[]>> {
      const out = new Map<string, LicensedUser[]>();
      for (let i = 0; i < emailKeys.length; i += IN_CHUNK) {
        const docs = await driver.find(DIRECTORY_ADDRESSES, { kind: 'licensed-user', address: { $in: emailKeys.slice(i, i + IN_CHUNK) } }, { sort: [{ field: 'id', order: 'asc' }] });
        for (const d of docs) {
          const address = d['address'] as string;
          out.set(address, [...(out.get(address) ?? []), { directoryId: d['directoryId'] as string, username: d['name'] as string, licensedGroups: (d['licensedGroups'] as string[] | null) ?? [] }]);
        }
      }
      return out;
    },
  };
}

export type AddressStore = ReturnType<typeof createAddressStore>;
