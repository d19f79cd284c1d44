import type { CurrentCustomer, DirectoryGroup, DirectorySnapshot, DirectoryUser, SyncPolicy } from '../../src/core/model.js';

export function user(externalId: string, username = externalId, extra: Partial<DirectoryUser> = {}): DirectoryUser {
  return { externalId, username, email: `${username}@example.org`, displayName: username.toUpperCase(), disabled: false, location: `uid=${username},ou=People`, ...extra };
}

export function group(id: string, users: string[] = [], children: string[] = [], name = id): DirectoryGroup {
  return { id, name, memberUserIds: users, memberGroupIds: children };
}

export function snapshot(directoryId: string, users: DirectoryUser[], groups: DirectoryGroup[]): DirectorySnapshot {
  return { directoryId, users, groups };
}

export function policy(overrides: Partial<SyncPolicy> = {}): SyncPolicy {
  return {
    directories: [{ id: 'a', allUsers: false }],
    customerGroups: ['customers'],
    licensedGroups: ['jira-users'],
    onLicensedMembership: 'strip',
    aggregateMemberships: false,
    safety: { maxDeactivations: { count: 500, percent: 10 }, countDropPercent: 30 },
    ...overrides,
  };
}

export function current(directoryId: string, externalId: string, hash: string, active = true, username = externalId): CurrentCustomer {
  return { directoryId, externalId, username, hash, active };
}
