import type { Argv } from 'yargs';
import { DirbridgeError } from '../errors.js';

const MIN_PASSWORD = 12;

/**
 * `console hash-password`: reads a password from standard input (never from the command line, so it
 * stays out of shell history and process lists) and prints the scrypt hash for console.users[].passwordHash.
 * On a terminal it asks twice without echoing; from a pipe it reads the first line.
 */
export function registerConsoleCommands(parser: Argv, print: (text: string) => void): Argv {
  return parser.command('console <action>', 'The admin console: console hash-password (reads the password on stdin)', (y) =>
    y.positional('action', { choices: ['hash-password'] as const, demandOption: true }),
    async () => {
      const password = process.stdin.isTTY === true ? await askTwice() : await firstLine(process.stdin);
      if ([...password].length < MIN_PASSWORD) throw new DirbridgeError('ERR_USAGE', `the password is shorter than ${MIN_PASSWORD} characters; choose a longer one`);
      const { hashPassword } = await import('../service/console/password.js');
      print(await hashPassword(password));
    },
  );
}

async function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

async function askTwice(): Promise<string> {
  const first = await ask('Password: ');
  const second = await ask('Again: ');
  if (first !== second) throw new DirbridgeError('ERR_USAGE', 'the two passwords differ; nothing was printed');
  return first;
}

/** One line from the terminal, not echoed. */
function ask(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let text = '';
    stdin.setRawMode(true);
    stdin.resume();
    const done = (error: Error | null): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error === null) resolve(text);
      else reject(error);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003') return done(new DirbridgeError('ERR_USAGE', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') text = [...text].slice(0, -1).join('');
        else text += ch;
      }
    };
    stdin.on('data', onData);
  });
}
