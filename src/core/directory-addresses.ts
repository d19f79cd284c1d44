import { addressKey, checkAddress } from './address.js';
import type { DirectorySnapshot } from './model.js';
import { resolveMemberships } from './resolve-memberships.js';

/**
 * The addresses a directory makes special for customers, kept after each complete read so that
 * invitations, signups and the e-mail channel can apply the rules without reading directories:
 * - `group`: a group's own address (`mail`), e.g. an AD distribution group: a mailing list, never a customer;
 * - `licensed-user`: an enabled user in a licensed group (transitively), who holds a seat: an invitation
 *   or signup of their address is handled by `onLicensedMembership`.
 */
export interface DirectoryAddress {
  readonly id: string;
  readonly directoryId: string;
  /** Lower-cased. */
  readonly address: string;
  readonly kind: 'group' | 'licensed-user';
  /** The group's name, or the user's username. */
  readonly name: string;
  readonly licensedGroups: readonly string[];
}

export function directoryAddresses(snapshot: DirectorySnapshot, licensedGroups: readonly string[]): DirectoryAddress[] {
  const out = new Map<string, DirectoryAddress>();
  const add = (kind: DirectoryAddress['kind'], mail: string | null | undefined, name: string, groups: readonly string[]): void => {
    if (mail === null || mail === undefined) return;
    const checked = checkAddress(mail);
    if (!checked.ok) return;
    const address = addressKey(checked.address);
    const id = `${snapshot.directoryId}/${kind}/${name.toLowerCase()}/${address}`;
    out.set(id, { id, directoryId: snapshot.directoryId, address, kind, name, licensedGroups: groups });
  };
  for (const group of snapshot.groups) add('group', group.mail, group.name, []);
  if (licensedGroups.length > 0) {
    const index = resolveMemberships(snapshot, licensedGroups);
    for (const user of snapshot.users) {
      if (user.disabled) continue;
      const groups = index.groupsOf(user.externalId);
      if (groups.length > 0) add('licensed-user', user.email, user.username, groups);
    }
  }
  return [...out.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
