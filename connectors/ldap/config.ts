import { z } from 'zod';
import { secret } from '../../src/config/secret-positions.js';
import type { ConfigProblem } from '../../src/ports/directory-connector.js';
import { attributeOverridesSchema, PROFILE_NAMES } from '../shared/profiles.js';
import { searchScopeSchema as searchScope } from '../shared/selection.js';

export const ldapConfigSchema = z
  .strictObject({
    type: z.literal('ldap'),
    url: secret(z.string().regex(/^ldaps?:\/\/[^/?#\s]+\/?$/, 'ldaps://host:636 or ldap://host:389 (scheme, host and port only)'), 'url-userinfo').describe(
      'ldaps://host:636, or ldap://host:389 with startTls: true.',
    ),
    profile: z.enum(PROFILE_NAMES).default('openldap'),
    startTls: z.boolean().default(false).describe('Upgrade an ldap:// connection with StartTLS before binding.'),
    tls: z
      .strictObject({
        caFile: z.string().optional().describe('PEM file with the CA that signed the server certificate (relative to the config file).'),
        serverName: z.string().optional().describe('Name to verify the certificate against, when it differs from the URL host.'),
        rejectUnauthorized: z.boolean().default(true).describe('Certificate verification; false is logged as an error on every run.'),
        allowPlaintext: z.boolean().default(false).describe('Allow a simple bind over ldap:// without StartTLS (sends the password in clear).'),
      })
      .prefault({}),
    bind: z.strictObject({
      dn: z.string().min(1).describe('The service account, e.g. cn=svc-dirbridge,ou=Service,dc=example,dc=com.'),
      password: secret(z.string().min(1)).describe('A secret reference: ${env:LDAP_BIND_PASSWORD} or ${file:/run/secrets/ldap}.'),
    }),
    users: searchScope('users'),
    groups: searchScope('groups')
      .optional()
      .describe("Only the groups this search returns exist (users' memberOf is then not read). Omit when groups are not readable: memberships then come from the users' memberOf."),
    pageSize: z.int().min(1).max(10_000).default(500).describe('Entries per page of the paged search.'),
    groupPageSize: z
      .int()
      .min(1)
      .max(10_000)
      .default(50)
      .describe('Groups per page. A page is held whole until it is complete, and a page of big groups holds every member DN: smaller pages bound memory.'),
    timeouts: z
      .strictObject({
        connectSeconds: z.number().positive().default(10),
        operationSeconds: z.number().positive().default(60).describe('Per request, e.g. one page.'),
        searchTimeLimitSeconds: z.int().min(1).default(300).describe('Time limit the server is asked to apply to each search.'),
      })
      .prefault({}),
    attributes: attributeOverridesSchema.optional(),
  });

export type LdapConfig = z.output<typeof ldapConfigSchema>;

/** Rules across keys, reported by the config loader with the directory's path. */
export function validateLdapConfig(config: LdapConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (config.url.startsWith('ldap://') && !config.startTls && !config.tls.allowPlaintext) {
    problems.push({
      path: ['startTls'],
      message: 'ldap:// without StartTLS would send the bind password in clear: use ldaps://, set startTls: true, or (on a trusted link only) tls.allowPlaintext: true',
    });
  }
  if (config.url.startsWith('ldaps://') && config.startTls) problems.push({ path: ['startTls'], message: 'ldaps:// is already TLS: remove startTls' });
  return problems;
}
