import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

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

/**
 * Removes every known secret value (resolved from `${env:…}` / `${file:…}` references) from a text:
 * the last line of defence for log lines and error messages.
 */
export function createScrubber(secrets: Iterable<string>): (text: string) => string {
  const needles = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < 4) continue; // too short to scrub without mangling ordinary text
    needles.add(secret);
    needles.add(JSON.stringify(secret).slice(1, -1));
    needles.add(encodeURIComponent(secret));
  }
  const sorted = [...needles].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const needle of sorted) if (out.includes(needle)) out = out.split(needle).join('[redacted]');
    return out;
  };
}

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly secrets?: Iterable<string>;
  readonly destination?: DestinationStream;
  readonly base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions): Logger {
  const scrub = createScrubber(options.secrets ?? []);
  return pino(
    {
      level: options.level,
      base: options.base ?? null,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      hooks: { streamWrite: scrub },
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}
