import { spawn, type ChildProcess } from 'node:child_process';
import { BIN } from './cli.js';

/** `dirbridge serve --port 0` as a subprocess; `url` resolves once its start line names the port. */
export interface Served {
  readonly child: ChildProcess;
  readonly url: Promise<string>;
  readonly exited: Promise<number | null>;
  output(): string;
  /** What it wrote to stderr alone (its log goes to stdout). */
  errors(): string;
}

export function serve(config: string, cwd: string, env: Record<string, string> = {}): Served {
  const child = spawn(process.execPath, [BIN, '--config', config, 'serve', '--port', '0'], { cwd, env: { PATH: process.env['PATH'] ?? '', ...env } });
  let out = '';
  let err = '';
  const url = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /"url":"http:\/\/[^:]+:(\d+)"/.exec(out);
      if (match !== null) resolve(`http://127.0.0.1:${match[1]}`);
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
      err += d.toString();
    });
    child.on('exit', () => reject(new Error(`serve exited early:\n${out}`)));
  });
  url.catch(() => undefined);
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, url, exited, output: () => out, errors: () => err };
}

/** Polls `probe` until it returns a value (errors count as not yet). */
export async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One sample of a Prometheus text exposition. */
export function metric(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels === '' ? ' ' : `{${labels}} `}`));
  if (line === undefined) throw new Error(`no metric ${name}{${labels}} in:\n${text}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}
