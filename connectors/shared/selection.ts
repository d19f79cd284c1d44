import {
  AndFilter,
  ApproximateFilter,
  EqualityFilter,
  ExtensibleFilter,
  FilterParser,
  GreaterThanEqualsFilter,
  LessThanEqualsFilter,
  NotFilter,
  OrFilter,
  PresenceFilter,
  SubstringFilter,
  type Filter,
} from 'ldapts';
import { z } from 'zod';
import type { AttributeMapping } from './profiles.js';
import { normalizeDn, type AttributeValue, type DirectoryEntry } from './snapshot-builder.js';

/**
 * Which entries are users and which are groups: a base DN, a scope and a filter, combined with the
 * profile's object classes. The LDAP reader sends the filter to the server; the LDIF reader evaluates
 * the same filter object on each entry of the file, so both read a directory alike.
 */
export interface SearchScope {
  readonly baseDn: string;
  readonly scope: 'sub' | 'one';
  readonly filter?: string | undefined;
}

/** An RFC 4515 filter, parsed at config time (ldapts' parser) so a syntax error names its path. */
export function ldapFilterSchema(options: { evaluatedOnEntries?: boolean } = {}) {
  return z
    .string()
    .min(1)
    .superRefine((text, ctx) => {
      let filter: Filter;
      try {
        filter = FilterParser.parseString(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `not a valid LDAP filter (RFC 4515): ${(error as Error).message}. Example: "(mail=*)"` });
        return;
      }
      if (options.evaluatedOnEntries === true && someFilter(filter, (f) => f instanceof ExtensibleFilter)) {
        ctx.addIssue({ code: 'custom', message: 'extensible matches (attr:rule:=value) cannot be evaluated on an LDIF file: use =, >=, <=, =* or substrings' });
      }
    });
}

export function searchScopeSchema(what: string, options: { evaluatedOnEntries?: boolean } = {}) {
  return z.strictObject({
    baseDn: z.string().min(1).describe(`Where the ${what} live, e.g. ou=People,dc=example,dc=com.`),
    scope: z.enum(['sub', 'one']).default('sub').describe('sub: the base DN and everything below it; one: the entries directly below it.'),
    filter: ldapFilterSchema(options).optional().describe(`Extra filter for ${what}, combined with the profile's object classes, e.g. (mail=*).`),
  });
}

/** The user search filter: a user object class, no excluded class, and the admin's filter. */
export function userSelectionFilter(mapping: AttributeMapping, adminFilter: string | undefined): Filter {
  const parts: Filter[] = [anyClass(mapping.userObjectClasses)];
  if (mapping.excludedUserObjectClasses.length > 0) parts.push(new NotFilter({ filter: anyClass(mapping.excludedUserObjectClasses) }));
  if (adminFilter !== undefined) parts.push(FilterParser.parseString(adminFilter));
  return parts.length === 1 ? (parts[0] as Filter) : new AndFilter({ filters: parts });
}

export function groupSelectionFilter(mapping: AttributeMapping, adminFilter: string | undefined): Filter {
  const byClass = anyClass(mapping.groupObjectClasses);
  return adminFilter === undefined ? byClass : new AndFilter({ filters: [byClass, FilterParser.parseString(adminFilter)] });
}

function anyClass(classes: readonly string[]): Filter {
  return new OrFilter({ filters: classes.map((c) => new EqualityFilter({ attribute: 'objectClass', value: c })) });
}

/** A test of a normalised DN against a base DN and scope (the base itself is in `sub`, not in `one`). */
export function scopeTest(scope: Pick<SearchScope, 'baseDn' | 'scope'>): (normalizedDn: string) => boolean {
  const base = normalizeDn(scope.baseDn);
  const suffix = `,${base}`;
  if (scope.scope === 'sub') return (dn) => dn === base || dn.endsWith(suffix);
  return (dn) => dn.endsWith(suffix) && rdnCount(dn.slice(0, -suffix.length)) === 1;
}

