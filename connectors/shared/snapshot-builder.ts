import type { DirectoryGroup, DirectorySnapshot, DirectoryUser, UnresolvedMembers } from '../../src/core/model.js';
import type { AttributeMapping } from './profiles.js';

export type AttributeValue = string | Uint8Array;

/** A directory entry as LDAP and LDIF readers hand it over; attribute names are lower-cased. */
export interface DirectoryEntry {
  readonly dn: string;
  readonly attributes: ReadonlyMap<string, readonly AttributeValue[]>;
}

export class EntryMappingError extends Error {
  override name = 'EntryMappingError';
}

/**
 * Where memberships come from besides the group entries: users' memberOf values are groups only when
 * nothing searched for groups (`use`); with a group search only the groups it returned exist (`ignore`);
 * an LDIF file read without a group selection uses memberOf when it holds no group entries.
 */
export type MemberOfMode = 'use' | 'ignore' | 'when-no-groups';

interface PendingGroup {
  readonly id: string;
  readonly name: string;
  /** Members already known as users (externalIds). */
  readonly userIds: string[];
  /** Normalised member DNs not (yet) known as users: child groups, users read later, or nothing. */
  readonly otherDns: string[];
  /** memberUid values that are not DNs, as read. */
  readonly memberUids: string[];
  /** The group's own address (a mailing list), when it has one. */
  readonly mail: string | null;
}

const EXAMPLES = 3;

/**
 * Turns entries, one at a time, into the compact snapshot model. It keeps a key per user (DN and
 * username to external id) and each group's member references, never whole entries, and resolves the
 * references once every entry has been seen. References that match nothing are counted per group.
 */
export class SnapshotBuilder {
  private readonly users: DirectoryUser[] = [];
  private readonly groups = new Map<string, PendingGroup>();
  private readonly userByDn = new Map<string, string>();
  /** Users whose DN differs only in case from an earlier user's: a member DN names all of them. */
  private dnTwins: Map<string, string[]> | null = null;
  /** memberUid keys per user (parallel to `users`), when they come from another attribute than the username. */
  private readonly memberUidKeys: (string | null)[] | null;
  private readonly memberOf: [number, readonly string[]][] = [];
  private readonly seenIds = new Set<string>();
  private readonly idFromDn: boolean;
  /** The mapping's attribute names lower-cased once, as entries hold them (the mapping keeps the spelling for messages). */
  private readonly keys: Keys;

  constructor(
    private readonly directoryId: string,
    private readonly mapping: AttributeMapping,
    private readonly options: { readonly memberOf: MemberOfMode } = { memberOf: 'use' },
  ) {
    const separateKeys = mapping.memberUidAttribute !== null && mapping.memberUidUserAttribute.toLowerCase() !== mapping.username.toLowerCase();
    this.memberUidKeys = separateKeys ? [] : null;
    this.idFromDn = mapping.id.toLowerCase() === 'dn';
    this.keys = lowerCaseKeys(mapping);
  }

  get counts(): { users: number; groups: number } {
    return { users: this.users.length, groups: this.groups.size };
  }

  /** Adds a user entry; false when the profile says it is not a person (AD objectCategory). */
  addUser(entry: DirectoryEntry): boolean {
    const m = this.mapping;
    const k = this.keys;
    if (m.userCategory !== null && !inCategory(entry, m.userCategory)) return false;
    const externalId = this.idFromDn ? tidyDn(entry.dn) : identity(entry, k.id);
    if (externalId === null) throw new EntryMappingError(missingIdMessage(entry.dn, m.id));
    if (this.seenIds.has(externalId)) throw new EntryMappingError(`user ${entry.dn} repeats the ${m.id} ${externalId} of another user: a stable id must be unique (check attributes.id)`);
    this.seenIds.add(externalId);
    const username = first(entry, k.username);
    if (username === null) throw new EntryMappingError(`user ${entry.dn} has no ${m.username} (its username): set attributes.username to an attribute every user carries`);
    this.users.push({
      externalId,
      username,
      email: first(entry, k.email),
      displayName: displayNameOf(entry, k.displayName),
      disabled: isDisabled(entry, k.disabled),
      location: entry.dn,
    });
    const key = normalizeDn(entry.dn);
    if (this.userByDn.has(key)) {
      const twins = (this.dnTwins ??= new Map());
      twins.set(key, [...(twins.get(key) ?? []), externalId]);
    } else {
      this.userByDn.set(key, externalId);
    }
    this.memberUidKeys?.push(first(entry, k.memberUidUser)?.toLowerCase() ?? null);
    if (m.memberOfAttribute !== null && k.memberOf !== null && this.options.memberOf !== 'ignore') {
      const groups = values(entry, k.memberOf);
      if (groups.length > 0) {
        if (this.options.memberOf === 'use') checkGroupDns(entry.dn, m.memberOfAttribute, groups);
        this.memberOf.push([this.users.length - 1, groups]);
      }
    }
    return true;
  }

