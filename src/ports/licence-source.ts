/**
 * The licence-source port: where the groups that consume a licence seat are read from, besides the
 * config's own list (Jira's application access settings). The engine turns what it reads into the
 * licensed set the planner, the store guard and the audit use; the core never knows where it came from.
 *
 * Contract:
 * - `readApplications` is all or nothing: every application whole, or an error. A failed or
 *   malformed read is an error (never an empty list), so the caller keeps the last set it trusted.
 * - A server without application roles (older Jira, HTTP 404) is not an error: `unsupported`, with why.
 * - Credentials refused (401) and permission refused (403) are their own non-retryable errors
 *   (ERR_JIRA_AUTH, ERR_JIRA_PERMISSION); outages (unreachable, 5xx, timeouts after the retries) are
 *   ERR_JIRA_CONNECT, an answer that does not fit is ERR_JIRA_RESPONSE.
 * - `activeGroupMembers` reads a group's members page by page and yields active users only; a group
 *   the source does not know yields nothing (it has no members there).
 * - No method ever puts a credential in an error message.
 */
export interface LicenceSource {
  readonly kind: 'jira';
  /** Where it reads from, for people (never with credentials). */
  readonly label: string;
  readApplications(options?: LicenceReadOptions): Promise<ApplicationsRead>;
  activeGroupMembers(group: string, options?: LicenceReadOptions): AsyncIterable<LicenceSourceUser[]>;
  close(): Promise<void>;
}

export interface LicenceReadOptions {
  readonly signal?: AbortSignal;
}

export type ApplicationsRead = { readonly kind: 'applications'; readonly applications: readonly ApplicationAccess[] } | { readonly kind: 'unsupported'; readonly reason: string };

/** One application (Jira Software, Jira Service Management, …) as its access settings define it. */
export interface ApplicationAccess {
  readonly key: string;
  readonly name: string;
  /** Groups granting access to the application: their members consume a seat of it. */
  readonly groups: readonly string[];
  /** Groups a new user is put in to get access (a subset of `groups` in Jira). */
  readonly defaultGroups: readonly string[];
  readonly seats: ApplicationSeats;
}

/** Seat figures as the source reports them. */
export interface ApplicationSeats {
  readonly numberOfSeats: number | null;
  readonly remainingSeats: number | null;
  readonly userCount: number | null;
  readonly hasUnlimitedSeats: boolean;
}

export interface LicenceSourceUser {
  /** The username (Jira's `name`), matched case-insensitively against customers' usernames. */
  readonly name: string;
  readonly emailAddress: string | null;
}
