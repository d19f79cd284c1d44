import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { consoleConfigWarnings, proxyMatcher } from '../../src/config/console-config.js';
import { parseConfig } from '../../src/config/load-config.js';
import { DirbridgeError } from '../../src/errors.js';
import { hashPassword, verifyPassword } from '../../src/service/console/password.js';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const HASH = 'scrypt$1024$8$1$c2FsdHNhbHRzYWx0c2FsdA$' + 'A'.repeat(43);
const base = (consoleSection: string): string => `directories:
  - { id: corp, type: ldif, path: ./x.ldif }
roles: { customer: { groups: [sd-customers] } }
${consoleSection}`;

function problems(consoleSection: string, env: Record<string, string> = { CS: 'x'.repeat(40) }): string[] {
  try {
    parseConfig(base(consoleSection), { path: 'dirbridge.yml', env }).checkSecrets();
    return [];
  } catch (error) {
    if (error instanceof DirbridgeError) return (error.details?.['problems'] as string[] | undefined) ?? [error.message];
    throw error;
  }
}

describe('console config', () => {
  it('is off without a console section, and needs at least one user and a cookie secret with one', () => {
    expect(parseConfig(base(''), { path: 'dirbridge.yml', env: {} }).config.console).toBeUndefined();
    expect(problems('console: { users: [], cookieSecret: "${env:CS}" }')).toEqual(['console.users: list at least one console user (make a password hash with: dirbridge console hash-password)']);
    expect(problems(`console: { users: [{ username: ann, role: admin, passwordHash: "${HASH}" }] }`)).toEqual([expect.stringMatching(/^console\.cookieSecret: /)]);
  });

  it('names each mistake with its path', () => {
    expect(problems(`console: { users: [{ username: ann, role: root, passwordHash: "${HASH}" }], cookieSecret: "\${env:CS}" }`)).toEqual([expect.stringMatching(/^console\.users\[0\]\.role: /)]);
    expect(problems('console: { users: [{ username: ann, role: admin, passwordHash: "hunter2" }], cookieSecret: "${env:CS}" }')).toEqual([
      'console.users[0].passwordHash: a hash made by `dirbridge console hash-password` (scrypt$N$r$p$salt$hash)',
    ]);
    expect(problems('console: { users: [{ username: ann, role: admin }], cookieSecret: "${env:CS}" }')).toEqual([
      'console.users[0].passwordHash: ann has no passwordHash and there is no trustedHeader: nobody could sign in as them (make one with: dirbridge console hash-password)',
    ]);
    expect(problems(`console: { users: [{ username: ann, role: admin, passwordHash: "${HASH}" }, { username: ANN, role: auditor, passwordHash: "${HASH}" }], cookieSecret: "\${env:CS}" }`)).toEqual([
      'console.users[1].username: duplicate console user "ANN"',
    ]);
    expect(problems('console: { users: [{ username: ann, role: admin }], cookieSecret: "${env:CS}", trustedHeader: { name: X-Remote-User, proxies: [10.0.0.0/33] } }')).toEqual([
      'console.trustedHeader.proxies[0]: an IP address or a CIDR range, e.g. 10.0.0.5 or 10.0.0.0/24',
    ]);
    expect(problems(`console: { users: [{ username: ann, role: admin, passwordHash: "${HASH}" }], cookieSecret: "\${env:CS}" }`, { CS: 'short' })).toEqual([expect.stringContaining('console.cookieSecret')]);
  });

  it('warns (config validate) about a header trusted from anywhere and a cheap password hash', () => {
    const { config } = parseConfig(base(`console: { users: [{ username: ann, role: admin, passwordHash: "${HASH}" }], cookieSecret: "\${env:CS}", trustedHeader: { name: X-Remote-User, proxies: [10.0.0.5, 0.0.0.0/0] } }`), { path: 'dirbridge.yml', env: { CS: 'x'.repeat(40) } });
    expect(consoleConfigWarnings(config.console)).toEqual([
      'console.trustedHeader.proxies has 0.0.0.0/0: the X-Remote-User header is honoured from any address, so anyone who can reach serve can sign in as any console user; name the proxies\' own addresses',
      'console user ann: the password hash is cheap to guess (scrypt N=1024); make a new one with: dirbridge console hash-password',
    ]);
    expect(consoleConfigWarnings(undefined)).toEqual([]);
  });

  it('matches proxy addresses and ranges, IPv4-mapped IPv6 included', () => {
    const fromProxy = proxyMatcher(['127.0.0.1', '10.1.0.0/16', '::1']);
    expect([fromProxy('127.0.0.1'), fromProxy('::ffff:127.0.0.1'), fromProxy('10.1.200.3'), fromProxy('::1')]).toEqual([true, true, true, true]);
    expect([fromProxy('127.0.0.2'), fromProxy('10.2.0.1'), fromProxy(undefined), fromProxy('not an address')]).toEqual([false, false, false, false]);
  });
});

describe('console passwords', () => {
  it('verifies what it hashed and nothing else; every hash has its own salt', async () => {
    const cost = { N: 1024, r: 8, p: 1 };
    const a = await hashPassword('correct horse battery', cost);
    const b = await hashPassword('correct horse battery', cost);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterY', a)).toBe(false);
    expect(await verifyPassword('correct horse battery', a.slice(0, -2))).toBe(false);
    expect(await verifyPassword('anything', 'plain-text')).toBe(false);
  });

  it('dirbridge console hash-password reads the password on stdin and prints a hash the console accepts; refuses a short one', async () => {
    const cli = (input: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', '-e', `import(${JSON.stringify(MAIN)}).then(async ({ main }) => { process.exitCode = await main(['console', 'hash-password'], { stdout: process.stdout, stderr: process.stderr, env: {} }); })`], { input, encoding: 'utf8' });
    const made = cli('a long enough password\n');
    expect(made.status, made.stderr).toBe(0);
    expect(await verifyPassword('a long enough password', made.stdout.trim())).toBe(true);
    const short = cli('short\n');
    expect(short.status).toBe(2);
    expect(short.stderr).toContain('ERR_USAGE: the password is shorter than 12 characters');
  });
});
