import { addressKey } from './address.js';
import { LOCAL_DIRECTORY, migratedAccountId } from './customer-key.js';
import type { CustomerView } from './customer-model.js';

/**
 * Migrating a portal-only customer to an account, once and for good: the portal-only profile is
 * deactivated (`migrated`, with its successor recorded), its requests move to the account, and the
 * account has a key of its own. The account is the one named (`--to USERNAME`), else the account the
 * last sync found with the same address (`needs migration`), else a new local account of the same
 * origin. Pure: the preconditions and what to do; the store carries the steps out.
 */
export type MigrationRefusal =
  | 'not-portal-only'
  | 'already-migrated'
  | 'inactive'
  | 'in-progress-elsewhere'
  | 'target-not-found'
  | 'target-ambiguous'
  | 'target-not-account'
  | 'target-inactive'
  | 'email-mismatch';

export type MigrationDecision =
  | { readonly kind: 'refused'; readonly reason: MigrationRefusal; readonly message: string }
  | {
      readonly kind: 'migrate';
      readonly targetKey: string;
      /** The target is a new local account this migration makes (its key derived from the source's). */
      readonly createTarget: boolean;
      /** A migration to this target was started and not finished (a crash): its steps are repeated. */
      readonly resume: boolean;
    };

export interface MigrationInput {
  readonly source: CustomerView;
  /** `--to USERNAME`: the active accounts with that username (none given: undefined). */
  readonly requested?: { readonly username: string; readonly matches: readonly CustomerView[] };
  /** The customer `needsMigrationTo` or an unfinished migration's target names, when it exists. */
  readonly named: CustomerView | null;
}

export function decideMigration(input: MigrationInput): MigrationDecision {
  const { source } = input;
  if (source.accountType !== 'portal-only') {
    return refuse('not-portal-only', `${source.key} is an account (${source.origin}); only portal-only customers are migrated`);
  }
  if (source.migrationDone) {
    return refuse('already-migrated', `${source.key} was migrated to ${source.successorKey ?? source.migrationTo ?? '?'}; a migration cannot be repeated or undone`);
  }
  const newAccountKey = migratedAccountId(source.externalId);

  if (source.migrationTo !== null) {
    // A migration was started and interrupted: it can only be finished, to the same target.
    const target = source.migrationTo;
    const requested = input.requested?.matches.length === 1 ? input.requested.matches[0] : undefined;
    if (input.requested !== undefined && requested?.key !== target) {
      return refuse('in-progress-elsewhere', `a migration of ${source.key} to ${target} was started and not finished: rerun "dirbridge customers migrate ${source.key}" to finish it`);
    }
    if (target === newAccountKey) return { kind: 'migrate', targetKey: target, createTarget: true, resume: true };
    const named = input.named;
    if (named === null || !named.active) return refuse('target-inactive', `the migration of ${source.key} was started to ${target}, which is ${named === null ? 'gone' : 'inactive'} now: it cannot be finished until ${target} is active again`);
    return { kind: 'migrate', targetKey: target, createTarget: false, resume: true };
  }

  if (!source.active) return refuse('inactive', `${source.key} is inactive (${source.deactivatedReason ?? 'unknown'}); reactivate it before migrating it`);

  if (input.requested !== undefined) {
    const { username, matches } = input.requested;
    if (matches.length === 0) return refuse('target-not-found', `no active customer has the username ${username}`);
    if (matches.length > 1) {
      return refuse('target-ambiguous', `${matches.length} active customers have the username ${username} (${matches.map((m) => m.key).join(', ')}); name the account by its key instead`);
    }
    return toTarget(source, matches[0] as CustomerView);
  }
  if (input.named !== null && input.named.active) return toTarget(source, input.named);
  return { kind: 'migrate', targetKey: newAccountKey, createTarget: true, resume: false };
}

function toTarget(source: CustomerView, target: CustomerView): MigrationDecision {
  if (target.key === source.key || target.accountType !== 'account') {
    return refuse('target-not-account', `${target.key} is not an account: a portal-only customer migrates to an account`);
  }
  if (!target.active) return refuse('target-inactive', `${target.key} is inactive`);
  if (source.email === null || target.email === null || addressKey(source.email) !== addressKey(target.email)) {
    return refuse('email-mismatch', `${target.key} has the address ${target.email ?? '(none)'}, ${source.key} has ${source.email ?? '(none)'}: a customer migrates to the account with its own address`);
  }
  return { kind: 'migrate', targetKey: target.key, createTarget: false, resume: false };
}

function refuse(reason: MigrationRefusal, message: string): MigrationDecision {
  return { kind: 'refused', reason, message };
}

export type StateChange =
  | { readonly kind: 'change' }
  /** Already in the state asked for: nothing to do. */
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'refused'; readonly reason: 'owned-by-directory' | 'migrated' | 'migrating'; readonly message: string };

/** Whether an admin may reactivate a customer: never a migrated profile, never a directory's account. */
export function decideReactivation(customer: CustomerView): StateChange {
  if (customer.directoryId !== LOCAL_DIRECTORY) return { kind: 'refused', reason: 'owned-by-directory', message: `${customer.key} is owned by directory ${customer.directoryId}: only its syncs reactivate it` };
  if (customer.deactivatedReason === 'migrated' || customer.migrationDone) {
    return { kind: 'refused', reason: 'migrated', message: `${customer.key} was migrated to ${customer.successorKey ?? customer.migrationTo ?? '?'}: a migration cannot be undone, and the old profile stays inactive` };
  }
  if (customer.migrationTo !== null) return { kind: 'refused', reason: 'migrating', message: `${customer.key} is being migrated to ${customer.migrationTo}: finish it with dirbridge customers migrate ${customer.key}` };
  return customer.active ? { kind: 'unchanged' } : { kind: 'change' };
}

/** Whether an admin may deactivate a customer: only one owned by no directory, and not in the middle of a migration. */
export function decideDeactivation(customer: CustomerView): StateChange {
  if (customer.directoryId !== LOCAL_DIRECTORY) return { kind: 'refused', reason: 'owned-by-directory', message: `${customer.key} is owned by directory ${customer.directoryId}: remove the person from its customer groups there` };
  if (customer.migrationTo !== null && !customer.migrationDone) return { kind: 'refused', reason: 'migrating', message: `${customer.key} is being migrated to ${customer.migrationTo}: finish it with dirbridge customers migrate ${customer.key}` };
  return customer.active ? { kind: 'change' } : { kind: 'unchanged' };
}
