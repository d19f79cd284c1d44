import type { PlanAction, PlanWarning, SyncPlan, UnresolvedMembers } from '../core/model.js';
import type { Explanation } from '../core/explain.js';
import type { SeatAudit } from '../engine/audit-seats.js';
import type { LiveCheck } from '../engine/check-config-live.js';
import type { SyncResult } from '../engine/run-sync.js';
import type { RunLicensing, RunRecord, StoredCustomer } from '../ports/store.js';
import type { JiraAuditView } from '../engine/audit-jira.js';

const SHOWN_ACTIONS = 25;

export function formatSyncResult(result: SyncResult, storeLabel: string): string {
  const { plan } = result;
  const lines = [`dirbridge ${result.outcome === 'dry-run' ? 'plan (dry run, nothing written)' : 'sync'}: ${result.runId} → ${storeLabel}`, '', 'Directories'];
  for (const d of plan.directories) {
    const counts = d.users === null ? '' : `${d.users} users, ${d.groups ?? 0} groups`;
    lines.push(`  ${d.directoryId.padEnd(16)} ${d.status.padEnd(9)} ${counts}${d.note === null ? '' : `  (${d.note})`}`);
  }
  for (const r of result.reads) if (r.mode === 'incremental' || r.note !== null) lines.push(`  ${r.directoryId}: ${r.mode === 'incremental' ? `incremental read, ${r.note ?? ''}` : (r.note ?? '')}`);
  for (const f of result.failures) lines.push(`  ${f.directoryId}: ${f.code}: ${f.message}`);
  lines.push(...formatLicensing(result.licensing));
  lines.push('', 'Changes', `  ${formatSummary(plan)}`);
  lines.push(...formatActions(plan.actions));
  lines.push(...formatRefused(plan));
  lines.push(...formatWarnings(plan.warnings ?? []));
  lines.push('', ...formatSeatSection(plan));
  if (plan.violations.length > 0) {
    lines.push('', 'Plan REJECTED by safety rules (nothing was applied):');
    for (const v of plan.violations) lines.push(`  - ${v.kind}: ${v.message}`);
  }
  const applied = result.outcome === 'success' || result.outcome === 'partial' || result.outcome === 'withheld';
  lines.push('', `Outcome: ${result.outcome}${applied ? ` (${result.written} customers written; store re-checked: no customer carries a licensed group)` : ''}`);
  if (plan.summary.withheld > 0) lines.push(`  ${plan.summary.withheld} deactivations withheld: nobody was deactivated for them (see Directories)`);
  return lines.join('\n');
}

/** Where the licensed set came from, when not simply the config's list; a stale set says so loudly. */
function formatLicensing(licensing: RunLicensing | undefined): string[] {
  if (licensing === undefined || licensing.source === 'config') return [];
  const when = licensing.readAt === null ? 'never read' : `read ${licensing.readAt}`;
  const state = licensing.status === 'read' ? `read now from ${licensing.label ?? 'Jira'}` : licensing.status === 'stale' ? `STALE (Jira could not be read; access groups ${when})` : `Jira has no application roles (${when})`;
  return ['', `Licensed groups: ${licensing.licensedGroups.length}, ${state}`, ...licensing.warnings.map((w) => `  ! ${w}`)];
}

export function formatSummary(plan: SyncPlan): string {
  const s = plan.summary;
  return `created ${s.create}, updated ${s.update}, reactivated ${s.reactivate}, deactivated ${s.deactivate}, unchanged ${s.unchanged}, withheld ${s.withheld}${s.refused > 0 ? `, refused ${s.refused}` : ''}`;
}

function formatRefused(plan: SyncPlan): string[] {
  if (plan.refused.length === 0) return [];
  const lines = ['', `Refused: ${plan.refused.length} user(s) with a value over its field limit (not written; a stored customer is left as it is)`];
  for (const r of plan.refused.slice(0, SHOWN_ACTIONS)) lines.push(`  ! ${r.username} (${r.directoryId}): ${r.reason}`);
  if (plan.refused.length > SHOWN_ACTIONS) lines.push(`  … and ${plan.refused.length - SHOWN_ACTIONS} more (use --json for all)`);
  return lines;
}

