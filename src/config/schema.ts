import { z } from 'zod';
import cron from 'node-cron';
import { connectorRegistry } from '../../connectors/registry.js';
import { normalizeGroupName } from '../core/group-name.js';
import { missingGenericAttributes } from '../../connectors/shared/profiles.js';
import type { ConnectorDefinition } from '../ports/directory-connector.js';
import { secret } from './secret-positions.js';
import { jiraLicensingSchema } from '../../connectors/jira/config.js';
import { checkCustomerConfig, invitationsSchema, mailingListsSchema, signupSchema } from './customer-config.js';
import { consoleSchema } from './console-config.js';

export const DEFAULT_LICENSED_GROUPS = [
  'jira-servicedesk-users',
  'jira-software-users',
  'jira-core-users',
  'jira-users',
  'jira-administrators',
  'service-desk-agents',
];

const groupName = z.string().trim().min(1, 'a group name cannot be empty').max(255, 'a group name has at most 255 characters');

const directoryCommon = {
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'letters, digits, "-" and "_" (at most 64), starting with a letter or digit')
    .describe('Stable name of the directory; stored with every customer it owns. Do not rename it.'),
  allUsers: z
    .boolean()
    .default(false)
    .describe('Every active user of this directory is a customer, even with no group ("allow all users to authenticate").'),
};

const directorySchema = z.discriminatedUnion('type', [
  connectorRegistry.ldif.configSchema.extend(directoryCommon),
  connectorRegistry.ldap.configSchema.extend(directoryCommon),
  connectorRegistry.crowd.configSchema.extend(directoryCommon),
]);

const storeUrl = secret(
  z.string().regex(/^(file:|mongodb:\/\/|mongodb\+srv:\/\/)/, 'a store URL: file:./data/dirbridge.db (embedded SQLite) or mongodb://user:${env:MONGO_PW}@host/dirbridge'),
  'url-userinfo',
).describe('Where customers are kept: file:PATH (embedded SQLite, relative to the config file) or a MongoDB connection string; its password is a secret.');

