import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditCsv } from '../../cli/format.js';
import { auditSeats } from '../../engine/audit-seats.js';
import { directoryStatuses, explainLive, recentRuns, runChanges, runSeries } from '../../engine/console-views.js';
import type { CustomerContext } from '../../engine/customers/context.js';
import type { CustomerListQuery } from '../../engine/customers/list.js';
import { getHeldPlan, listHeldPlans } from '../../engine/held-plans.js';
import { DirbridgeError } from '../../errors.js';
import type { ConsoleKit } from './console-app.js';
import { planWording } from './views/runs.js';

/** The pages every signed-in user may read: dashboard, customers, runs, held plans, seat audit, directories. */
export function registerReadPages(app: FastifyInstance, kit: ConsoleKit): void {
  registerDashboard(app, kit);
  registerCustomerPages(app, kit);
  registerRunPages(app, kit);
  registerAuditPages(app, kit);
}

/** The per-run series: a licence violation is a licence violation; a plan a safety rule rejected is counted apart. */
const SERIES = ['Seat leaks', 'Licence violations', 'Rejected by a safety rule'];

const isAdmin = (kit: ConsoleKit, request: FastifyRequest): boolean => kit.user(request).role === 'admin';

function registerDashboard(app: FastifyInstance, kit: ConsoleKit): void {
  const { deps } = kit;
  const pre = { preHandler: kit.signedIn };
  app.get('/console', pre, async (_request, reply) => reply.redirect('/console/'));
  app.get('/console/', pre, async (request, reply) => {
    const [runs, series, held, audit, customers] = await Promise.all([recentRuns(deps, 10), runSeries(deps, 60), listHeldPlans(deps, 100), auditSeats(deps), withCustomers(kit, request, async (c) => (await import('../../engine/customers/list.js')).listCustomers(c, { pageSize: 1 }))]);
    const rows = series.map((p) => ({ label: p.at.slice(0, 16).replace('T', ' '), values: [p.customers] }));
    const outcomes = series.map((p) => ({ label: p.at.slice(0, 16).replace('T', ' '), values: [p.leaks, p.licenceViolations, p.safetyRejections] }));
    const charts =
      kit.fragment('@chart', { id: 'customers-over-time', kind: 'line', caption: 'Directory customers after each run', xLabel: 'Run started', series: ['Customers'], rows }) +
      kit.fragment('@chart', { id: 'leaks-per-run', kind: 'bar', caption: 'Seat leaks, licence violations and safety rejections per run', xLabel: 'Run started', series: SERIES, rows: outcomes });
    const waiting = held.filter((h) => h.status === 'held').map((h) => h.id);
    return kit.render(request, reply, '@dashboard', { title: 'Dashboard', section: 'dashboard', runs, heldIds: waiting, charts, held: waiting.length, auditStatus: audit.status, activeCustomers: customers.total });
  });
}

function registerCustomerPages(app: FastifyInstance, kit: ConsoleKit): void {
  const { deps } = kit;
  const pre = { preHandler: kit.signedIn };
  app.get('/console/customers', pre, async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    const query = listQuery(q);
    const page = await withCustomers(kit, request, async (c) => (await import('../../engine/customers/list.js')).listCustomers(c, query));
    const pages = Math.max(1, Math.ceil(page.total / page.pageSize));
    const link = (n: number): string => `/console/customers?${new URLSearchParams({ ...Object.fromEntries(Object.entries(q).filter(([k, v]) => v !== undefined && v !== '' && k !== 'page')), page: String(n) } as Record<string, string>).toString()}`;
    // A page past the last (a bookmark, a list that shrank, an edited address) goes to the last page, filters kept.
    if (page.page > pages) return reply.redirect(link(pages), 302);
    const origins = ['invited', 'signup', ...deps.loaded.config.directories.map((d) => d.id)];
    return kit.render(request, reply, '@customers', {
      title: 'Customers',
      section: 'customers',
      q: { search: q['search'] ?? '', type: q['type'] ?? '', origin: q['origin'] ?? '', group: q['group'] ?? '', state: query.state ?? 'active', sort: query.sort ?? 'username', needsMigration: query.needsMigration === true },
      page,
      pages,
      origins,
      prev: page.page > 1 ? link(page.page - 1) : null,
      next: page.page < pages ? link(page.page + 1) : null,
      admin: isAdmin(kit, request),
    });
  });

  app.get('/console/customers/:key', pre, async (request, reply) => {
    const { key } = request.params as { key: string };
    const details = await withCustomers(kit, request, async (c) => (await import('../../engine/customers/list.js')).showCustomers(c, key));
    const wantExplain = (request.query as Record<string, string | undefined>)['explain'] === '1';
    // Only a directory's account has a place in the directories to explain; invited and signed-up customers do not.
    const account = details.find((d) => deps.loaded.config.directories.some((dir) => dir.id === d.customer.directoryId))?.customer;
    const explain = wantExplain && account !== undefined ? await explainLive(deps, account.username) : null;
    return kit.render(request, reply, '@customer', { title: `Customer ${details[0]?.customer.username ?? key}`, section: 'customers', details, explain, explainable: account !== undefined, admin: isAdmin(kit, request), flash: flashOf(request) });
  });
}

