import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { runCli } from '../helpers/cli.js';

interface Container {
  args: string[];
  readinessProbe: { httpGet: { path: string } };
  livenessProbe: { httpGet: { path: string } };
  resources: { limits: { memory?: string } };
}
interface Workload {
  kind: string;
  spec: { template: { spec: { containers: Container[] } } };
}

const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy');
const read = (...path: string[]) => readFileSync(join(DEPLOY, ...path), 'utf8');

function unitFile(name: string): Map<string, string[]> {
  const entries = new Map<string, string[]>();
  let section = '';
  for (const raw of read('systemd', name).split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header !== null) {
      section = header[1] ?? '';
      continue;
    }
    const eq = line.indexOf('=');
    expect(eq, `${name}: "${line}" is not key=value`).toBeGreaterThan(0);
    const key = `${section}.${line.slice(0, eq)}`;
    entries.set(key, [...(entries.get(key) ?? []), line.slice(eq + 1)]);
  }
  return entries;
}

/**
 * The CLI accepts these arguments: run with a config that does not exist, strict argument parsing
 * (ERR_USAGE) comes first, so reaching ERR_CONFIG proves the command and every option are real.
 */
function expectCliAccepts(args: readonly string[]): void {
  const withoutConfig = args.filter((_, i) => args[i] !== '--config' && args[i - 1] !== '--config');
  const result = runCli([...withoutConfig, '--config', '/nonexistent/dirbridge.yml'], { cwd: DEPLOY });
  expect(result.stderr, `dirbridge ${args.join(' ')}`).toMatch(/^dirbridge: ERR_CONFIG: cannot read config file \/nonexistent\/dirbridge\.yml/);
}

describe('deploy/', () => {
  it('the argument check can fail', () => {
    expect(() => expectCliAccepts(['sync', '--no-such-option'])).toThrow();
  });

  it('systemd: the units run the real bin with commands the CLI accepts; the timer names a calendar', () => {
    for (const unit of ['dirbridge-sync.service', 'dirbridge.service']) {
      const [node, bin, ...args] = (unitFile(unit).get('Service.ExecStart')?.[0] ?? '').split(' ');
      expect(node).toBe('/usr/bin/node');
      expect(bin).toBe('/opt/dirbridge/bin/dirbridge.js');
      expectCliAccepts(args);
    }
    expect(unitFile('dirbridge-sync.timer').get('Timer.OnCalendar')).toEqual(['*:0/15']);
    const env = read('dirbridge.env.example').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    for (const line of env) expect(line).toMatch(/^[A-Z_]+=\S+$/);
  });

  it('Dockerfile: multi-stage, non-root, production install, healthcheck, and the real bin as entrypoint', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    // Both stages on the Node.js 24 LTS image: the build stage's native modules must match the runtime's ABI.
    expect([...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1])).toEqual(['node:24-bookworm-slim', 'node:24-bookworm-slim']);
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/\/healthz/);
    const entrypoint = JSON.parse(/^ENTRYPOINT (.+)$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    expect(entrypoint).toEqual(['node', '/app/bin/dirbridge.js']);
    expect(dockerfile).toMatch(/^COPY bin \.\/bin$/m);
    const cmd = JSON.parse(/^CMD (.+)$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    expectCliAccepts(cmd);
  });

  it('compose: parses, builds the Dockerfile, and mounts a config that validates', () => {
    const compose = parse(read('compose', 'compose.yaml')) as { services: Record<string, { build?: { dockerfile: string }; command?: string[]; environment?: Record<string, string> }> };
    expect(Object.keys(compose.services).sort()).toEqual(['dirbridge', 'mongo', 'openldap']);
    const app = compose.services['dirbridge'];
    expect(app?.build?.dockerfile).toBe('deploy/Dockerfile');
    expectCliAccepts(app?.command ?? []);
    const loaded = parseConfig(read('compose', 'dirbridge.yml'), { path: join(DEPLOY, 'compose', 'dirbridge.yml'), env: app?.environment ?? {} });
    expect(loaded.config.directories[0]).toMatchObject({ type: 'ldap', users: { baseDn: 'ou=People,dc=example,dc=com' } });
    expect(read('compose', 'ldif', 'sample.ldif')).toContain('dn: cn=sd-customers,ou=Groups,dc=example,dc=com');
  });

  it('Kubernetes: a Deployment with probes and resources for serve, and a CronJob running sync', () => {
    const [deployment] = parseAllDocuments(read('k8s', 'deployment.yaml')).map((d) => d.toJS() as Workload);
    const container = deployment?.spec.template.spec.containers[0] as Container;
    expect(deployment?.kind).toBe('Deployment');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.resources.limits.memory).toBeDefined();
    expectCliAccepts(container.args);
    const [cronjob] = parseAllDocuments(read('k8s', 'cronjob.yaml')).map((d) => d.toJS() as { kind: string; spec: { jobTemplate: Workload } });
    expect(cronjob?.kind).toBe('CronJob');
    const job = cronjob?.spec.jobTemplate.spec.template.spec.containers[0] as Container;
    expect(job.args[0]).toBe('sync');
    expectCliAccepts(job.args);
  });
});
