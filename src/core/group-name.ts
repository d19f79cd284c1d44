/**
 * Group names from config are matched against directory group names after this normalisation:
 * Unicode NFKC, trimmed, lower-cased. Matching is deliberately lenient, so that a look-alike spelling of
 * a licensed group (case, trailing space, compatibility characters) is still treated as licensed.
 */
export function normalizeGroupName(name: string): string {
  return name.normalize('NFKC').trim().toLowerCase();
}

export function normalizeUsername(name: string): string {
  return name.normalize('NFC').toLowerCase();
}
