import type { CurrentCustomer, PlanWarning, SyncPlan } from '../core/model.js';

const EXAMPLES = 5;

/**
 * Stored customers changed around dirbridge (see src/store/customer-integrity.ts), one warning per
 * directory and kind: the plan rewrites those still in their directory, and the run says so.
 */
export function damageWarnings(current: readonly CurrentCustomer[]): PlanWarning[] {
  const groups = new Map<string, CurrentCustomer[]>();
  for (const c of current) {
    if (c.damage === undefined) continue;
    const key = `${c.directoryId}\u0000${c.damage.kind}`;
    const list = groups.get(key) ?? [];
    list.push(c);
    groups.set(key, list);
  }
  const warnings: PlanWarning[] = [];
  for (const key of [...groups.keys()].sort()) {
    const list = groups.get(key) ?? [];
    const first = list[0] as CurrentCustomer & { damage: NonNullable<CurrentCustomer['damage']> };
    const licensed = first.damage.kind === 'licensed-group';
    const examples = list.slice(0, EXAMPLES).map((c) => (licensed ? `${c.username} (${c.damage?.licensedGroup ?? ''})` : c.username));
    const one = list.length === 1;
    const what = licensed ? `${one ? 'carries' : 'carry'} a licensed group` : `no longer ${one ? 'matches' : 'match'} what dirbridge wrote (${one ? 'its' : 'their'} content hash)`;
    warnings.push({
      kind: 'damaged-customers',
      directoryId: first.directoryId,
      group: first.damage.licensedGroup ?? '',
      count: list.length,
      examples,
      message:
        `${list.length} stored customer${list.length === 1 ? '' : 's'} of ${first.directoryId} ${what}: ${licensed ? 'the group became licensed since (config or Jira), or ' : ''}changed around dirbridge ` +
        `(${examples.join(', ')}${list.length > EXAMPLES ? ', …' : ''}); those still in the directory are rewritten from it by this sync`,
    });
  }
  return warnings;
}

export function withWarnings(plan: SyncPlan, extra: readonly PlanWarning[]): SyncPlan {
  return extra.length === 0 ? plan : { ...plan, warnings: [...(plan.warnings ?? []), ...extra] };
}