  addGroup(entry: DirectoryEntry): void {
    const k = this.keys;
    const id = normalizeDn(entry.dn);
    const name = first(entry, k.groupName) ?? firstRdnValue(entry.dn);
    // Users are usually read before groups: resolve what is known now and keep only the rest, so the
    // builder does not hold a normalised DN string per membership.
    const userIds: string[] = [];
    const otherDns: string[] = [];
    const resolveDn = (raw: string): void => {
      const dn = normalizeDn(raw);
      const userId = this.userByDn.get(dn);
      if (userId === undefined) {
        otherDns.push(dn);
        return;
      }
      userIds.push(userId);
      const twins = this.dnTwins?.get(dn);
      if (twins !== undefined) userIds.push(...twins);
    };
    for (const attribute of k.memberDn) {
      for (const raw of values(entry, attribute)) if (raw !== '') resolveDn(raw);
    }
    const memberUids: string[] = [];
    if (k.memberUid !== null) {
      // memberUid holds names, but real data often puts member DNs there: a DN counts as a member DN.
      for (const raw of values(entry, k.memberUid)) {
        if (isDn(raw)) resolveDn(raw);
        else if (raw !== '') memberUids.push(raw);
      }
    }
    this.groups.set(id, { id, name, userIds, otherDns, memberUids, mail: first(entry, k.email) });
  }

  build(): DirectorySnapshot {
    const extraUsers = this.membershipsFromMemberOf();
    // memberUid values are looked up only when a group has any: the index is built on first use.
    let userByUid: Map<string, string> | null = null;
    const byUid = (): Map<string, string> => {
      if (userByUid === null) {
        userByUid = new Map();
        this.users.forEach((u, i) => {
          const key = this.memberUidKeys === null ? u.username.toLowerCase() : this.memberUidKeys[i];
          if (key !== null && key !== undefined && !userByUid?.has(key)) userByUid?.set(key, u.externalId);
        });
      }
      return userByUid;
    };
    const groups: DirectoryGroup[] = [];
    const unresolvedMembers: UnresolvedMembers[] = [];
    for (const g of this.groups.values()) {
      const extra = extraUsers.get(g.id);
      if (g.otherDns.length === 0 && g.memberUids.length === 0 && extra === undefined && this.mapping.memberDnAttributes.length === 1 && this.dnTwins === null) {
        // One attribute's values are a set already: no copy needed.
        groups.push({ id: g.id, name: g.name, memberUserIds: g.userIds, memberGroupIds: [], ...(g.mail === null ? {} : { mail: g.mail }) });
        continue;
      }
      const users = new Set<string>(g.userIds);
      const children = new Set<string>();
      const unresolved: string[] = [];
      let count = 0;
      const miss = (reference: string): void => {
        count++;
        if (unresolved.length < EXAMPLES) unresolved.push(reference);
      };
      for (const dn of g.otherDns) {
        const userId = this.userByDn.get(dn);
        if (userId !== undefined) {
          users.add(userId);
          for (const twin of this.dnTwins?.get(dn) ?? []) users.add(twin);
        } else if (this.groups.has(dn)) children.add(dn);
        else miss(dn);
      }
      for (const uid of g.memberUids) {
        const userId = byUid().get(uid.toLowerCase());
        if (userId !== undefined) users.add(userId);
        else miss(uid);
      }
      for (const userId of extra ?? []) users.add(userId);
      groups.push({ id: g.id, name: g.name, memberUserIds: [...users], memberGroupIds: [...children], ...(g.mail === null ? {} : { mail: g.mail }) });
      if (count > 0) unresolvedMembers.push({ groupId: g.id, group: g.name, count, examples: unresolved });
    }
    return { directoryId: this.directoryId, users: this.users, groups, ...(unresolvedMembers.length === 0 ? {} : { unresolvedMembers }) };
  }

