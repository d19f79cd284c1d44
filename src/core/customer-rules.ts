import { domainMatches, domainOf, patternMatches } from './address.js';
import type { CustomerView } from './customer-model.js';
import { LOCAL_DIRECTORY } from './customer-key.js';
import type { LicensedMembershipPolicy } from './model.js';

/**
 * Who may become a customer, and how: the rules for invitations, public signup and the e-mail channel,
 * as the service desk applies them. Pure: the caller gathers the facts about an address (from the store
 * and the last syncs) and acts on the decision.
 */

/** A directory user in a licensed group (a seat holder) with this address, as the last sync of its directory saw it. */
export interface LicensedUser {
  readonly directoryId: string;
  readonly username: string;
  readonly licensedGroups: readonly string[];
}

export interface AddressFacts {
  /** Customers of any origin and state whose e-mail is this address. */
  readonly customers: readonly CustomerView[];
  /** Directory groups whose own address (`mail`) this is: mailing lists, e.g. AD distribution groups. */
  readonly groups: readonly { readonly directoryId: string; readonly name: string }[];
  readonly licensedUsers: readonly LicensedUser[];
}

export interface AddressRules {
  /** Mailing-list patterns from the config (`mailingLists`). */
  readonly mailingLists: readonly string[];
  readonly onLicensedMembership: LicensedMembershipPolicy;
}

export interface SignupRules extends AddressRules {
  readonly public: boolean;
  readonly allowedDomains: readonly string[];
  readonly refusedDomains: readonly string[];
}

export type RefusalReason =
  | 'mailing-list'
  | 'signup-off'
  | 'domain-refused'
  | 'domain-not-allowed'
  | 'licensed-excluded'
  | 'licensed-rejected';

export type AddressDecision =
  | { readonly kind: 'exists'; readonly customer: CustomerView; readonly message: string }
  | { readonly kind: 'create'; readonly seatLeak: LicensedUser | null }
  | { readonly kind: 'refused'; readonly reason: RefusalReason; readonly message: string };

/**
 * An invitation: a mailing list is refused (naming the group, or the pattern); an address that already
 * belongs to a customer is reported, not duplicated; an address of a licensed directory user is handled
 * by `onLicensedMembership` as a sync would: strip (invited; the portal-only customer carries no group;
 * the leak is reported), exclude (refused) or fail (refused, and the caller writes nothing of the batch).
 */
export function decideInvitation(address: string, facts: AddressFacts, rules: AddressRules): AddressDecision {
  return mailingList(address, facts, rules) ?? existing(facts) ?? licensed(address, facts, rules) ?? { kind: 'create', seatLeak: facts.licensedUsers[0] ?? null };
}

/**
 * Public signup (CLI, POST /signup) and the person behind an unknown e-mail sender: a known customer is
 * accepted whatever the settings; an unknown address becomes a portal-only customer only when signup is
 * public and its domain passes `refusedDomains` and `allowedDomains`.
 */
export function decideSignup(address: string, facts: AddressFacts, rules: SignupRules): AddressDecision {
  const known = mailingList(address, facts, rules) ?? existing(facts);
  if (known !== null) return known;
  if (!rules.public) {
    return { kind: 'refused', reason: 'signup-off', message: `${address} is not a customer and public signup is off (signup.public): invite the person instead (dirbridge customers invite ${address})` };
  }
  const domain = domainOf(address);
  const refused = rules.refusedDomains.find((rule) => domainMatches(domain, rule));
  if (refused !== undefined) return { kind: 'refused', reason: 'domain-refused', message: `signup from ${domain} is refused (signup.refusedDomains: ${refused})` };
  if (rules.allowedDomains.length > 0 && !rules.allowedDomains.some((rule) => domainMatches(domain, rule))) {
    return { kind: 'refused', reason: 'domain-not-allowed', message: `signup is open to ${rules.allowedDomains.join(', ')} only (signup.allowedDomains); ${domain} is not one of them` };
  }
  return licensed(address, facts, rules) ?? { kind: 'create', seatLeak: facts.licensedUsers[0] ?? null };
}

/** What the e-mail channel knows about a message: its author (From), and whether it is list or robot traffic. */
export interface MessageFacts {
  /** The first From address as the MIME parser decoded it; null when there is none. */
  readonly from: string | null;
  /** The List-Id header: the message was distributed by a mailing list. */
  readonly listId: string | null;
  /** Auto-Submitted other than `no` (RFC 3834): an auto-reply or a robot. */
  readonly autoSubmitted: boolean;
}

export type NotProcessedReason = 'no-sender' | 'mailing-list' | 'list-message' | 'auto-reply' | 'inactive-customer' | 'signup-off' | 'domain-refused' | 'domain-not-allowed' | 'licensed-excluded';

