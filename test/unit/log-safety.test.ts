import { describe, expect, it } from 'vitest';
import { createLogger, createScrubber } from '../../src/logger.js';

/** What a logger configured with `secrets` writes for one record. */
function logLine(secrets: NonNullable<Parameters<typeof createLogger>[0]['secrets']>, fields: Record<string, unknown>, message: string): string {
  let out = '';
  const logger = createLogger({ level: 'info', secrets, destination: { write: (line: string) => (out += line) } as never });
  logger.info(fields, message);
  return out;
}

describe('scrubbing log lines and error messages', () => {
  it('never corrupts a word that merely contains a secret', () => {
    const scrub = createScrubber(['Adm1n-S3cret']);
    expect(scrub('group Adm1n-S3crets has 4 members')).toBe('group Adm1n-S3crets has 4 members');
    expect(scrub('group xAdm1n-S3cret')).toBe('group xAdm1n-S3cret');
    expect(scrub('bind with Adm1n-S3cret failed')).toBe('bind with [redacted] failed');
    expect(scrub('url mongodb://u:Adm1n-S3cret@h/db, "pw":"Adm1n-S3cret"')).toBe('url mongodb://u:[redacted]@h/db, "pw":"[redacted]"');
  });

  it('scrubs the JSON-escaped and URL-encoded forms of a secret', () => {
    const secret = 'S3NT"in\\el/@x';
    const scrub = createScrubber([secret]);
    expect(scrub(JSON.stringify({ pw: secret }))).toBe('{"pw":"[redacted]"}');
    expect(scrub(`mongodb://u:${encodeURIComponent(secret)}@h`)).toBe('mongodb://u:[redacted]@h');
  });

  it('leaves secrets too short or too common to be told apart from text alone (they are reported at config time instead)', () => {
    expect(createScrubber(['admin'])('group admins, user admin')).toBe('group admins, user admin');
    expect(createScrubber(['password'])('the bind password crosses the network in clear')).toBe('the bind password crosses the network in clear');
    expect(createScrubber(['aaaaaaaaaa'])('aaaaaaaaaa')).toBe('aaaaaaaaaa');
  });
});

describe('control characters in log lines', () => {
  it('are escaped, C1 controls and bidirectional overrides included', () => {
    const line = logLine([], { dn: 'uid=\u001b[2J\u009b31m\u202eevil' }, 'entry \u0007\u007f\u0085');
    // eslint-disable-next-line no-control-regex -- looking for control characters
    expect(line).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(line).toContain('\\u009b31m');
    expect(JSON.parse(line)).toMatchObject({ dn: 'uid=\u001b[2J\u009b31m\u202eevil' });
  });
});
