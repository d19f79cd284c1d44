import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Server binaries for the integration tests are never started unchecked: a binary left behind by a
 * failed install (a FerretDB built without its version file panics at start, a wrapper script that
 * only prints an error) must be skipped with a message naming it, not started and waited for.
 */
export interface BinaryCheck {
  /** What the binary is, for messages ("FerretDB v1.x"). */
  readonly what: string;
  readonly args: readonly string[];
  /** Matched against --version's stdout and stderr together. */
  readonly expect: RegExp;
}

export interface CheckedBinary {
  readonly path: string;
  /** The first line that matched `expect`, e.g. "version: v1.24.2". */
  readonly version: string;
}

export interface Rejected {
  readonly path: string;
  readonly reason: string;
}

/** Every executable called `name` on PATH, in PATH order (not only the first one). */
export function allOnPath(name: string, path: string | undefined = process.env['PATH']): string[] {
  const found: string[] = [];
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (!found.includes(candidate)) found.push(candidate);
    } catch {
      // not here
    }
  }
  return found;
}

/** Runs the binary's version command (10 s at most) and says whether it is what we expect. */
export function checkBinary(path: string, check: BinaryCheck): CheckedBinary | Rejected {
  const run = spawnSync(path, [...check.args], { encoding: 'utf8', timeout: 10_000 });
  const output = `${run.stdout ?? ''}\n${run.stderr ?? ''}`;
  const line = output.split('\n').find((l) => check.expect.test(l));
  if (run.error === undefined && run.status === 0 && line !== undefined) return { path, version: line.trim() };
  const detail = run.error !== undefined ? run.error.message : `exit ${run.status ?? run.signal}`;
  const said = output.trim().split('\n')[0]?.slice(0, 160) ?? '';
  return { path, reason: `\`${path} ${check.args.join(' ')}\` is not ${check.what} (${detail}${said === '' ? '' : `: ${said}`})` };
}

export function isRejected(result: CheckedBinary | Rejected): result is Rejected {
  return 'reason' in result;
}