export type IntakeDecision =
  | { readonly kind: 'accept'; readonly customer: CustomerView }
  | { readonly kind: 'create'; readonly seatLeak: LicensedUser | null }
  | { readonly kind: 'not-processed'; readonly reason: NotProcessedReason; readonly message: string }
  | { readonly kind: 'refused'; readonly reason: 'licensed-rejected'; readonly message: string };

/**
 * The e-mail channel: a message from a known, active customer is accepted; from an unknown sender it
 * creates a customer only when signup allows it; otherwise it is "not processed". A mailing list is
 * never a customer, and list traffic (List-Id) or an auto-reply never creates one: such a message is
 * accepted only from a sender who already is a customer. `from` must already be a checked address.
 */
export function decideIntake(message: MessageFacts, facts: AddressFacts, rules: SignupRules): IntakeDecision {
  const from = message.from;
  if (from === null) return { kind: 'not-processed', reason: 'no-sender', message: 'the message has no usable From address' };
  const list = mailingList(from, facts, rules);
  if (list?.kind === 'refused') return { kind: 'not-processed', reason: 'mailing-list', message: `${list.message}; its messages are not processed` };
  const known = pick(facts.customers);
  if (known !== null) {
    if (known.active) return { kind: 'accept', customer: known };
    return { kind: 'not-processed', reason: 'inactive-customer', message: `${from} belongs to the inactive customer ${known.key} (${describeInactive(known)})` };
  }
  if (message.listId !== null) return { kind: 'not-processed', reason: 'list-message', message: `the message came through the mailing list ${message.listId} from ${from}, who is not a customer: list traffic never creates customers` };
  if (message.autoSubmitted) return { kind: 'not-processed', reason: 'auto-reply', message: `the message from ${from} is automatic (Auto-Submitted) and ${from} is not a customer` };
  const signup = decideSignup(from, facts, rules);
  switch (signup.kind) {
    case 'create':
      return signup;
    case 'exists':
      return { kind: 'accept', customer: signup.customer };
    case 'refused':
      if (signup.reason === 'licensed-rejected') return { kind: 'refused', reason: 'licensed-rejected', message: signup.message };
      return { kind: 'not-processed', reason: signup.reason === 'mailing-list' ? 'mailing-list' : signup.reason, message: signup.message };
  }
}

function mailingList(address: string, facts: AddressFacts, rules: AddressRules): AddressDecision | null {
  const group = facts.groups[0];
  if (group !== undefined) {
    return {
      kind: 'refused',
      reason: 'mailing-list',
      message: `${address} is the address of the group "${group.name}" in directory ${group.directoryId}: mailing lists cannot be customers; invite its members one by one`,
    };
  }
  const pattern = rules.mailingLists.find((p) => patternMatches(address, p));
  if (pattern !== undefined) {
    return { kind: 'refused', reason: 'mailing-list', message: `${address} matches the mailing-list pattern "${pattern}" (mailingLists): mailing lists cannot be customers` };
  }
  return null;
}

function existing(facts: AddressFacts): AddressDecision | null {
  const known = pick(facts.customers);
  if (known === null) return null;
  const message = known.active
    ? `${known.key} already has this address (${known.accountType}, ${known.origin})`
    : `the inactive customer ${known.key} has this address (${describeInactive(known)})`;
  return { kind: 'exists', customer: known, message };
}

/**
 * The customer an address stands for: an active account first, then an active portal-only customer,
 * then a local customer of any state (its key is taken: an invitation never makes a second profile).
 * An inactive directory account alone does not count: the person is no longer a customer there.
 */
function pick(customers: readonly CustomerView[]): CustomerView | null {
  const sorted = [...customers].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return (
    sorted.find((c) => c.active && c.accountType === 'account') ??
    sorted.find((c) => c.active) ??
    sorted.find((c) => c.directoryId === LOCAL_DIRECTORY) ??
    null
  );
}

function licensed(address: string, facts: AddressFacts, rules: AddressRules): AddressDecision | null {
  const user = facts.licensedUsers[0];
  if (user === undefined || rules.onLicensedMembership === 'strip') return null;
  const who = `${address} belongs to ${user.username} in ${user.directoryId}, who holds a licence seat through ${user.licensedGroups.join(', ')}`;
  return rules.onLicensedMembership === 'exclude'
    ? { kind: 'refused', reason: 'licensed-excluded', message: `${who}; licensing.onLicensedMembership is "exclude": not a customer` }
    : { kind: 'refused', reason: 'licensed-rejected', message: `${who}; licensing.onLicensedMembership is "fail": nothing was written` };
}

function describeInactive(c: CustomerView): string {
  if (c.deactivatedReason === 'migrated') return `migrated to ${c.successorKey ?? '?'}`;
  if (c.deactivatedReason === 'deactivated-by-admin') return `deactivated by an admin; reactivate it with: dirbridge customers reactivate ${c.key}`;
  return `deactivated: ${c.deactivatedReason ?? 'unknown'}`;
}