  /** Group DN → user ids, from users' memberOf, when memberOf counts; groups only memberOf names are added. */
  private membershipsFromMemberOf(): Map<string, string[]> {
    const extraUsers = new Map<string, string[]>();
    const mode = this.options.memberOf;
    if (mode === 'ignore' || (mode === 'when-no-groups' && this.groups.size > 0)) return extraUsers;
    for (const [index, groupDns] of this.memberOf) {
      const user = this.users[index] as DirectoryUser;
      if (mode === 'when-no-groups') checkGroupDns(user.location ?? user.username, this.mapping.memberOfAttribute ?? '', groupDns);
      for (const raw of groupDns) {
        const dn = normalizeDn(raw);
        if (!this.groups.has(dn)) this.groups.set(dn, { id: dn, name: firstRdnValue(raw), userIds: [], otherDns: [], memberUids: [], mail: null });
        const list = extraUsers.get(dn) ?? [];
        list.push(user.externalId);
        extraUsers.set(dn, list);
      }
    }
    return extraUsers;
  }
}

interface Keys {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly displayName: string;
  readonly groupName: string;
  readonly memberDn: readonly string[];
  readonly memberUid: string | null;
  readonly memberUidUser: string;
  readonly memberOf: string | null;
  readonly disabled: AttributeMapping['disabled'];
}

function lowerCaseKeys(m: AttributeMapping): Keys {
  return {
    id: m.id.toLowerCase(),
    username: m.username.toLowerCase(),
    email: m.email.toLowerCase(),
    displayName: m.displayName.toLowerCase(),
    groupName: m.groupName.toLowerCase(),
    memberDn: m.memberDnAttributes.map((a) => a.toLowerCase()),
    memberUid: m.memberUidAttribute?.toLowerCase() ?? null,
    memberUidUser: m.memberUidUserAttribute.toLowerCase(),
    memberOf: m.memberOfAttribute?.toLowerCase() ?? null,
    disabled: m.disabled === null ? null : { ...m.disabled, attribute: m.disabled.attribute.toLowerCase() },
  };
}

function missingIdMessage(dn: string, attribute: string): string {
  return (
    `user ${dn} has no ${attribute} (its stable id). Exports made without operational attributes (most hand-made LDIF, ` +
    `ldapsearch without "+") lack it. Fix: set the directory's attributes.id to an attribute every user carries, ` +
    `or use the DN with attributes: { id: dn } (a rename or move is then a new customer)`
  );
}

/** memberOf values must be group DNs: a group named "1000" from a gidNumber is refused, not invented. */
function checkGroupDns(userDn: string, attribute: string, groupDns: readonly string[]): void {
  const bad = groupDns.find((v) => !isDn(v));
  if (bad === undefined) return;
  throw new EntryMappingError(
    `user ${userDn}: memberOfAttribute ${attribute} holds "${bad}", which is not a group DN. ` +
      `Fix: set attributes.memberOfAttribute to an attribute that lists group DNs (memberOf), or to null and configure a group search`,
  );
}

const DN_START = /^\s*(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)\s*=/;

/** A value that reads as a DN (attribute=value first), not as a name. */
export function isDn(value: string): boolean {
  return DN_START.test(value);
}

/** AD: objectCategory is a DN (CN=Person,CN=Schema,…) or a class name; absent means not restricted. */
function inCategory(entry: DirectoryEntry, category: string): boolean {
  const value = first(entry, 'objectcategory');
  if (value === null) return true;
  const name = isDn(value) ? firstRdnValue(value) : value.trim();
  return name.toLowerCase() === category.toLowerCase();
}

/** The configured display name, else cn, else given name and surname: searches by name find the person. */
function displayNameOf(entry: DirectoryEntry, attribute: string): string | null {
  const named = nonEmpty(first(entry, attribute)) ?? nonEmpty(first(entry, 'cn'));
  if (named !== null) return named;
  const parts = [first(entry, 'givenname'), first(entry, 'sn')].map(nonEmpty).filter((p) => p !== null);
  return parts.length === 0 ? null : parts.join(' ');
}

function nonEmpty(value: string | null): string | null {
  if (value === null || value === '') return null;
  // Only a value that starts with a space can be blank: most are returned without a copy.
  return value.charCodeAt(0) > 32 || value.trim() !== '' ? value : null;
}

const NO_VALUES: readonly string[] = [];

// Attribute names below are lower-case already, as DirectoryEntry holds them.
function values(entry: DirectoryEntry, attribute: string): readonly string[] {
  const list = entry.attributes.get(attribute);
  if (list === undefined) return NO_VALUES;
  return list.every((v) => typeof v === 'string') ? (list as readonly string[]) : list.map(asText);
}

