import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import rateLimit from '@fastify/rate-limit';
import { Eta } from 'eta';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type preHandlerHookHandler } from 'fastify';
import type { ConsoleConfig } from '../../config/console-config.js';
import type { ReadMode, EngineDeps } from '../../engine/run-sync.js';
import { isDirbridgeError } from '../../errors.js';
import { chartJsPath, CONSOLE_CSS, CONSOLE_JS } from './assets.js';
import { CONSOLE_PATH, cookieOptions, createAuth, type Auth, type ConsoleUser } from './auth.js';
import { registerAdminPages } from './admin-pages.js';
import { verifyPassword, wastePasswordCheck } from './password.js';
import { registerReadPages } from './read-pages.js';
import { createSignInLimit } from './sign-in-limit.js';
import { AUDIT, DIRECTORIES, LEAK_TABLE } from './views/audit.js';
import { CUSTOMER, CUSTOMERS, INVITE, MIGRATE } from './views/customers.js';
import { CHART, ERROR, LAYOUT, LOGIN, forConsole, plural } from './views/layout.js';
import { DASHBOARD, PLAN, PLANS, RUN, RUN_TABLE, RUNS } from './views/runs.js';

export interface ConsoleOptions {
  /** Starts a run the way POST /runs does (tracked by serve, so a stop waits for it), recorded as started by `console:USERNAME`. */
  readonly startRun: (directoryIds: readonly string[] | undefined, mode: ReadMode, username: string) => void;
  readonly stopping: () => boolean;
}

export interface Console {
  /** Answers a request whose path is under /console. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  close(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    consoleUser: ConsoleUser | null;
  }
}

const NAV: readonly (readonly [string, string, string])[] = [
  ['/console/', 'Dashboard', 'dashboard'],
  ['/console/customers', 'Customers', 'customers'],
  ['/console/runs', 'Runs', 'runs'],
  ['/console/plans', 'Held plans', 'plans'],
  ['/console/audit', 'Seat audit', 'audit'],
  ['/console/directories', 'Directories', 'directories'],
];

/** What the page modules get: the engine, rendering, and the guards. */
export interface ConsoleKit {
  readonly deps: EngineDeps;
  readonly options: ConsoleOptions;
  render(request: FastifyRequest, reply: FastifyReply, view: string, data: PageData, status?: number): FastifyReply;
  fragment(view: string, data: object): string;
  /** preHandlers: signed in (any role) / admin, each followed by the CSRF check on POST. */
  readonly signedIn: preHandlerHookHandler[];
  readonly admin: preHandlerHookHandler[];
  readonly adminPost: preHandlerHookHandler[];
  user(request: FastifyRequest): ConsoleUser;
  scrub(text: string): string;
}

export interface PageData {
  readonly title: string;
  readonly section: string;
  readonly flash?: { readonly kind: 'ok' | 'error'; readonly text: string } | null;
  readonly [key: string]: unknown;
}

/**
 * The admin console (`/console/` on `dirbridge serve`): server-rendered pages over the engine, on
 * fastify (mounted inside serve's node:http server through serverFactory), with signed cookies
 * (@fastify/cookie), CSRF tokens on every form (@fastify/csrf-protection), a limit on failed sign-ins
 * (@fastify/rate-limit's store) and eta templates. Every page is scrubbed of known secrets before it leaves.
 */
export async function createConsole(deps: EngineDeps, config: ConsoleConfig, options: ConsoleOptions): Promise<Console> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const render = renderer(deps);
  const auth = createAuth(config);
  const app = Fastify({
    serverFactory: (h) => {
      handler = h;
      return createServer();
    },
    loggerInstance: deps.logger.child({ component: 'console' }),
    logController: new LogController({ disableRequestLogging: true }), // the top-level option is deprecated (FSTDEP023, a non-JSON line)
    // A malformed URL (`/console/customers/%`) gets the console's 400 page, not fastify's JSON.
    // Such a request reaches no hook or plugin (no parsed cookies, no form token): a user named by the
    // trusted header is recognised, a signed-in cookie is not.
    frameworkErrors: (error, request, reply) => {
      request.consoleUser = userOrNull(auth, request);
      void reply.headers(SECURITY_HEADERS);
      void render.render(request, reply, '@error', { title: 'Bad request', section: '', message: `The address of this page is malformed (${error.message}).` }, 400);
    },
    trustProxy: config.trustedHeader?.proxies ?? false,
    bodyLimit: 256 * 1024,
  }) as unknown as FastifyInstance; // our pino logger, typed as fastify's base logger
  await registerPlugins(app, deps.loaded.resolveSecrets(config).cookieSecret);
  registerSecurity(app, auth);
  registerErrors(app, deps, render);
  registerSignIn(app, auth, config, render.render);
  registerAssets(app);
  const kit = pageKit(app, deps, options, render);
  registerReadPages(app, kit);
  registerAdminPages(app, kit);
  await app.ready();
  return {
    handle: (req, res) => (handler as NonNullable<typeof handler>)(req, res),
    close: () => app.close(),
  };
}