function formatActions(actions: readonly PlanAction[]): string[] {
  const lines = actions.slice(0, SHOWN_ACTIONS).map((a) => {
    switch (a.kind) {
      case 'create':
        return `  + create     ${a.customer.username} (${a.customer.directoryId}) via ${a.customer.groups.join(', ') || 'all users'}`;
      case 'update':
        return `  ~ update     ${a.customer.username} (${a.customer.directoryId})${a.previousUsername === a.customer.username ? '' : ` renamed from ${a.previousUsername}`}`;
      case 'reactivate':
        return `  ^ reactivate ${a.customer.username} (${a.customer.directoryId})`;
      case 'deactivate':
        return `  - deactivate ${a.username} (${a.directoryId}): ${a.reason}`;
    }
  });
  if (actions.length > SHOWN_ACTIONS) lines.push(`  … and ${actions.length - SHOWN_ACTIONS} more (use --json for all)`);
  return lines;
}

function formatSeatSection(plan: SyncPlan): string[] {
  const lines = ['Seat audit'];
  lines.push(`  seat leaks found: ${plan.seatLeaks.length}${plan.seatLeaks.length > 0 ? ' (users in a customer group and a licensed group)' : ''}`);
  for (const leak of plan.seatLeaks.slice(0, SHOWN_ACTIONS)) {
    lines.push(`    ! ${leak.username} (${leak.directoryId}): customer via ${leak.customerGroups.join(', ') || 'all users'}; licensed via ${leak.licensedGroups.join(', ')} → ${leak.outcome}`);
  }
  lines.push(`  shadowed duplicates: ${plan.shadowed.length}`);
  for (const s of plan.shadowed.slice(0, SHOWN_ACTIONS)) {
    const same = s.directoryId === s.shadowedBy ? ' (one username in two entries of one directory: the smaller id wins; the groups of both count)' : '';
    lines.push(`    ${s.username} in ${s.directoryId}${at(s.location)} is shadowed by ${s.shadowedBy}${at(s.shadowedByLocation)}${same}`);
  }
  return lines;
}

/** ` (DN)`, or nothing for records made before entries were named. */
function at(location: string | null | undefined): string {
  return location === null || location === undefined ? '' : ` (${location})`;
}

/** Warnings that make the plan smaller than the admin may expect: missing customer groups, unresolved members. */
export function formatWarnings(warnings: readonly PlanWarning[], indent = '  '): string[] {
  if (warnings.length === 0) return [];
  const lines = ['', `Warnings (${warnings.length})`];
  for (const w of warnings.slice(0, SHOWN_ACTIONS)) lines.push(`${indent}! ${w.message}`);
  if (warnings.length > SHOWN_ACTIONS) lines.push(`${indent}… and ${warnings.length - SHOWN_ACTIONS} more (use --json for all)`);
  return lines;
}

/** `directories test`: groups whose member references match nothing the read returned. */
export function formatUnresolved(unresolved: readonly UnresolvedMembers[]): string[] {
  if (unresolved.length === 0) return ['member references: all resolved'];
  const lines = [`member references that match no user or group read (${unresolved.length} group(s)):`];
  for (const u of unresolved.slice(0, SHOWN_ACTIONS)) lines.push(`  ${u.group}: ${u.count} member reference${u.count === 1 ? '' : 's'} match${u.count === 1 ? 'es' : ''} no user or group read (e.g. ${u.examples.join(', ')}) [${u.groupId}]`);
  if (unresolved.length > SHOWN_ACTIONS) lines.push(`  … and ${unresolved.length - SHOWN_ACTIONS} more groups (use --json for all)`);
  return lines;
}

