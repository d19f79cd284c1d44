import { z } from 'zod';
import { secret } from '../../src/config/secret-positions.js';

export const crowdConfigSchema = z.strictObject({
  type: z.literal('crowd'),
  url: secret(z.url({ protocol: /^https?$/ }), 'url-userinfo').describe('Crowd base URL including its context path, e.g. https://crowd.example.com/crowd.'),
  application: z.strictObject({
    name: z.string().min(1).describe('The application name configured in Crowd (not a user).'),
    password: secret(z.string().min(1)).describe('The application password, as a secret reference: ${env:CROWD_APP_PASSWORD}.'),
  }),
  tls: z
    .strictObject({
      caFile: z.string().optional().describe('PEM file with the CA of the Crowd server certificate (relative to the config file).'),
      rejectUnauthorized: z.boolean().default(true).describe('Certificate verification; false is logged as an error on every run.'),
    })
    .prefault({}),
  pageSize: z.int().min(1).max(10_000).default(1000).describe('max-results per search page.'),
  timeouts: z
    .strictObject({ requestSeconds: z.number().positive().default(30).describe('Per HTTP request, body included.') })
    .prefault({}),
  retries: z
    .strictObject({
      max: z.int().min(0).max(10).default(4).describe('Retries of one request after a 5xx, a timeout or a connection reset (never after a 4xx).'),
      baseDelayMs: z.int().min(1).default(250).describe('First backoff delay; doubles each retry, with jitter.'),
    })
    .prefault({}),
  concurrency: z.int().min(1).max(32).default(4).describe('Requests in flight at once (per-group membership reads).'),
});

export type CrowdConfig = z.output<typeof crowdConfigSchema>;
