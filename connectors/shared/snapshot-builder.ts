import type { DirectoryGroup, DirectorySnapshot, DirectoryUser } from '../../src/core/model.js';
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

interface PendingGroup {
  readonly id: string;
  readonly name: string;
  /** Members already known as users (externalIds). */
  readonly userIds: string[];
  /** Normalised member DNs not (yet) known as users: child groups, users read later, or nothing. */
  readonly otherDns: string[];
  readonly memberUids: string[];
  /** The group's own address (a mailing list), when it has one. */
  readonly mail: string | null;
}

/**
 * Turns entries, one at a time, into the compact snapshot model. It keeps a key per user (DN and
 * username to external id) and each group's member references, never whole entries, and resolves the
 * references once every entry has been seen.
 */
export class SnapshotBuilder {
  private readonly users: DirectoryUser[] = [];
  private readonly groups = new Map<string, PendingGroup>();
  private readonly userByDn = new Map<string, string>();
  private readonly memberOf: [string, readonly string[]][] = [];
  private readonly userClasses: Set<string>;
  private readonly groupClasses: Set<string>;
  private readonly seenIds = new Set<string>();

  constructor(
    private readonly directoryId: string,
    private readonly mapping: AttributeMapping,
  ) {
    this.userClasses = new Set(mapping.userObjectClasses.map((c) => c.toLowerCase()));
    this.groupClasses = new Set(mapping.groupObjectClasses.map((c) => c.toLowerCase()));
  }

  get counts(): { users: number; groups: number } {
    return { users: this.users.length, groups: this.groups.size };
  }

  /** Classifies the entry by its objectClass as a user, a group or neither (ignored), and adds it. */
  add(entry: DirectoryEntry): 'user' | 'group' | 'ignored' {
    const classes = values(entry, 'objectClass').map((c) => c.toLowerCase());
    if (classes.some((c) => this.groupClasses.has(c))) {
      this.addGroup(entry);
      return 'group';
    }
    if (classes.some((c) => this.userClasses.has(c))) {
      this.addUser(entry);
      return 'user';
    }
    return 'ignored';
  }

  addUser(entry: DirectoryEntry): void {
    const m = this.mapping;
    const externalId = identity(entry, m.id);
    if (externalId === null) throw new EntryMappingError(`user ${entry.dn} has no ${m.id} (its stable id)`);
    if (this.seenIds.has(externalId)) throw new EntryMappingError(`user ${entry.dn} repeats the ${m.id} ${externalId}`);
    this.seenIds.add(externalId);
    const username = first(entry, m.username);
    if (username === null) throw new EntryMappingError(`user ${entry.dn} has no ${m.username} (its username)`);
    this.users.push({
      externalId,
      username,
      email: first(entry, m.email),
      displayName: first(entry, m.displayName),
      disabled: isDisabled(entry, m),
      location: entry.dn,
    });
    this.userByDn.set(normalizeDn(entry.dn), externalId);
    if (m.memberOfAttribute !== null) {
      const groups = values(entry, m.memberOfAttribute);
      if (groups.length > 0) this.memberOf.push([externalId, groups]);
    }
  }

  addGroup(entry: DirectoryEntry): void {
    const m = this.mapping;
    const id = normalizeDn(entry.dn);
    const name = first(entry, m.groupName) ?? firstRdnValue(entry.dn);
    // Users are usually read before groups: resolve what is known now and keep only the rest, so the
    // builder does not hold a normalised DN string per membership.
    const userIds: string[] = [];
    const otherDns: string[] = [];
    for (const attribute of m.memberDnAttributes) {
      for (const raw of values(entry, attribute)) {
        const dn = normalizeDn(raw);
        const userId = this.userByDn.get(dn);
        if (userId !== undefined) userIds.push(userId);
        else otherDns.push(dn);
      }
    }
    const memberUids = m.memberUidAttribute === null ? [] : values(entry, m.memberUidAttribute).map((u) => u.toLowerCase());
    this.groups.set(id, { id, name, userIds, otherDns, memberUids, mail: first(entry, m.email) });
  }

