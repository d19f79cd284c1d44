import { z } from 'zod';
import { attributeOverridesSchema, PROFILE_NAMES } from '../shared/profiles.js';
import { searchScopeSchema } from '../shared/selection.js';

export const ldifConfigSchema = z.strictObject({
  type: z.literal('ldif'),
  path: z.string().min(1).describe('The LDIF file (an ldapsearch or slapcat export); relative to the config file.'),
  profile: z.enum(PROFILE_NAMES).default('openldap').describe('Vendor profile: which attributes hold the id, username, mail, state and memberships.'),
  users: searchScopeSchema('users', { evaluatedOnEntries: true })
    .optional()
    .describe('Read only the users under this base DN, in this scope, matching this filter (as the ldap type searches); the whole file when omitted.'),
  groups: searchScopeSchema('groups', { evaluatedOnEntries: true })
    .optional()
    .describe("Read only these groups; users' memberOf is then ignored. Omitted: every group entry of the file, or memberOf when the file holds none."),
  attributes: attributeOverridesSchema.optional(),
});

export type LdifConfig = z.output<typeof ldifConfigSchema>;
