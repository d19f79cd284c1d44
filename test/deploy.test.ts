import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

const DEPLOY = join(import.meta.dirname, '..', 'deploy');

function unitFile(name: string): Map<string, string[]> {
  const entries = new Map<string, string[]>();
  let section = '';
  for (const raw of readFileSync(join(DEPLOY, 'systemd', name), 'utf8').split('\n')) {
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

describe('deploy/systemd', () => {
  it('the service runs the real bin with a command and options the CLI accepts', () => {
    const service = unitFile('dirbridge-sync.service');
    const exec = service.get('Service.ExecStart')?.[0] ?? '';
    const [node, bin, ...args] = exec.split(' ');
    expect(node).toBe('/usr/bin/node');
    expect(bin).toBe('/opt/dirbridge/bin/dirbridge.js');
    const configIndex = args.indexOf('--config');
    const withoutConfig = args.filter((_, i) => i !== configIndex && i !== configIndex + 1);
    const help = runCli([...withoutConfig, '--help'], { cwd: DEPLOY });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--log-level');
  });

  it('the timer names a calendar and the env example only assigns variables', () => {
    const timer = unitFile('dirbridge-sync.timer');
    expect(timer.get('Timer.OnCalendar')).toEqual(['*:0/15']);
    const env = readFileSync(join(DEPLOY, 'dirbridge.env.example'), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    for (const line of env) expect(line).toMatch(/^[A-Z_]+=\S+$/);
  });
});
