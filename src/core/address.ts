/**
 * E-mail addresses as customers use them: validation (a practical subset of RFC 5321 / 5322 that real
 * mail systems accept: no quoted local parts, no IP literals, no comments), the comparison form, domain
 * rules and mailing-list patterns.
 */
export type AddressCheck = { readonly ok: true; readonly address: string; readonly local: string; readonly domain: string } | { readonly ok: false; readonly reason: string };

const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uFFFF-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uFFFF-]+)*$/u;
const LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;

/** Checks one address and returns it trimmed, NFC-normalised and with its domain lower-cased. */
export function checkAddress(input: string): AddressCheck {
  const text = input.trim().normalize('NFC');
  if (text === '') return { ok: false, reason: 'the address is empty' };
  if (/\s/.test(text)) return { ok: false, reason: `"${text}" contains white space` };
  if (text.length > 254) return { ok: false, reason: 'the address is longer than 254 characters' };
  const at = text.lastIndexOf('@');
  if (at < 0) return { ok: false, reason: `"${text}" has no @` };
  const local = text.slice(0, at);
  const domain = text.slice(at + 1).toLowerCase().replace(/\.$/, '');
  if (local === '') return { ok: false, reason: `"${text}" has nothing before the @` };
  if (domain === '') return { ok: false, reason: `"${text}" has nothing after the @` };
  if (local.length > 64) return { ok: false, reason: `the part before the @ of "${text}" is longer than 64 characters` };
  if (!LOCAL_PART.test(local)) return { ok: false, reason: `the part before the @ of "${text}" is not valid (quotes, a second @, a leading, trailing or doubled dot, or a character mail does not allow)` };
  const labels = domain.split('.');
  if (labels.length < 2) return { ok: false, reason: `the domain of "${text}" has no dot (e.g. example.org)` };
  if (!labels.every((l) => LABEL.test(l))) return { ok: false, reason: `the domain of "${text}" is not a valid host name` };
  if (/^[0-9]+$/.test(labels[labels.length - 1] as string)) return { ok: false, reason: `the domain of "${text}" ends in a number (IP addresses are not accepted)` };
  return { ok: true, address: `${local}@${domain}`, local, domain };
}

/**
 * The form addresses are compared in: lower-cased, as the stores keep every customer's e-mail for
 * lookups. (Local parts are case-sensitive on paper; no mail system a service desk meets treats them so.)
 */
export function addressKey(address: string): string {
  return address.toLowerCase();
}

/** The domain of an address, lower-cased; `''` when there is no @. */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}

/**
 * A domain rule from the config: `example.org` matches that domain only, `*.example.org` any of its
 * subdomains (not the domain itself). Case-insensitive.
 */
export function domainMatches(domain: string, rule: string): boolean {
  const d = domain.toLowerCase();
  const r = rule.trim().toLowerCase();
  if (r.startsWith('*.')) return d.endsWith(r.slice(1)) && d.length > r.length - 1;
  return d === r;
}

/** A mailing-list pattern: `*` any run of characters, `?` one character; the whole address, case-insensitive. */
export function patternMatches(address: string, pattern: string): boolean {
  const a = address.toLowerCase();
  const p = pattern.trim().toLowerCase();
  // Iterative wildcard matching with backtracking to the last star: linear in practice, no regex built.
  let ai = 0;
  let pi = 0;
  let star = -1;
  let mark = 0;
  while (ai < a.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === a[ai])) {
      ai++;
      pi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = ai;
    } else if (star >= 0) {
      pi = star + 1;
      ai = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/** Checks a mailing-list pattern from the config; null when it is usable. */
export function checkPattern(pattern: string): string | null {
  const p = pattern.trim();
  if (p === '') return 'an empty pattern';
  if (!p.includes('@')) return `"${p}" has no @ (patterns match whole addresses, e.g. "*-all@corp.example" or "*@lists.corp.example")`;
  if (/^[*?@.]+$/.test(p)) return `"${p}" matches every address`;
  return null;
}
