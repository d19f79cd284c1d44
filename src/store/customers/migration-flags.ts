import { addressKey } from '../../core/address.js';
import type { CustomerEvent } from '../../core/customer-model.js';
import type { CustomerStore } from './customer-store.js';

const PAGE = 500;

/**
 * Flags each active portal-only customer whose address an active account has (`needs migration`, with
 * that account's key), and clears flags that no longer hold. Never merges anything: migrating stays the
 * admin's decision. Reads the portal-only customers page by page, and writes only flags that change.
 */
export async function refreshMigrationFlags(customers: CustomerStore, options: { readonly now: string; readonly runId: string | null }): Promise<{ flagged: number; cleared: number }> {
  let flagged = 0;
  let cleared = 0;
  let after = '';
  for (;;) {
    const page = await customers.portalOnlyAfter(after, PAGE);
    if (page.length === 0) break;
    after = page[page.length - 1]?.externalId ?? after;
    const emails = page.flatMap((c) => (c.email === null ? [] : [addressKey(c.email)]));
    const accounts = await customers.activeAccountsWith(emails);
    const byEmail = new Map<string, string>();
    for (const a of [...accounts].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0))) {
      const email = addressKey(a.email ?? '');
      if (!byEmail.has(email)) byEmail.set(email, a.key);
    }
    const updates: { key: string; set: Record<string, unknown> }[] = [];
    const events: CustomerEvent[] = [];
    for (const c of page) {
      const wanted = c.email === null ? null : (byEmail.get(addressKey(c.email)) ?? null);
      if (wanted === c.needsMigrationTo) continue;
      updates.push({ key: c.key, set: { needsMigrationTo: wanted } });
      if (wanted === null) cleared++;
      else {
        flagged++;
        events.push({ id: `flag:${c.key}:${wanted}`, customerKey: c.key, at: options.now, kind: 'flagged-for-migration', runId: options.runId, actor: 'sync', detail: { account: wanted } });
      }
    }
    await customers.updateEach(updates);
    await customers.appendEvents(events);
    if (page.length < PAGE) break;
  }
  return { flagged, cleared };
}
