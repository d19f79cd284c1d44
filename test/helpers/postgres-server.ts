import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkBinary, isRejected } from './server-binaries.js';

/**
 * A throwaway PostgreSQL cluster for FerretDB's postgresql backend: Debian's server binaries
 * (/usr/lib/postgresql/N/bin, newest first; PG_BIN overrides), `initdb` into a temporary directory,
 * then `postgres` listening only on a Unix socket in that directory (no TCP port, so no port race with
 * other test files). PostgreSQL refuses to run as root: when the tests run as root, the cluster is
 * made and run as the `postgres` user (which the Debian package creates), else as `nobody`.
 */
export interface Postgres {
  readonly version: string;
  /** The directory of the server binaries used (psql is there too). */
  readonly bin: string;
  /** The Unix socket directory and port (the port only names the socket file). */
  readonly socket: { readonly dir: string; readonly port: number };
  /** The user the server runs as (`postgres` or `nobody` when the tests run as root). */
  readonly runAs: number;
  /** The postmaster's process id (its backends are its children: the benchmark reads their CPU). */
  readonly pid: number;
  /** A libpq/pgx URL for a database of the cluster over its socket, with extra query parameters. */
  url(database: string, params?: Record<string, string>): string;
  stop(): Promise<void>;
}

const INSTALL_HINT = 'Fix: run `npm run test:all` (scripts/provision/postgresql.sh installs it), or `apt-get install postgresql`';

export function findPostgresBin(env: NodeJS.ProcessEnv = process.env, root = '/usr/lib/postgresql'): string {
  const candidates = [
    ...(env['PG_BIN'] === undefined || env['PG_BIN'] === '' ? [] : [env['PG_BIN']]),
    ...(existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)).map((v) => join(root, v, 'bin')) : []),
  ];
  const problems: string[] = [];
  for (const bin of candidates) {
    const checked = checkBinary(join(bin, 'postgres'), { what: 'PostgreSQL', args: ['--version'], expect: /^postgres \(PostgreSQL\) \d+/ });
    if (!isRejected(checked) && existsSync(join(bin, 'initdb'))) return bin;
    problems.push(isRejected(checked) ? checked.reason : `${bin}/initdb is missing`);
  }
  throw new Error(`No PostgreSQL server binaries for FerretDB's postgresql backend${problems.length === 0 ? ` (nothing under ${root})` : `: ${problems.join('; ')}`}. ${INSTALL_HINT}`);
}

function runAs(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      if (Number.isInteger(uid) && uid > 0) return { uid, gid };
    } catch {
      // no such user
    }
  }
  throw new Error('PostgreSQL refuses to run as root and there is no postgres or nobody user to run it as. Fix: `apt-get install postgresql` (it creates the postgres user)');
}

export async function startPostgres(): Promise<Postgres> {
  const bin = findPostgresBin();
  const version = execFileSync(join(bin, 'postgres'), ['--version'], { encoding: 'utf8' }).trim();
  const dir = mkdtempSync(join(tmpdir(), 'dirbridge-pg-'));
  const data = join(dir, 'data');
  const socket = join(dir, 'socket');
  mkdirSync(socket);
  const user = runAs();
  const as = user === null ? {} : { uid: user.uid, gid: user.gid };
  if (user !== null) for (const path of [dir, socket]) chownSync(path, user.uid, user.gid);
  try {
    execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'dirbridge', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], { stdio: 'pipe', cwd: dir, ...as });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${String((error as { stderr?: Buffer }).stderr ?? (error as Error).message).trim().slice(0, 300)}`, { cause: error });
  }
  const port = 5432;
  const child: ChildProcess = spawn(
    join(bin, 'postgres'),
    ['-D', data, '-k', socket, '-c', "listen_addresses=", '-p', String(port), '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300'],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir, ...as },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const stop = async (): Promise<void> => {
    child.kill('SIGINT'); // fast shutdown
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForReady(join(data, 'postmaster.pid'), child, exited);
  } catch (error) {
    await stop();
    throw new Error(`PostgreSQL (${bin}) did not start: ${(error as Error).message}${stderr === '' ? '' : `: ${stderr.trim().split('\n').slice(-3).join(' | ')}`}`, { cause: error });
  }
  child.stderr?.removeAllListeners('data');
  child.stderr?.resume();
  return {
    version,
    bin,
    socket: { dir: socket, port },
    runAs: user?.uid ?? process.getuid?.() ?? -1,
    pid: child.pid ?? -1,
    url: (database, params = {}) => `postgres://dirbridge@/${database}?${new URLSearchParams({ host: socket, port: String(port), ...params }).toString()}`,
    stop,
  };
}

/** The postmaster's pid file says `ready` on its status line once it accepts connections: proof it is ours. */
async function waitForReady(pidFile: string, child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (code !== undefined) throw new Error(`postgres exited (code ${String(code)})`);
    if (existsSync(pidFile)) {
      const lines = readFileSync(pidFile, 'utf8').split('\n').map((l) => l.trim());
      if (lines[0] === String(child.pid) && lines[7] === 'ready') return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('postgres did not become ready within 30 s');
}
