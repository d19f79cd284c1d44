import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CustomerContext } from '../engine/customers/context.js';
import type { EngineDeps } from '../engine/run-sync.js';
import { DirbridgeError, isDirbridgeError, type ErrorCode } from '../errors.js';
import { createRateLimiter } from './rate-limiter.js';

/**
 * The customer routes of `serve`, over the same engine as the CLI:
 * - admin routes (`Authorization: Bearer <service.adminToken>`; 404 without a token configured):
 *   GET /customers, GET /customers/{key|email|username}, POST /customers/invitations,
 *   POST /customers/invitations/resend, POST /customers/{key}/migrate|deactivate|reactivate,
 *   POST /requests/import;
 * - the portal's backend (`Bearer <service.portalToken>`, rate-limited by signup.rateLimit):
 *   POST /signup, POST /intake/email.
 * Errors answer `{"error": {code, message, retryable}}` with the status of their code.
 */
export function createCustomerRoutes(deps: EngineDeps, options: { readonly stopping: () => boolean }) {
  const { config } = deps.loaded;
  const service = deps.loaded.resolveSecrets(config.service); // the tokens, resolved now
  const scrub = (text: string): string => deps.loaded.secrets.scrub(text);
  const limiter = createRateLimiter({ requests: config.signup.rateLimit.requests, perSeconds: config.signup.rateLimit.perSeconds });
  const log = deps.logger.child({ component: 'customers-api' });
  let context: Promise<CustomerContext> | undefined;
  const ctx = (): Promise<CustomerContext> =>
    (context ??= import('../engine/customers/context.js').then(({ customerContextFor }) => customerContextFor(deps, 'api')));

  const send = (res: ServerResponse, { status, body, headers }: Answer): void => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(scrub(JSON.stringify(body)));
  };
  const refuse = (status: number, message: string, headers: Record<string, string> = {}): Answer => ({ status, body: { error: { code: 'ERR_USAGE', message, retryable: status === 503 } }, headers });

  /** Handles the request when it is a customer route; false otherwise. */
  return async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const path = url.pathname;
    const isPortal = req.method === 'POST' && (path === '/signup' || path === '/intake/email');
    const isAdmin = path === '/customers' || path.startsWith('/customers/') || path === '/requests/import';
    if (!isPortal && !isAdmin) return false;
    const token = isPortal ? service.portalToken : service.adminToken;
    if (token === undefined) send(res, refuse(404, isPortal ? 'signup and e-mail routes are off: set service.portalToken' : 'customer routes are off: set service.adminToken'));
    else if (!bearerMatches(req.headers.authorization, token)) send(res, refuse(401, 'a valid bearer token is required', { 'WWW-Authenticate': 'Bearer' }));
    else if (options.stopping() && req.method === 'POST') send(res, refuse(503, 'stopping'));
    else {
      const wait = isPortal ? limiter.take() : 0;
      try {
        if (wait > 0) throw new DirbridgeError('ERR_RATE_LIMITED', `too many signup and e-mail requests; retry in ${wait} s`);
        send(res, await (isPortal ? portalRoute(await ctx(), req, url) : adminRoute(await ctx(), req, url)));
      } catch (error) {
        const e = isDirbridgeError(error) ? error : new DirbridgeError('ERR_INTERNAL', 'unexpected error');
        const status = STATUS[e.code] ?? 500;
        (status >= 500 ? log.error.bind(log) : log.info.bind(log))({ route: `${req.method ?? 'GET'} ${path}`, code: e.code, status }, status >= 500 ? e.message : 'customer request refused');
        const body = { error: { code: e.code, message: e.message, retryable: e.retryable }, ...(e.details?.['reason'] === undefined ? {} : { reason: e.details['reason'] }) };
        send(res, { status, body, headers: status === 429 ? { 'Retry-After': String(wait) } : {} });
      }
    }
    return true;
  };
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

const ok = (body: unknown, created = false): Answer => ({ status: created ? 201 : 200, body });

/** The admin routes: list, show, invite, resend, migrate, deactivate, reactivate, requests import. */
async function adminRoute(c: CustomerContext, req: IncomingMessage, url: URL): Promise<Answer> {
  const path = url.pathname;
  if (req.method === 'GET' && path === '/customers') return ok(await (await import('../engine/customers/list.js')).listCustomers(c, listQuery(url.searchParams)));
  if (req.method === 'GET' && path.startsWith('/customers/')) return ok(await (await import('../engine/customers/list.js')).showCustomers(c, decodeURIComponent(path.slice('/customers/'.length))));
  if (req.method === 'POST' && path === '/customers/invitations') {
    const body = await readJson(req);
    const { inviteCustomers } = await import('../engine/customers/invite.js');
    return ok(await inviteCustomers(c, { addresses: stringList(body['addresses'], 'addresses'), ...(typeof body['name'] === 'string' ? { name: body['name'] } : {}) }));
  }
  if (req.method === 'POST' && path === '/customers/invitations/resend') {
    const body = await readJson(req);
    return ok(await (await import('../engine/customers/invite.js')).resendInvitations(c, { who: body['who'] === undefined ? [] : stringList(body['who'], 'who') }));
  }
  const action = /^\/customers\/([^/]+)\/(migrate|deactivate|reactivate)$/.exec(path);
  if (req.method === 'POST' && action !== null) {
    const who = decodeURIComponent(action[1] as string);
    const body = await readJson(req);
    const migrate = await import('../engine/customers/migrate.js');
    if (action[2] === 'migrate') return ok(await migrate.migrateCustomer(c, { who, ...(typeof body['to'] === 'string' ? { to: body['to'] } : {}) }));
    if (action[2] === 'deactivate') return ok(await migrate.deactivateCustomer(c, { who, ...(typeof body['note'] === 'string' ? { note: body['note'] } : {}) }));
    return ok(await migrate.reactivateCustomer(c, { who }));
  }
  if (req.method === 'POST' && path === '/requests/import') {
    const format = url.searchParams.get('format') ?? (String(req.headers['content-type'] ?? '').includes('csv') ? 'csv' : 'json');
    if (format !== 'csv' && format !== 'json') throw new DirbridgeError('ERR_USAGE', 'format is csv or json');
    const text = (await readBody(req, 20 * 1024 * 1024)).toString('utf8');
    return ok(await (await import('../engine/customers/requests-import.js')).importRequests(c, { source: 'the request body', text, format }));
  }
  throw new DirbridgeError('ERR_USAGE', `no such route: ${req.method ?? 'GET'} ${path}`);
}

