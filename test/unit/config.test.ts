import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load-config.js';
import { configSchema } from '../../src/config/schema.js';
import { DirbridgeError } from '../../src/errors.js';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'config', 'examples');

const minimal = (extra = ''): string => `
directories:
  - id: corp
    type: ldif
    path: ./x.ldif
roles:
  customer:
    groups: [sd-customers]
${extra}`;

function problemsOf(text: string, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(text, { path: '/etc/dirbridge/dirbridge.yml', env });
  } catch (error) {
    if (error instanceof DirbridgeError) return (error.details?.['problems'] as string[] | undefined) ?? [error.message];
    throw error;
  }
  return [];
}

describe('config', () => {
  it('parses every file in config/examples', () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yml'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    const token = 't'.repeat(24);
    const env = { LDAP_BIND_PASSWORD: 'x-secret', CROWD_APP_PASSWORD: 'y-secret', SMTP_PASSWORD: 'z-secret', DIRBRIDGE_TRIGGER_TOKEN: token, DIRBRIDGE_ADMIN_TOKEN: token, DIRBRIDGE_PORTAL_TOKEN: token };
    for (const file of files) expect(() => loadConfig(join(EXAMPLES, file), { env }), file).not.toThrow();
  });

  it('fills defaults and freezes the result', () => {
    const { config } = parseConfig(minimal(), { path: 'x.yml', env: {} });
    expect(config.store.url).toBe('file:./data/dirbridge.db');
    expect(config.licensing.onLicensedMembership).toBe('strip');
    expect(config.licensing.licensedGroups).toContain('jira-servicedesk-users');
    expect(config.safety).toEqual({ maxDeactivations: { count: 500, percent: 10 }, countDropPercent: 30 });
    expect(config.directories[0]).toMatchObject({ allUsers: false, profile: 'openldap' });
    expect(Object.isFrozen(config.directories[0])).toBe(true);
  });

  it('rejects a customer default group that is also licensed, naming the group and the consequence', () => {
    const problems = problemsOf(minimal('licensing:\n  licensedGroups: [Jira-Users, SD-Customers]'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^roles\.customer\.groups\[0\]: group "sd-customers" .*licensed group.*every customer in it would consume a licence seat/);
  });

  it('reports every problem at once, each with its path and a fix', () => {
    const text = `
store: { url: "postgres://x" }
directories:
  - { id: a, type: ldif, path: ./a.ldif }
  - { id: a, type: ldif }
  - { id: "bad id", type: nis }
roles: { customer: { groups: [c] } }
licensing: { onLicensedMembership: maybe }
safety: { maxDeactivations: { count: -1 } }
schedules:
  - { cron: "61 * * * *", directories: [nope], timezone: Mars/Olympus }
typo: 1
`;
    const problems = problemsOf(text);
    const paths = problems.map((p) => p.split(':')[0]);
    expect(paths).toEqual(
      expect.arrayContaining([
        'store.url',
        'directories[1].path',
        'directories[2].type',
        'licensing.onLicensedMembership',
        'safety.maxDeactivations.count',
        '(top level)',
      ]),
    );
    expect(problems.find((p) => p.startsWith('directories[1].path'))).toContain('Fix: add it');
    expect(problems.find((p) => p.startsWith('(top level)'))).toContain('"typo"');
  });

  it('checks cross-references once the shapes are right: duplicate ids, schedule ids, cron, time zones', () => {
    const text = `${minimal()}
  - { id: corp, type: ldif, path: ./y.ldif }
schedules:
  - { cron: "61 * * * *", directories: [corp, nope], timezone: Mars/Olympus }
  - { cron: "*/15 * * * *" }
`.replace('roles:\n  customer:\n    groups: [sd-customers]\n', '') + 'roles:\n  customer:\n    groups: [sd-customers]\n';
    const problems = problemsOf(text);
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['directories[1].id', 'schedules[0].cron', 'schedules[0].directories[1]', 'schedules[0].timezone']);
    expect(problems.find((p) => p.startsWith('schedules[0].cron'))).toContain('not a valid cron expression');
  });

  it('resolves ${env:…} and ${file:…} secret references, reporting the missing ones by path', () => {
    const dir = join(import.meta.dirname, '..', 'fixtures');
    const text = minimal().replace('./x.ldif', '${env:LDIF_DIR}/x-${file:secret.txt}.ldif');
    const loaded = parseConfig(text, { path: join(dir, 'dirbridge.yml'), env: { LDIF_DIR: '/data' } });
    const directory = loaded.config.directories[0];
    expect(directory?.type === 'ldif' && directory.path).toBe('/data/x-s3cr3t-from-file.ldif');
    expect([...loaded.secrets]).toEqual([]); // a path is config, not a secret, wherever its parts come from
    const problems = problemsOf(minimal().replace('./x.ldif', '${env:NOPE}${file:/nonexistent/secret}'));
    expect(problems).toEqual([
      'directories[0].path: environment variable NOPE is not set. Fix: export NOPE=… before running dirbridge',
      'directories[0].path: secret file /nonexistent/secret cannot be read (ENOENT). Fix: check the path and its permissions',
    ]);
  });

  it('never echoes a resolved secret in a validation message', () => {
    const sentinel = 'S3NTINEL-4bd1c2';
    const problems = problemsOf(minimal().replace('corp', '${env:PW}').replace('[sd-customers]', '["${env:PW}"]').replace('type: ldif', 'type: ldif\n    profile: "${env:PW}"'), { PW: sentinel });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).not.toContain(sentinel);
  });

  it('names YAML syntax errors by line', () => {
    expect(problemsOf('directories:\n  - id: [unclosed\n')[0]).toMatch(/^line \d+:/);
  });

  it('keeps the committed JSON Schema for editors in step with the zod schema', () => {
    const committed = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'config', 'dirbridge.schema.json'), 'utf8')) as unknown;
    expect(committed).toEqual(z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }));
  });
});
