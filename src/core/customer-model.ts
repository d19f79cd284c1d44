import type { DeactivationReason } from './model.js';

/**
 * Customers as the service desk manages them, beside what a sync makes. Every customer has an account
 * type and an origin:
 * - an `account` of origin DIRECTORY-ID is owned by that directory: only its syncs create, change or
 *   deactivate it;
 * - a `portal-only` customer of origin `invited` or `signup` is owned by no directory: a sync never
 *   deactivates it. It can be migrated, once, to an account (a directory account with the same
 *   address, or a new local account of the same origin): it is then deactivated (`migrated`), its
 *   requests move to the account, and the account has a key of its own.
 */
export type AccountType = 'portal-only' | 'account';
export type LocalOrigin = 'invited' | 'signup';

/** How an invitation reached the person: e-mailed, printed for another mailer, or still to be sent. */
export type InvitationStatus = 'sent' | 'unsent' | 'link';

export interface Invitation {
  readonly status: InvitationStatus;
  readonly link: string;
  readonly attempts: number;
  readonly sentAt: string | null;
  readonly messageId: string | null;
  readonly lastError: string | null;
}

/** One customer, of any origin, as the list, `show` and the rules see it. */
export interface CustomerView {
  readonly key: string;
  readonly directoryId: string;
  readonly externalId: string;
  readonly username: string;
  readonly email: string | null;
  readonly displayName: string | null;
  /** Where the entry lives in its directory (a DN), for directory customers. */
  readonly location: string | null;
  readonly groups: readonly string[];
  readonly accountType: AccountType;
  /** A directory id, `invited` or `signup`. */
  readonly origin: string;
  readonly active: boolean;
  readonly deactivatedReason: DeactivationReason | null;
  readonly deactivatedAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly lastRunId: string | null;
  readonly openRequests: number;
  readonly closedRequests: number;
  /** A portal-only customer whose address an account now has: that account's key. */
  readonly needsMigrationTo: string | null;
  /** A migrated portal-only customer: the account that took over its requests. */
  readonly successorKey: string | null;
  /** A migration under way (or done) to this key. */
  readonly migrationTo: string | null;
  readonly migrationDone: boolean;
  readonly invitation: Invitation | null;
}

export type RequestStatus = 'open' | 'closed';

/** The minimal record of a request the store keeps: enough to count and to move. */
export interface RequestRecord {
  readonly id: string;
  readonly reporterKey: string;
  readonly status: RequestStatus;
  readonly createdAt: string;
  readonly resolvedAt: string | null;
  /** `import` or `email`. */
  readonly source: string;
}

export type CustomerEventKind =
  | 'created'
  | 'updated'
  | 'renamed'
  | 'deactivated'
  | 'reactivated'
  | 'invited'
  | 'invitation-sent'
  | 'invitation-failed'
  | 'invitation-link'
  | 'signed-up'
  | 'flagged-for-migration'
  | 'migrated-to'
  | 'migrated-from'
  | 'seat-leak';

/** One line of a customer's history. Ids are deterministic where a step may be repeated after a crash. */
export interface CustomerEvent {
  readonly id: string;
  readonly customerKey: string;
  readonly at: string;
  readonly kind: CustomerEventKind;
  readonly runId: string | null;
  /** Who: `sync`, `cli`, `api`, `email`. */
  readonly actor: string;
  readonly detail: Readonly<Record<string, unknown>> | null;
}

const RANK: Readonly<Record<CustomerEventKind, number>> = {
  created: 0,
  invited: 0,
  'signed-up': 0,
  'seat-leak': 1,
  'invitation-link': 2,
  'invitation-sent': 2,
  'invitation-failed': 2,
  updated: 3,
  renamed: 3,
  'flagged-for-migration': 4,
  'migrated-from': 5,
  'migrated-to': 5,
  deactivated: 6,
  reactivated: 7,
};

/** History order: by time, and within one instant in the order a life goes (created before sent before migrated). */
export function compareEvents(a: CustomerEvent, b: CustomerEvent): number {
  return a.at < b.at ? -1 : a.at > b.at ? 1 : RANK[a.kind] - RANK[b.kind] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
