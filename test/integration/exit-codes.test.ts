import { rmSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/ports/store.js';
import { makeWorkspace, runCli } from '../helpers/cli.js';
import { generateLdif } from '../helpers/generate-ldif.js';

const workspaces: string[] = [];
afterAll(() => {
  for (const dir of workspaces) rmSync(dir, { recursive: true, force: true });
});
function workspace(config?: string) {
  const ws = makeWorkspace(config);
  workspaces.push(ws.dir);
  return { ...ws, cli: (...args: string[]) => runCli(['--config', ws.config, ...args], { cwd: ws.dir }) };
}

describe('exit codes that tell a scheduler what happened', () => {
  it('plan and sync --dry-run exit 1 when a directory cannot be read, as sync does', () => {
    const ws = workspace();
    expect(ws.cli('sync').status).toBe(0);
    expect(ws.cli('plan').status).toBe(0);
    expect(ws.cli('sync', '--dry-run').status).toBe(0);
    rmSync(ws.ldif);
    for (const args of [['plan'], ['sync', '--dry-run'], ['plan', '--json'], ['sync']]) {
      const result = ws.cli(...args);
      expect({ args, status: result.status }).toEqual({ args, status: 1 });
      expect(result.stdout).toMatch(args.includes('--json') ? /"withheld": 237/ : /withheld 237/);
    }
  });

  it('a suspect read exits 7 with outcome "withheld", shown in runs; an explicit allowance applies it (exit 0)', () => {
    const ws = workspace(`store: { url: "file:./store.db" }
directories:
  - { id: sample, type: ldif, path: ./directory.ldif }
roles: { customer: { groups: [customers] } }
`);
    writeFileSync(ws.ldif, generateLdif(100));
    expect(ws.cli('sync').status).toBe(0);
    writeFileSync(ws.ldif, generateLdif(60));

    const planned = ws.cli('plan');
    expect(planned.status).toBe(7);
    const suspect = ws.cli('sync');
    expect(suspect.status).toBe(7);
    expect(suspect.stdout).toContain('created 0, updated 0, reactivated 0, deactivated 0, unchanged 60, withheld 40');
    expect(suspect.stdout).toContain('Outcome: withheld');
    expect(suspect.stdout).not.toContain('Outcome: success');
    expect(suspect.stderr).toContain('dirbridge: ERR_DEACTIVATIONS_WITHHELD: 40 deactivations withheld');
    expect(suspect.stderr).toContain('--allow-deactivations 40');
    const runs = ws.cli('runs');
    expect(runs.stdout.split('\n')[0]).toMatch(/ withheld .* ERR_DEACTIVATIONS_WITHHELD: 40 deactivations withheld/);
    expect((JSON.parse(ws.cli('runs', '--json').stdout) as RunRecord[]).map((r) => r.outcome)).toEqual(['withheld', 'dry-run', 'success']);

    const allowed = ws.cli('sync', '--allow-deactivations', '40');
    expect(allowed.status).toBe(0);
    expect(allowed.stdout).toContain('deactivated 40');
    expect(ws.cli('sync').status).toBe(0); // the new count is trusted now
  });
});