export const configSchema = z
  .strictObject({
    store: z
      .strictObject({
        url: storeUrl.default('file:./data/dirbridge.db'),
        leaseTtlSeconds: z
          .int()
          .min(5)
          .max(3600)
          .default(60)
          .describe('How long a sync lease outlives a holder that stopped renewing it (crashed, paused).'),
      })
      .prefault({}),
    directories: z
      .array(directorySchema)
      .min(1, 'list at least one directory')
      .describe('Directories in precedence order: the first one holding a username wins, lower copies are shadowed.'),
    roles: z
      .strictObject({
        customer: z
          .strictObject({
            groups: z.array(groupName).default([]).describe('Default groups: their members, nested groups included, become customers.'),
          })
          .prefault({}),
      })
      .prefault({})
      .describe('Default: no default groups (then a directory needs allUsers: true).'),
    licensing: z
      .strictObject({
        source: z
          .enum(['config', 'jira'])
          .default('config')
          .describe('config: licensedGroups is the licensed set. jira: Jira application access groups (licensing.jira) plus licensedGroups.'),
        jira: jiraLicensingSchema.optional().describe('The Jira to read application access from, with licensing.source: jira.'),
        licensedGroups: z
          .array(groupName)
          .default(DEFAULT_LICENSED_GROUPS)
          .describe('Groups that consume a licence seat (application access or the old "JIRA Users" permission).'),
        onLicensedMembership: z
          .enum(['strip', 'exclude', 'fail'])
          .default('strip')
          .describe('A customer who is also in a licensed group: strip (kept, never carries the group; reported), exclude (not a customer), fail (reject the plan).'),
      })
      .prefault({}),
    aggregateMemberships: z
      .boolean()
      .default(false)
      .describe("Crowd's aggregating mode: memberships are the union over every directory holding the username."),
    safety: z
      .strictObject({
        maxDeactivations: z
          .strictObject({
            count: z.int().min(0).default(500),
            percent: z.number().min(0).max(100).default(10),
          })
          .prefault({})
          .describe('A plan deactivating more than min(count, percent of active customers) is rejected; the percent rule applies from 100 active customers.'),
        countDropPercent: z
          .number()
          .min(0)
          .max(100)
          .default(30)
          .describe('A read with this many percent fewer users than the last trusted read is suspect: no deactivations from it.'),
      })
      .prefault({}),
    schedules: z
      .array(
        z.strictObject({
          cron: z.string().describe('Cron expression (5 fields, or 6 with seconds).'),
          directories: z.array(z.string()).min(1).optional().describe('Directory ids; all directories when omitted.'),
          mode: z.enum(['full', 'incremental']).default('full'),
          timezone: z.string().optional().describe('IANA time zone, e.g. Europe/Berlin; the process time zone when omitted.'),
        }),
      )
      .default([]),
    service: z
      .strictObject({
        port: z.int().min(0).max(65535).default(8080).describe('HTTP port of `dirbridge serve` (/healthz, /readyz, /metrics, /runs).'),
        host: z.string().default('0.0.0.0'),
        gracePeriodSeconds: z.number().min(0).default(30).describe('On SIGTERM / SIGINT, how long the current run may take to finish.'),
        triggerToken: secret(z.string().min(16, 'at least 16 characters: use a long random token')).optional().describe('Bearer token for POST /runs (a secret reference); manual runs are off without one.'),
        adminToken: secret(z.string().min(16, 'at least 16 characters: use a long random token')).optional().describe('Bearer token for the customer routes (/customers, /requests); off without one.'),
        portalToken: secret(z.string().min(16, 'at least 16 characters: use a long random token')).optional().describe("Bearer token of the portal's backend for POST /signup and POST /intake/email; off without one."),
      })
      .prefault({})
      .describe('The `dirbridge serve` daemon.'),
    console: consoleSchema,
    invitations: invitationsSchema,
    signup: signupSchema,
    mailingLists: mailingListsSchema,
    logging: z
      .strictObject({
        level: z
          .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
          .optional()
          .describe('JSON log level; default warn on stderr for commands, info on stdout for serve.'),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    const licensed = new Map(config.licensing.licensedGroups.map((g) => [normalizeGroupName(g), g]));
    config.roles.customer.groups.forEach((group, i) => {
      const clash = licensed.get(normalizeGroupName(group));
      if (clash !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['roles', 'customer', 'groups', i],
          message:
            `group "${group}" is a customer default group and also a licensed group ("${clash}" in licensing.licensedGroups): ` +
            'every customer in it would consume a licence seat. Use a separate group for customers, or remove it from one of the lists',
        });
      }
    });
    if (config.licensing.source === 'jira' && config.licensing.jira === undefined) {
      ctx.addIssue({ code: 'custom', path: ['licensing', 'jira'], message: 'licensing.source is jira: add licensing.jira with the Jira url and a token (or username and password)' });
    }
    if (config.roles.customer.groups.length === 0 && !config.directories.some((d) => d.allUsers)) {
      ctx.addIssue({
        code: 'custom',
        path: ['roles', 'customer', 'groups'],
        message: 'nobody can become a customer: list at least one default group, or set allUsers: true on a directory',
      });
    }
    const ids = new Set<string>();
    config.directories.forEach((dir, i) => {
      if (ids.has(dir.id)) ctx.addIssue({ code: 'custom', path: ['directories', i, 'id'], message: `duplicate directory id "${dir.id}": ids must be unique` });
      ids.add(dir.id);
      const definition: ConnectorDefinition = connectorRegistry[dir.type] as unknown as ConnectorDefinition;
      for (const problem of definition.validate?.(dir) ?? []) ctx.addIssue({ code: 'custom', path: ['directories', i, ...problem.path], message: problem.message });
      if (dir.type !== 'crowd' && dir.profile === 'generic') {
        const missing = missingGenericAttributes(dir.attributes);
        if (missing.length > 0) {
          ctx.addIssue({ code: 'custom', path: ['directories', i, 'attributes'], message: `profile "generic" names every attribute: add ${missing.join(', ')}` });
        }
      }
    });
    checkCustomerConfig(config, (issue) => ctx.addIssue(issue));
    config.schedules.forEach((schedule, i) => {
      if (!cron.validate(schedule.cron)) {
        ctx.addIssue({
          code: 'custom',
          path: ['schedules', i, 'cron'],
          message: `"${schedule.cron}" is not a valid cron expression: use 5 fields (minute hour day month weekday) or 6 with seconds, e.g. "*/15 * * * *"`,
        });
      }
      if (schedule.timezone !== undefined && !isTimeZone(schedule.timezone)) {
        ctx.addIssue({ code: 'custom', path: ['schedules', i, 'timezone'], message: `unknown time zone "${schedule.timezone}": use an IANA name such as Europe/Berlin` });
      }
      schedule.directories?.forEach((id, j) => {
        if (!ids.has(id)) {
          ctx.addIssue({ code: 'custom', path: ['schedules', i, 'directories', j], message: `unknown directory id "${id}": known ids are ${[...ids].join(', ')}` });
        }
      });
    });
  });

export type DirbridgeConfig = z.output<typeof configSchema>;
export type DirectoryConfig = DirbridgeConfig['directories'][number];

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
