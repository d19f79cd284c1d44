import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { freePort, waitForPort } from './ports.js';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real MongoDB-wire server for store tests, in this order: MONGODB_URI if set; a `mongod` on PATH;
 * else FerretDB 1.x (SQLite backend) from FERRETDB_BIN, PATH or the cache `npm run test:all` fills.
 * Never a mock: when none is available the tests fail with a message saying how to get one.
 */
export interface MongoServer {
  readonly kind: 'external' | 'mongod' | 'ferretdb';
  /** A connection string for a fresh database of this name. */
  uri(database: string): string;
  stop(): Promise<void>;
}

export const FERRETDB_CACHE = join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'dirbridge', 'bin', 'ferretdb');

const INSTALL_HINT =
  'No MongoDB-wire server for the store tests. Run `npm run test:all` (it builds FerretDB v1.24.2 with Go into ' +
  `${FERRETDB_CACHE}), or set MONGODB_URI to a MongoDB you own, or install mongod on PATH.`;

export async function startMongoServer(): Promise<MongoServer> {
  const external = process.env['MONGODB_URI'];
  if (external !== undefined && external !== '') {
    return { kind: 'external', uri: (db) => withDatabase(external, db), stop: async () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), 'dirbridge-mongo-'));
  const port = await freePort();
  const mongod = onPath('mongod');
  let child: ChildProcess;
  let kind: MongoServer['kind'];
  if (mongod !== null) {
    kind = 'mongod';
    child = spawn(mongod, ['--dbpath', dir, '--port', String(port), '--bind_ip', '127.0.0.1', '--quiet'], { stdio: 'ignore' });
  } else {
    const ferret = [process.env['FERRETDB_BIN'], onPath('ferretdb'), FERRETDB_CACHE].find((p): p is string => p !== undefined && p !== null && p !== '' && existsSync(p));
    if (ferret === undefined) throw new Error(INSTALL_HINT);
    kind = 'ferretdb';
    child = spawn(
      ferret,
      ['--handler=sqlite', `--sqlite-url=file:${dir}/`, `--state-dir=${dir}`, `--listen-addr=127.0.0.1:${port}`, '--telemetry=disable', '--debug-addr=-', '--log-level=ERROR'],
      { stdio: 'ignore' },
    );
  }
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await waitForPort(port, 20_000, exited, kind);
  return {
    kind,
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

function onPath(command: string): string | null {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

/** One server for a test file: started before its tests, stopped after them. */
export function useMongoServer(): () => MongoServer {
  let server: MongoServer | undefined;
  beforeAll(async () => {
    server = await startMongoServer();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (server === undefined) throw new Error('the MongoDB-wire server is not running');
    return server;
  };
}
