import { parseCustomerKey } from '../../core/customer-key.js';
import type { CustomerView, LocalOrigin } from '../../core/customer-model.js';
import { decideDeactivation, decideMigration, decideReactivation, type StateChange } from '../../core/migration.js';
import { DirbridgeError } from '../../errors.js';
import { notFound } from '../../store/customers/customer-store.js';
import { executeMigration, type MigrationOutcome } from '../../store/customers/migration-steps.js';
import { nowIso, type CustomerContext } from './context.js';
import { resolveCustomers, sortByKey } from './resolve.js';

export interface MigrateRequest {
  /** The portal-only customer: its key (or its address, when that names one portal-only customer). */
  readonly who: string;
  /** The account to migrate to: a username (or a key); default the flagged account, else a new local account. */
  readonly to?: string;
}

/**
 * `customers migrate KEY [--to USERNAME]`. Refusals (ERR_MIGRATION_REFUSED, ERR_ALREADY_MIGRATED) write
 * nothing. Running it again after a crash finishes the same migration; after it finished, it is refused.
 */
export async function migrateCustomer(ctx: CustomerContext, request: MigrateRequest): Promise<MigrationOutcome> {
  const source = await portalOnly(ctx, request.who);
  const requested = request.to === undefined ? undefined : { username: request.to, matches: await accountsNamed(ctx, request.to) };
  const namedKey = source.migrationTo ?? source.needsMigrationTo;
  const named = namedKey === null ? null : ((await ctx.records.customers.byKeys([namedKey])).get(namedKey) ?? null);
  const decision = decideMigration({ source, ...(requested === undefined ? {} : { requested }), named });
  if (decision.kind === 'refused') {
    throw new DirbridgeError(decision.reason === 'already-migrated' ? 'ERR_ALREADY_MIGRATED' : 'ERR_MIGRATION_REFUSED', decision.message, { details: { reason: decision.reason } });
  }
  const newAccount = decision.createTarget
    ? {
        externalId: decision.targetKey,
        username: source.username,
        email: source.email ?? source.username,
        displayName: source.displayName,
        accountType: 'account' as const,
        origin: source.origin as LocalOrigin,
        invitation: null,
      }
    : null;
  return executeMigration(ctx.records.customers, ctx.records.requests, { source, targetKey: decision.targetKey, newAccount, now: nowIso(ctx), actor: ctx.actor });
}

async function portalOnly(ctx: CustomerContext, who: string): Promise<CustomerView> {
  const found = await resolveCustomers(ctx.records, who);
  if (found.length === 0) throw notFound(who);
  const candidates = found.length === 1 ? found : found.filter((c) => c.accountType === 'portal-only');
  if (candidates.length !== 1) {
    throw new DirbridgeError('ERR_MIGRATION_REFUSED', `${who} names ${found.length} customers (${sortByKey(found).map((c) => c.key).join(', ')}); name the portal-only customer by its key`);
  }
  return candidates[0] as CustomerView;
}

/** Active accounts a `--to` names: a key, else a username. */
async function accountsNamed(ctx: CustomerContext, to: string): Promise<CustomerView[]> {
  if (parseCustomerKey(to) !== null) {
    const byKey = (await ctx.records.customers.byKeys([to])).get(to);
    if (byKey !== undefined) return [byKey];
  }
  return (await ctx.records.customers.byUsername(to)).filter((c) => c.active && c.accountType === 'account');
}

/** `customers deactivate KEY`: a customer owned by no directory; its requests stay with it. Deactivating an inactive customer changes nothing. */
export async function deactivateCustomer(ctx: CustomerContext, request: { readonly who: string; readonly note?: string }): Promise<CustomerView> {
  const customer = await one(ctx, request.who);
  if (!allowed(decideDeactivation(customer))) return customer;
  const now = nowIso(ctx);
  await ctx.records.customers.update(customer.key, { active: false, deactivatedReason: 'deactivated-by-admin', deactivatedAt: now, needsMigrationTo: null, updatedAt: now }, { active: true });
  await ctx.records.customers.appendEvents([{ id: `${customer.key}:deactivated:${now}`, customerKey: customer.key, at: now, kind: 'deactivated', runId: null, actor: ctx.actor, detail: { reason: 'deactivated-by-admin', ...(request.note === undefined ? {} : { note: request.note }) } }]);
  return (await ctx.records.customers.byKeys([customer.key])).get(customer.key) as CustomerView;
}

/** `customers reactivate KEY`: never a migrated profile (a migration cannot be undone), never a directory's account. */
export async function reactivateCustomer(ctx: CustomerContext, request: { readonly who: string }): Promise<CustomerView> {
  const customer = await one(ctx, request.who);
  if (!allowed(decideReactivation(customer))) return customer;
  const now = nowIso(ctx);
  await ctx.records.customers.update(customer.key, { active: true, deactivatedReason: null, deactivatedAt: null, updatedAt: now }, { active: false, migrationTo: null, deactivatedReason: 'deactivated-by-admin' });
  await ctx.records.customers.appendEvents([{ id: `${customer.key}:reactivated:${now}`, customerKey: customer.key, at: now, kind: 'reactivated', runId: null, actor: ctx.actor, detail: null }]);
  return (await ctx.records.customers.byKeys([customer.key])).get(customer.key) as CustomerView;
}

function allowed(decision: StateChange): boolean {
  if (decision.kind === 'refused') {
    const code = decision.reason === 'owned-by-directory' ? 'ERR_OWNED_BY_DIRECTORY' : decision.reason === 'migrated' ? 'ERR_ALREADY_MIGRATED' : 'ERR_MIGRATION_REFUSED';
    throw new DirbridgeError(code, decision.message);
  }
  return decision.kind === 'change';
}

async function one(ctx: CustomerContext, who: string): Promise<CustomerView> {
  const found = await resolveCustomers(ctx.records, who);
  if (found.length === 0) throw notFound(who);
  if (found.length > 1) throw new DirbridgeError('ERR_USAGE', `${who} names ${found.length} customers (${found.map((c) => c.key).join(', ')}): name one by its key`);
  return found[0] as CustomerView;
}
