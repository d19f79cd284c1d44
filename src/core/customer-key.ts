/**
 * Customer keys: what people, requests and the HTTP API use to name one customer.
 *
 * - A directory customer (an `account` owned by a directory) is `DIRECTORY:EXTERNALID`, e.g.
 *   `corp-ad:3f2504e0-4f89-11d3-9a0c-0305e82c3301` or `crowd:1:0a1b2c3d`. It never changes while the
 *   directory keeps the user (the external id is the directory's stable id).
 * - A customer owned by no directory (invited, signed up, or an account made by a migration) is stored
 *   under the reserved directory id `~local` (no config id can start with `~`) and its key is its local
 *   id alone: `pc-…` for a portal-only customer, `ac-…` for the account a migration made from one.
 */
export const LOCAL_DIRECTORY = '~local';

export interface CustomerRef {
  readonly directoryId: string;
  readonly externalId: string;
}

const LOCAL_ID = /^(pc|ac)-[a-z0-9]{4,64}$/;
const DIRECTORY_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function customerKeyOf(ref: CustomerRef): string {
  return ref.directoryId === LOCAL_DIRECTORY ? ref.externalId : `${ref.directoryId}:${ref.externalId}`;
}

/** The reference a key names, or null when the text is not a key. */
export function parseCustomerKey(key: string): CustomerRef | null {
  const colon = key.indexOf(':');
  if (colon < 0) return LOCAL_ID.test(key) ? { directoryId: LOCAL_DIRECTORY, externalId: key } : null;
  const directoryId = key.slice(0, colon);
  const externalId = key.slice(colon + 1);
  return DIRECTORY_ID.test(directoryId) && externalId !== '' ? { directoryId, externalId } : null;
}

export function isLocal(ref: CustomerRef): boolean {
  return ref.directoryId === LOCAL_DIRECTORY;
}

/**
 * The local id of the portal-only customer for an address, from a digest of the address (lower-cased)
 * that the caller computes: one address, one portal-only profile, so two invitations racing for the
 * same address meet on the same key instead of making two customers.
 */
export function portalOnlyId(addressDigestHex: string): string {
  return `pc-${addressDigestHex.slice(0, 20)}`;
}

/** The account a migration makes from a portal-only customer: a new key, the same for every rerun. */
export function migratedAccountId(portalOnlyLocalId: string): string {
  return `ac-${portalOnlyLocalId.replace(/^pc-/, '')}`;
}