/** The run journal, a run's changes, held plans. */
function registerRunPages(app: FastifyInstance, kit: ConsoleKit): void {
  const { deps } = kit;
  const pre = { preHandler: kit.signedIn };
  app.get('/console/runs', pre, async (request, reply) => {
    const [runs, held] = await Promise.all([recentRuns(deps, 100), listHeldPlans(deps, 200)]);
    const heldIds = held.filter((h) => h.status === 'held').map((h) => h.id);
    return kit.render(request, reply, '@runs', { title: 'Runs', section: 'runs', runs, heldIds, admin: isAdmin(kit, request), directories: deps.loaded.config.directories.map((d) => d.id), flash: flashOf(request) });
  });

  app.get('/console/runs/:id', pre, async (request, reply) => {
    const { id } = request.params as { id: string };
    const changes = await runChanges(deps, id);
    if (changes === null) throw new DirbridgeError('ERR_RUN_NOT_FOUND', `no run ${id} among the last 500`);
    const held = (await listHeldPlans(deps, 500)).find((h) => h.id === id) ?? null;
    return kit.render(request, reply, '@run', { title: `Run ${id}`, section: 'runs', run: changes.run, events: changes.events, totalEvents: changes.totalEvents, usernames: changes.usernames, held });
  });

  app.get('/console/plans', pre, async (request, reply) => {
    return kit.render(request, reply, '@plans', { title: 'Plans held for approval', section: 'plans', plans: await listHeldPlans(deps, 200), flash: flashOf(request) });
  });

  app.get('/console/plans/:id', pre, async (request, reply) => {
    const { id } = request.params as { id: string };
    const found = await getHeldPlan(deps, id);
    return kit.render(request, reply, '@plan', { title: `Held plan ${id}`, section: 'plans', held: found.held, wording: planWording(found.held), deactivations: found.deactivations, admin: isAdmin(kit, request), flash: flashOf(request) });
  });
}

/** The seat audit with its downloads, and the directories. */
function registerAuditPages(app: FastifyInstance, kit: ConsoleKit): void {
  const { deps } = kit;
  const pre = { preHandler: kit.signedIn };
  app.get('/console/audit', pre, async (request, reply) => {
    const [audit, series] = await Promise.all([auditSeats(deps), runSeries(deps, 100)]);
    const rows = series.map((p) => ({ label: p.at.slice(0, 16).replace('T', ' '), values: [p.customers, p.leaks, p.licenceViolations, p.safetyRejections] }));
    // Customers count in hundreds or thousands, findings in units: each gets its own axis.
    const columns = ['Customers', ...SERIES.map((name) => ({ name, axis: 'right' }))];
    const chart = kit.fragment('@chart', { id: 'audit-history', kind: 'line', caption: 'Customers (left axis), seat leaks, licence violations and safety rejections (right axis) per run', xLabel: 'Run started', series: columns, leftAxis: 'Customers', rightAxis: 'Findings per run', rows });
    return kit.render(request, reply, '@audit', { title: 'Seat audit', section: 'audit', audit, chart });
  });
  app.get('/console/audit.csv', pre, async (_request, reply) => {
    const csv = auditCsv(await auditSeats(deps));
    return reply.type('text/csv; charset=utf-8').header('Content-Disposition', `attachment; filename="seat-audit-${stamp()}.csv"`).send(kit.scrub(`${csv}\n`));
  });
  app.get('/console/audit.json', pre, async (_request, reply) => {
    const json = JSON.stringify(await auditSeats(deps), null, 2);
    return reply.type('application/json; charset=utf-8').header('Content-Disposition', `attachment; filename="seat-audit-${stamp()}.json"`).send(kit.scrub(`${json}\n`));
  });

  app.get('/console/directories', pre, async (request, reply) => {
    return kit.render(request, reply, '@directories', { title: 'Directories', section: 'directories', directories: await directoryStatuses(deps), admin: isAdmin(kit, request), test: null });
  });
}

