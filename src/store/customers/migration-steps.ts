import type { CustomerView } from '../../core/customer-model.js';
import { DirbridgeError } from '../../errors.js';
import type { NewLocalCustomer } from './customer-docs.js';
import type { CustomerStore } from './customer-store.js';
import type { RequestStore } from './request-store.js';

export interface MigrationPlan {
  readonly source: CustomerView;
  readonly targetKey: string;
  /** The local account to create (a migration with no directory account to go to). */
  readonly newAccount: NewLocalCustomer | null;
  readonly now: string;
  readonly actor: string;
}

export interface MigrationOutcome {
  readonly source: string;
  readonly target: string;
  readonly requestsMoved: number;
}

/**
 * Carries out a migration as idempotent steps, none needing a multi-document transaction. A crash
 * after any write leaves a state from which running the same migration again finishes it, and at every
 * moment each request is owned by one active customer (the source stays active until its requests have
 * moved):
 *   1. the source is marked as migrating to the target (this pins the target; a rerun finds it),
 *   2. the new local account is created (skipped when it exists),
 *   3. the requests move to the target,
 *   4. the source is deactivated (`migrated`, successor recorded),
 *   5. requests that reached the source meanwhile move too,
 *   6. both customers' request counts are set again,
 *   7. the history of both is written (fixed ids: written once),
 *   8. the source is marked done: from then on a migration of it is refused.
 */
export async function executeMigration(customers: CustomerStore, requests: RequestStore, plan: MigrationPlan): Promise<MigrationOutcome> {
  const { source, targetKey: target, now } = plan;
  if (source.migrationTo === null) {
    const claimed = await customers.update(source.key, { migrationTo: target, updatedAt: now }, { active: true, migrationTo: null, accountType: 'portal-only' });
    if (!claimed) throw new DirbridgeError('ERR_MIGRATION_REFUSED', `${source.key} changed while it was being migrated (another migration or a deactivation); look at it again: dirbridge customers show ${source.key}`);
  }
  if (plan.newAccount !== null) await customers.insertLocal([plan.newAccount], now);
  await requests.move(source.key, target, now);
  await customers.update(
    source.key,
    { active: false, deactivatedReason: 'migrated', deactivatedAt: now, successorKey: target, needsMigrationTo: null, invitationStatus: null, updatedAt: now },
    { migrationTo: target },
  );
  await requests.move(source.key, target, now);
  await requests.recount([source.key, target]);
  const moved = await requests.countMovedFrom(source.key);
  await customers.appendEvents([
    { id: `migration:${source.key}:out`, customerKey: source.key, at: now, kind: 'migrated-to', runId: null, actor: plan.actor, detail: { successor: target, requestsMoved: moved } },
    { id: `migration:${source.key}:in`, customerKey: target, at: now, kind: 'migrated-from', runId: null, actor: plan.actor, detail: { predecessor: source.key, requestsMoved: moved, created: plan.newAccount !== null } },
  ]);
  await customers.update(source.key, { migrationDone: true }, { migrationTo: target });
  return { source: source.key, target, requestsMoved: moved };
}
