import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import mongoose from 'mongoose';
import { afterAll, beforeAll } from 'vitest';
import { freePort, waitForPort } from './ports.js';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { allOnPath, checkBinary, isRejected, type BinaryCheck, type Rejected } from './server-binaries.js';
import { startPostgres, type Postgres } from './postgres-server.js';

/**
 * A real MongoDB-wire server for store tests, in this order: MONGODB_URI if set; a `mongod` on PATH;
 * else FerretDB 1.x (SQLite backend) from FERRETDB_BIN, PATH or the cache `npm run test:all` fills.
 * Every binary is checked (`--version`) before it is started; one that fails the check, or exits
 * before accepting connections, is skipped with a message naming it. Never a mock: when none works
 * the tests fail with a message saying how to get one.
 */
export interface MongoServer {
  readonly kind: 'external' | 'mongod' | 'ferretdb';
  /** FerretDB's storage backend (null for MongoDB itself). */
  readonly backend: FerretBackend | null;
  /** The loopback address FerretDB or mongod listens on (null for MONGODB_URI). */
  readonly address: { readonly host: string; readonly port: number } | null;
  /** The PostgreSQL cluster behind FerretDB's postgresql backend. */
  readonly postgres?: Postgres | null;
  /** The binary that serves, for messages (`MONGODB_URI` for an external server). */
  readonly binary: string;
  /** The serving process (null for MONGODB_URI) and its version line. */
  readonly pid: number | null;
  readonly version: string | null;
  /** A connection string for a fresh database of this name. */
  uri(database: string): string;
  stop(): Promise<void>;
}

/** FerretDB 1.x's storage backends the store tests run on. */
export type FerretBackend = 'sqlite' | 'postgresql';
export const FERRETDB_BACKENDS: readonly FerretBackend[] = ['sqlite', 'postgresql'];

export const FERRETDB_CACHE = join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'dirbridge', 'bin', 'ferretdb');

const CHECKS: Record<'mongod' | 'ferretdb', BinaryCheck> = {
  mongod: { what: 'MongoDB (mongod)', args: ['--version'], expect: /^db version v\d+\.\d+/ },
  // 1.x: the SQLite backend and the flags below are FerretDB 1's.
  ferretdb: { what: 'FerretDB 1.x', args: ['--version'], expect: /^version: v1\.\d+\.\d+/ },
};

export interface MongoBinary {
  readonly kind: 'mongod' | 'ferretdb';
  readonly path: string;
  readonly version: string;
}

/** The candidates in preference order, each checked; those that fail the check are returned apart. */
export function findMongoBinaries(env: NodeJS.ProcessEnv = process.env, cache: string = FERRETDB_CACHE): { usable: MongoBinary[]; rejected: Rejected[] } {
  const candidates: { kind: 'mongod' | 'ferretdb'; path: string }[] = [
    ...allOnPath('mongod', env['PATH']).map((path) => ({ kind: 'mongod' as const, path })),
    ...[env['FERRETDB_BIN'], ...allOnPath('ferretdb', env['PATH']), cache]
      .filter((p): p is string => p !== undefined && p !== '')
      .map((path) => ({ kind: 'ferretdb' as const, path })),
  ];
  const usable: MongoBinary[] = [];
  const rejected: Rejected[] = [];
  for (const { kind, path } of candidates) {
    if (usable.some((u) => u.path === path) || rejected.some((r) => r.path === path)) continue;
    if (!existsSync(path)) {
      if (path !== cache) rejected.push({ path, reason: `${path} does not exist` });
      continue;
    }
    const checked = checkBinary(path, CHECKS[kind]);
    if (isRejected(checked)) rejected.push(checked);
    else usable.push({ kind, path, version: checked.version });
  }
  return { usable, rejected };
}

export function installHint(rejected: readonly Rejected[], cache: string = FERRETDB_CACHE): string {
  const skipped = rejected.length === 0 ? '' : ` Skipped: ${rejected.map((r) => r.reason).join('; ')}.`;
  return (
    'No working MongoDB-wire server for the store tests.' +
    skipped +
    ` Fix: run \`npm run test:all\` (it builds FerretDB v1.24.2 with Go into ${cache}), ` +
    'or set MONGODB_URI to a MongoDB you own, or put a working mongod on PATH.'
  );
}

/**
 * Without a backend: MONGODB_URI, else mongod, else FerretDB on SQLite. With one: FerretDB on that
 * backend (PostgreSQL from Debian's packages, a throwaway cluster the helper starts and stops).
 */
export interface MongoServerOptions {
  readonly backend?: FerretBackend;
  /** FerretDB's PostgreSQL pool_max_conns; null leaves FerretDB's default (50). */
  readonly pgPool?: number | null;
  /** Picks the loopback port to try (tests of the port race); a free one by default. */
  readonly pickPort?: () => Promise<number>;
}

export async function startMongoServer(options: MongoServerOptions = {}): Promise<MongoServer> {
  const external = process.env['MONGODB_URI'];
  if (options.backend === undefined && external !== undefined && external !== '') {
    return { kind: 'external', backend: null, address: null, postgres: null, binary: 'MONGODB_URI', pid: null, version: null, uri: (db) => withDatabase(external, db), stop: async () => {} };
  }
  const { usable, rejected } = findMongoBinaries();
  for (const r of rejected) console.warn(`MongoDB-wire server: skipping ${r.reason}`);
  const candidates = options.backend === undefined ? usable : usable.filter((b) => b.kind === 'ferretdb');
  for (const binary of candidates) {
    try {
      return await startBinary(binary, options.backend ?? 'sqlite', options);
    } catch (error) {
      const reason = `${binary.path} (${binary.version}) did not start: ${(error as Error).message}`;
      console.warn(`MongoDB-wire server: skipping ${reason}`);
      rejected.push({ path: binary.path, reason });
    }
  }
  throw new Error(installHint(rejected));
}

