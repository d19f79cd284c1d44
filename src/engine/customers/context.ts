import { createHash } from 'node:crypto';
import type { SignupRules } from '../../core/customer-rules.js';
import type { LoadedConfig } from '../../config/load-config.js';
import type { DirectoryConfig } from '../../config/schema.js';
import type { Logger } from '../../logger.js';
import type { UserProvisioner } from '../../ports/directory-connector.js';
import type { SyncStore } from '../../ports/store.js';
import { openCustomerRecords, type CustomerRecords } from '../../store/customers/open-customer-records.js';
import type { Mailer } from './mailer.js';

/** Who asked: the CLI, the HTTP API, the e-mail channel, or a sync. Written into each customer's history. */
export type Actor = 'cli' | 'api' | 'email' | 'sync';

/**
 * What every customer operation runs with. Built from the engine's dependencies in production
 * (`customerContext`); tests build it over any store, clock and mailer.
 */
export interface CustomerContext {
  readonly loaded: LoadedConfig;
  readonly store: SyncStore;
  readonly records: CustomerRecords;
  readonly logger: Logger;
  readonly clock: () => Date;
  readonly actor: Actor;
  /** Sends invitations; null when invitations.smtp is not configured (links are printed). */
  readonly mailer: Mailer | null;
  /** Opens the user provisioner of a directory (signup into Crowd). */
  readonly openProvisioner: (dir: DirectoryConfig) => Promise<UserProvisioner>;
}

export function signupRules(loaded: LoadedConfig): SignupRules {
  const { config } = loaded;
  return {
    mailingLists: config.mailingLists,
    onLicensedMembership: config.licensing.onLicensedMembership,
    public: config.signup.public,
    allowedDomains: config.signup.allowedDomains,
    refusedDomains: config.signup.refusedDomains,
  };
}

export function recordsFor(store: SyncStore, loaded: LoadedConfig): CustomerRecords {
  return openCustomerRecords(store.records, { licensedGroups: loaded.config.licensing.licensedGroups });
}

/** The digest that gives one address one portal-only key (see core/customer-key.ts). */
export function addressDigest(addressKey: string): string {
  return createHash('sha256').update(addressKey).digest('hex');
}

export function nowIso(ctx: CustomerContext): string {
  return ctx.clock().toISOString();
}
