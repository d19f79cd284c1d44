import { createHash } from 'node:crypto';
import type { SignupRules } from '../../core/customer-rules.js';
import type { LoadedConfig } from '../../config/load-config.js';
import type { DirectoryConfig } from '../../config/schema.js';
import type { Logger } from '../../logger.js';
import type { UserProvisioner } from '../../ports/directory-connector.js';
import type { SyncStore } from '../../ports/store.js';
import type { CustomerRecords } from '../../store/customers/open-customer-records.js';
import { openProvisioner } from '../open-connector.js';
import type { EngineDeps } from '../run-sync.js';
import type { Mailer } from './mailer.js';
import { recordsFor } from './records.js';

/** Who asked: the CLI, the HTTP API, the e-mail channel, or a sync. Written into each customer's history. */
export type Actor = 'cli' | 'api' | 'email' | 'sync' | `console:${string}`;

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


/** The digest that gives one address one portal-only key (see core/customer-key.ts). */
export function addressDigest(addressKey: string): string {
  return createHash('sha256').update(addressKey).digest('hex');
}

export function nowIso(ctx: CustomerContext): string {
  return ctx.clock().toISOString();
}

/**
 * The customer context of the CLI and `serve`: the engine's store and logger, a mailer when
 * invitations.smtp is configured, the directories' provisioners. `close()` ends the mailer's connections.
 */
export function customerContextFor(deps: EngineDeps, actor: Actor): CustomerContext & { close(): void } {
  const { loaded, store, logger } = deps;
  const smtp = loaded.config.invitations?.smtp;
  let mailer: Mailer | null = null;
  const lazyMailer: Mailer | null =
    smtp === undefined
      ? null
      : {
          // nodemailer loads only when an invitation is sent.
          // The SMTP password is resolved when the first invitation is sent.
          send: async (mail) => (mailer ??= (await import('./mailer.js')).createMailer(loaded.resolveSecrets(smtp), { baseDir: loaded.baseDir, logger })).send(mail),
          close: () => mailer?.close(),
        };
  return {
    loaded,
    store,
    records: recordsFor(store, loaded),
    logger,
    clock: deps.clock ?? (() => new Date()),
    actor,
    mailer: lazyMailer,
    openProvisioner: (dir) => openProvisioner(loaded.resolveSecrets(dir), { logger, baseDir: loaded.baseDir }),
    close: () => lazyMailer?.close(),
  };
}
