import type { CustomerEvent, CustomerView } from '../core/customer-model.js';
import type { IntakeResult } from '../engine/customers/intake.js';
import type { InviteOutcome } from '../engine/customers/invite.js';
import type { CustomerDetail, CustomerListPage } from '../engine/customers/list.js';
import type { ImportRequestsResult } from '../engine/customers/requests-import.js';
import type { SignupResult } from '../engine/customers/signup.js';
import type { MigrationOutcome } from '../store/customers/migration-steps.js';

const cut = (text: string, width: number): string => (text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));

export function formatCustomerPage(page: CustomerListPage, sort: string): string {
  const pages = Math.max(1, Math.ceil(page.total / page.pageSize));
  const lines = [`${page.total} customer(s); page ${page.page} of ${pages}; sorted by ${sort === 'open-requests' ? 'open requests' : 'username'}`];
  if (page.items.length === 0) return lines.join('\n');
  lines.push(`  ${'USERNAME'.padEnd(24)} ${'NAME'.padEnd(18)} ${'E-MAIL'.padEnd(26)} ${'TYPE'.padEnd(11)} ${'ORIGIN'.padEnd(9)} ${'OPEN'.padStart(4)} ${'CLOSED'.padStart(6)}  STATE / KEY`);
  for (const c of page.items) {
    lines.push(
      `  ${cut(c.username, 24)} ${cut(c.displayName ?? '', 18)} ${cut(c.email ?? '', 26)} ${c.accountType.padEnd(11)} ${cut(c.origin, 9)} ${String(c.openRequests).padStart(4)} ${String(c.closedRequests).padStart(6)}  ${state(c)}  ${c.key}`,
    );
  }
  return lines.join('\n');
}

function state(c: CustomerView): string {
  if (!c.active) return c.deactivatedReason === 'migrated' ? `inactive (migrated → ${c.successorKey ?? '?'})` : `inactive (${c.deactivatedReason ?? 'unknown'})`;
  if (c.needsMigrationTo !== null) return `active, NEEDS MIGRATION → ${c.needsMigrationTo}`;
  if (c.invitation?.status === 'unsent') return 'active, invitation unsent';
  return 'active';
}

export function formatCustomerDetails(details: readonly CustomerDetail[]): string {
  return details.map(formatDetail).join('\n\n');
}

function formatDetail({ customer: c, history, related }: CustomerDetail): string {
  const name = (key: string | null): string => {
    if (key === null) return '';
    const r = related.find((x) => x.key === key);
    return r === undefined ? key : `${key} (${r.username}${r.active ? '' : ', inactive'})`;
  };
  const rows: [string, string][] = [
    ['key', c.key],
    ['type', c.accountType],
    ['origin', c.origin],
    ['state', c.active ? 'active' : `inactive since ${c.deactivatedAt ?? '?'}: ${c.deactivatedReason ?? 'unknown'}`],
    ['e-mail', c.email ?? ''],
    ['name', c.displayName ?? ''],
    ['directory', c.origin === c.directoryId ? `${c.directoryId}, external id ${c.externalId}` : 'none (owned by no directory: a sync never deactivates it)'],
    ['groups', c.groups.join(', ') || '(none)'],
    ['requests', `${c.openRequests} open, ${c.closedRequests} closed`],
    ['created', `${c.createdAt}${c.lastRunId === null ? '' : `, last written by run ${c.lastRunId}`}`],
  ];
  if (c.invitation !== null) {
    const i = c.invitation;
    const how = i.status === 'sent' ? `sent ${i.sentAt ?? ''} (message ${i.messageId ?? '?'})` : i.status === 'unsent' ? `NOT SENT (${i.lastError ?? 'not tried yet'}): retry with dirbridge customers invite --resend ${c.key}` : 'link printed for another mailer';
    rows.push(['invitation', `${how}; ${i.attempts} attempt(s); link ${i.link}`]);
  }
  if (c.needsMigrationTo !== null) rows.push(['NEEDS MIGRATION', `an account has this address: ${name(c.needsMigrationTo)}; migrate with: dirbridge customers migrate ${c.key}`]);
  if (c.successorKey !== null) rows.push(['migrated to', `${name(c.successorKey)} (cannot be undone)`]);
  else if (c.migrationTo !== null) rows.push(['migration', `started to ${name(c.migrationTo)} and not finished: run dirbridge customers migrate ${c.key} again`]);
  const lines = [`${c.username}`, ...rows.map(([k, v]) => `  ${k.padEnd(15)} ${v}`), '  history'];
  if (history.length === 0) lines.push(`    ${c.createdAt}  created (before history was kept)`);
  for (const e of history) lines.push(`    ${e.at}  ${describeEvent(e)}`);
  return lines.join('\n');
}

