/**
 * A fast, pure 53-bit string hash (cyrb53), hex encoded. Used only to detect that a customer changed,
 * never for security. The value is the hash of `JSON.stringify(parts)`, so field boundaries count; the
 * JSON text is fed piece by piece instead of being built, and only a string that JSON would escape
 * goes through `JSON.stringify`. (The running state lives in two module variables so that a call
 * allocates nothing but its result; the function is synchronous, so calls cannot interleave.)
 */
export function contentHash(parts: readonly (string | null | readonly string[])[]): string {
  h1 = 0xdeadbeef;
  h2 = 0x41c6ce57;
  mix(OPEN);
  for (let p = 0; p < parts.length; p++) {
    if (p > 0) mix(COMMA);
    const part = parts[p];
    if (part === null || part === undefined) feedRaw('null');
    else if (typeof part === 'string') feedString(part);
    else {
      mix(OPEN);
      for (let i = 0; i < part.length; i++) {
        if (i > 0) mix(COMMA);
        feedString(part[i] as string);
      }
      mix(CLOSE);
    }
  }
  mix(CLOSE);
  const a = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  const b = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
  // The 53-bit value (2097151 & b) * 2^32 + (a >>> 0) as 14 hex digits, made in one allocation
  // (Number#toString(16) is much slower; joining seven two-digit pieces left six intermediate strings
  // per call, garbage that a million-user plan made twice per user).
  const hi = 2097151 & b;
  return String.fromCharCode(
    HEX[hi >>> 20]!, HEX[(hi >>> 16) & 15]!, HEX[(hi >>> 12) & 15]!, HEX[(hi >>> 8) & 15]!, HEX[(hi >>> 4) & 15]!, HEX[hi & 15]!,
    HEX[a >>> 28]!, HEX[(a >>> 24) & 15]!, HEX[(a >>> 20) & 15]!, HEX[(a >>> 16) & 15]!, HEX[(a >>> 12) & 15]!, HEX[(a >>> 8) & 15]!, HEX[(a >>> 4) & 15]!, HEX[a & 15]!,
  );
}

let h1 = 0;
let h2 = 0;

function mix(ch: number): void {
  h1 = Math.imul(h1 ^ ch, 2654435761);
  h2 = Math.imul(h2 ^ ch, 1597334677);
}

function feedRaw(text: string): void {
  for (let i = 0; i < text.length; i++) mix(text.charCodeAt(i));
}

function feedString(text: string): void {
  const s1 = h1;
  const s2 = h2;
  mix(QUOTE);
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch < 0x20 || ch === QUOTE || ch === BACKSLASH || (ch >= 0xd800 && ch <= 0xdfff)) {
      // JSON escapes this character (or may, for a surrogate): start the string again from its JSON text.
      h1 = s1;
      h2 = s2;
      feedRaw(JSON.stringify(text));
      return;
    }
    mix(ch);
  }
  mix(QUOTE);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
/** Character codes of the hex digits. */
const HEX = Array.from({ length: 16 }, (_, i) => i.toString(16).charCodeAt(0));
