import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import mongoose from 'mongoose';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { findMongoBinaries, installHint, startMongoServer } from '../helpers/mongo-server.js';
import { findPostgresBin } from '../helpers/postgres-server.js';
import { freePort } from '../helpers/ports.js';
import { createServer, type AddressInfo } from 'node:net';

/**
 * The suite never starts a server binary it has not checked: leftovers of a failed install (a
 * FerretDB built without its version file, a wrapper that only prints an error) are skipped by name.
 */
const tmp = mkdtempSync(join(tmpdir(), 'dirbridge-poison-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function script(dir: string, name: string, body: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

// Broken leftovers, as a failed earlier install leaves them first on PATH.
const poison = join(tmp, 'poison');
script(poison, 'ferretdb', 'echo "panic: Invalid build/version/version.txt file content" >&2; exit 2');
script(poison, 'mongod', 'echo "mongod: broken leftover" >&2; exit 2');
// Answers --version as FerretDB 1.x, then dies when started: passes the check, must still be skipped.
const liar = join(tmp, 'liar');
script(liar, 'ferretdb', 'if [ "$1" = "--version" ]; then echo "version: v1.24.2"; exit 0; fi; echo "panic: cannot start" >&2; exit 1');

describe('test servers: broken binaries on PATH', () => {
  const saved = { PATH: process.env['PATH'], MONGODB_URI: process.env['MONGODB_URI'] };
  afterEach(() => {
    process.env['PATH'] = saved.PATH;
    if (saved.MONGODB_URI === undefined) delete process.env['MONGODB_URI'];
    else process.env['MONGODB_URI'] = saved.MONGODB_URI;
    vi.restoreAllMocks();
  });

  it('skips a broken ferretdb and mongod first on PATH, names them, and serves from a working binary', async () => {
    delete process.env['MONGODB_URI'];
    process.env['PATH'] = [poison, liar, saved.PATH].join(':');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const server = await startMongoServer();
    try {
      expect(server.binary.startsWith(tmp)).toBe(false);
      const warnings = warn.mock.calls.map((c) => String(c[0])).join('\n');
      expect(warnings).toContain(`skipping \`${join(poison, 'ferretdb')} --version\` is not FerretDB 1.x (exit 2: panic: Invalid build/version`);
      expect(warnings).toContain(`skipping \`${join(poison, 'mongod')} --version\` is not MongoDB (mongod)`);
      expect(warnings).toContain(`skipping ${join(liar, 'ferretdb')} (version: v1.24.2) did not start: ferretdb exited before accepting connections`);
      expect(warnings).toContain('panic: cannot start');
      const connection = await mongoose.createConnection(server.uri('poison-check'), { serverSelectionTimeoutMS: 5000 }).asPromise();
      expect(await connection.db?.admin().ping()).toMatchObject({ ok: 1 });
      await connection.close();
    } finally {
      await server.stop();
    }
  }, 90_000);

  it('with no working binary, fails naming every binary it skipped and saying how to get one', () => {
    const { usable, rejected } = findMongoBinaries({ PATH: poison }, join(tmp, 'no-cache', 'ferretdb'));
    expect(usable).toEqual([]);
    const hint = installHint(rejected);
    expect(hint).toContain(join(poison, 'ferretdb'));
    expect(hint).toContain(join(poison, 'mongod'));
    expect(hint).toContain('npm run test:all');
    expect(hint).toContain('MONGODB_URI');
  });

  it('provisioning moves a broken ferretdb left by go install aside and never builds over a working server', () => {
    const { usable } = findMongoBinaries({ PATH: saved.PATH ?? '' });
    const working = usable[0];
    if (working === undefined) throw new Error(installHint([]));
    const gobin = join(tmp, 'gobin');
    const leftover = script(gobin, 'ferretdb', 'echo "panic: Invalid build/version/version.txt file content" >&2; exit 2');
    const run = spawnSync('bash', [join(ROOT, 'scripts', 'provision', 'ferretdb.sh')], {
      encoding: 'utf8',
      env: { ...process.env, MONGODB_URI: '', GOBIN: gobin, XDG_CACHE_HOME: join(tmp, 'empty-cache'), PATH: [poison, gobin, dirname(working.path), saved.PATH].join(':') },
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(existsSync(leftover)).toBe(false);
    expect(existsSync(`${leftover}.broken`)).toBe(true);
    expect(run.stdout).toContain(`moved a broken ${leftover}`);
    expect(run.stdout).toContain(`skipping ${join(poison, 'mongod')}`);
    expect(run.stdout).toContain(`skipping ${join(poison, 'ferretdb')}`);
    expect(run.stdout).toContain(`a working MongoDB-wire server is on PATH: ${working.path}`);
    expect(existsSync(join(tmp, 'empty-cache'))).toBe(false);
  });
});

describe('test servers: FerretDB on a port another server took, and on PostgreSQL', () => {
  it('a FerretDB that lost its port to another server between the pick and its bind is started again on a new port', async () => {
    // Another test file's server, already listening on the port the helper picks first.
    const squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as AddressInfo).port;
    const picks: number[] = [];
    const server = await startMongoServer({
      backend: 'sqlite',
      pickPort: async () => {
        const port = picks.length === 0 ? taken : await freePort();
        picks.push(port);
        return port;
      },
    });
    try {
      expect(picks[0]).toBe(taken);
      expect(picks.length).toBeGreaterThan(1);
      expect(server.address?.port).not.toBe(taken);
      const connection = await mongoose.createConnection(server.uri('port-race'), { serverSelectionTimeoutMS: 5000 }).asPromise();
      expect(await connection.db?.admin().ping()).toMatchObject({ ok: 1 });
      await connection.close();
    } finally {
      await server.stop();
      await new Promise((resolve) => squatter.close(resolve));
    }
  }, 90_000);

  it('FerretDB on PostgreSQL stores into a throwaway cluster run as a non-root user, over a Unix socket', async () => {
    const server = await startMongoServer({ backend: 'postgresql' });
    try {
      expect(server.backend).toBe('postgresql');
      const pg = server.postgres;
      if (pg === null || pg === undefined) throw new Error('no PostgreSQL behind FerretDB');
      expect(pg.runAs).not.toBe(0);
      const connection = await mongoose.createConnection(server.uri('check_pg'), { serverSelectionTimeoutMS: 5000 }).asPromise();
      await connection.db?.collection('things').insertOne({ _id: 'x' as never, n: 1 });
      await connection.close();
      // FerretDB keeps a MongoDB database as a PostgreSQL schema of that name.
      const psql = spawnSync(join(pg.bin, 'psql'), ['-h', pg.socket.dir, '-p', String(pg.socket.port), '-U', 'dirbridge', '-d', 'postgres', '-Atc', 'SELECT schema_name FROM information_schema.schemata'], { encoding: 'utf8' });
      expect(psql.status, psql.stderr).toBe(0);
      expect(psql.stdout.split('\n')).toContain('check_pg');
    } finally {
      await server.stop();
    }
  }, 90_000);

  it('without PostgreSQL server binaries, fails saying how to install them', () => {
    expect(() => findPostgresBin({}, join(tmp, 'no-postgresql'))).toThrow(/No PostgreSQL server binaries for FerretDB's postgresql backend \(nothing under .*no-postgresql\)\. Fix: run `npm run test:all` \(scripts\/provision\/postgresql\.sh installs it\), or `apt-get install postgresql`/);
    const fake = join(tmp, 'fake-pg', 'bin');
    script(fake, 'postgres', 'echo "not postgres" >&2; exit 1');
    expect(() => findPostgresBin({ PG_BIN: fake }, join(tmp, 'no-postgresql'))).toThrow(/is not PostgreSQL \(exit 1: not postgres\)/);
  });
});
