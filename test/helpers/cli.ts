import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'dirbridge.js');
export const SAMPLE_LDIF = join(ROOT, 'config', 'examples', 'sample-directory.ldif');

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI as a user would, in a subprocess. */
export function runCli(args: readonly string[], options: { cwd: string; env?: Record<string, string> }): CliResult {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env['PATH'] ?? '', HOME: options.cwd, ...options.env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export function runCliAsync(args: readonly string[], options: { cwd: string; env?: Record<string, string> }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: { PATH: process.env['PATH'] ?? '', HOME: options.cwd, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A temp workspace with a copy of the sample LDIF and a config over it. */
export function makeWorkspace(config = defaultConfig()): { dir: string; ldif: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dirbridge-cli-'));
  const ldif = join(dir, 'directory.ldif');
  copyFileSync(SAMPLE_LDIF, ldif);
  const configPath = join(dir, 'dirbridge.yml');
  writeFileSync(configPath, config);
  return { dir, ldif, config: configPath };
}

export function defaultConfig(extra = ''): string {
  return `store:
  url: file:./store.db
directories:
  - id: sample
    type: ldif
    path: ./directory.ldif
roles:
  customer:
    groups: [sd-customers, partner-portal]
licensing:
  licensedGroups: [jira-servicedesk-users, jira-administrators]
${extra}`;
}

/** Edits an LDIF file: removes whole entries by DN prefix, or lines, or replaces text. */
export function editLdif(path: string, edit: (text: string) => string): void {
  writeFileSync(path, edit(readFileSync(path, 'utf8')));
}

export function removeEntry(text: string, dnPrefix: string): string {
  return text
    .split('\n\n')
    .filter((block) => !block.split('\n').some((line) => line.startsWith(`dn: ${dnPrefix}`)))
    .join('\n\n');
}