export function formatAudit(audit: SeatAudit): string {
  const mark = (s: string): string => (s === 'pass' ? 'PASS' : s === 'leak' ? 'LEAK' : 'FAIL');
  const lines = [`Seat audit (${audit.generatedAt}): ${mark(audit.status)}${audit.stale ? ' (STALE: Jira could not be read now)' : ''}`, ''];
  const problems = audit.config.problems ?? [];
  lines.push(`1. config       ${mark(audit.config.status)}  customer groups [${audit.config.customerGroups.join(', ')}] ${problems.length > 0 ? 'include licensed groups' : 'share nothing with licensed groups'} [${audit.config.licensedGroups.join(', ')}]`);
  for (const p of problems) lines.push(`     ${p}`);
  for (const w of audit.licensing?.warnings ?? []) lines.push(`     ! ${w}`);
  const source = audit.plan.source === 'live' ? 'read live from the directories' : audit.plan.source === 'last-run' ? `from run ${audit.plan.runId ?? ''}` : 'no sync has run yet';
  lines.push(`2. directories  ${mark(audit.plan.status)}  ${audit.plan.seatLeaks.length} user(s) in a customer group and a licensed group (${source})`);
  for (const leak of audit.plan.seatLeaks) {
    lines.push(`     ${leak.username} (${leak.directoryId}): customer via ${leak.customerGroups.join(', ') || 'all users'}; licensed via ${leak.licensedGroups.join(', ')} → ${leak.outcome}`);
  }
  for (const id of audit.plan.unreadDirectories) lines.push(`     directory ${id} could not be read: this view is incomplete`);
  for (const w of audit.plan.warnings) lines.push(`     ! ${w.message}`);
  lines.push(`3. store        ${mark(audit.store.status)}  ${audit.store.licensedCustomers.length} of ${audit.store.activeCustomers} active customers carry a licensed group`);
  for (const c of audit.store.licensedCustomers) lines.push(`     ${c.username} (${c.directoryId}): ${c.groups.join(', ')}`);
  lines.push(`4. after apply  ${mark(audit.afterApply.status)}  last applying run ${audit.afterApply.runId ?? '(none)'}: verification ${audit.afterApply.verification}`);
  const active = audit.origins.counts.filter((c) => c.active);
  const byOrigin = active.map((c) => `${c.count} ${c.accountType} ${c.origin}`).join(', ') || 'none';
  lines.push(`   all origins  ${mark(audit.origins.status)}  active customers: ${byOrigin}; ${audit.origins.leaks.length} invited or signed-up customer(s) have a licensed user's address`);
  for (const l of audit.origins.leaks) lines.push(`     ${l.key} <${l.email}> (${l.origin}) is ${l.licensedUser.username} in ${l.licensedUser.directoryId}, licensed via ${l.licensedUser.licensedGroups.join(', ')}`);
  if (audit.jira !== null && audit.jira !== undefined) lines.push(...formatJiraView(audit.jira, mark));
  return lines.join('\n');
}

/** View 5: seats per application as Jira reports them, and the customers Jira counts as users. */
function formatJiraView(jira: JiraAuditView, mark: (s: string) => string): string[] {
  const counted = jira.applications.reduce((n, a) => n + (a.customers?.length ?? 0), 0);
  const head = jira.state === 'read' ? `${counted} active customer(s) counted as application users by ${jira.label ?? 'Jira'}` : jira.state === 'stale' ? 'STALE, unproven' : 'no application roles in this Jira';
  const lines = [`5. jira         ${mark(jira.status)}  ${head}${jira.readAt === null ? '' : ` (figures read ${jira.readAt})`}`];
  if (jira.note !== null) lines.push(`     ! ${jira.note}`);
  for (const app of jira.applications) {
    const s = app.seats;
    const seats = s.hasUnlimitedSeats ? 'unlimited seats' : `seats ${s.numberOfSeats ?? '?'}`;
    lines.push(`     ${app.name} (${app.key}): ${seats}, used ${s.userCount ?? '?'}, remaining ${s.hasUnlimitedSeats ? '-' : (s.remainingSeats ?? '?')}; access groups [${app.groups.join(', ')}]`);
    for (const c of app.customers ?? []) lines.push(`       ${c.username} (${c.directoryId}) via ${c.via.join(', ')}`);
  }
  return lines;
}

/**
 * `audit seats --csv` (and the console's download, the same bytes): one row per finding. The first eight
 * columns describe a directory user or a directory customer; an `origins` row (an invited or signed-up
 * customer whose address a licensed directory user has) names the licensed user in them and the customer
 * in the last three, `customerKey`, `email` and `origin`, which other rows leave empty.
 */
export function auditCsv(audit: SeatAudit): string {
  const rows = [['view', 'status', 'directory', 'username', 'externalId', 'customerGroups', 'licensedGroups', 'outcome', 'customerKey', 'email', 'origin']];
  const none = ['', '', ''];
  for (const l of audit.plan.seatLeaks) rows.push(['directories', audit.plan.status, l.directoryId, l.username, l.externalId, l.customerGroups.join(';'), l.licensedGroups.join(';'), l.outcome, ...none]);
  for (const c of audit.store.licensedCustomers) rows.push(['store', audit.store.status, c.directoryId, c.username, c.externalId, c.groups.join(';'), '', 'stored', ...none]);
  for (const l of audit.origins.leaks) rows.push(['origins', audit.origins.status, l.licensedUser.directoryId, l.licensedUser.username, '', '', l.licensedUser.licensedGroups.join(';'), 'portal-only', l.key, l.email, l.origin]);
  for (const app of audit.jira?.applications ?? []) {
    for (const c of app.customers ?? []) rows.push(['jira', audit.jira?.status ?? '', c.directoryId, c.username, c.externalId, app.key, c.via.join(';'), 'counted', ...none]);
    const s = app.seats;
    rows.push(['jira-seats', audit.jira?.status ?? '', '', '', '', app.key, app.groups.join(';'), s.hasUnlimitedSeats ? 'seats=unlimited' : `seats=${s.numberOfSeats ?? ''};used=${s.userCount ?? ''};remaining=${s.remainingSeats ?? ''}`, ...none]);
  }
  rows.push(['summary', audit.status, '', '', '', '', '', audit.stale === true ? 'stale' : '', ...none]);
  return rows.map((r) => r.map(csvCell).join(',')).join('\n');
}

