import type { z } from 'zod';
import type { DirectorySnapshot, DirectoryUser, UnresolvedMembers } from '../core/model.js';
import type { Logger } from '../logger.js';
import type { SnapshotRowChange, StoredGroup, StoredGroupMembers, StoredUser, StoredUserKey, UserQuery } from './incremental-store.js';

/**
 * The connector port. A connector reads one directory and reports users and groups with their *direct*
 * memberships; it never maps roles and never touches the store.
 *
 * Contract of `fetchSnapshot`: it resolves with a complete snapshot or rejects. A size or time limit,
 * a page error, a referral or a lost connection is a rejection (ERR_DIRECTORY_READ), never a shorter
 * snapshot: the planner deactivates customers only on the strength of complete reads.
 *
 * Optional capabilities (incremental reads, ...) are separate interfaces with type guards, not
 * optional members of this one.
 */
export interface DirectoryConnector {
  readonly id: string;
  readonly type: string;
  /**
   * The end-to-end probe of `dirbridge directories test`: counts, a sample user, the mapping. Best made
   * as a sync reads (same searches, page sizes and limits), so that it fails where a sync would;
   * `partial` says when it read less.
   */
  check(): Promise<ConnectorCheck>;
  fetchSnapshot(options?: FetchOptions): Promise<DirectorySnapshot>;
  close(): Promise<void>;
}

/** Per call. An aborted signal (a run being stopped) ends the read at once, rejecting with its reason. */
export interface ReadOptions {
  readonly signal?: AbortSignal;
  /**
   * Called where a step of a large read ends and what it built is no longer needed (the engine
   * collects garbage there when the heap is large: see src/engine/phase-memory.ts).
   */
  readonly onPhaseEnd?: (phase: string) => void;
}

export interface FetchOptions extends ReadOptions {
  /** Called as entries arrive, for progress lines; never with whole entries. */
  readonly onProgress?: (progress: { readonly users: number; readonly groups: number }) => void;
}

export interface ConnectorCheck {
  readonly users: number;
  readonly groups: number;
  /** True when the counts cover only the first page of each search (a quick probe). */
  readonly partial: boolean;
  readonly sampleUser: DirectoryUser | null;
  /** Which source attribute feeds which field, for the operator to verify the mapping. */
  readonly mapping: Readonly<Record<string, string>>;
  /** Groups whose member references match nothing the read returned. */
  readonly unresolvedMembers?: readonly UnresolvedMembers[];
}

export interface ConnectorContext {
  readonly logger: Logger;
  /** Directory of the config file: relative paths in a connector's config resolve against it. */
  readonly baseDir: string;
}

export interface ConfigProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** What the registry holds for each config `type`. */
export interface ConnectorDefinition<Schema extends z.ZodObject = z.ZodObject> {
  readonly configSchema: Schema;
  /** Rules across keys, checked once the shape is valid. */
  readonly validate?: (config: z.output<Schema>) => ConfigProblem[];
  open(config: z.output<Schema> & { readonly id: string }, context: ConnectorContext): Promise<DirectoryConnector>;
  /** Directories that can create users (Crowd, for signup): opens their provisioner. */
  readonly openProvisioner?: (config: z.output<Schema> & { readonly id: string }, context: ConnectorContext) => Promise<UserProvisioner>;
}

/**
 * Optional capability: creating customers as users of the directory (signup into Crowd). Writes need
 * the application's write permission; a refusal is ERR_CROWD_READ_ONLY with the advice to fix it.
 */
export interface UserProvisioner {
  /**
   * Creates the user (or finds the one an interrupted signup left, with the same address) and makes it
   * a direct member of `group`; idempotent. Returns the user as a full read of the directory would.
   */
  provisionCustomer(request: { readonly username: string; readonly email: string; readonly displayName: string | null; readonly group: string }): Promise<{ readonly user: DirectoryUser; readonly created: boolean }>;
  /** Whether the application may write here, where the directory can tell without changing anything. */
  probeWrites(group: string): Promise<{ readonly writes: 'allowed' | 'read-only' | 'unknown'; readonly detail: string }>;
  close(): Promise<void>;
}

/**
 * The stored snapshot as an incremental read sees it: every group (name and child groups), and users
 * loaded on demand, each with all its direct groups. The engine backs it with the store; the connector
 * never sees the store.
 */
export interface StoredSnapshotView {
  readonly groups: readonly StoredGroup[];
  users(query: UserQuery): Promise<StoredUser[]>;
  /** Every stored user's id and location, without memberships (an LDAP ids-only pass is compared with it). */
  userKeys(): Promise<StoredUserKey[]>;
  /** The direct user members of these groups, as ids only. */
  groupMembers(groupIds: readonly string[]): Promise<StoredGroupMembers[]>;
}

/** What an incremental read returns: the part of the directory the changes touch, as it is now, and the rows to store. */
export interface ChangeSet {
  /**
   * The users the changes name (created, updated, memberships changed, or members of a group whose
   * nesting changed), as they are now, with every group: all the planner needs for them. Deleted users
   * are in `affectedUserIds` but not here.
   */
  readonly snapshot: DirectorySnapshot;
  /** The stored rows that change (upserts and deletions). */
  readonly rows: SnapshotRowChange;
  readonly cursor: string;
  readonly affectedUserIds: ReadonlySet<string>;
  readonly changes: number;
  /** Users created minus users deleted: the directory's user count moves by this much. */
  readonly userDelta: number;
  /** The usernames the touched users had before the changes (renames, deletions). */
  readonly previousUsernames: readonly string[];
}

export type ChangesResult = { readonly kind: 'changes'; readonly changes: ChangeSet } | { readonly kind: 'full-sync-needed'; readonly reason: string };

export type CursorResult = { readonly cursor: string } | { readonly cursor: null; readonly reason: string };

/**
 * Optional capability: reading only what changed since a cursor (Crowd's event tokens, an LDAP
 * server's change mark). The engine
 * keeps the last read, normalised, and the cursor in the store; whenever the connector cannot go on
 * from them (expired cursor, no incremental support, an inconsistent change stream) it answers
 * `full-sync-needed` with the reason, and the engine reads the directory whole.
 */
export interface IncrementalConnector extends DirectoryConnector {
  /** What the cursor is called in messages to the operator ("event token", "change mark"). */
  readonly cursorName: string;
  /** The cursor to read changes from next time. Failing to get one is `cursor: null` with the reason, not an error. */
  currentCursor(options?: ReadOptions): Promise<CursorResult>;
  fetchChangesSince(stored: StoredSnapshotView, cursor: string, options?: ReadOptions): Promise<ChangesResult>;
}

export function isIncremental(connector: DirectoryConnector): connector is IncrementalConnector {
  return typeof (connector as Partial<IncrementalConnector>).fetchChangesSince === 'function' && typeof (connector as Partial<IncrementalConnector>).currentCursor === 'function';
}
