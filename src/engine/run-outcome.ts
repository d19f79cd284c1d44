import type { SyncPlan } from '../core/model.js';
import { EXIT, type ExitCode } from '../errors.js';
import type { RunOutcome } from '../ports/store.js';

/**
 * How an applied run ends. A failed read makes it `partial`; otherwise deactivations the plan held
 * back (a suspect read: the count-drop gate, in full and incremental reads alike) make it `withheld`: applied,
 * but not finished until someone reviews them. Never `success` while either is true, so a scheduler
 * alerts on the exit code alone.
 */
export function appliedOutcome(plan: SyncPlan, partial: boolean): RunOutcome {
  if (partial) return 'partial';
  return plan.summary.withheld > 0 ? 'withheld' : 'success';
}

/** The journal's and stderr's account of withheld deactivations: how many, why, and how to apply them. */
export function withheldError(plan: SyncPlan): { code: 'ERR_DEACTIVATIONS_WITHHELD'; message: string } | null {
  const count = plan.summary.withheld;
  if (count === 0) return null;
  const why = plan.directories.filter((d) => d.status === 'suspect').map((d) => `${d.directoryId}: ${d.note ?? 'suspect read'}`);
  return {
    code: 'ERR_DEACTIVATIONS_WITHHELD',
    message: `${count} deactivations withheld${why.length === 0 ? '' : ` (${why.join('; ')})`}; everything else was applied. Review them, then run a full sync with --allow-deactivations ${count}`,
  };
}

/** The exit code of `sync`, `sync --dry-run` and `plan`: a dry run exits as the sync it previews would. */
export function exitCodeFor(result: { readonly outcome: RunOutcome; readonly plan: SyncPlan; readonly failures: readonly unknown[] }): ExitCode {
  if (result.outcome === 'rejected') return EXIT.planRejected;
  if (result.outcome === 'partial' || result.failures.length > 0) return EXIT.failure;
  if (result.outcome === 'lease-lost') return EXIT.leaseHeld;
  if (result.plan.summary.withheld > 0) return EXIT.withheld;
  return EXIT.ok;
}
