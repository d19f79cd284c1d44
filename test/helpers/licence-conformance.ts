import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toCustomerRecord } from '../../src/core/plan-sync.js';
import { isDirbridgeError } from '../../src/errors.js';
import type { LicenceRead, SyncStore } from '../../src/ports/store.js';
import { user } from './fixtures.js';
import type { StoreFactory } from './store-conformance.js';

const NOW = '2026-11-22T10:00:00.000Z';

const READ: LicenceRead = {
  source: 'jira',
  label: 'Jira https://jira.example.com/',
  readAt: NOW,
  applications: [
    {
      key: 'jira-servicedesk',
      name: 'Jira Service Management',
      groups: ['jira-servicedesk-users', 'sd-agents-emea'],
      defaultGroups: ['jira-servicedesk-users'],
      seats: { numberOfSeats: 50, remainingSeats: 8, userCount: 42, hasUnlimitedSeats: false },
    },
    { key: 'jira-core', name: 'Jira Core', groups: [], defaultGroups: [], seats: { numberOfSeats: -1, remainingSeats: null, userCount: 3, hasUnlimitedSeats: true } },
  ],
};

/** Part of the store conformance suite: the last licence-source read, and widening the licensed set. */
export function describeLicenceConformance(name: string, factory: StoreFactory): void {
  describe(`store conformance (licence source): ${name}`, () => {
    let store: SyncStore;
    beforeEach(async () => {
      store = await factory();
    });
    afterEach(async () => {
      await store.close();
    });

    it('keeps the last licence-source read with its time, replaced whole', async () => {
      expect(await store.loadLicenceRead('jira')).toBeNull();
      await store.saveLicenceRead(READ);
      expect(await store.loadLicenceRead('jira')).toEqual(READ);
      const later: LicenceRead = { ...READ, readAt: '2026-11-23T10:00:00.000Z', applications: [{ ...READ.applications[0]!, groups: ['jira-servicedesk-users'] }] };
      await store.saveLicenceRead(later);
      expect(await store.loadLicenceRead('jira')).toEqual(later);
    });

    it('refuses customers carrying a group it was told is licensed after it was opened, whatever its spelling', async () => {
      const carrying = { kind: 'create', customer: toCustomerRecord('dir-a', user('u1', 'ann'), ['customers', 'SD-Agents-EMEA ']) } as const;
      await store.guardLicensedGroups(['sd-agents-emea']);
      const error = await store.applyActions([carrying], { runId: 'r1', now: NOW }).then(() => null, (e: unknown) => e);
      expect(isDirbridgeError(error) ? error.code : error).toBe('ERR_STORE_INVARIANT');
      expect(await store.loadCurrent()).toEqual([]);
      // The configured set still holds.
      const configured = { kind: 'create', customer: toCustomerRecord('dir-a', user('u2', 'bob'), ['jira-users']) } as const;
      const again = await store.applyActions([configured], { runId: 'r1', now: NOW }).then(() => null, (e: unknown) => e);
      expect(isDirbridgeError(again) ? again.code : again).toBe('ERR_STORE_INVARIANT');
    });
  });
}
