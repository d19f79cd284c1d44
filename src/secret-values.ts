/**
 * Secret values and their scrubbing. Log lines and error messages are scrubbed of every known secret
 * (values at the config's secret positions, once resolved); data a command prints on stdout is not.
 * A secret is replaced only where it stands as a token of its own: the characters around it are not
 * letters, digits or `_` (a bind password `S3cret-x` is scrubbed from `bind S3cret-x failed`, never
 * from a group named `S3cret-xs`). A secret too short or too common to be told apart from ordinary
 * text is not scrubbed at all (it would corrupt words such as "password"); registering one raises a
 * warning that names where it is set.
 */

/** Shorter secrets cannot be told apart from ordinary text. */
export const MIN_SCRUBBED_LENGTH = 8;

/** Passwords common enough to appear in text, and defaults people leave in place (compared lower-cased). */
const COMMON = new Set([
  'password', 'password1', 'password12', 'password123', 'passw0rd', 'p@ssw0rd', 'p@ssword', 'changeme', 'changeit',
  'letmein1', 'welcome1', 'welcome123', 'iloveyou', 'sunshine', 'princess', 'football', 'baseball', 'superman',
  'starwars', 'whatever', 'trustno1', 'qwertyuiop', 'qwerty123', 'qwerty12', 'asdfghjkl', 'zaq12wsx', '1q2w3e4r',
  '1qaz2wsx', 'abc12345', 'abcd1234', 'abcdefgh', '12345678', '123456789', '1234567890', '0987654321', '87654321',
  '11111111', '00000000', 'administrator', 'adminadmin', 'admin123', 'admin1234', 'rootroot', 'root1234', 'secret123',
  'secretpassword', 'default', 'dirbridge', 'directory', 'customer', 'customers', 'crowd123', 'atlassian', 'jira1234',
  'servicedesk', 'ldapadmin', 'ldappassword', 'mongodb1', 'database', 'computer', 'internet', 'monkey123', 'dragon123',
]);

/** Why a secret cannot be scrubbed safely, or null. */
export function secretWeakness(value: string): string | null {
  if ([...value].length < MIN_SCRUBBED_LENGTH) return `shorter than ${MIN_SCRUBBED_LENGTH} characters`;
  if (COMMON.has(value.toLowerCase())) return 'a common password';
  if (new Set(value).size < 4) return 'made of fewer than 4 different characters';
  return null;
}

export type Scrub = (text: string) => string;

/** Something that scrubs text: a `SecretValues`, or any object with the same method. */
export interface Scrubbing {
  scrub(text: string): string;
}

const WORD_CHAR = /[\p{L}\p{N}_]/u;
const NOT_AFTER_WORD = '(?<![\\p{L}\\p{N}_])';
const NOT_BEFORE_WORD = '(?![\\p{L}\\p{N}_])';

/** A scrubber for a fixed set of secrets: each one, JSON-escaped and URL-encoded, matched as a token. */
export function createScrubber(secrets: Iterable<string>): Scrub {
  const needles = new Set<string>();
  for (const secret of secrets) {
    if (secretWeakness(secret) !== null) continue;
    for (const form of encodedForms(secret)) needles.add(form);
  }
  if (needles.size === 0) return (text) => text;
  const pattern = new RegExp([...needles].sort((a, b) => b.length - a.length).map(tokenPattern).join('|'), 'gu');
  return (text) => text.replace(pattern, '[redacted]');
}

/** The forms a secret takes in a log line or a URL. */
function encodedForms(secret: string): string[] {
  const forms = [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)];
  const url = new URL('http://host');
  url.password = secret; // the form a URL's user information gives it
  forms.push(url.password);
  return forms;
}

function tokenPattern(needle: string): string {
  const chars = [...needle];
  const escaped = needle.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  return `${WORD_CHAR.test(chars[0] ?? '') ? NOT_AFTER_WORD : ''}${escaped}${WORD_CHAR.test(chars[chars.length - 1] ?? '') ? NOT_BEFORE_WORD : ''}`;
}

/**
 * The secrets a process knows so far. It grows as secrets are resolved (a directory's when it is read,
 * the store's when it is opened); log lines and error messages are scrubbed with what it holds then.
 */
export class SecretValues implements Scrubbing, Iterable<string> {
  private readonly values = new Set<string>();
  private readonly warned = new Set<string>();
  private readonly pending: string[] = [];
  private sink: ((warning: string) => void) | null = null;
  private scrubber: Scrub = (text) => text;

  /** Registers a secret found at `where` (a config path). A weak one is reported, not scrubbed. */
  add(value: string, where: string): void {
    if (value === '') return;
    const weakness = secretWeakness(value);
    if (weakness !== null) {
      this.warn(
        value,
        `${where}: this secret is ${weakness}, so it cannot be told apart from ordinary text and is not scrubbed from log lines and error messages. Fix: use a long random secret`,
      );
    }
    if (this.values.has(value)) return;
    this.values.add(value);
    if (weakness === null) this.scrubber = createScrubber(this.values);
  }

  readonly scrub: Scrub = (text) => this.scrubber(text);

  /** Where warnings go; those raised before are delivered now. */
  onWarning(sink: (warning: string) => void): void {
    this.sink = sink;
    for (const warning of this.pending.splice(0)) sink(warning);
  }

  [Symbol.iterator](): Iterator<string> {
    return this.values[Symbol.iterator]();
  }

  /** Once per secret, naming the first position it was found at. */
  private warn(value: string, warning: string): void {
    if (this.warned.has(value)) return;
    this.warned.add(value);
    if (this.sink === null) this.pending.push(warning);
    else this.sink(warning);
  }
}
