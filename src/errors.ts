/**
 * The error catalog. Every failure dirbridge reports carries one of these stable codes; the CLI maps
 * each code to a documented exit code. README.md holds the same table and a test keeps them in step.
 */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  planRejected: 3,
  auditFindings: 4,
  leaseHeld: 5,
  invariant: 6,
  withheld: 7,
  refused: 8,
  notProcessed: 9,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const ERROR_CATALOG = {
  ERR_USAGE: { exit: EXIT.usage, retryable: false, summary: 'The command line is invalid.' },
  ERR_CONFIG: { exit: EXIT.usage, retryable: false, summary: 'The config file is missing or invalid; every problem is listed with its path.' },
  ERR_SECRET: { exit: EXIT.usage, retryable: false, summary: 'A ${env:NAME} or ${file:path} secret reference cannot be resolved.' },
  ERR_PLAN_FILE: { exit: EXIT.usage, retryable: false, summary: 'A saved plan file cannot be read or is not a dirbridge plan.' },
  ERR_LDIF_PARSE: { exit: EXIT.failure, retryable: false, summary: 'An LDIF file is malformed; the message gives the line number.' },
  ERR_DIRECTORY_READ: { exit: EXIT.failure, retryable: true, summary: 'A directory could not be read completely; nobody from it was deactivated.' },
  ERR_LDAP_CONNECT: { exit: EXIT.failure, retryable: true, summary: 'An LDAP server is unreachable (refused, unknown host, timeout, connection lost).' },
  ERR_LDAP_TLS: { exit: EXIT.failure, retryable: false, summary: 'TLS to an LDAP server failed; the message says why (untrusted CA, wrong host name, expired).' },
  ERR_LDAP_BIND: { exit: EXIT.failure, retryable: false, summary: 'The LDAP bind was refused (bad credentials, or the server requires TLS).' },
  ERR_LDAP_SEARCH: { exit: EXIT.failure, retryable: true, summary: 'An LDAP search failed or was incomplete (base DN not found, size or time limit, referral).' },
  ERR_CROWD_CONNECT: { exit: EXIT.failure, retryable: true, summary: 'Crowd is unreachable, or kept failing (5xx, timeouts, resets) after the retries.' },
  ERR_CROWD_AUTH: { exit: EXIT.failure, retryable: false, summary: 'Crowd refused the application name or password (HTTP 401); not retried.' },
  ERR_CROWD_PERMISSION: { exit: EXIT.failure, retryable: false, summary: 'Crowd refused the request (HTTP 403): address not allowed, or the application lacks a permission.' },
  ERR_CROWD_RESPONSE: { exit: EXIT.failure, retryable: true, summary: 'Crowd answered something unexpected (status, body, or a page that does not fit the read).' },
  ERR_JIRA_CONNECT: { exit: EXIT.failure, retryable: true, summary: 'Jira (licensing.jira) is unreachable, or kept failing (5xx, timeouts, resets) after the retries.' },
  ERR_JIRA_AUTH: { exit: EXIT.failure, retryable: false, summary: 'Jira refused the token or username and password of licensing.jira (HTTP 401); not retried.' },
  ERR_JIRA_PERMISSION: { exit: EXIT.failure, retryable: false, summary: "Jira refused the request (HTTP 403): the account lacks a permission (application roles need Jira administrator)." },
  ERR_JIRA_RESPONSE: { exit: EXIT.failure, retryable: true, summary: 'Jira answered something unexpected (status, or a body that does not fit its documented shape).' },
  ERR_STORE: { exit: EXIT.failure, retryable: true, summary: 'The store could not be opened, read or written.' },
  ERR_PLAN_REJECTED: { exit: EXIT.planRejected, retryable: false, summary: 'A safety rule rejected the plan; nothing was applied.' },
  ERR_STORE_SUSPECT: { exit: EXIT.planRejected, retryable: false, summary: 'The store holds none or far fewer of a directory\'s customers than after the last sync (emptied or dropped around dirbridge); nothing was applied. Restore it, or sync --rebuild-store.' },
  ERR_PLAN_STALE: { exit: EXIT.planRejected, retryable: false, summary: 'The store changed since the saved plan was made; nothing was applied.' },
  ERR_AUDIT_FINDINGS: { exit: EXIT.auditFindings, retryable: false, summary: 'The seat audit found customers that consume (or would consume) a licence seat.' },
  ERR_LEASE_HELD: { exit: EXIT.leaseHeld, retryable: true, summary: 'Another process holds the sync lease for a directory; the message names the holder.' },
  ERR_LEASE_LOST: { exit: EXIT.leaseHeld, retryable: true, summary: 'The lease was taken over (a newer fencing token exists); this writer was refused.' },
  ERR_STORE_INVARIANT: { exit: EXIT.invariant, retryable: false, summary: 'The store refused a customer that carries a licensed group.' },
  ERR_INVARIANT_VIOLATED: { exit: EXIT.invariant, retryable: false, summary: 'After applying, the store holds a customer with a licensed group.' },
  ERR_RUN_ABORTED: { exit: EXIT.failure, retryable: true, summary: 'The run was stopped before it finished (serve past its grace period); what it wrote is whole, the next run completes it.' },
  ERR_DEACTIVATIONS_WITHHELD: { exit: EXIT.withheld, retryable: false, summary: 'The rest was applied, but deactivations were withheld (a suspect read: the count-drop gate, in a full or an incremental read); review, then allow them.' },
  ERR_CUSTOMER_NOT_FOUND: { exit: EXIT.failure, retryable: false, summary: 'No customer has the key, e-mail or username given.' },
  ERR_RUN_NOT_FOUND: { exit: EXIT.failure, retryable: false, summary: 'No run with this id is among the last 500 in the journal.' },
  ERR_PLAN_NOT_FOUND: { exit: EXIT.failure, retryable: false, summary: 'No held plan has this id (the last 100 decided plans are kept).' },
  ERR_INVALID_ADDRESS: { exit: EXIT.refused, retryable: false, summary: 'An e-mail address is not valid; the message says why.' },
  ERR_MAILING_LIST: { exit: EXIT.refused, retryable: false, summary: "An address is a mailing list (a directory group's address, or a mailingLists pattern): never a customer." },
  ERR_SIGNUP_REFUSED: { exit: EXIT.refused, retryable: false, summary: 'Signup refused an unknown address: public signup is off, or its domain is refused or not allowed; nothing was written.' },
  ERR_LICENSED_EXCLUDED: { exit: EXIT.refused, retryable: false, summary: 'The address belongs to a licensed directory user and onLicensedMembership is exclude: not a customer.' },
  ERR_MIGRATION_REFUSED: { exit: EXIT.refused, retryable: false, summary: 'A migration precondition failed (not portal-only, inactive, no such account, another address); nothing was written.' },
  ERR_ALREADY_MIGRATED: { exit: EXIT.refused, retryable: false, summary: 'The customer was migrated: a migration cannot be repeated, undone, or the old profile reactivated.' },
  ERR_OWNED_BY_DIRECTORY: { exit: EXIT.refused, retryable: false, summary: 'The customer belongs to a directory: only its syncs deactivate or reactivate it.' },
  ERR_LICENSED_ADDRESS: { exit: EXIT.planRejected, retryable: false, summary: 'The address belongs to a licensed directory user and onLicensedMembership is fail; nothing was written.' },
  ERR_NOT_PROCESSED: { exit: EXIT.notProcessed, retryable: false, summary: 'The e-mail channel did not process the message (unknown sender with signup off, a mailing list, an inactive customer); nothing was written.' },
  ERR_MESSAGE_FILE: { exit: EXIT.usage, retryable: false, summary: 'An e-mail message cannot be read or parsed as MIME.' },
  ERR_REQUESTS_FILE: { exit: EXIT.usage, retryable: false, summary: 'A requests file is malformed; every problem is listed with its line, and nothing of the file was written.' },
  ERR_MAIL_SEND: { exit: EXIT.failure, retryable: true, summary: 'An invitation could not be e-mailed; the customer is invited and marked unsent (retry with customers invite --resend).' },
  ERR_CROWD_READ_ONLY: { exit: EXIT.failure, retryable: false, summary: 'The Crowd directory is read-only for this application: set its permission to Read/Write.' },
  ERR_RATE_LIMITED: { exit: EXIT.failure, retryable: true, summary: 'HTTP only: too many signup or e-mail requests; retry after the Retry-After seconds.' },
  ERR_INTERNAL: { exit: EXIT.failure, retryable: false, summary: 'An unexpected error (a bug); please report it.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export interface DirbridgeErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  /** Structured detail for --json output and logs. Must never contain secrets. */
  details?: Record<string, unknown>;
}

export class DirbridgeError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: DirbridgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DirbridgeError';
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CATALOG[code].retryable;
    this.details = options.details;
  }

  get exitCode(): ExitCode {
    return ERROR_CATALOG[this.code].exit;
  }
}

export function isDirbridgeError(value: unknown): value is DirbridgeError {
  return value instanceof DirbridgeError;
}
