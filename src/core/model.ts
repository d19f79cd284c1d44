/**
 * The domain model shared by connectors, the planner and the stores. Everything here is plain data:
 * snapshots are what a directory said, customers are what the store holds.
 */

/** One user as a directory reports it, already reduced to what the sync needs. */
export interface DirectoryUser {
  /** Stable upstream id (entryUUID, objectGUID, nsUniqueId, ipaUniqueID, Crowd key); never the DN. */
  readonly externalId: string;
  readonly username: string;
  readonly email: string | null;
  readonly displayName: string | null;
  readonly disabled: boolean;
  /** Where the entry lives now (a DN, a URL). Informational: a move or rename is an update. */
  readonly location: string | null;
}

/** One group with its direct members only; the core resolves nesting. */
export interface DirectoryGroup {
  /** Identity inside its directory (a normalised DN for LDAP, the name for Crowd). */
  readonly id: string;
  /** The name config refers to (LDAP `cn`, Crowd group name). */
  readonly name: string;
  /** Direct user members, as `DirectoryUser.externalId`s. */
  readonly memberUserIds: readonly string[];
  /** Direct child groups, as `DirectoryGroup.id`s. */
  readonly memberGroupIds: readonly string[];
  /** The group's own e-mail address (LDAP `mail`, e.g. an AD distribution group), when it has one. */
  readonly mail?: string;
}

/** A complete read of one directory. A connector returns this whole or throws: never a partial one. */
export interface DirectorySnapshot {
  readonly directoryId: string;
  readonly users: readonly DirectoryUser[];
  readonly groups: readonly DirectoryGroup[];
  /** Groups with member references that match no user or group of the read (reported, never guessed). */
  readonly unresolvedMembers?: readonly UnresolvedMembers[];
}

/** One group's member references (DNs, memberUid values) that match nothing the read returned. */
export interface UnresolvedMembers {
  readonly groupId: string;
  readonly group: string;
  readonly count: number;
  /** The first few references, as read. */
  readonly examples: readonly string[];
}

export type LicensedMembershipPolicy = 'strip' | 'exclude' | 'fail';

export interface SyncPolicy {
  /** Directories in config order: the first one wins a duplicate username. */
  readonly directories: readonly { readonly id: string; readonly allUsers: boolean }[];
  /** Default groups: their (nested) members become customers. */
  readonly customerGroups: readonly string[];
  /** Groups that consume a licence seat. Never carried by a customer. */
  readonly licensedGroups: readonly string[];
  readonly onLicensedMembership: LicensedMembershipPolicy;
  /** Crowd's aggregating mode: memberships are the union over every directory holding the username. */
  readonly aggregateMemberships: boolean;
  readonly safety: {
    readonly maxDeactivations: { readonly count: number; readonly percent: number };
    /** A complete read with this many percent fewer users than the last trusted read is suspect. */
    readonly countDropPercent: number;
  };
}

/** The customer document the stores hold. */
export interface CustomerRecord {
  readonly directoryId: string;
  readonly externalId: string;
  readonly username: string;
  readonly email: string | null;
  readonly displayName: string | null;
  readonly location: string | null;
  /** The default groups (directory spelling) through which this person is a customer, sorted. */
  readonly groups: readonly string[];
  /** Hash of the fields above: a customer is written only when it changes. */
  readonly hash: string;
}

export type DeactivationReason =
  | 'missing-from-directory'
  | 'disabled-in-directory'
  | 'left-customer-groups'
  | 'licensed-membership'
  | 'shadowed'
  /** A portal-only customer migrated to an account (never reactivated). */
  | 'migrated'
  /** A customer owned by no directory, deactivated by an admin. */
  | 'deactivated-by-admin';

/** The compact view of one stored customer that planning needs: never the whole document. */
export interface CurrentCustomer {
  readonly directoryId: string;
  readonly externalId: string;
  readonly username: string;
  /** The stored hash; for a damaged customer, a value no directory record hashes to (so it is rewritten). */
  readonly hash: string;
  readonly active: boolean;
  /**
   * Set when the stored document was changed around dirbridge: its fields no longer give its hash, or
   * it carries a licensed group (`licensedGroup` names it). The next sync rewrites it from the directory.
   */
  readonly damage?: { readonly kind: 'hash-mismatch' | 'licensed-group'; readonly licensedGroup?: string };
}