function rdnCount(dn: string): number {
  let count = 1;
  for (let i = 0; i < dn.length; i++) {
    if (dn[i] === '\\') i++;
    else if (dn[i] === ',') count++;
  }
  return count;
}

/**
 * Evaluates a filter on an entry as a server would for the common matching rules: attribute names
 * and values compared ignoring case and repeated spaces, DN values as DNs, integers as numbers.
 * Object classes match by name only: an export lists every class of an entry. An absent attribute
 * makes an item false. Approximate matches are evaluated as equality.
 */
export function matchesFilter(filter: Filter, entry: DirectoryEntry): boolean {
  if (filter instanceof AndFilter) return filter.filters.every((f) => matchesFilter(f, entry));
  if (filter instanceof OrFilter) return filter.filters.some((f) => matchesFilter(f, entry));
  if (filter instanceof NotFilter) return !matchesFilter(filter.filter, entry);
  if (filter instanceof PresenceFilter) return valuesOf(entry, filter.attribute).length > 0;
  if (filter instanceof EqualityFilter || filter instanceof ApproximateFilter) {
    const wanted = String(filter.value);
    return valuesOf(entry, filter.attribute).some((v) => sameValue(v, wanted));
  }
  if (filter instanceof SubstringFilter) {
    const parts = { initial: foldPart(filter.initial), any: filter.any.map(foldPart), final: foldPart(filter.final) };
    return valuesOf(entry, filter.attribute).some((v) => substringMatch(fold(v), parts));
  }
  if (filter instanceof GreaterThanEqualsFilter) return valuesOf(entry, filter.attribute).some((v) => order(v, filter.value) >= 0);
  if (filter instanceof LessThanEqualsFilter) return valuesOf(entry, filter.attribute).some((v) => order(v, filter.value) <= 0);
  throw new Error(`filter ${filter.toString()} cannot be evaluated on an entry`);
}

function someFilter(filter: Filter, test: (f: Filter) => boolean): boolean {
  if (test(filter)) return true;
  if (filter instanceof AndFilter || filter instanceof OrFilter) return filter.filters.some((f) => someFilter(f, test));
  if (filter instanceof NotFilter) return someFilter(filter.filter, test);
  return false;
}

function valuesOf(entry: DirectoryEntry, attribute: string): string[] {
  return (entry.attributes.get(attribute.toLowerCase()) ?? []).map(asText);
}

function asText(value: AttributeValue): string {
  return typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
}

function fold(value: string): string {
  return foldPart(value.trim());
}

function foldPart(value: string): string {
  return value.replace(/\s+/g, ' ').toLowerCase();
}

const INTEGER = /^\s*-?\d+\s*$/;
const DN_LIKE = /^\s*[A-Za-z][A-Za-z0-9-]*\s*=/;

function sameValue(value: string, wanted: string): boolean {
  if (INTEGER.test(value) && INTEGER.test(wanted)) return BigInt(value.trim()) === BigInt(wanted.trim());
  if (DN_LIKE.test(value) && DN_LIKE.test(wanted)) return normalizeDn(value) === normalizeDn(wanted);
  return fold(value) === fold(wanted);
}

function order(value: string, wanted: string): number {
  if (INTEGER.test(value) && INTEGER.test(wanted)) {
    const [a, b] = [BigInt(value.trim()), BigInt(wanted.trim())];
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const [a, b] = [fold(value), fold(wanted)];
  return a < b ? -1 : a > b ? 1 : 0;
}

function substringMatch(value: string, parts: { initial: string; any: string[]; final: string }): boolean {
  if (!value.startsWith(parts.initial)) return false;
  let at = parts.initial.length;
  for (const piece of parts.any) {
    const found = value.indexOf(piece, at);
    if (found < 0) return false;
    at = found + piece.length;
  }
  return value.length - parts.final.length >= at && value.endsWith(parts.final);
}