/** Signed cookies, HTML form bodies, CSRF tokens against a signed cookie secret, the store of the failed sign-in limit. */
async function registerPlugins(app: FastifyInstance, cookieSecret: string): Promise<void> {
  await app.register(cookie, { secret: cookieSecret });
  await app.register(formbody);
  await app.register(csrf, { cookieOpts: { ...cookieOptions(), signed: true } });
  await app.register(rateLimit, { global: false });
  app.decorateRequest('consoleUser', null);
}

const TEMPLATES: Record<string, string> = {
  '@layout': LAYOUT, '@login': LOGIN, '@error': ERROR, '@chart': CHART, '@dashboard': DASHBOARD, '@runTable': RUN_TABLE, '@runs': RUNS, '@run': RUN,
  '@plans': PLANS, '@plan': PLAN, '@customers': CUSTOMERS, '@customer': CUSTOMER, '@invite': INVITE, '@migrate': MIGRATE, '@audit': AUDIT,
  '@leakTable': LEAK_TABLE, '@directories': DIRECTORIES,
};

/** Pages from the eta templates, with the user, the navigation and a CSRF token; scrubbed of known secrets. */
function renderer(deps: EngineDeps): { render: ConsoleKit['render']; fragment: ConsoleKit['fragment'] } {
  const eta = new Eta({ cache: true, autoTrim: false });
  for (const [name, text] of Object.entries(TEMPLATES)) eta.loadTemplate(name, text);
  return {
    render: (request, reply, view, data, status = 200) => {
      const csrf = typeof reply.generateCsrf === 'function' ? reply.generateCsrf() : ''; // none on fastify's framework errors
      const html = eta.render(view, { flash: null, ...data, user: request.consoleUser, nav: NAV, csrf, plural, forConsole });
      return reply.code(status).type('text/html; charset=utf-8').send(deps.loaded.secrets.scrub(html));
    },
    fragment: (view, data) => eta.render(view, { ...data, plural, forConsole }),
  };
}

function userOrNull(auth: Auth, request: FastifyRequest): ConsoleUser | null {
  try {
    return auth.userOf(request);
  } catch {
    return null;
  }
}

const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
};

/** Who is asking (on every request), and the headers every answer carries. */
function registerSecurity(app: FastifyInstance, auth: Auth): void {
  app.addHook('onRequest', async (request, reply) => {
    request.consoleUser = auth.userOf(request);
    void reply.headers(SECURITY_HEADERS);
  });
}

/** Errors as pages: a refused form token or role 403, engine errors by their code. */
function registerErrors(app: FastifyInstance, deps: EngineDeps, { render }: ReturnType<typeof renderer>): void {
  app.setErrorHandler(async (error, request, reply) => {
    const e = error as Error & { statusCode?: number; code?: string };
    if (e.code === 'FST_CSRF_INVALID_TOKEN' || e.code === 'FST_CSRF_MISSING_SECRET') {
      deps.logger.warn({ route: request.url, user: request.consoleUser?.username }, 'console: form refused: missing or invalid CSRF token');
      return render(request, reply, '@error', { title: 'Form expired', section: '', message: 'This form has expired or did not come from the console. Open the page again and resubmit.' }, 403);
    }
    const status = isDirbridgeError(error) ? (STATUS[error.code] ?? 500) : (e.statusCode ?? 500);
    const message = isDirbridgeError(error) ? `${error.code}: ${error.message}` : status < 500 ? e.message : 'An unexpected error; it is in the log.';
    if (status >= 500) deps.logger.error({ route: request.url, err: deps.loaded.secrets.scrub(e.message) }, 'console page failed');
    return render(request, reply, '@error', { title: status === 404 ? 'Not found' : 'Something went wrong', section: '', message }, status);
  });
  app.setNotFoundHandler((request, reply) => render(request, reply, '@error', { title: 'Not found', section: '', message: 'There is no such console page.' }, 404));
}

