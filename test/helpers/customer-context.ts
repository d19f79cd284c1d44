import { parseConfig, type LoadedConfig } from '../../src/config/load-config.js';
import type { CustomerContext } from '../../src/engine/customers/context.js';
import type { Mailer } from '../../src/engine/customers/mailer.js';
import { createLogger } from '../../src/logger.js';
import type { RecordDriver } from '../../src/ports/record-driver.js';
import type { UserProvisioner } from '../../src/ports/directory-connector.js';
import type { SyncStore } from '../../src/ports/store.js';
import { openCustomerRecords } from '../../src/store/customers/open-customer-records.js';

export const TEST_NOW = new Date('2026-11-22T10:00:00.000Z');

/** A config for customer operations over directories dir-a and dir-b (their LDIF files need not exist). */
export function customerConfig(extra = '', options: { readonly licensed?: readonly string[]; readonly onLicensedMembership?: 'strip' | 'exclude' | 'fail' } = {}): LoadedConfig {
  const licensed = options.licensed ?? ['jira-users', 'jira-servicedesk-users'];
  return parseConfig(
    `directories:
  - { id: dir-a, type: ldif, path: ./a.ldif }
  - { id: dir-b, type: ldif, path: ./b.ldif }
roles: { customer: { groups: [customers, partners] } }
licensing: { licensedGroups: [${licensed.join(', ')}], onLicensedMembership: ${options.onLicensedMembership ?? 'strip'} }
${extra}`,
    { path: '/tmp/dirbridge-test/dirbridge.yml', env: {} },
  );
}

export interface TestContextOptions {
  readonly loaded?: LoadedConfig;
  readonly driver?: RecordDriver;
  readonly mailer?: Mailer | null;
  readonly openProvisioner?: CustomerContext['openProvisioner'];
  readonly clock?: () => Date;
  readonly actor?: CustomerContext['actor'];
}

export function customerContext(store: SyncStore, options: TestContextOptions = {}): CustomerContext {
  const loaded = options.loaded ?? customerConfig();
  return {
    loaded,
    store,
    records: openCustomerRecords(options.driver ?? store.records, { licensedGroups: loaded.config.licensing.licensedGroups }),
    logger: createLogger({ level: 'silent' }),
    clock: options.clock ?? (() => TEST_NOW),
    actor: options.actor ?? 'cli',
    mailer: options.mailer ?? null,
    openProvisioner: options.openProvisioner ?? (async (): Promise<UserProvisioner> => {
      throw new Error('no provisioner in this test');
    }),
  };
}