/** The portal's routes: POST /signup and POST /intake/email. */
async function portalRoute(c: CustomerContext, req: IncomingMessage, url: URL): Promise<Answer> {
  if (url.pathname === '/signup') {
    const body = await readJson(req);
    if (typeof body['email'] !== 'string') throw new DirbridgeError('ERR_USAGE', 'the body needs "email" (and may have "name")');
    const { signupCustomer } = await import('../engine/customers/signup.js');
    const result = await signupCustomer(c, { address: body['email'], ...(typeof body['name'] === 'string' ? { name: body['name'] } : {}) });
    return ok(result, result.outcome === 'created');
  }
  const { intakeEmail, MAX_MESSAGE_BYTES } = await import('../engine/customers/intake.js');
  const result = await intakeEmail(c, await readBody(req, MAX_MESSAGE_BYTES));
  return ok(result, result.outcome === 'created');
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  ERR_USAGE: 400,
  ERR_INVALID_ADDRESS: 400,
  ERR_REQUESTS_FILE: 400,
  ERR_MESSAGE_FILE: 400,
  ERR_CUSTOMER_NOT_FOUND: 404,
  ERR_SIGNUP_REFUSED: 403,
  ERR_MAILING_LIST: 403,
  ERR_LICENSED_EXCLUDED: 403,
  ERR_MIGRATION_REFUSED: 409,
  ERR_ALREADY_MIGRATED: 409,
  ERR_OWNED_BY_DIRECTORY: 409,
  ERR_LICENSED_ADDRESS: 422,
  ERR_NOT_PROCESSED: 422,
  ERR_CROWD_READ_ONLY: 502,
  ERR_CROWD_AUTH: 502,
  ERR_CROWD_PERMISSION: 502,
  ERR_CROWD_CONNECT: 502,
  ERR_CROWD_RESPONSE: 502,
  ERR_STORE: 503,
  ERR_LEASE_HELD: 503,
  ERR_RATE_LIMITED: 429,
};

function listQuery(q: URLSearchParams) {
  const number = (name: string): number | undefined => {
    const value = q.get(name);
    if (value === null) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new DirbridgeError('ERR_USAGE', `${name} takes a whole number ≥ 1`);
    return n;
  };
  const choice = <T extends string>(name: string, choices: readonly T[]): T | undefined => {
    const value = q.get(name);
    if (value === null) return undefined;
    if (!(choices as readonly string[]).includes(value)) throw new DirbridgeError('ERR_USAGE', `${name} is one of ${choices.join(', ')}`);
    return value as T;
  };
  const page = number('page');
  const pageSize = number('pageSize');
  const state = choice('state', ['active', 'inactive', 'all'] as const);
  const type = choice('type', ['portal-only', 'account'] as const);
  const sort = choice('sort', ['username', 'open-requests'] as const);
  return {
    ...(page === undefined ? {} : { page }),
    pageSize: Math.min(200, pageSize ?? 20),
    ...(state === undefined ? {} : { state }),
    ...(type === undefined ? {} : { type }),
    ...(sort === undefined ? {} : { sort }),
    ...(q.get('search') === null ? {} : { search: q.get('search') as string }),
    ...(q.get('origin') === null ? {} : { origin: q.get('origin') as string }),
    ...(q.get('group') === null ? {} : { group: q.get('group') as string }),
    ...(q.get('needsMigration') === 'true' ? { needsMigration: true } : {}),
  };
}

function stringList(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 1000 || !value.every((v) => typeof v === 'string')) {
    throw new DirbridgeError('ERR_USAGE', `"${name}" must be a list of 1 to 1000 strings`);
  }
  return value as string[];
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new DirbridgeError('ERR_USAGE', `the request body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = (await readBody(req, 256 * 1024)).toString('utf8');
  if (text.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new DirbridgeError('ERR_USAGE', 'the body must be a JSON object');
}

/** Constant-time comparison of a bearer token (digests first, so lengths do not leak either). */
function bearerMatches(header: string | undefined, expected: string): boolean {
  const given = /^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '';
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given !== '';
}
