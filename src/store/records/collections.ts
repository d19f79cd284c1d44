import type { CollectionSpec, FieldSpec, FieldType } from '../../ports/record-driver.js';

const f = (column: string, type: FieldType = 'text'): FieldSpec => ({ column, type });

/**
 * The customers collection as the customer-management operations see it: the fields a sync writes
 * (columns and document fields the adapters already have) and those only these operations write
 * (account type, origin, request counts, migration and invitation state). A sync never touches the
 * latter, so a directory customer simply lacks them: null means "account", "origin = its directory",
 * "no requests".
 */
export const CUSTOMERS: CollectionSpec = {
  name: 'customers',
  table: 'customers',
  key: ['directoryId', 'externalId'],
  fields: {
    directoryId: f('directory_id'),
    externalId: f('external_id'),
    username: f('username'),
    usernameLc: f('username_lc'),
    email: f('email'),
    emailLc: f('email_lc'),
    displayName: f('display_name'),
    location: f('location'),
    search: f('search'),
    groups: f('groups', 'list'),
    hash: f('hash'),
    active: f('active', 'bool'),
    deactivatedReason: f('deactivated_reason'),
    deactivatedAt: f('deactivated_at'),
    createdAt: f('created_at'),
    updatedAt: f('updated_at'),
    lastRunId: f('last_run_id'),
    accountType: f('account_type'),
    origin: f('origin'),
    openRequests: f('open_requests', 'int'),
    closedRequests: f('closed_requests', 'int'),
    needsMigrationTo: f('needs_migration_to'),
    successorKey: f('successor_key'),
    migrationTo: f('migration_to'),
    migrationDone: f('migration_done', 'bool'),
    invitationStatus: f('invitation_status'),
    invitation: f('invitation', 'json'),
  },
  indexes: [
    { name: 'customers_email_lc', fields: [['emailLc', 'asc']] },
    { name: 'customers_account_type', fields: [['accountType', 'asc'], ['active', 'asc']] },
    { name: 'customers_open_requests', fields: [['active', 'asc'], ['openRequests', 'desc'], ['usernameLc', 'asc']] },
    { name: 'customers_needs_migration', fields: [['needsMigrationTo', 'asc']] },
    { name: 'customers_invitation_status', fields: [['invitationStatus', 'asc']] },
  ],
  // The adapter's own documents carry the sync's fencing token; a customer no sync owns has token 0.
  mongoDefaults: { fence: 0 },
};

/** The minimal record of a request: enough to count a customer's requests and to move them. */
export const REQUESTS: CollectionSpec = {
  name: 'requests',
  table: 'requests',
  key: ['id'],
  fields: {
    id: f('id'),
    reporterKey: f('reporter_key'),
    status: f('status'),
    createdAt: f('created_at'),
    resolvedAt: f('resolved_at'),
    source: f('source'),
    updatedAt: f('updated_at'),
    movedFrom: f('moved_from'),
  },
  indexes: [{ name: 'requests_reporter', fields: [['reporterKey', 'asc'], ['status', 'asc']] }],
};

/**
 * Each customer's history: created, renamed, deactivated, invited, signed up, migrated, … Keyed by
 * customer first: on SQLite the primary key is then also the lookup by customer (a first sync writes
 * one line per customer it creates, so one B-tree instead of two matters).
 */
export const CUSTOMER_EVENTS: CollectionSpec = {
  name: 'customer_events',
  table: 'customer_events',
  key: ['customerKey', 'id'],
  fields: {
    id: f('id'),
    customerKey: f('customer_key'),
    at: f('at'),
    kind: f('kind'),
    runId: f('run_id'),
    actor: f('actor'),
    detail: f('detail', 'json'),
  },
  // No index by run: every sync writes history lines, the console's run page reads them by run now and
  // then (a scan), and a second B-tree would slow every first sync.
  indexes: [{ name: 'customer_events_by_customer', fields: [['customerKey', 'asc']], mongoOnly: true }],
};

/** Group addresses (mailing lists) and licensed users' addresses, per directory, from its last complete read. */
export const DIRECTORY_ADDRESSES: CollectionSpec = {
  name: 'directory_addresses',
  table: 'directory_addresses',
  key: ['id'],
  fields: {
    id: f('id'),
    directoryId: f('directory_id'),
    address: f('address'),
    kind: f('kind'),
    name: f('name'),
    licensedGroups: f('licensed_groups', 'list'),
  },
  indexes: [
    { name: 'directory_addresses_address', fields: [['address', 'asc']] },
    { name: 'directory_addresses_directory', fields: [['directoryId', 'asc']] },
  ],
};

/**
 * The last complete read of a licence source (Jira's application access settings), one record per
 * source, replaced whole: a failed read later never shrinks the licensed set below it.
 */
export const LICENCE_READS: CollectionSpec = {
  name: 'licence_reads',
  table: 'licence_reads',
  key: ['source'],
  fields: {
    source: f('source'),
    label: f('label'),
    readAt: f('read_at'),
    applications: f('applications', 'json'),
  },
  indexes: [],
};

/**
 * Plans a safety rule rejected, kept for an admin to approve (applied exactly as saved) or discard in
 * the console. `plan` is the whole plan as the run made it; `decidedBy` names the console user.
 */
export const HELD_PLANS: CollectionSpec = {
  name: 'held_plans',
  table: 'held_plans',
  key: ['id'],
  fields: {
    id: f('id'),
    createdAt: f('created_at'),
    storeRevision: f('store_revision', 'int'),
    status: f('status'),
    reasons: f('reasons', 'json'),
    deactivations: f('deactivations', 'int'),
    plan: f('plan', 'json'),
    decidedBy: f('decided_by'),
    decidedAt: f('decided_at'),
    appliedRunId: f('applied_run_id'),
    outcome: f('outcome'),
  },
  indexes: [{ name: 'held_plans_status', fields: [['status', 'asc'], ['createdAt', 'desc']] }],
};

export const COLLECTIONS = [CUSTOMERS, REQUESTS, CUSTOMER_EVENTS, DIRECTORY_ADDRESSES, LICENCE_READS, HELD_PLANS] as const;
