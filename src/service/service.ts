import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import cron, { type ScheduledTask } from 'node-cron';
import { z } from 'zod';
import { leaseOwner, runSync, selectDirectories, type EngineDeps, type ReadMode } from '../engine/run-sync.js';
import { DirbridgeError, isDirbridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RunTrigger } from '../ports/store.js';
import { createMetrics } from './metrics.js';
import { createCustomerRoutes } from './customer-routes.js';
import type { ConsoleOptions } from './console/console-app.js';

export interface ServiceOptions {
  readonly port: number;
  readonly host: string;
}

export interface RunningService {
  readonly url: string;
  /**
   * Stops taking runs and waits for the current ones, at most the grace period (`drained`); past it,
   * aborts them and waits until they have stopped (`settled`; false only when a run ignored the abort
   * for ABORT_SETTLE_MS, e.g. stuck in a store call: then the store must not be closed under it).
   */
  stop(): Promise<{ drained: boolean; settled: boolean }>;
}

const TICK_LEASE_MS = 60 * 60 * 1000;
/** How long an aborted run may take to stop: the batch being written, a request being torn down. */
const ABORT_SETTLE_MS = 15_000;
const MAX_BODY_BYTES = 4096;

/** The body of `POST /runs`; both fields optional (`{}` or no body: every directory, full). */
const runRequestSchema = z.strictObject({
  directory: z.string().min(1).optional(),
  mode: z.enum(['full', 'incremental']).default('full'),
});
const RUN_REQUEST_SHAPE = '{"directory": "ID", "mode": "full" | "incremental"}, both optional';

/**
 * `dirbridge serve`: the config's schedules on node-cron, each tick claimed once across replicas
 * through a store lease (`tick:<schedule>:<slot>`), each run under the per-directory sync leases, plus
 * an HTTP port for probes, metrics, the run journal and (with a token) manual runs.
 */
export async function startService(deps: EngineDeps, options: ServiceOptions): Promise<RunningService> {
  const { config } = deps.loaded;
  const service = deps.loaded.resolveSecrets(config.service); // the trigger token, resolved now
  const log = deps.logger;
  const metrics = createMetrics(deps.store);
  const owner = leaseOwner();
  const inFlight = new Set<Promise<void>>();
  const aborter = new AbortController();
  let stopping = false;

  const run = async (directoryIds: readonly string[] | undefined, mode: ReadMode, trigger: RunTrigger): Promise<void> => {
    const started = Date.now();
    try {
      const result = await runSync({ ...deps, trigger, signal: aborter.signal }, { mode, ...(directoryIds === undefined ? {} : { directoryIds }) });
      metrics.recordResult(result, (Date.now() - started) / 1000, new Date());
      log.info({ runId: result.runId, trigger, outcome: result.outcome, written: result.written, summary: result.plan.summary, reads: result.reads, violations: result.plan.violations.map((v) => v.message) }, 'run finished');
    } catch (error) {
      const code = isDirbridgeError(error) ? error.code : 'ERR_INTERNAL';
      metrics.recordOutcome(code === 'ERR_LEASE_HELD' ? 'skipped' : code === 'ERR_LEASE_LOST' ? 'lease-lost' : 'failed', (Date.now() - started) / 1000);
      log[code === 'ERR_LEASE_HELD' ? 'info' : 'error']({ trigger, code, err: (error as Error).message }, code === 'ERR_LEASE_HELD' ? 'run skipped: lease held' : 'run failed');
    }
  };
  const track = (promise: Promise<void>): void => {
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise));
  };

  const tasks: ScheduledTask[] = config.schedules.map((schedule, i) => {
    const directoryIds = schedule.directories === undefined ? undefined : selectDirectories(deps.loaded, schedule.directories).map((d) => d.id);
    const task = cron.schedule(
      schedule.cron,
      async () => {
        if (stopping) return;
        const promise = run(directoryIds, schedule.mode, 'schedule');
        track(promise);
        await promise;
      },
      {
        name: `schedule-${i}`,
        logger: cronLogger(log.child({ schedule: i })),
        noOverlap: true,
        distributed: true,
        distributedLease: TICK_LEASE_MS,
        runCoordinator: {
          // Each tick is claimed once across replicas; the loser skips it.
          shouldRun: async (key) => {
            let claim;
            try {
              claim = await deps.store.acquireLease({ name: `tick:${key}`, owner, ttlMs: TICK_LEASE_MS });
            } catch (error) {
              // Unclaimable while the store is down: skipped, said in our log, counted; the next tick tries again.
              metrics.ticksSkipped.inc({ reason: 'store-unavailable' });
              log.warn({ schedule: i, tick: key, code: isDirbridgeError(error) ? error.code : 'ERR_STORE', err: (error as Error).message }, 'tick skipped: the store is unreachable');
              return false;
            }
            if (!claim.acquired) {
              metrics.ticksSkipped.inc({ reason: 'claimed-elsewhere' });
              log.debug({ tick: key, holder: claim.holder }, 'tick claimed by another replica');
            }
            return claim.acquired;
          },
        },
        ...(schedule.timezone === undefined ? {} : { timezone: schedule.timezone }),
      },
    );
    task.on('execution:overlap', () => {
      metrics.ticksSkipped.inc({ reason: 'previous-run-still-going' });
      log.warn({ schedule: i }, 'tick skipped: the previous run of this schedule is still going');
    });
    return task;
  });
  const pruner = setInterval(() => void deps.store.pruneLeases('tick:').catch(() => undefined), 10 * 60 * 1000);
  pruner.unref();

  const customerRoutes = createCustomerRoutes(deps, { stopping: () => stopping });
  const adminConsole = await startConsole(deps, { stopping: () => stopping, startRun: (ids, mode, username) => track(run(ids === undefined ? undefined : [...ids], mode, `console:${username}`)) });
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error({ err: (error as Error).message }, 'HTTP handler failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    });
  });
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://service');
    if (adminConsole !== null && (url.pathname === '/console' || url.pathname.startsWith('/console/'))) return adminConsole.handle(req, res);
    const route = `${req.method ?? 'GET'} ${url.pathname}`;
    switch (route) {
      case 'GET /healthz':
        return send(res, 200, { status: 'ok' });
      case 'GET /readyz':
        try {
          await deps.store.revision();
          return send(res, stopping ? 503 : 200, { status: stopping ? 'stopping' : 'ready', store: deps.store.label, schedules: config.schedules.length });
        } catch (error) {
          return send(res, 503, { status: 'store unreachable', error: isDirbridgeError(error) ? error.code : 'ERR_STORE' });
        }
      case 'GET /metrics':
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
        res.end(await metrics.registry.metrics());
        return;
      case 'GET /runs': {
        const limit = Math.min(500, Math.max(1, Number(url.searchParams.get('limit') ?? 50) || 50));
        const directory = url.searchParams.get('directory');
        return send(res, 200, await deps.store.listRuns({ limit, ...(directory === null ? {} : { directoryId: directory }) }));
      }
      case 'POST /runs': {
        if (service.triggerToken === undefined) return send(res, 404, { error: 'manual runs are off: set service.triggerToken' });
        if (!tokenMatches(req.headers.authorization, service.triggerToken)) return send(res, 401, { error: 'a valid bearer token is required' });
        if (stopping) return send(res, 503, { error: 'stopping' });
        const body = await readRunRequest(req);
        if (!body.ok) return send(res, body.status, { error: body.error, expected: RUN_REQUEST_SHAPE });
        const { directory, mode } = body.request;
        if (directory !== undefined && !config.directories.some((d) => d.id === directory)) {
          return send(res, 400, { error: `unknown directory ${directory}: the config has ${config.directories.map((d) => d.id).join(', ')}`, expected: RUN_REQUEST_SHAPE });
        }
        track(run(directory === undefined ? undefined : [directory], mode, 'api'));
        return send(res, 202, { accepted: true, directory: directory ?? null, mode });
      }
      default:
        if (await customerRoutes(req, res, url)) return;
        return send(res, 404, { error: 'not found' });
    }
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
  log.info({ url, schedules: config.schedules.map((s) => s.cron) }, 'dirbridge serve started');

  return {
    url,
    async stop() {
      stopping = true;
      for (const task of tasks) await task.destroy();
      clearInterval(pruner);
      const settle = (ms: number): Promise<boolean> =>
        Promise.race([Promise.all([...inFlight]).then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref())]);
      const drained = await settle(service.gracePeriodSeconds * 1000);
      let settled = drained;
      if (!drained) {
        log.warn({ gracePeriodSeconds: service.gracePeriodSeconds, runs: inFlight.size }, 'grace period over: aborting the current run');
        aborter.abort(new DirbridgeError('ERR_RUN_ABORTED', `the run was aborted: it did not finish within service.gracePeriodSeconds (${service.gracePeriodSeconds} s) of the stop signal`));
        settled = await settle(ABORT_SETTLE_MS);
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await adminConsole?.close();
      return { drained, settled };
    },
  };
}

