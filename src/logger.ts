import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { escapeControlCharacters } from './control-characters.js';
import { createScrubber, type Scrubbing } from './secret-values.js';

export type Logger = PinoLogger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Paths redacted from every log record, whatever the secret's value. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'credentials',
  '*.credentials',
  'headers.authorization',
  '*.headers.authorization',
  'config.auth',
  '*.config.auth',
];

export { createScrubber } from './secret-values.js';

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Secret values to scrub from every line: a fixed list, or the live set a loaded config keeps. */
  readonly secrets?: Iterable<string> | Scrubbing;
  readonly destination?: DestinationStream;
  readonly base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions): Logger {
  const { secrets } = options;
  const scrub = secrets !== undefined && 'scrub' in secrets ? (line: string) => secrets.scrub(line) : createScrubber(secrets ?? []);
  return pino(
    {
      level: options.level,
      base: options.base ?? null,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // Secrets scrubbed, and control characters from directory data escaped (JSON leaves C1 and DEL as they are).
      hooks: { streamWrite: (line) => escapeControlCharacters(scrub(line)) },
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}
