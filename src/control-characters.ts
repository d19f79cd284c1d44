/**
 * Characters that drive a terminal rather than show text: C0 controls other than tab and line feed,
 * DEL, the C1 controls (U+0080–U+009F, U+009B is a one-byte CSI) and the invisible bidirectional
 * marks and overrides. Directory data (an LDIF line, a DN, a server's message) may carry them.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Every control character as a visible `\uXXXX` escape. Applied to everything dirbridge writes to a
 * terminal or a log (the CLI's output and error lines, each JSON log line); inside JSON text the
 * escape is the JSON escape of the same character, so JSON stays valid and means the same.
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(CONTROL, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
