import { z } from 'zod';

/**
 * Vendor profiles as data: which attributes carry a directory entry's identity, name, mail and state,
 * and which object classes and attributes make groups and memberships. `generic` has no defaults:
 * every attribute must be named in the directory's `attributes` block.
 */
export const PROFILE_NAMES = ['openldap', 'active-directory', '389ds', 'freeipa', 'generic'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** How an entry says it is disabled. */
export type DisabledRule =
  | { readonly attribute: string; readonly kind: 'ad-user-account-control' } // bit 2 (ACCOUNTDISABLE)
  | { readonly attribute: string; readonly kind: 'true' } // value "TRUE" (nsAccountLock)
  | { readonly attribute: string; readonly kind: 'present' }; // any value (pwdAccountLockedTime)

export interface AttributeMapping {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly displayName: string;
  readonly groupName: string;
  readonly userObjectClasses: readonly string[];
  readonly groupObjectClasses: readonly string[];
  /** Group attributes whose values are member DNs. */
  readonly memberDnAttributes: readonly string[];
  /** Group attribute whose values are member usernames (posixGroup `memberUid`), or null. */
  readonly memberUidAttribute: string | null;
  /** User attribute listing the user's group DNs, used when groups are not readable. */
  readonly memberOfAttribute: string | null;
  readonly disabled: DisabledRule | null;
}

const PROFILES: Record<Exclude<ProfileName, 'generic'>, AttributeMapping> = {
  openldap: {
    id: 'entryUUID',
    username: 'uid',
    email: 'mail',
    displayName: 'displayName',
    groupName: 'cn',
    userObjectClasses: ['inetOrgPerson'],
    groupObjectClasses: ['groupOfNames', 'groupOfUniqueNames', 'posixGroup'],
    memberDnAttributes: ['member', 'uniqueMember'],
    memberUidAttribute: 'memberUid',
    memberOfAttribute: 'memberOf',
    disabled: { attribute: 'pwdAccountLockedTime', kind: 'present' },
  },
  'active-directory': {
    id: 'objectGUID',
    username: 'sAMAccountName',
    email: 'mail',
    displayName: 'displayName',
    groupName: 'cn',
    userObjectClasses: ['user'],
    groupObjectClasses: ['group'],
    memberDnAttributes: ['member'],
    memberUidAttribute: null,
    memberOfAttribute: 'memberOf',
    disabled: { attribute: 'userAccountControl', kind: 'ad-user-account-control' },
  },
  '389ds': {
    id: 'nsUniqueId',
    username: 'uid',
    email: 'mail',
    displayName: 'displayName',
    groupName: 'cn',
    userObjectClasses: ['inetOrgPerson'],
    groupObjectClasses: ['groupOfNames', 'groupOfUniqueNames'],
    memberDnAttributes: ['member', 'uniqueMember'],
    memberUidAttribute: 'memberUid',
    memberOfAttribute: 'memberOf',
    disabled: { attribute: 'nsAccountLock', kind: 'true' },
  },
  freeipa: {
    id: 'ipaUniqueID',
    username: 'uid',
    email: 'mail',
    displayName: 'displayName',
    groupName: 'cn',
    userObjectClasses: ['inetOrgPerson'],
    groupObjectClasses: ['groupOfNames'],
    memberDnAttributes: ['member'],
    memberUidAttribute: null,
    memberOfAttribute: 'memberOf',
    disabled: { attribute: 'nsAccountLock', kind: 'true' },
  },
};

const attributeName = z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'an LDAP attribute name such as "uid" or "entryUUID"');

export const attributeOverridesSchema = z
  .strictObject({
    id: attributeName,
    username: attributeName,
    email: attributeName,
    displayName: attributeName,
    groupName: attributeName,
    userObjectClasses: z.array(attributeName).min(1),
    groupObjectClasses: z.array(attributeName).min(1),
    memberDnAttributes: z.array(attributeName),
    memberUidAttribute: attributeName.nullable(),
    memberOfAttribute: attributeName.nullable(),
    disabled: z
      .strictObject({ attribute: attributeName, kind: z.enum(['ad-user-account-control', 'true', 'present']) })
      .nullable(),
  })
  .partial()
  .describe('Attribute names that override the profile; with profile "generic" every one is required.');

export type AttributeOverrides = z.output<typeof attributeOverridesSchema>;

const REQUIRED_FOR_GENERIC = ['id', 'username', 'email', 'displayName', 'groupName', 'userObjectClasses', 'groupObjectClasses', 'memberDnAttributes', 'memberUidAttribute', 'memberOfAttribute', 'disabled'] as const;

/** Missing keys, for config validation of `profile: generic`. */
export function missingGenericAttributes(overrides: AttributeOverrides | undefined): string[] {
  return REQUIRED_FOR_GENERIC.filter((key) => overrides?.[key] === undefined);
}

export function resolveMapping(profile: ProfileName, overrides: AttributeOverrides | undefined): AttributeMapping {
  if (profile === 'generic') {
    const missing = missingGenericAttributes(overrides);
    if (missing.length > 0) throw new Error(`profile "generic" needs attributes: ${missing.join(', ')}`);
    return overrides as AttributeMapping;
  }
  const base = PROFILES[profile];
  const merged = { ...base };
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (value !== undefined) Object.assign(merged, { [key]: value });
  }
  return merged;
}

/** The mapping as `directories test` shows it: which source attribute feeds which field. */
export function describeMapping(mapping: AttributeMapping): Record<string, string> {
  return {
    externalId: mapping.id,
    username: mapping.username,
    email: mapping.email,
    displayName: mapping.displayName,
    disabled: mapping.disabled === null ? '(none)' : `${mapping.disabled.attribute} (${mapping.disabled.kind})`,
    users: `objectClass ∈ {${mapping.userObjectClasses.join(', ')}}`,
    groups: `objectClass ∈ {${mapping.groupObjectClasses.join(', ')}}, name ${mapping.groupName}`,
    members: [...mapping.memberDnAttributes, mapping.memberUidAttribute, mapping.memberOfAttribute].filter((a) => a !== null).join(', '),
  };
}
