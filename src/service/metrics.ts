import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SyncResult } from '../engine/run-sync.js';
import type { SyncStore } from '../ports/store.js';

/** The service's Prometheus metrics, in a registry of its own. */
export function createMetrics(store: SyncStore) {
  const registry = new Registry();
  const runs = new Counter({
    name: 'dirbridge_sync_runs_total',
    help: 'Sync runs by outcome (success, partial, withheld, rejected, failed, skipped, lease-lost).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'dirbridge_sync_duration_seconds',
    help: 'Duration of sync runs.',
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
    registers: [registry],
  });
  const withheld = new Gauge({
    name: 'dirbridge_deactivations_withheld',
    help: 'Deactivations held back by the last planned run (a failed, suspect or incremental read): pending review while above 0.',
    registers: [registry],
  });
  const seatLeaks = new Gauge({ name: 'dirbridge_seat_leaks', help: 'Users in a customer group and a licensed group, as of the last planned run.', registers: [registry] });
  const refused = new Counter({
    name: 'dirbridge_deactivations_refused_total',
    help: 'Deactivations the safety rules did not apply: withheld after a failed or suspect read, or in a rejected plan.',
    labelNames: ['rule'],
    registers: [registry],
  });
  const lastSuccess = new Gauge({ name: 'dirbridge_last_success_timestamp_seconds', help: 'When each directory was last read and applied successfully.', labelNames: ['directory'], registers: [registry] });
  const readErrors = new Counter({ name: 'dirbridge_directory_read_errors_total', help: 'Failed directory reads by error code.', labelNames: ['directory', 'code'], registers: [registry] });
  const ticksSkipped = new Counter({ name: 'dirbridge_schedule_ticks_skipped_total', help: 'Schedule ticks this replica did not run: claimed-elsewhere (another replica runs it), previous-run-still-going, store-unavailable.', labelNames: ['reason'], registers: [registry] });
  new Gauge({
    name: 'dirbridge_customers',
    help: 'Customers in the store by state.',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      // While the store is down the last counts stay: /metrics must answer then above all.
      const counts = await Promise.all([store.listCustomers({ state: 'active', pageSize: 1 }), store.listCustomers({ state: 'inactive', pageSize: 1 })]).catch(() => null);
      if (counts === null) return;
      this.set({ state: 'active' }, counts[0].total);
      this.set({ state: 'inactive' }, counts[1].total);
    },
  });
  for (const outcome of ['success', 'partial', 'withheld', 'rejected', 'failed', 'skipped', 'lease-lost']) runs.inc({ outcome }, 0);

  return {
    registry,
    ticksSkipped,
    recordResult(result: SyncResult, seconds: number, now: Date): void {
      runs.inc({ outcome: result.outcome });
      duration.observe(seconds);
      seatLeaks.set(result.plan.seatLeaks.length);
      withheld.set(result.plan.summary.withheld);
      if (result.plan.summary.withheld > 0) refused.inc({ rule: 'incomplete-or-suspect-read' }, result.plan.summary.withheld);
      if (result.outcome === 'rejected') refused.inc({ rule: 'plan-rejected' }, result.plan.summary.deactivate);
      for (const f of result.failures) readErrors.inc({ directory: f.directoryId, code: f.code });
      if (result.outcome === 'success' || result.outcome === 'partial' || result.outcome === 'withheld') {
        for (const d of result.plan.directories) if (d.status === 'complete') lastSuccess.set({ directory: d.directoryId }, now.getTime() / 1000);
      }
    },
    recordOutcome(outcome: 'failed' | 'skipped' | 'lease-lost', seconds: number): void {
      runs.inc({ outcome });
      duration.observe(seconds);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
