import { addressKey, checkAddress } from '../../core/address.js';
import { customerKeyOf, portalOnlyId } from '../../core/customer-key.js';
import type { CustomerEvent } from '../../core/customer-model.js';
import { decideSignup, type AddressDecision, type LicensedUser, type RefusalReason } from '../../core/customer-rules.js';
import { toCustomerRecord } from '../../core/plan-sync.js';
import { DirbridgeError, type ErrorCode } from '../../errors.js';
import { leaseNameFor } from '../../ports/store.js';
import { leaseOwner } from '../run-sync.js';
import { addressDigest, nowIso, signupRules, type CustomerContext } from './context.js';

export interface SignupRequest {
  readonly address: string;
  readonly name?: string;
}

export type SignupResult =
  | {
      readonly outcome: 'created';
      readonly key: string;
      readonly address: string;
      readonly seatLeak: LicensedUser | null;
      /** With signup.target: the user made in Crowd. `pendingSync`: a sync held the directory, so the customer appears with its next sync. */
      readonly directory: { readonly id: string; readonly username: string; readonly userCreated: boolean; readonly pendingSync: boolean } | null;
    }
  | { readonly outcome: 'exists'; readonly key: string; readonly address: string; readonly message: string };

/**
 * `customers signup` / POST /signup: an unknown address becomes a portal-only customer of origin
 * `signup` (or, with signup.target, a user of that Crowd directory in its customer group, and so an
 * account of that directory) when public signup allows it; a known one is reported. A refusal is an
 * error carrying the reason, and nothing is written.
 */
export async function signupCustomer(ctx: CustomerContext, request: SignupRequest): Promise<SignupResult> {
  const checked = checkAddress(request.address);
  if (!checked.ok) throw new DirbridgeError('ERR_INVALID_ADDRESS', checked.reason);
  const address = checked.address;
  const facts = (await ctx.records.addresses.facts([address])).get(addressKey(address)) ?? { customers: [], groups: [], licensedUsers: [] };
  const decision = decideSignup(address, facts, signupRules(ctx.loaded));
  if (decision.kind === 'refused') throw refusal(decision);
  if (decision.kind === 'exists') return { outcome: 'exists', key: decision.customer.key, address, message: decision.message };
  return createSignedUp(ctx, { address, name: request.name ?? null, seatLeak: decision.seatLeak });
}

/** The error a refused address gets, with the code of its reason. */
export function refusal(decision: Extract<AddressDecision, { kind: 'refused' }>): DirbridgeError {
  return new DirbridgeError(REFUSAL_CODES[decision.reason], decision.message, { details: { reason: decision.reason } });
}

const REFUSAL_CODES: Record<RefusalReason, ErrorCode> = {
  'mailing-list': 'ERR_MAILING_LIST',
  'signup-off': 'ERR_SIGNUP_REFUSED',
  'domain-refused': 'ERR_SIGNUP_REFUSED',
  'domain-not-allowed': 'ERR_SIGNUP_REFUSED',
  'licensed-excluded': 'ERR_LICENSED_EXCLUDED',
  'licensed-rejected': 'ERR_LICENSED_ADDRESS',
};

/** Creates the customer a signup (or the e-mail channel) decided on: in Crowd when signup.target says so, else portal-only. */
export async function createSignedUp(ctx: CustomerContext, input: { address: string; name: string | null; seatLeak: LicensedUser | null }): Promise<Extract<SignupResult, { outcome: 'created' }>> {
  const now = nowIso(ctx);
  const target = ctx.loaded.config.signup.target;
  const events = (key: string, detail: Record<string, unknown>): CustomerEvent[] => [
    { id: `${key}:signed-up`, customerKey: key, at: now, kind: 'signed-up', runId: null, actor: ctx.actor, detail },
    ...(input.seatLeak === null ? [] : [{ id: `${key}:seat-leak`, customerKey: key, at: now, kind: 'seat-leak' as const, runId: null, actor: ctx.actor, detail: { ...input.seatLeak, policy: 'strip' } }]),
  ];
  if (target === undefined) {
    const externalId = portalOnlyId(addressDigest(addressKey(input.address)));
    await ctx.records.customers.insertLocal([{ externalId, username: input.address, email: input.address, displayName: input.name, accountType: 'portal-only', origin: 'signup', invitation: null }], now);
    await ctx.records.customers.appendEvents(events(externalId, { channel: ctx.actor }));
    return { outcome: 'created', key: externalId, address: input.address, seatLeak: input.seatLeak, directory: null };
  }

  const dir = ctx.loaded.config.directories.find((d) => d.id === target.directory);
  if (dir === undefined) throw new DirbridgeError('ERR_CONFIG', `signup.target.directory ${target.directory} is not a configured directory`);
  const group = target.group ?? ctx.loaded.config.roles.customer.groups[0] ?? '';
  const provisioner = await ctx.openProvisioner(dir);
  let provisioned;
  try {
    provisioned = await provisioner.provisionCustomer({ username: addressKey(input.address), email: input.address, displayName: input.name, group });
  } finally {
    await provisioner.close();
  }
  const record = toCustomerRecord(dir.id, provisioned.user, [group]);
  const key = customerKeyOf(record);
  // The directory's sync lease keeps a sync from planning against a half-known state: with the lease the
  // record goes in now (the next sync finds it in place); without it, the running sync or the next one
  // creates it from Crowd. Either way one customer.
  const lease = await ctx.store.acquireLease({ name: leaseNameFor(dir.id), owner: leaseOwner(), ttlMs: 60_000 });
  let pendingSync = true;
  if (lease.acquired) {
    try {
      await ctx.records.customers.insertAccount(record, now);
      pendingSync = false;
    } finally {
      await ctx.store.releaseLease(lease.lease);
    }
  }
  await ctx.records.customers.appendEvents(events(key, { channel: ctx.actor, directory: dir.id, username: provisioned.user.username, userCreated: provisioned.created }));
  return { outcome: 'created', key, address: input.address, seatLeak: input.seatLeak, directory: { id: dir.id, username: provisioned.user.username, userCreated: provisioned.created, pendingSync } };
}