/** The admin console at /console/ when the config has a console section; otherwise a log line says how to turn it on. */
async function startConsole(deps: EngineDeps, options: ConsoleOptions) {
  const config = deps.loaded.config.console;
  if (config === undefined) {
    deps.logger.info('admin console off: add a console section with at least one user (see README, "The admin console")');
    return null;
  }
  const { createConsole } = await import('./console/console-app.js');
  const started = await createConsole(deps, config, options);
  deps.logger.info({ path: '/console/', users: config.users.length, trustedHeader: config.trustedHeader?.name ?? null }, 'admin console on');
  return started;
}

/** Constant-time comparison of a bearer token (digests first, so lengths do not leak either). */
function tokenMatches(header: string | undefined, expected: string): boolean {
  const given = /^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '';
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given !== '';
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

type RunRequestResult = { ok: true; request: z.output<typeof runRequestSchema> } | { ok: false; status: 400 | 413; error: string };

/** The `POST /runs` body, validated: anything but an empty body or a valid object is refused, never defaulted. */
async function readRunRequest(req: IncomingMessage): Promise<RunRequestResult> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > MAX_BODY_BYTES) return { ok: false, status: 413, error: `request body too large (over ${MAX_BODY_BYTES} bytes)` };
  }
  let body: unknown = {};
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text);
    } catch (error) {
      return { ok: false, status: 400, error: `request body is not valid JSON (${(error as Error).message})` };
    }
  }
  const parsed = runRequestSchema.safeParse(body);
  if (parsed.success) return { ok: true, request: parsed.data };
  const problems = parsed.error.issues.map((issue) => `${issue.path.length === 0 ? 'body' : issue.path.join('.')}: ${issue.message}`);
  return { ok: false, status: 400, error: `invalid request body: ${problems.join('; ')}` };
}

/** node-cron's own messages as JSON log lines (it would print coloured text and stack traces on stderr). */
function cronLogger(log: Logger) {
  const err = (error: unknown): { err?: string } => (error instanceof Error ? { err: error.message } : {});
  return {
    info: (message: string) => log.debug({ source: 'node-cron' }, message),
    warn: (message: string) => log.warn({ source: 'node-cron' }, message),
    error: (message: string | Error, error?: Error) => log.error({ source: 'node-cron', ...err(error ?? message) }, String(message instanceof Error ? message.message : message)),
    debug: (message: string | Error) => log.debug({ source: 'node-cron' }, String(message instanceof Error ? message.message : message)),
  };
}

