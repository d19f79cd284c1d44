import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { freePort, waitForPort } from './ports.js';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { allOnPath, checkBinary, isRejected, type BinaryCheck, type Rejected } from './server-binaries.js';

/**
 * A real MongoDB-wire server for store tests, in this order: MONGODB_URI if set; a `mongod` on PATH;
 * else FerretDB 1.x (SQLite backend) from FERRETDB_BIN, PATH or the cache `npm run test:all` fills.
 * Every binary is checked (`--version`) before it is started; one that fails the check, or exits
 * before accepting connections, is skipped with a message naming it. Never a mock: when none works
 * the tests fail with a message saying how to get one.
 */
export interface MongoServer {
  readonly kind: 'external' | 'mongod' | 'ferretdb';
  /** The binary that serves, for messages (`MONGODB_URI` for an external server). */
  readonly binary: string;
  /** A connection string for a fresh database of this name. */
  uri(database: string): string;
  stop(): Promise<void>;
}

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

export async function startMongoServer(): Promise<MongoServer> {
  const external = process.env['MONGODB_URI'];
  if (external !== undefined && external !== '') {
    return { kind: 'external', binary: 'MONGODB_URI', uri: (db) => withDatabase(external, db), stop: async () => {} };
  }
  const { usable, rejected } = findMongoBinaries();
  for (const r of rejected) console.warn(`MongoDB-wire server: skipping ${r.reason}`);
  for (const binary of usable) {
    try {
      return await startBinary(binary);
    } catch (error) {
      const reason = `${binary.path} (${binary.version}) did not start: ${(error as Error).message}`;
      console.warn(`MongoDB-wire server: skipping ${reason}`);
      rejected.push({ path: binary.path, reason });
    }
  }
  throw new Error(installHint(rejected));
}

async function startBinary(binary: MongoBinary): Promise<MongoServer> {
  const dir = mkdtempSync(join(tmpdir(), 'dirbridge-mongo-'));
  const port = await freePort();
  const args =
    binary.kind === 'mongod'
      ? ['--dbpath', dir, '--port', String(port), '--bind_ip', '127.0.0.1', '--quiet']
      : ['--handler=sqlite', `--sqlite-url=file:${dir}/`, `--state-dir=${dir}`, `--listen-addr=127.0.0.1:${port}`, '--telemetry=disable', '--debug-addr=-', '--log-level=ERROR'];
  const child: ChildProcess = spawn(binary.path, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    await waitForPort(port, 20_000, exited, binary.kind);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    const said = stderr.trim().split('\n').slice(0, 3).join(' | ');
    throw new Error(`${(error as Error).message}${said === '' ? '' : `: ${said}`}`, { cause: error });
  }
  child.stderr?.removeAllListeners('data');
  child.stderr?.resume();
  return {
    kind: binary.kind,
    binary: binary.path,
    uri: (db) => `mongodb://127.0.0.1:${port}/${db}`,
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function withDatabase(uri: string, db: string): string {
  const url = new URL(uri);
  url.pathname = `/${db}`;
  return url.toString();
}

/** One server for a test file: started before its tests, stopped after them. */
export function useMongoServer(): () => MongoServer {
  let server: MongoServer | undefined;
  beforeAll(async () => {
    server = await startMongoServer();
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (server === undefined) throw new Error('the MongoDB-wire server is not running');
    return server;
  };
}
