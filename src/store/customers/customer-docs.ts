import { customerKeyOf, LOCAL_DIRECTORY, parseCustomerKey } from '../../core/customer-key.js';
import type { AccountType, CustomerView, Invitation, LocalOrigin } from '../../core/customer-model.js';
import type { DeactivationReason } from '../../core/model.js';
import { contentHash } from '../../core/content-hash.js';
import type { RecordDoc } from '../../ports/record-driver.js';
import { searchText } from '../search-text.js';

/** A customer owned by no directory, as an invitation, a signup or a migration creates it. */
export interface NewLocalCustomer {
  /** `pc-…` (portal-only) or `ac-…` (an account a migration made). */
  readonly externalId: string;
  readonly username: string;
  readonly email: string;
  readonly displayName: string | null;
  readonly accountType: AccountType;
  readonly origin: LocalOrigin;
  readonly invitation: Invitation | null;
}

export function toView(doc: RecordDoc): CustomerView {
  const directoryId = doc['directoryId'] as string;
  const externalId = doc['externalId'] as string;
  return {
    key: customerKeyOf({ directoryId, externalId }),
    directoryId,
    externalId,
    username: doc['username'] as string,
    email: (doc['email'] as string | null) ?? null,
    displayName: (doc['displayName'] as string | null) ?? null,
    location: (doc['location'] as string | null) ?? null,
    groups: (doc['groups'] as string[] | null) ?? [],
    accountType: (doc['accountType'] as AccountType | null) ?? 'account',
    origin: (doc['origin'] as string | null) ?? directoryId,
    active: doc['active'] === true,
    deactivatedReason: (doc['deactivatedReason'] as DeactivationReason | null) ?? null,
    deactivatedAt: (doc['deactivatedAt'] as string | null) ?? null,
    createdAt: doc['createdAt'] as string,
    updatedAt: doc['updatedAt'] as string,
    lastRunId: (doc['lastRunId'] as string | null) ?? null,
    openRequests: (doc['openRequests'] as number | null) ?? 0,
    closedRequests: (doc['closedRequests'] as number | null) ?? 0,
    needsMigrationTo: (doc['needsMigrationTo'] as string | null) ?? null,
    successorKey: (doc['successorKey'] as string | null) ?? null,
    migrationTo: (doc['migrationTo'] as string | null) ?? null,
    migrationDone: doc['migrationDone'] === true,
    invitation: (doc['invitation'] as Invitation | null) ?? null,
  };
}

export function localDoc(c: NewLocalCustomer, now: string): RecordDoc {
  const fields = { username: c.username, email: c.email, displayName: c.displayName };
  return {
    directoryId: LOCAL_DIRECTORY,
    externalId: c.externalId,
    username: c.username,
    usernameLc: c.username.toLowerCase(),
    email: c.email,
    emailLc: c.email.toLowerCase(),
    displayName: c.displayName,
    location: null,
    search: searchText(fields),
    groups: [],
    hash: contentHash([LOCAL_DIRECTORY, c.externalId, c.username, c.email, c.displayName, null, []]),
    active: true,
    deactivatedReason: null,
    deactivatedAt: null,
    createdAt: now,
    updatedAt: now,
    lastRunId: null,
    accountType: c.accountType,
    origin: c.origin,
    invitationStatus: c.invitation?.status ?? null,
    invitation: c.invitation,
  };
}

/** The key fields a key names, as the driver addresses a customer. */
export function keyFields(key: string): [string, string] {
  const ref = parseCustomerKey(key);
  if (ref === null) throw new Error(`not a customer key: ${key}`);
  return [ref.directoryId, ref.externalId];
}

export function keyFilter(key: string): { directoryId: string; externalId: string } {
  const [directoryId, externalId] = keyFields(key);
  return { directoryId, externalId };
}
