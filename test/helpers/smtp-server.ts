import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * A real SMTP server for the invitation tests: a separate node process running the `smtp-server`
 * package (a devDependency: `npm ci`, which `npm run test:all` runs through scripts/provision/
 * node-modules.sh, installs it). The package is checked before the process starts; when it is missing
 * or not the expected major version, the test fails saying how to install it. Never a mock.
 */
export interface SmtpServer {
  readonly port: number;
  /** Messages accepted so far. */
  readonly messages: readonly ReceivedMail[];
  /** Waits until `count` messages have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<readonly ReceivedMail[]>;
  stop(): Promise<void>;
}

export interface ReceivedMail {
  readonly from: string | null;
  readonly to: readonly string[];
  readonly raw: string;
}

const EXPECTED_MAJOR = 3;

export function checkSmtpServerPackage(): string {
  const require = createRequire(import.meta.url);
  let version: string;
  try {
    version = (require('smtp-server/package.json') as { version: string }).version;
  } catch {
    throw new Error('The SMTP tests need the smtp-server package (a devDependency). Fix: run `npm ci` (or `npm run test:all`, which installs it through scripts/provision/node-modules.sh)');
  }
  if (Number(version.split('.')[0]) !== EXPECTED_MAJOR) {
    throw new Error(`The SMTP tests need smtp-server ${EXPECTED_MAJOR}.x, found ${version}. Fix: run \`npm ci\` to install the version in package-lock.json`);
  }
  return version;
}

export async function startSmtpServer(options: { readonly user: string; readonly password: string; readonly reject?: string; readonly port?: number }): Promise<SmtpServer> {
  checkSmtpServerPackage();
  const child: ChildProcess = spawn(process.execPath, [join(import.meta.dirname, 'smtp-sink.mjs')], {
    env: { PATH: process.env['PATH'] ?? '', SMTP_USER: options.user, SMTP_PASSWORD: options.password, SMTP_REJECT: options.reject ?? '', SMTP_PORT: String(options.port ?? 0) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const messages: ReceivedMail[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const port = await new Promise<number>((resolve, reject) => {
    let buffer = '';
    child.stdout?.on('data', (d: Buffer) => {
      buffer += d.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffer.slice(0, newline)) as { listening?: number } & ReceivedMail;
        buffer = buffer.slice(newline + 1);
        if (line.listening !== undefined) resolve(line.listening);
        else messages.push(line);
      }
    });
    void exited.then((code) => reject(new Error(`the SMTP server process exited (${String(code)}) before listening: ${stderr}`)));
    setTimeout(() => reject(new Error(`the SMTP server did not start within 10 s: ${stderr}`)), 10_000).unref();
  });
  return {
    port,
    messages,
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} messages, the SMTP server has ${messages.length}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return messages;
    },
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    },
  };
}