function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value; // no formula injection in spreadsheets
  return /[",\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function customerLine(c: StoredCustomer): string {
  const state = c.active ? 'active' : `inactive (${c.deactivatedReason ?? 'unknown'})`;
  return `${c.username.padEnd(20)} ${(c.displayName ?? '').padEnd(24)} ${(c.email ?? '').padEnd(30)} ${c.directoryId.padEnd(12)} ${state}`;
}

export function formatExplanation(explanation: Explanation, stored: readonly StoredCustomer[]): string {
  const lines = [`${explanation.username}: ${explanation.verdict.toUpperCase()}: ${explanation.reason}`];
  for (const copy of explanation.copies) {
    lines.push('', `  in ${copy.directoryId}: ${copy.username} [${copy.externalId}]${copy.disabled ? ' (disabled)' : ''}${copy.shadowedBy === null ? '' : ` shadowed by ${copy.shadowedBy}`}`);
    if (copy.location !== null) lines.push(`    at ${copy.location}`);
    if (copy.allUsers) lines.push('    directory admits all its users');
    for (const p of copy.customerPaths) lines.push(`    customer group ${p.label}: ${p.path.join(' → ')}`);
    for (const p of copy.licensedPaths) lines.push(`    LICENSED group ${p.label}: ${p.path.join(' → ')}`);
  }
  lines.push(...formatWarnings(explanation.warnings));
  lines.push('', stored.length === 0 ? '  store: no customer record' : '  store:');
  for (const c of stored) lines.push(`    ${customerLine(c)} groups [${c.groups.join(', ')}] updated ${c.updatedAt}`);
  return lines.join('\n');
}

export function formatRuns(runs: readonly RunRecord[]): string {
  if (runs.length === 0) return 'no runs recorded yet';
  return runs
    .map((r) => {
      const s = r.summary;
      const changes = s === null ? '' : ` +${s.create} ~${s.update} ^${s.reactivate} -${s.deactivate}`;
      const stale = r.licensing?.status === 'stale' ? `  licensed set STALE (Jira not read; groups read ${r.licensing.readAt ?? 'never'})` : '';
      return `${r.startedAt}  ${r.runId}  ${r.outcome.padEnd(8)}${changes}  by ${r.actor.host}:${r.actor.pid} (${r.actor.trigger})${stale}${r.error === null ? '' : `  ${r.error.code}: ${r.error.message}`}`;
    })
    .join('\n');
}

/** `config validate --live`: what each directory held, then what does not fit. */
export function formatLiveCheck(live: LiveCheck): string[] {
  const lines = ['', 'Checked against the directories:'];
  for (const d of live.directories) {
    lines.push(`  ${d.directoryId} [${d.type}]: ${d.error === null ? `${d.users ?? 0} users, ${d.groups ?? 0} groups` : `could not be read: ${d.error.code}`}`);
  }
  const jira = live.licensing;
  if (jira !== undefined) {
    lines.push(`  ${jira.label}: ${jira.error !== null ? `could not be read: ${jira.error.code}` : jira.applications === null ? 'no application roles' : `${jira.applications} applications, access groups [${jira.groups.join(', ')}]`}`);
    for (const w of jira.warnings) lines.push(`  ! ${w}`);
  }
  for (const p of live.problems) lines.push(`  ✗ ${p}`);
  lines.push(...formatWarnings(live.warnings));
  if (live.problems.length === 0 && live.directories.every((d) => d.error === null) && (jira?.error ?? null) === null) lines.push('', `The config matches its directories${jira === undefined ? '' : ' and Jira'}.`);
  return lines;
}