const stamp = (): string => new Date().toISOString().slice(0, 19).replace(/[-:]/g, '');

const FLASHES: Record<string, { kind: 'ok' | 'error'; text: string }> = {
  'run-started': { kind: 'ok', text: 'A run was started; reload this page to see it in the journal.' },
  'run-refused': { kind: 'error', text: 'serve is stopping: no new runs.' },
  approved: { kind: 'ok', text: 'The plan was approved and applied.' },
  discarded: { kind: 'ok', text: 'The plan was discarded.' },
  stale: { kind: 'error', text: 'The store changed since the plan was made: it was not applied. The next sync makes a new plan.' },
  'resent-sent': { kind: 'ok', text: 'The invitation was e-mailed again.' },
  'resent-unsent': { kind: 'error', text: 'The invitation could not be e-mailed again; the mail server\'s answer is under Invitation below. Try again later.' },
  'resent-link': { kind: 'ok', text: 'The invitation was issued again: no mailer is set up (invitations.smtp), so send the customer the link below.' },
};

function flashOf(request: FastifyRequest): { kind: 'ok' | 'error'; text: string } | null {
  const key = (request.query as Record<string, string | undefined>)['done'];
  return key === undefined ? null : (FLASHES[key] ?? null);
}

/** The customer context of one console request: history lines name the console user. */
export async function withCustomers<T>(kit: ConsoleKit, request: FastifyRequest, fn: (ctx: CustomerContext) => Promise<T>): Promise<T> {
  const { customerContextFor } = await import('../../engine/customers/context.js');
  const ctx = customerContextFor(kit.deps, `console:${kit.user(request).username}`);
  try {
    return await fn(ctx);
  } finally {
    ctx.close();
  }
}

/** The list's query string, checked as the CLI checks its options. */
function listQuery(q: Record<string, string | undefined>): CustomerListQuery {
  const choice = <T extends string>(name: string, choices: readonly T[]): T | undefined => {
    const value = q[name];
    if (value === undefined || value === '') return undefined;
    if (!(choices as readonly string[]).includes(value)) throw new DirbridgeError('ERR_USAGE', `${name} is one of ${choices.join(', ')}`);
    return value as T;
  };
  const page = Number(q['page'] ?? 1);
  if (!Number.isInteger(page) || page < 1) throw new DirbridgeError('ERR_USAGE', 'page takes a whole number ≥ 1');
  const type = choice('type', ['portal-only', 'account'] as const);
  const text = (name: string): string | undefined => (q[name] === undefined || q[name] === '' ? undefined : q[name]);
  const search = text('search');
  const origin = text('origin');
  const group = text('group');
  return {
    page,
    pageSize: 20,
    state: choice('state', ['active', 'inactive', 'all'] as const) ?? 'active',
    sort: choice('sort', ['username', 'open-requests'] as const) ?? 'username',
    ...(type === undefined ? {} : { type }),
    ...(search === undefined ? {} : { search }),
    ...(origin === undefined ? {} : { origin }),
    ...(group === undefined ? {} : { group }),
    ...(q['needsMigration'] === 'true' ? { needsMigration: true } : {}),
  };
}