export function describeEvent(e: CustomerEvent): string {
  const d = (e.detail ?? {}) as Record<string, unknown>;
  const by = e.runId === null ? `by ${e.actor}` : `by run ${e.runId}`;
  switch (e.kind) {
    case 'created':
      return `created ${by}${Array.isArray(d['groups']) && d['groups'].length > 0 ? ` via ${(d['groups'] as string[]).join(', ')}` : ''}`;
    case 'renamed':
      return `renamed ${String(d['from'])} → ${String(d['to'])} ${by}`;
    case 'updated':
      return `updated ${by}`;
    case 'deactivated':
      return `deactivated ${by}: ${String(d['reason'])}${d['note'] === undefined ? '' : ` (${String(d['note'])})`}`;
    case 'reactivated':
      return `reactivated ${by}`;
    case 'invited':
      return `invited ${by}`;
    case 'invitation-sent':
      return `invitation e-mailed to ${String(d['to'])} (message ${String(d['messageId'])})`;
    case 'invitation-failed':
      return `invitation NOT sent: ${String(d['error'])}`;
    case 'invitation-link':
      return `invitation link printed for another mailer`;
    case 'signed-up':
      return `signed up through ${String(d['channel'])}${d['directory'] === undefined ? '' : ` into ${String(d['directory'])} as ${String(d['username'])}`}`;
    case 'flagged-for-migration':
      return `flagged: the account ${String(d['account'])} has this address (needs migration) ${by}`;
    case 'migrated-to':
      return `migrated to ${String(d['successor'])}: ${String(d['requestsMoved'])} request(s) moved ${by}`;
    case 'migrated-from':
      return `took over ${String(d['predecessor'])} and its ${String(d['requestsMoved'])} request(s)${d['created'] === true ? ' (a new account)' : ''} ${by}`;
    case 'seat-leak':
      return `SEAT LEAK reported: the address is ${String(d['username'])} in ${String(d['directoryId'])}, licensed via ${(d['licensedGroups'] as string[] | undefined)?.join(', ') ?? '?'} (policy strip: the customer carries no group)`;
  }
}

export function formatInvites(results: readonly InviteOutcome[]): string {
  const lines = results.map((r) => {
    switch (r.outcome) {
      case 'invited': {
        const how = r.delivery === 'sent' ? 'invitation e-mailed' : r.delivery === 'unsent' ? `invited, but the e-mail was NOT sent (${r.error ?? ''}); retry with: dirbridge customers invite --resend ${r.key}` : `invited; send this link: ${r.link}`;
        const leak = r.seatLeak === null ? '' : `\n      seat leak reported: ${r.address} is ${r.seatLeak.username} in ${r.seatLeak.directoryId}, licensed via ${r.seatLeak.licensedGroups.join(', ')}; the customer carries no group`;
        return `  + ${r.address}  ${r.key}: ${how}${leak}`;
      }
      case 'exists':
        return `  = ${r.address}  ${r.key}: already a customer (${r.message})`;
      case 'refused':
        return `  ! ${r.address}  refused (${r.code}): ${r.message}`;
    }
  });
  const count = (o: InviteOutcome['outcome']): number => results.filter((r) => r.outcome === o).length;
  return [`invitations: ${count('invited')} invited, ${count('exists')} already customers, ${count('refused')} refused`, ...lines].join('\n');
}

export function formatSignup(result: SignupResult): string {
  if (result.outcome === 'exists') return `${result.address}: already a customer, ${result.key} (${result.message})`;
  const where = result.directory === null ? 'a portal-only customer (origin signup)' : `user ${result.directory.username} ${result.directory.userCreated ? 'created' : 'found'} in Crowd directory ${result.directory.id} and added to its customer group`;
  const pending = result.directory?.pendingSync === true ? `; a sync of ${result.directory.id} is running, so the customer appears with it or the next one` : '';
  const leak = result.seatLeak === null ? '' : `\nseat leak reported: the address is ${result.seatLeak.username} in ${result.seatLeak.directoryId}, licensed via ${result.seatLeak.licensedGroups.join(', ')}`;
  return `${result.address}: signed up: ${where}, key ${result.key}${pending}${leak}`;
}

export function formatIntake(result: IntakeResult): string {
  const m = result.message;
  return [
    `${result.outcome === 'created' ? 'accepted from a new customer' : 'accepted'}: ${result.customerKey}`,
    `  from       ${m.fromName === null ? '' : `${m.fromName} `}<${m.from ?? ''}>`,
    ...(m.sender === null ? [] : [`  sender     ${m.sender} (posted on behalf of the author; not the requester)`]),
    ...(m.replyTo.length === 0 ? [] : [`  reply-to   ${m.replyTo.join(', ')}`]),
    ...(m.listId === null ? [] : [`  list       ${m.listId}`]),
    `  subject    ${m.subject ?? ''}`,
    `  request    ${result.request.id} (${result.request.created ? 'new, open' : 'already recorded'})`,
  ].join('\n');
}

export function formatMigration(result: MigrationOutcome): string {
  return `migrated ${result.source} → ${result.target}: ${result.requestsMoved} request(s) now belong to ${result.target}; ${result.source} is inactive (migrated) for good`;
}

export function formatImport(result: ImportRequestsResult): string {
  return `${result.source}: ${result.rows} request(s): ${result.created} new, ${result.updated} updated, ${result.unchanged} unchanged; counts refreshed for ${result.reporters.length} customer(s)`;
}
