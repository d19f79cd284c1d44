import type { FastifyInstance, FastifyRequest } from 'fastify';
import { directoryStatuses } from '../../engine/console-views.js';
import { testDirectory } from '../../engine/directory-test.js';
import { approveHeldPlan, discardHeldPlan } from '../../engine/held-plans.js';
import { DirbridgeError, isDirbridgeError } from '../../errors.js';
import type { ConsoleKit } from './console-app.js';
import { withCustomers } from './read-pages.js';
import { plural } from './views/layout.js';

type Body = Record<string, unknown>;
const field = (request: FastifyRequest, name: string): string => {
  const value = ((request.body ?? {}) as Body)[name];
  return typeof value === 'string' ? value : '';
};
const encoded = (key: string): string => encodeURIComponent(key);

/**
 * The admin actions: invite, resend, migrate, start a run, approve or discard a held plan, test a
 * directory. Every POST passes the admin check, then the CSRF check; an auditor gets 403 either way.
 */
export function registerAdminPages(app: FastifyInstance, kit: ConsoleKit): void {
  registerCustomerActions(app, kit);
  registerRunActions(app, kit);
}

/** Invite, resend, migrate. */
function registerCustomerActions(app: FastifyInstance, kit: ConsoleKit): void {
  const { deps } = kit;
  const get = { preHandler: kit.admin };
  const post = { preHandler: kit.adminPost };
  app.get('/console/customers/invite', get, async (request, reply) =>
    kit.render(request, reply, '@invite', { title: 'Invite customers', section: 'customers', addresses: '', name: '', results: null }),
  );
  app.post('/console/customers/invite', post, async (request, reply) => {
    const text = field(request, 'addresses');
    const addresses = text.split(/[\s,;]+/).map((a) => a.trim()).filter((a) => a !== '');
    const name = field(request, 'name').trim();
    if (addresses.length === 0) throw new DirbridgeError('ERR_USAGE', 'name at least one address to invite');
    if (addresses.length > 1000) throw new DirbridgeError('ERR_USAGE', 'at most 1000 addresses at once');
    // A name given with several addresses belongs to none of them: refuse the form rather than drop the name or copy it to each.
    if (name !== '' && addresses.length > 1) {
      const flash = { kind: 'error' as const, text: `A display name goes with a single address, and ${addresses.length} addresses were given: nothing was invited. Clear the name to invite them all, or invite the named person on their own.` };
      return kit.render(request, reply, '@invite', { title: 'Invite customers', section: 'customers', addresses: text, name, results: null, flash }, 422);
    }
    const result = await withCustomers(kit, request, async (c) => (await import('../../engine/customers/invite.js')).inviteCustomers(c, { addresses, ...(name === '' ? {} : { name }) }));
    const refused = result.results.filter((r) => r.outcome === 'refused').length;
    const flash = refused > 0 ? { kind: 'error' as const, text: `${refused} of ${plural(result.results.length, 'address', 'addresses')} ${refused === 1 ? 'was' : 'were'} refused; see below.` } : { kind: 'ok' as const, text: `${plural(result.results.length, 'address', 'addresses')} handled.` };
    return kit.render(request, reply, '@invite', { title: 'Invite customers', section: 'customers', addresses: text, name, results: result.results, flash }, refused === result.results.length ? 422 : 200);
  });

  app.post('/console/customers/:key/resend', post, async (request, reply) => {
    const { key } = request.params as { key: string };
    const result = await withCustomers(kit, request, async (c) => (await import('../../engine/customers/invite.js')).resendInvitations(c, { who: [key] }));
    const first = result.results[0];
    if (first?.outcome === 'refused') throw new DirbridgeError(first.code, first.message);
    const done = first?.outcome === 'invited' ? `resent-${first.delivery}` : 'resent-link';
    return reply.redirect(`/console/customers/${encoded(key)}?done=${done}`, 303);
  });

  app.get('/console/customers/:key/migrate', get, async (request, reply) => {
    const { key } = request.params as { key: string };
    const [detail] = await withCustomers(kit, request, async (c) => (await import('../../engine/customers/list.js')).showCustomers(c, key));
    const customer = detail?.customer;
    if (customer === undefined || customer.accountType !== 'portal-only') throw new DirbridgeError('ERR_MIGRATION_REFUSED', `${key} is not a portal-only customer`);
    return kit.render(request, reply, '@migrate', { title: `Migrate ${customer.key} to an account`, section: 'customers', customer });
  });
  app.post('/console/customers/:key/migrate', post, async (request, reply) => {
    const { key } = request.params as { key: string };
    if (field(request, 'confirm') !== 'yes') throw new DirbridgeError('ERR_USAGE', 'a migration cannot be undone: tick the confirmation box to go ahead');
    const to = field(request, 'to').trim();
    const outcome = await withCustomers(kit, request, async (c) => (await import('../../engine/customers/migrate.js')).migrateCustomer(c, { who: key, ...(to === '' ? {} : { to }) }));
    deps.logger.info({ user: kit.user(request).username, customer: key }, 'console: customer migrated');
    return reply.redirect(`/console/customers/${encoded(outcome.target)}`, 303);
  });
}

/** Start a run, approve or discard a held plan, test a directory. */
function registerRunActions(app: FastifyInstance, kit: ConsoleKit): void {
  const { deps } = kit;
  const post = { preHandler: kit.adminPost };
  app.post('/console/runs', post, async (request, reply) => {
    if (kit.options.stopping()) return reply.redirect('/console/runs?done=run-refused', 303);
    const directory = field(request, 'directory');
    const mode = field(request, 'mode') === 'incremental' ? 'incremental' : 'full';
    if (directory !== '' && !deps.loaded.config.directories.some((d) => d.id === directory)) throw new DirbridgeError('ERR_USAGE', `unknown directory ${directory}`);
    deps.logger.info({ user: kit.user(request).username, directory: directory || null, mode }, 'console: run started');
    kit.options.startRun(directory === '' ? undefined : [directory], mode, kit.user(request).username);
    return reply.redirect('/console/runs?done=run-started', 303);
  });

  app.post('/console/plans/:id/approve', post, async (request, reply) => {
    const { id } = request.params as { id: string };
    if (field(request, 'confirm') !== 'yes') throw new DirbridgeError('ERR_USAGE', 'tick the box confirming that you reviewed the deactivations');
    try {
      await approveHeldPlan(deps, id, kit.user(request).username);
    } catch (error) {
      if (isDirbridgeError(error) && error.code === 'ERR_PLAN_STALE') return reply.redirect(`/console/plans/${encoded(id)}?done=stale`, 303);
      throw error;
    }
    return reply.redirect(`/console/plans/${encoded(id)}?done=approved`, 303);
  });
  app.post('/console/plans/:id/discard', post, async (request, reply) => {
    const { id } = request.params as { id: string };
    await discardHeldPlan(deps, id, kit.user(request).username);
    return reply.redirect(`/console/plans/${encoded(id)}?done=discarded`, 303);
  });

  app.post('/console/directories/:id/test', post, async (request, reply) => {
    const { id } = request.params as { id: string };
    let test: { id: string; result?: unknown; error?: string };
    try {
      test = { id, result: await testDirectory(deps, id) };
    } catch (error) {
      test = { id, error: isDirbridgeError(error) ? `${error.code}: ${error.message}` : 'the test failed unexpectedly; see the log' };
    }
    return kit.render(request, reply, '@directories', { title: 'Directories', section: 'directories', directories: await directoryStatuses(deps), admin: true, test }, test.error === undefined ? 200 : 502);
  });
}
