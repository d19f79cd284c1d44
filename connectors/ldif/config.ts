import { z } from 'zod';
import { attributeOverridesSchema, PROFILE_NAMES } from '../shared/profiles.js';

export const ldifConfigSchema = z.strictObject({
  type: z.literal('ldif'),
  path: z.string().min(1).describe('The LDIF file (an ldapsearch or slapcat export); relative to the config file.'),
  profile: z.enum(PROFILE_NAMES).default('openldap').describe('Vendor profile: which attributes hold the id, username, mail, state and memberships.'),
  attributes: attributeOverridesSchema.optional(),
});

export type LdifConfig = z.output<typeof ldifConfigSchema>;
