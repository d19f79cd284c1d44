import { z } from 'zod';
import type { DirectorySnapshot } from '../../src/core/model.js';
import type { ConnectorCheck } from '../../src/ports/directory-connector.js';

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
  /** The stable id; `dn` takes the entry's DN (normalised), so a rename or move is then a new customer. */
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly displayName: string;
  readonly groupName: string;
  readonly userObjectClasses: readonly string[];
  /** Entries of these classes are never users, though they carry a user class (AD computers are `user`s). */
  readonly excludedUserObjectClasses: readonly string[];
  /**
   * AD's `objectCategory=person`: an entry whose objectCategory names another category (a computer
   * made with objectClass user only) is not a user. Checked on the entry, so AD look-alikes that cannot
   * evaluate objectCategory in a filter (slapd with msuser.schema) are read alike.
   */
  readonly userCategory: string | null;
  readonly groupObjectClasses: readonly string[];
  /** Group attributes whose values are member DNs. */
  readonly memberDnAttributes: readonly string[];
  /** Group attribute listing members by name (posixGroup `memberUid`), or null. A value that is a DN counts as a member DN. */
  readonly memberUidAttribute: string | null;
  /** The user attribute whose values memberUid holds (`uid`), whatever attribute the username comes from. */
  readonly memberUidUserAttribute: string;
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
    excludedUserObjectClasses: [],
    userCategory: null,
    groupObjectClasses: ['groupOfNames', 'groupOfUniqueNames', 'posixGroup'],
    memberDnAttributes: ['member', 'uniqueMember'],
    memberUidAttribute: 'memberUid',
    memberUidUserAttribute: 'uid',
    memberOfAttribute: 'memberOf',
    disabled: { attribute: 'pwdAccountLockedTime', kind: 'present' },
  },
  'active-directory': {
    id: 'objectGUID',
    username: 'sAMAccountName',
    email: 'mail',
    displayName: 'displayName',
    groupName: 'cn',
    // People only: objectCategory=person and objectClass=user. Computers (and managed service accounts,
    // which derive from computer) are `user`s too.
    userObjectClasses: ['user'],
    excludedUserObjectClasses: ['computer'],
    userCategory: 'person',
    groupObjectClasses: ['group'],
    memberDnAttributes: ['member'],
    memberUidAttribute: null,
    memberUidUserAttribute: 'uid',
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
    excludedUserObjectClasses: [],
    userCategory: null,
    groupObjectClasses: ['groupOfNames', 'groupOfUniqueNames'],
    memberDnAttributes: ['member', 'uniqueMember'],
    memberUidAttribute: 'memberUid',
    memberUidUserAttribute: 'uid',
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
    excludedUserObjectClasses: [],
    userCategory: null,
    groupObjectClasses: ['groupOfNames'],
    memberDnAttributes: ['member'],
    memberUidAttribute: null,
    memberUidUserAttribute: 'uid',
    memberOfAttribute: 'memberOf',
    disabled: { attribute: 'nsAccountLock', kind: 'true' },
  },
};

const attributeName = z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'an LDAP attribute name such as "uid" or "entryUUID"');

export const attributeOverridesSchema = z
  .strictObject({
    id: attributeName.describe('The stable id attribute; "dn" uses the DN itself (a rename or move is then a new customer).'),
    username: attributeName,
    email: attributeName,
    displayName: attributeName,
    groupName: attributeName,
    userObjectClasses: z.array(attributeName).min(1),
    excludedUserObjectClasses: z.array(attributeName).describe('Entries of these classes are not users (active-directory: computer).'),
    userCategory: z.string().min(1).nullable().describe('active-directory: "person"; an entry whose objectCategory names another category is not a user.'),
    groupObjectClasses: z.array(attributeName).min(1),
    memberDnAttributes: z.array(attributeName),
    memberUidAttribute: attributeName.nullable(),
    memberUidUserAttribute: attributeName.describe('The user attribute memberUid values hold (default uid), whatever attribute the username comes from.'),
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

/** What `generic` assumes for the keys it does not require. */
const GENERIC_DEFAULTS = { excludedUserObjectClasses: [], userCategory: null, memberUidUserAttribute: 'uid' } as const;

export function resolveMapping(profile: ProfileName, overrides: AttributeOverrides | undefined): AttributeMapping {
  if (profile === 'generic') {
    const missing = missingGenericAttributes(overrides);
    if (missing.length > 0) throw new Error(`profile "generic" needs attributes: ${missing.join(', ')}`);
  }
  const base: AttributeMapping = profile === 'generic' ? ({ ...GENERIC_DEFAULTS } as unknown as AttributeMapping) : PROFILES[profile];
  const merged = { ...base };
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (value !== undefined) Object.assign(merged, { [key]: value });
  }
  return merged;
}

/** The mapping as `directories test` shows it: which source attribute feeds which field. */
/**
 * What `directories test` reports for a directory read whole, as a sync reads it: a page-size cap or a
 * size limit the first page does not meet fails here as it would there.
 */
export function checkByReadingWhole(read: () => Promise<DirectorySnapshot>, mapping: AttributeMapping): () => Promise<ConnectorCheck> {
  return async () => {
    const snapshot = await read();
    return {
      users: snapshot.users.length,
      groups: snapshot.groups.length,
      partial: false,
      sampleUser: snapshot.users[0] ?? null,
      mapping: describeMapping(mapping),
      unresolvedMembers: snapshot.unresolvedMembers ?? [],
    };
  };
}

export function describeMapping(mapping: AttributeMapping): Record<string, string> {
  return {
    externalId: mapping.id,
    username: mapping.username,
    email: mapping.email,
    displayName: `${mapping.displayName}, else cn, else givenName + sn`,
    disabled: mapping.disabled === null ? '(none)' : `${mapping.disabled.attribute} (${mapping.disabled.kind})`,
    users: [
      `objectClass ∈ {${mapping.userObjectClasses.join(', ')}}`,
      ...(mapping.excludedUserObjectClasses.length === 0 ? [] : [`∉ {${mapping.excludedUserObjectClasses.join(', ')}}`]),
      ...(mapping.userCategory === null ? [] : [`objectCategory ${mapping.userCategory}`]),
    ].join(', '),
    groups: `objectClass ∈ {${mapping.groupObjectClasses.join(', ')}}, name ${mapping.groupName}`,
    members: [
      ...mapping.memberDnAttributes,
      ...(mapping.memberUidAttribute === null ? [] : [`${mapping.memberUidAttribute} (DNs, or ${mapping.memberUidUserAttribute} values)`]),
      ...(mapping.memberOfAttribute === null ? [] : [`${mapping.memberOfAttribute} (without a group search)`]),
    ].join(', '),
  };
}