  build(): DirectorySnapshot {
    const extraUsers = new Map<string, string[]>();
    for (const [userId, groupDns] of this.memberOf) {
      for (const raw of groupDns) {
        const dn = normalizeDn(raw);
        if (!this.groups.has(dn)) this.groups.set(dn, { id: dn, name: firstRdnValue(raw), userIds: [], otherDns: [], memberUids: [], mail: null });
        const list = extraUsers.get(dn) ?? [];
        list.push(userId);
        extraUsers.set(dn, list);
      }
    }
    // Usernames are looked up only to resolve memberUid values: the index is built when a group has any.
    let userByName: Map<string, string> | null = null;
    const byName = (): Map<string, string> => {
      if (userByName === null) {
        userByName = new Map();
        for (const u of this.users) if (!userByName.has(u.username.toLowerCase())) userByName.set(u.username.toLowerCase(), u.externalId);
      }
      return userByName;
    };
    const groups: DirectoryGroup[] = [];
    for (const g of this.groups.values()) {
      const extra = extraUsers.get(g.id);
      if (g.otherDns.length === 0 && g.memberUids.length === 0 && extra === undefined && this.mapping.memberDnAttributes.length === 1) {
        // One attribute's values are a set already: no copy needed.
        groups.push({ id: g.id, name: g.name, memberUserIds: g.userIds, memberGroupIds: [], ...(g.mail === null ? {} : { mail: g.mail }) });
        continue;
      }
      const users = new Set<string>(g.userIds);
      const children = new Set<string>();
      for (const dn of g.otherDns) {
        const userId = this.userByDn.get(dn);
        if (userId !== undefined) users.add(userId);
        else if (this.groups.has(dn)) children.add(dn);
      }
      for (const uid of g.memberUids) {
        const userId = byName().get(uid);
        if (userId !== undefined) users.add(userId);
      }
      for (const userId of extra ?? []) users.add(userId);
      groups.push({ id: g.id, name: g.name, memberUserIds: [...users], memberGroupIds: [...children], ...(g.mail === null ? {} : { mail: g.mail }) });
    }
    return { directoryId: this.directoryId, users: this.users, groups };
  }

  sampleUser(): DirectoryUser | null {
    return this.users[0] ?? null;
  }
}

const NO_VALUES: readonly string[] = [];

function values(entry: DirectoryEntry, attribute: string): readonly string[] {
  const list = entry.attributes.get(attribute.toLowerCase());
  if (list === undefined) return NO_VALUES;
  return list.every((v) => typeof v === 'string') ? (list as readonly string[]) : list.map(asText);
}

function first(entry: DirectoryEntry, attribute: string): string | null {
  const value = entry.attributes.get(attribute.toLowerCase())?.[0];
  return value === undefined ? null : asText(value);
}

function asText(value: AttributeValue): string {
  return typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
}

function identity(entry: DirectoryEntry, attribute: string): string | null {
  const raw = entry.attributes.get(attribute.toLowerCase())?.[0];
  if (raw === undefined) return null;
  if (typeof raw !== 'string') return raw.length === 16 && attribute.toLowerCase() === 'objectguid' ? guidToString(raw) : Buffer.from(raw).toString('hex');
  return raw;
}

/** AD objectGUID bytes to the canonical form: the first three fields are little-endian. */
export function guidToString(bytes: Uint8Array): string {
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0'));
  const pick = (indexes: number[]): string => indexes.map((i) => hex[i]).join('');
  return `${pick([3, 2, 1, 0])}-${pick([5, 4])}-${pick([7, 6])}-${pick([8, 9])}-${pick([10, 11, 12, 13, 14, 15])}`;
}

function isDisabled(entry: DirectoryEntry, mapping: AttributeMapping): boolean {
  const rule = mapping.disabled;
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