/** What the page modules get: rendering and the guards (signed in; admin; admin and a valid form token). */
function pageKit(app: FastifyInstance, deps: EngineDeps, options: ConsoleOptions, { render, fragment }: ReturnType<typeof renderer>): ConsoleKit {
  const requireUser = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (request.consoleUser !== null) return;
    if (request.method === 'GET') {
      await reply.redirect(`${CONSOLE_PATH}/login?next=${encodeURIComponent(request.url)}`);
      return;
    }
    await render(request, reply, '@error', { title: 'Sign in first', section: '', message: 'Your sign-in has expired or you are not signed in.' }, 401);
  };
  const requireAdmin = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    await requireUser(request, reply);
    if (reply.sent) return;
    if (request.consoleUser?.role !== 'admin') {
      deps.logger.warn({ user: request.consoleUser?.username, route: `${request.method} ${request.routeOptions.url ?? ''}` }, 'console: admin action refused to a non-admin');
      await render(request, reply, '@error', { title: 'Not allowed', section: '', message: 'This action needs the admin role; your role is read-only.' }, 403);
    }
  };
  const csrfCheck: preHandlerHookHandler = (request, reply, done) => {
    if (request.method !== 'POST') return done();
    app.csrfProtection(request, reply, done);
  };
  return {
    deps,
    options,
    render,
    fragment,
    signedIn: [requireUser as preHandlerHookHandler],
    admin: [requireAdmin as preHandlerHookHandler],
    adminPost: [requireAdmin as preHandlerHookHandler, csrfCheck],
    user: (request) => request.consoleUser as ConsoleUser,
    scrub: (text) => deps.loaded.secrets.scrub(text),
  };
}

const STATUS: Record<string, number> = {
  ERR_USAGE: 400,
  ERR_CUSTOMER_NOT_FOUND: 404,
  ERR_RUN_NOT_FOUND: 404,
  ERR_PLAN_NOT_FOUND: 404,
  ERR_MIGRATION_REFUSED: 409,
  ERR_ALREADY_MIGRATED: 409,
  ERR_OWNED_BY_DIRECTORY: 409,
  ERR_PLAN_STALE: 409,
  ERR_LEASE_HELD: 409,
  ERR_CONFIG: 400,
};

function registerSignIn(app: FastifyInstance, auth: Auth, config: ConsoleConfig, render: ConsoleKit['render']): void {
  const safeNext = (next: unknown): string => (typeof next === 'string' && /^\/console(\/|$)/.test(next) && !next.startsWith('//') ? next : `${CONSOLE_PATH}/`);
  app.get('/console/login', async (request, reply) => {
    const next = safeNext((request.query as Record<string, unknown>)['next']);
    if (request.consoleUser !== null) return reply.redirect(next);
    return render(request, reply, '@login', { title: 'Sign in', section: '', next, username: '' });
  });
  const limit = createSignInLimit(app, config.loginRateLimit);
  app.post(
    '/console/login',
    { preHandler: (request, reply, done) => app.csrfProtection(request, reply, done) },
    async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const username = typeof body['username'] === 'string' ? body['username'].trim() : '';
      const password = typeof body['password'] === 'string' ? body['password'] : '';
      const next = safeNext(body['next']);
      const user = auth.lookup(username);
      const attempt = await limit(request, async () => (user?.passwordHash === undefined ? (await wastePasswordCheck(password), false) : verifyPassword(password, user.passwordHash)));
      if (attempt.blocked) {
        request.log.warn({ user: username.slice(0, 100) }, 'console: sign-in refused: too many failed attempts from this address');
        void reply.header('Retry-After', String(attempt.retryAfterSeconds));
        return render(request, reply, '@error', { title: 'Too many attempts', section: '', message: `Too many failed sign-in attempts from your address. Try again in ${plural(attempt.retryAfterSeconds, 'second')}.` }, 429);
      }
      if (!attempt.ok || user === null) {
        request.log.warn({ user: username.slice(0, 100) }, 'console: sign-in refused');
        return render(request, reply, '@login', { title: 'Sign in', section: '', next, username, flash: { kind: 'error', text: 'Unknown username or wrong password.' } }, 401);
      }
      auth.signIn(reply, user.username);
      request.log.info({ user: user.username, role: user.role }, 'console: signed in');
      return reply.redirect(next, 303);
    },
  );
  app.post('/console/logout', { preHandler: (request, reply, done) => app.csrfProtection(request, reply, done) }, async (request, reply) => {
    auth.signOut(reply);
    request.log.info({ user: request.consoleUser?.username }, 'console: signed out');
    return reply.redirect(`${CONSOLE_PATH}/login`, 303);
  });
}

function registerAssets(app: FastifyInstance): void {
  let chart: Buffer | undefined;
  app.get('/console/assets/chart.umd.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=86400').send((chart ??= readFileSync(chartJsPath()))));
  app.get('/console/assets/console.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(CONSOLE_JS));
  app.get('/console/assets/console.css', async (_request, reply) => reply.type('text/css; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(CONSOLE_CSS));
}
