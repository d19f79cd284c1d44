import type { CurrentCustomer, DirectorySnapshot, DirectoryUser } from '../core/model.js';

/**
 * The store's side of incremental reads: the directory's last read kept **normalised** (a row per
 * user with its direct groups, a row per group with its child groups; the members of a group are
 * found through the users' rows), so that a change stream becomes row updates, and the customers the
 * changes name are loaded by key instead of all of them. Every adapter passes the store conformance
 * suite (test/helpers/store-conformance.ts) for these methods.
 *
 * Crash safety without transactions: `replace` and `apply` first take the head away, write rows, then
 * put the new head; a run interrupted in between leaves no head, and the next incremental run reads
 * the directory whole. Rows are only trusted under a head. (A store with transactions writes each
 * save in one.) `replace` writes only the rows that differ from the stored ones, and when none do,
 * the head alone; what it leaves is the same as replacing the rows whole, whatever was stored.
 */
export interface IncrementalStore {
  /** The head of a directory's stored snapshot, or null (never saved, or a save was interrupted). */
  head(directoryId: string): Promise<SnapshotHead | null>;
  /** Replaces the whole stored snapshot of a directory (after a full read); says how many rows it wrote. */
  replace(directoryId: string, snapshot: DirectorySnapshot, head: SnapshotHead): Promise<SnapshotWrites>;
  /** Every group of the stored snapshot: id, name and direct child groups (no members). */
  groups(directoryId: string): Promise<StoredGroup[]>;
  /**
   * Users of the stored snapshot with their direct groups: those with one of `ids`, one of `names`
   * (compared lower-cased) or a direct member of one of `memberOf` (group ids). Unknown ones are left out.
   */
  users(directoryId: string, query: UserQuery): Promise<StoredUser[]>;
  /**
   * Every stored user's id and location (an LDAP DN), nothing else: what an LDAP incremental read
   * compares its ids-only pass with (who is gone, who moved). One row per user, without memberships.
   */
  userKeys(directoryId: string): Promise<StoredUserKey[]>;
  /** The direct user members (ids) of each of these groups, without loading the users' rows; unknown groups are left out. */
  groupMembers(directoryId: string, groupIds: readonly string[]): Promise<StoredGroupMembers[]>;
  /** Applies row changes (upserts and deletions) and moves the head on; see the class comment for crashes. */
  apply(directoryId: string, change: SnapshotRowChange, head: SnapshotHead): Promise<void>;
  /** Compact state of the customers with these keys in `directoryId`, or with one of these usernames in any directory (lower-cased compare). */
  customers(query: { readonly directoryId: string; readonly externalIds: readonly string[]; readonly usernames: readonly string[] }): Promise<CurrentCustomer[]>;
  /** Stored customers of a directory, active or not (the store-loss check's count). */
  countStored(directoryId: string): Promise<number>;
  /** Active customers of every directory but `exceptDirectory` (the population the deactivation limit's percentage is of). */
  countActive(exceptDirectory: string): Promise<number>;
}

export interface UserQuery {
  readonly ids?: readonly string[];
  readonly names?: readonly string[];
  readonly memberOf?: readonly string[];
}

export interface SnapshotHead {
  /** The change cursor (Crowd event token) the rows are at. */
  readonly cursor: string;
  /** Fingerprint of the policy the rows were planned with: another one means a full read. */
  readonly fingerprint: string;
  readonly users: number;
  readonly groups: number;
}

export interface StoredUser {
  readonly user: DirectoryUser;
  /** Direct groups, as `DirectoryGroup.id`s, sorted. */
  readonly groups: readonly string[];
}

export interface StoredUserKey {
  readonly externalId: string;
  readonly location: string | null;
}

export interface StoredGroupMembers {
  readonly groupId: string;
  readonly members: readonly string[];
}

export interface StoredGroup {
  readonly id: string;
  readonly name: string;
  /** Direct child groups, as ids, sorted. */
  readonly children: readonly string[];
}

/** Rows a save wrote (inserted or rewritten) and deleted, by kind; the head is not counted. */
export interface SnapshotWrites {
  readonly users: RowWrites;
  readonly groups: RowWrites;
  /** Membership rows, where a store keeps them apart (one that keeps a user's groups in its row counts them there). */
  readonly memberships: RowWrites;
}

export interface RowWrites {
  readonly written: number;
  readonly deleted: number;
}

export interface SnapshotRowChange {
  readonly users: readonly StoredUser[];
  readonly deletedUsers: readonly string[];
  readonly groups: readonly StoredGroup[];
  readonly deletedGroups: readonly string[];
}

/** Rows of a whole snapshot: each user with its direct groups, each group with its children. */
export function snapshotRows(snapshot: DirectorySnapshot): { users: StoredUser[]; groups: StoredGroup[] } {
  const direct = new Map<string, string[]>();
  for (const g of snapshot.groups) {
    for (const u of g.memberUserIds) {
      const list = direct.get(u);
      if (list === undefined) direct.set(u, [g.id]);
      else list.push(g.id);
    }
  }
  return {
    users: snapshot.users.map((user) => ({ user, groups: [...new Set(direct.get(user.externalId) ?? [])].sort(compare) })),
    groups: snapshot.groups.map((g) => ({ id: g.id, name: g.name, children: [...new Set(g.memberGroupIds)].sort(compare) })),
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
