import { z } from 'zod';
import { secret } from '../../src/config/secret-positions.js';

/**
 * `licensing.jira`: the Jira whose application access settings say which groups consume a seat.
 * A personal access token (sent as a bearer) or a username and password (HTTP Basic); both secrets.
 */
export const jiraLicensingSchema = z
  .strictObject({
    url: z.url({ protocol: /^https?$/ }).describe('Jira base URL including its context path, e.g. https://jira.example.com or https://example.com/jira.'),
    token: secret(z.string().min(1))
      .optional()
      .describe('A personal access token of a Jira administrator, sent as "Authorization: Bearer", as a secret reference: ${env:JIRA_TOKEN}.'),
    username: z.string().min(1).optional().describe('With password: HTTP Basic authentication as this Jira user (instead of token).'),
    password: secret(z.string().min(1)).optional().describe("The Jira user's password, as a secret reference: ${env:JIRA_PASSWORD}."),
    tls: z
      .strictObject({
        caFile: z.string().optional().describe('PEM file with the CA of the Jira server certificate (relative to the config file).'),
        rejectUnauthorized: z.boolean().default(true).describe('Certificate verification; false is logged as an error on every read.'),
      })
      .prefault({}),
    pageSize: z.int().min(1).max(1000).default(50).describe('maxResults per page of group members (Jira caps it, usually at 50).'),
    timeouts: z
      .strictObject({ requestSeconds: z.number().positive().default(30).describe('Per HTTP request, body included.') })
      .prefault({}),
    retries: z
      .strictObject({
        max: z.int().min(0).max(10).default(3).describe('Retries of one request after a 5xx, a timeout or a connection reset (never after a 4xx).'),
        baseDelayMs: z.int().min(1).default(250).describe('First backoff delay; doubles each retry, with jitter.'),
      })
      .prefault({}),
  })
  .superRefine((jira, ctx) => {
    const basic = jira.username !== undefined || jira.password !== undefined;
    if (jira.token !== undefined && basic) {
      ctx.addIssue({ code: 'custom', path: ['token'], message: 'give either token (a personal access token) or username and password, not both' });
    } else if (jira.token === undefined && !basic) {
      ctx.addIssue({ code: 'custom', path: [], message: 'no credential: set token: ${env:JIRA_TOKEN} (a personal access token), or username and password' });
    } else if (basic && (jira.username === undefined || jira.password === undefined)) {
      ctx.addIssue({ code: 'custom', path: [jira.username === undefined ? 'username' : 'password'], message: 'HTTP Basic needs both username and password' });
    }
  });

export type JiraLicensingConfig = z.output<typeof jiraLicensingSchema>;
