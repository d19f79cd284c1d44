import { readFileSync } from 'node:fs';
import type { AxiosResponse } from 'axios';
import { z } from 'zod';
import { DirbridgeError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { ApplicationAccess, ApplicationsRead, LicenceReadOptions, LicenceSource, LicenceSourceUser } from '../../src/ports/licence-source.js';
import { resolveConfigPath } from '../shared/paths.js';
import { createHttpClient, type HttpAuth, type HttpClient, type Params } from '../shared/http-client.js';
import { USER_AGENT } from '../crowd/crowd-connector.js';
import type { JiraLicensingConfig } from './config.js';

export interface JiraSourceContext {
  readonly logger: Logger;
  /** Directory of the config file: a relative tls.caFile resolves against it. */
  readonly baseDir: string;
  /** Injected for tests: how to wait between retries. */
  readonly sleep?: (ms: number) => Promise<void>;
}

// Jira's documented shapes (REST API 2): only the fields dirbridge reads; anything else is ignored.
const applicationRoleShape = z.object({
  key: z.string().min(1),
  name: z.string().optional(),
  groups: z.array(z.string()),
  defaultGroups: z.array(z.string()).optional(),
  numberOfSeats: z.number().int().optional(),
  remainingSeats: z.number().int().optional(),
  userCount: z.number().int().optional(),
  hasUnlimitedSeats: z.boolean().optional(),
});
// Every Jira with application roles has at least one application: an empty list is a broken answer, not "nothing is licensed".
const applicationRolesShape = z.array(applicationRoleShape).min(1, 'no application at all (every Jira with application roles has at least one)');
const memberPageShape = z.object({
  startAt: z.number().int().min(0).optional(),
  total: z.number().int().min(0).optional(),
  isLast: z.boolean().optional(),
  values: z.array(z.object({ name: z.string().min(1), emailAddress: z.string().nullish(), active: z.boolean().optional() })),
});

const ROLES_PATH = 'applicationrole';
const MEMBERS_PATH = 'group/member';

/**
 * Jira's application access settings, read with REST API 2 on the shared Atlassian HTTP setup:
 * `GET /rest/api/2/applicationrole` (needs the Jira Administrators global permission) and the paged
 * `GET /rest/api/2/group/member` (Browse users and groups, or administrator), active users only.
 */
export function openJiraLicenceSource(config: JiraLicensingConfig, context: JiraSourceContext): LicenceSource {
  const base = new URL(config.url.endsWith('/') ? config.url : `${config.url}/`);
  const label = `Jira ${base.origin}${base.pathname}`;
  const where = `licensing.jira (${base.origin}${base.pathname})`;
  const log = context.logger.child({ licenceSource: 'jira' });
  if (!config.tls.rejectUnauthorized) log.error('licensing.jira.tls.rejectUnauthorized is false: the Jira server certificate is NOT verified');
  const auth: HttpAuth = config.token !== undefined ? { kind: 'bearer', token: config.token } : { kind: 'basic', username: config.username ?? '', password: config.password ?? '' };
  const client = createHttpClient({
    where,
    apiBase: new URL('rest/api/2/', base),
    auth,
    ...(config.tls.caFile === undefined ? {} : { ca: readFileSync(resolveConfigPath(context.baseDir, config.tls.caFile)) }),
    rejectUnauthorized: config.tls.rejectUnauthorized,
    timeoutMs: config.timeouts.requestSeconds * 1000,
    retries: config.retries.max,
    baseDelayMs: config.retries.baseDelayMs,
    concurrency: 2,
    userAgent: USER_AGENT,
    connectCode: 'ERR_JIRA_CONNECT',
    caKey: 'licensing.jira.tls.caFile',
    ...(context.sleep === undefined ? {} : { sleep: context.sleep }),
    onRetry: (info) => log.warn(info, 'retrying a Jira request'),
  });

  async function readApplications(options: LicenceReadOptions = {}): Promise<ApplicationsRead> {
    const response = await client.get<unknown>(ROLES_PATH, {}, 'json', options.signal);
    if (response.status === 404) {
      return { kind: 'unsupported', reason: `${where}: GET ${ROLES_PATH} answered HTTP 404: this Jira has no application roles (older than 7.0), or licensing.jira.url misses its context path` };
    }
    const body = bodyOf(client, ROLES_PATH, response);
    const parsed = applicationRolesShape.safeParse(body);
    if (!parsed.success) throw shapeError(where, ROLES_PATH, parsed.error);
    return { kind: 'applications', applications: parsed.data.map(toApplication) };
  }

  async function* activeGroupMembers(group: string, options: LicenceReadOptions = {}): AsyncIterable<LicenceSourceUser[]> {
    for (let startAt = 0; ; ) {
      const params: Params = { groupname: group, includeInactiveUsers: false, startAt, maxResults: config.pageSize };
      const response = await client.get<unknown>(MEMBERS_PATH, params, 'json', options.signal);
      if (response.status === 404) {
        log.warn({ group }, 'an application access group does not exist in Jira: it has no members there');
        return;
      }
      const parsed = memberPageShape.safeParse(bodyOf(client, MEMBERS_PATH, response));
      if (!parsed.success) throw shapeError(where, MEMBERS_PATH, parsed.error);
      const page = parsed.data;
      // `active` is absent from some older answers; includeInactiveUsers=false already left the inactive out.
      yield page.values.filter((u) => u.active !== false).map((u) => ({ name: u.name, emailAddress: u.emailAddress ?? null }));
      startAt = (page.startAt ?? startAt) + page.values.length;
      if (page.isLast === true || page.values.length === 0 || (page.total !== undefined && startAt >= page.total)) return;
    }
  }

  return {
    kind: 'jira',
    label,
    readApplications,
    activeGroupMembers,
    close: async () => client.close(),
  };
}

function toApplication(role: z.output<typeof applicationRoleShape>): ApplicationAccess {
  return {
    key: role.key,
    name: role.name ?? role.key,
    groups: [...role.groups],
    defaultGroups: [...(role.defaultGroups ?? [])],
    seats: {
      numberOfSeats: role.numberOfSeats ?? null,
      remainingSeats: role.remainingSeats ?? null,
      userCount: role.userCount ?? null,
      hasUnlimitedSeats: role.hasUnlimitedSeats ?? false,
    },
  };
}

/** A 200 answer's JSON body, or the error its status means. */
function bodyOf(client: HttpClient, path: string, response: AxiosResponse<unknown>): unknown {
  const { where } = client;
  if (response.status === 200) {
    if (typeof response.data !== 'object' || response.data === null) {
      throw new DirbridgeError('ERR_JIRA_RESPONSE', `${where}: GET ${path} did not return JSON (a proxy or login page in the way?)`);
    }
    return response.data;
  }
  const detail = jiraMessage(response.data);
  if (response.status === 401) {
    return fail('ERR_JIRA_AUTH', `${where}: Jira refused the credential (HTTP 401)${detail}: check licensing.jira.token (a personal access token of an active user) or licensing.jira.username and password`);
  }
  if (response.status === 403) {
    const denied = response.headers['x-authentication-denied-reason'];
    const captcha = typeof denied === 'string' && denied !== '' ? ` (Jira asks for a CAPTCHA after failed logins: ${denied.slice(0, 100)}; log in once in a browser as that user)` : '';
    const need = path === ROLES_PATH ? 'reading application roles needs the Jira Administrators global permission' : 'listing group members needs the Browse users and groups global permission (or Jira administrator)';
    return fail('ERR_JIRA_PERMISSION', `${where}: Jira refused GET ${path} (HTTP 403)${detail}${captcha}: ${need}`);
  }
  return fail('ERR_JIRA_RESPONSE', `${where}: GET ${path} answered HTTP ${response.status}${detail}`);
}

function fail(code: 'ERR_JIRA_AUTH' | 'ERR_JIRA_PERMISSION' | 'ERR_JIRA_RESPONSE', message: string): never {
  throw new DirbridgeError(code, message, { retryable: code === 'ERR_JIRA_RESPONSE' });
}

/** Jira's error entity: `{"errorMessages": [...], "errors": {...}}`, shortened. */
function jiraMessage(body: unknown): string {
  if (body === null || typeof body !== 'object') return '';
  const messages = (body as { errorMessages?: unknown }).errorMessages;
  const first = Array.isArray(messages) ? messages.find((m): m is string => typeof m === 'string') : undefined;
  return first === undefined ? '' : ` (${first.slice(0, 200)})`;
}

function shapeError(where: string, path: string, error: z.ZodError): DirbridgeError {
  const issue = error.issues[0];
  const at = issue === undefined ? '' : ` at ${issue.path.join('.') || '(top)'}: ${issue.message}`;
  return new DirbridgeError('ERR_JIRA_RESPONSE', `${where}: GET ${path} returned a body that does not fit Jira's documented shape${at}`);
}
