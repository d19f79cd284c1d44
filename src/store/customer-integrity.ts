import { normalizeGroupName } from '../core/group-name.js';
import type { CurrentCustomer, CustomerRecord } from '../core/model.js';
import { customerRecordHash } from '../core/plan-sync.js';

/**
 * Checks a stored customer as `loadCurrent` reads it. A document changed around dirbridge (a raw
 * write, a restore of something else) no longer gives its own hash, or carries a licensed group
 * (matched by the one licence rule, `normalizeGroupName`). Such a customer is marked damaged, and its
 * hash replaced by one no directory record has, so that the next plan rewrites it from its directory.
 */
export function checkedCurrent(doc: Omit<CustomerRecord, 'hash'> & { readonly hash: string; readonly active: boolean }, licensed: ReadonlySet<string>): CurrentCustomer {
  const licensedGroup = doc.groups.find((g) => licensed.has(normalizeGroupName(g)));
  if (licensedGroup !== undefined) return compact(doc, `damaged:${doc.hash}`, { kind: 'licensed-group', licensedGroup });
  if (customerRecordHash(doc) !== doc.hash) return compact(doc, `damaged:${doc.hash}`, { kind: 'hash-mismatch' });
  return compact(doc, doc.hash, undefined);
}

/**
 * The compact view as one object literal with a fixed shape. (Not `{ ...base, hash }`: V8 gives an
 * object made by spreading and then extended an out-of-object property store, about 2.3 times the
 * size; at a million stored customers that is some 240 MB more held through the whole plan.)
 */
function compact(doc: { readonly directoryId: string; readonly externalId: string; readonly username: string; readonly active: boolean }, hash: string, damage: CurrentCustomer['damage']): CurrentCustomer {
  if (damage === undefined) return { directoryId: doc.directoryId, externalId: doc.externalId, username: doc.username, active: doc.active, hash };
  return { directoryId: doc.directoryId, externalId: doc.externalId, username: doc.username, active: doc.active, hash, damage };
}

/** Of the distinct group spellings a store holds, those the licence rule matches. */
export function licensedSpellings(spellings: Iterable<unknown>, licensed: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const spelling of spellings) if (typeof spelling === 'string' && licensed.has(normalizeGroupName(spelling))) out.push(spelling);
  return out;
}