function first(entry: DirectoryEntry, attribute: string): string | null {
  const value = entry.attributes.get(attribute)?.[0];
  return value === undefined ? null : asText(value);
}

function asText(value: AttributeValue): string {
  return typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
}

function identity(entry: DirectoryEntry, attribute: string): string | null {
  const raw = entry.attributes.get(attribute)?.[0];
  if (raw === undefined) return null;
  if (typeof raw !== 'string') return raw.length === 16 && attribute === 'objectguid' ? guidToString(raw) : Buffer.from(raw).toString('hex');
  return raw;
}

/** AD objectGUID bytes to the canonical form: the first three fields are little-endian. */
export function guidToString(bytes: Uint8Array): string {
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0'));
  const pick = (indexes: number[]): string => indexes.map((i) => hex[i]).join('');
  return `${pick([3, 2, 1, 0])}-${pick([5, 4])}-${pick([7, 6])}-${pick([8, 9])}-${pick([10, 11, 12, 13, 14, 15])}`;
}

function isDisabled(entry: DirectoryEntry, rule: AttributeMapping['disabled']): boolean {
  if (rule === null) return false;
  const value = first(entry, rule.attribute);
  if (value === null) return false;
  switch (rule.kind) {
    case 'ad-user-account-control':
      return (Number.parseInt(value, 10) & 2) === 2;
    case 'true':
      return value.trim().toUpperCase() === 'TRUE';
    case 'present':
      return true;
  }
}

/**
 * A DN as an identity (`attributes: { id: dn }`): as the directory spells it, without the spaces around
 * separators that exports differ in. Case is kept: two entries whose DNs differ only in the case of a
 * case-exact value are two entries.
 */
export function tidyDn(dn: string): string {
  if (!NEEDS_SPLIT.test(dn)) return dn;
  return splitDn(dn)
    .map((rdn) => rdn.trim().replace(/\s*=\s*/, '='))
    .join(',');
}

/** A DN reduced for comparison: RDNs split on unescaped commas, trimmed, lower-cased. */
export function normalizeDn(dn: string): string {
  // Without escapes or whitespace there is nothing to split around: lower-casing is the whole job.
  if (!NEEDS_SPLIT.test(dn)) return dn.toLowerCase();
  return splitDn(dn)
    .map((rdn) => rdn.trim().toLowerCase().replace(/\s*=\s*/, '='))
    .join(',');
}

const NEEDS_SPLIT = /[\\\s]/;

function splitDn(dn: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i] as string;
    if (ch === '\\' && i + 1 < dn.length) {
      current += ch + (dn[i + 1] as string);
      i++;
    } else if (ch === ',') {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

function firstRdnValue(dn: string): string {
  const rdn = splitDn(dn)[0] ?? dn;
  const eq = rdn.indexOf('=');
  return (eq < 0 ? rdn : rdn.slice(eq + 1)).trim().replace(/\\(.)/g, '$1');
}

/** A user entry's stable id as the builder reads it (the DN itself with `id: dn`), or null when it has none. */
export function entryExternalId(entry: DirectoryEntry, mapping: AttributeMapping): string | null {
  return mapping.id.toLowerCase() === 'dn' ? tidyDn(entry.dn) : identity(entry, mapping.id.toLowerCase());
}

/** Whether an entry the user search returned is a user (the profile's objectCategory rule, as `addUser` applies it). */
export function isUserEntry(entry: DirectoryEntry, mapping: AttributeMapping): boolean {
  return mapping.userCategory === null || inCategory(entry, mapping.userCategory);
}

/** A group entry's identity, name and member references, as `addGroup` reads them: DNs normalised, memberUid names as read. */
export interface GroupReferences {
  readonly id: string;
  readonly name: string;
  readonly dns: readonly string[];
  readonly uids: readonly string[];
}

export function groupReferences(entry: DirectoryEntry, mapping: AttributeMapping): GroupReferences {
  const dns: string[] = [];
  const uids: string[] = [];
  for (const attribute of mapping.memberDnAttributes) {
    for (const raw of values(entry, attribute.toLowerCase())) if (raw !== '') dns.push(normalizeDn(raw));
  }
  if (mapping.memberUidAttribute !== null) {
    for (const raw of values(entry, mapping.memberUidAttribute.toLowerCase())) {
      if (isDn(raw)) dns.push(normalizeDn(raw));
      else if (raw !== '') uids.push(raw);
    }
  }
  return { id: normalizeDn(entry.dn), name: first(entry, mapping.groupName.toLowerCase()) ?? firstRdnValue(entry.dn), dns, uids };
}