export type PlanAction =
  | { readonly kind: 'create'; readonly customer: CustomerRecord }
  | { readonly kind: 'update'; readonly customer: CustomerRecord; readonly previousUsername: string }
  | { readonly kind: 'reactivate'; readonly customer: CustomerRecord }
  | {
      readonly kind: 'deactivate';
      readonly directoryId: string;
      readonly externalId: string;
      readonly username: string;
      readonly reason: DeactivationReason;
    };

export type ActionKind = PlanAction['kind'];

/** A directory user who is (transitively) in a customer group and in a licensed group. */
export interface SeatLeak {
  readonly directoryId: string;
  readonly externalId: string;
  readonly username: string;
  readonly customerGroups: readonly string[];
  readonly licensedGroups: readonly string[];
  /** What the policy did: `strip` kept the customer without the licensed group. */
  readonly outcome: 'stripped' | 'excluded' | 'rejected';
}

export interface ShadowedUser {
  readonly username: string;
  readonly directoryId: string;
  readonly externalId: string;
  /** Where the shadowed entry lives (its DN), so two entries of one directory can be told apart. */
  readonly location: string | null;
  /** The directory of the entry that holds the username. */
  readonly shadowedBy: string;
  readonly shadowedByExternalId: string;
  readonly shadowedByLocation: string | null;
}

/** A customer record field with a length limit (src/core/field-limits.ts). */
export type LimitedField = 'username' | 'email' | 'displayName' | 'externalId' | 'location' | 'group';

export interface RefusedField {
  readonly field: LimitedField;
  readonly length: number;
  readonly limit: number;
}

/** A directory user with a value over its field limit: never written; a stored customer is left as it is. */
export interface RefusedUser {
  readonly directoryId: string;
  /** Shortened to 64 characters and an ellipsis when longer. */
  readonly externalId: string;
  /** Shortened to 64 characters and an ellipsis when longer. */
  readonly username: string;
  readonly fields: readonly RefusedField[];
  readonly reason: string;
}

/** `licensed-customer-group`: a customer default group that the licence source (Jira) makes licensed. */
export type ViolationKind = 'empty-snapshot' | 'too-many-deactivations' | 'seat-leak' | 'licensed-customer-group';

export interface Violation {
  readonly kind: ViolationKind;
  readonly directoryId: string | null;
  readonly message: string;
}

export type DirectoryReadStatus = 'complete' | 'suspect' | 'failed' | 'not-read';

export interface DirectoryPlanStatus {
  readonly directoryId: string;
  readonly status: DirectoryReadStatus;
  readonly users: number | null;
  readonly groups: number | null;
  /** Why this directory cannot lose customers in this run, when it cannot. */
  readonly note: string | null;
}

export interface PlanSummary {
  readonly create: number;
  readonly update: number;
  readonly reactivate: number;
  readonly deactivate: number;
  readonly unchanged: number;
  /** Customers kept active only because their directory's read failed or was suspect. */
  readonly withheld: number;
  readonly seatLeaks: number;
  readonly shadowed: number;
  /** Users with a value over its field limit: not written. */
  readonly refused: number;
}

/**
 * Something in the directories that makes the plan smaller than the admin may think, without making it
 * wrong: a customer group found in no directory, member references that match nobody.
 */
export interface PlanWarning {
  readonly kind: 'missing-group' | 'unresolved-members' | 'damaged-customers';
  readonly directoryId: string | null;
  readonly group: string;
  /** Unresolved member references: how many, and the first few. */
  readonly count?: number;
  readonly examples?: readonly string[];
  readonly message: string;
}

export interface SyncPlan {
  readonly actions: readonly PlanAction[];
  readonly summary: PlanSummary;
  readonly directories: readonly DirectoryPlanStatus[];
  readonly seatLeaks: readonly SeatLeak[];
  readonly shadowed: readonly ShadowedUser[];
  readonly refused: readonly RefusedUser[];
  /** Any violation rejects the whole plan: nothing is applied. */
  readonly violations: readonly Violation[];
  /** Absent from plans saved by older versions. */
  readonly warnings?: readonly PlanWarning[];
}

export function customerKey(directoryId: string, externalId: string): string {
  return `${directoryId}\u0000${externalId}`;
}