/**
 * FerretDB's PostgreSQL pool. FerretDB 1.x's default (50) deadlocks once a command needs as many
 * connections as the pool holds (an update of 50 statements, or several writers at once); dirbridge's
 * update chunks stay below it, and the tests use what the README advises.
 */
export const FERRETDB_PG_POOL = 120;

async function startBinary(binary: MongoBinary, backend: FerretBackend, options: MongoServerOptions): Promise<MongoServer> {
  const dir = mkdtempSync(join(tmpdir(), 'dirbridge-mongo-'));
  let postgres: Postgres | undefined;
  try {
    if (binary.kind === 'ferretdb' && backend === 'postgresql') postgres = await startPostgres();
    const pool = options.pgPool === undefined ? FERRETDB_PG_POOL : options.pgPool;
    const pgUrl = postgres?.url('postgres', pool === null ? {} : { pool_max_conns: String(pool) });
    const { child, exited, port } = await listen(binary, options.pickPort ?? freePort, (port) =>
      binary.kind === 'mongod'
        ? ['--dbpath', dir, '--port', String(port), '--bind_ip', '127.0.0.1', '--quiet']
        : [
            ...(pgUrl === undefined ? ['--handler=sqlite', `--sqlite-url=file:${dir}/`] : ['--handler=postgresql', `--postgresql-url=${pgUrl}`]),
            `--state-dir=${dir}`,
            `--listen-addr=127.0.0.1:${port}`,
            '--telemetry=disable',
            '--debug-addr=-',
            '--log-level=ERROR',
          ],
    );
    const pg = postgres;
    return {
      kind: binary.kind,
      backend: binary.kind === 'ferretdb' ? backend : null,
      address: { host: '127.0.0.1', port },
      postgres: pg ?? null,
      binary: binary.path,
      pid: child.pid ?? null,
      version: binary.version,
      uri: (db) => `mongodb://127.0.0.1:${port}/${db}`,
      stop: async () => {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await pg?.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Starts the server on a free loopback port. A port that answers proves nothing by itself: between
 * picking it and the server binding it, another test file's server may take it, ours then fails to
 * bind and the tests would talk to the other one. So the server counts as started only once it
 * answers `serverStatus` with its own process id (FerretDB and mongod both report it); one that lost
 * the race is started again on a new port.
 */
async function listen(
  binary: MongoBinary,
  pickPort: () => Promise<number>,
  args: (port: number) => string[],
): Promise<{ child: ChildProcess; exited: Promise<number | null>; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await pickPort();
    const child: ChildProcess = spawn(binary.path, args(port), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await waitForPort(port, 20_000, exited, binary.kind);
      await waitForOwnPid(port, child, exited, binary.kind);
    } catch (error) {
      child.kill('SIGKILL');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
      const said = stderr.trim().split('\n').slice(0, 3).join(' | ');
      if (attempt < 3 && /address already in use|lost the port/.test(`${said} ${(error as Error).message}`)) continue;
      throw new Error(`${(error as Error).message}${said === '' ? '' : `: ${said}`}`, { cause: error });
    }
    child.stderr?.removeAllListeners('data');
    child.stderr?.resume();
    return { child, exited, port };
  }
}

async function waitForOwnPid(port: number, child: ChildProcess, exited: Promise<number | null>, what: string): Promise<void> {
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (dead) throw new Error(`${what} exited: it lost the port ${port} to another process`);
    const client = new mongoose.mongo.MongoClient(`mongodb://127.0.0.1:${port}/admin`, { serverSelectionTimeoutMS: 2000, directConnection: true });
    try {
      const status = (await client.db('admin').command({ serverStatus: 1 })) as { pid?: number | { toNumber(): number } };
      const pid = typeof status.pid === 'object' ? status.pid.toNumber() : status.pid;
      if (pid === child.pid) return;
      throw new Error(`${what} lost the port ${port} to another process (pid ${String(pid)} answers there)`);
    } catch (error) {
      if ((error as Error).message.includes('lost the port')) throw error;
    } finally {
      await client.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not answer serverStatus on port ${port} within 20 s`);
}

function withDatabase(uri: string, db: string): string {
  const url = new URL(uri);
  url.pathname = `/${db}`;
  return url.toString();
}

export interface MongoTarget {
  readonly label: string;
  readonly backend?: FerretBackend;
}

/**
 * What the store conformance and fault tests run on: FerretDB on each backend, and also MongoDB itself
 * when MONGODB_URI is set or a working mongod is on PATH. With MongoDB and no FerretDB (provisioning
 * builds none when MONGODB_URI is set), MongoDB alone; with neither, the FerretDB targets, which fail
 * saying how to get a server.
 */
export function mongoTargets(): MongoTarget[] {
  const ferret: MongoTarget[] = FERRETDB_BACKENDS.map((backend) => ({ label: `FerretDB/${backend === 'sqlite' ? 'SQLite' : 'PostgreSQL'}`, backend }));
  const external = process.env['MONGODB_URI'];
  const { usable } = findMongoBinaries();
  const mongodb = (external !== undefined && external !== '') || usable.some((b) => b.kind === 'mongod');
  if (!mongodb) return ferret;
  return [{ label: 'MongoDB' }, ...(usable.some((b) => b.kind === 'ferretdb') ? ferret : [])];
}

/** One server for a test file: started before its tests, stopped after them. */
export function useMongoServer(options: MongoServerOptions = {}): () => MongoServer {
  let server: MongoServer | undefined;
  beforeAll(async () => {
    server = await startMongoServer(options);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (server === undefined) throw new Error('the MongoDB-wire server is not running');
    return server;
  };
}
