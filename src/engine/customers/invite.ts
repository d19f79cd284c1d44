import { addressKey, checkAddress } from '../../core/address.js';
import { portalOnlyId } from '../../core/customer-key.js';
import type { CustomerEvent, Invitation } from '../../core/customer-model.js';
import { decideInvitation, type AddressDecision, type LicensedUser } from '../../core/customer-rules.js';
import { invitationLink, renderTemplate, unknownPlaceholders } from '../../core/template.js';
import { readFileSync } from 'node:fs';
import { resolveConfigPath } from '../../../connectors/shared/paths.js';
import { DirbridgeError, isDirbridgeError, type ErrorCode } from '../../errors.js';
import type { NewLocalCustomer } from '../../store/customers/customer-docs.js';
import { addressDigest, nowIso, type CustomerContext } from './context.js';
import { resolveCustomers } from './resolve.js';

export interface InviteRequest {
  readonly addresses: readonly string[];
  /** The display name; only with a single address. */
  readonly name?: string;
}

export type InviteOutcome =
  | {
      readonly address: string;
      readonly outcome: 'invited';
      readonly key: string;
      /** `sent` by e-mail; `unsent`: sending failed (retry with --resend); `link`: no SMTP, the link is for another mailer. */
      readonly delivery: 'sent' | 'unsent' | 'link';
      readonly link: string;
      readonly error: string | null;
      /** The address belongs to a licensed directory user (policy strip): the customer carries no group; reported. */
      readonly seatLeak: LicensedUser | null;
    }
  | { readonly address: string; readonly outcome: 'exists'; readonly key: string; readonly message: string }
  | { readonly address: string; readonly outcome: 'refused'; readonly code: ErrorCode; readonly message: string };

export interface InviteResult {
  readonly results: readonly InviteOutcome[];
}

/**
 * `customers invite`: portal-only customers of origin `invited`, one per new address; each invitation is
 * e-mailed (invitations.smtp) or its link returned for another mailer. A failed send leaves the
 * customer invited and `unsent`. With onLicensedMembership "fail", an address of a licensed directory
 * user rejects the whole batch before anything is written.
 */
export async function inviteCustomers(ctx: CustomerContext, request: InviteRequest): Promise<InviteResult> {
  invitationsConfig(ctx);
  if (request.name !== undefined && request.addresses.length !== 1) throw new DirbridgeError('ERR_USAGE', '--name goes with a single address');
  const results = new Map<string, InviteOutcome>();
  const valid: string[] = [];
  for (const input of request.addresses) {
    const checked = checkAddress(input);
    if (!checked.ok) results.set(`invalid:${input}`, { address: input, outcome: 'refused', code: 'ERR_INVALID_ADDRESS', message: checked.reason });
    else if (!valid.some((a) => addressKey(a) === addressKey(checked.address))) valid.push(checked.address);
  }
  const created: Invited[] = [];
  for (const { address, decision } of await decide(ctx, valid)) {
    if (decision.kind === 'exists') results.set(address, { address, outcome: 'exists', key: decision.customer.key, message: decision.message });
    else if (decision.kind === 'refused') results.set(address, { address, outcome: 'refused', code: decision.reason === 'mailing-list' ? 'ERR_MAILING_LIST' : 'ERR_LICENSED_EXCLUDED', message: decision.message });
    else created.push({ customer: invitedCustomer(ctx, address, request.name ?? null), seatLeak: decision.seatLeak });
  }
  await writeInvited(ctx, created);
  for (const { customer, seatLeak } of created) {
    const delivery = await deliver(ctx, customer.externalId, customer.email, customer.displayName, customer.invitation as Invitation);
    results.set(customer.email, { address: customer.email, outcome: 'invited', key: customer.externalId, delivery: delivery.status, link: delivery.link, error: delivery.error, seatLeak });
  }
  return { results: orderLike(request.addresses, results) };
}

interface Invited {
  readonly customer: NewLocalCustomer;
  readonly seatLeak: LicensedUser | null;
}

/** The decision for each address; with onLicensedMembership "fail", one licensed address rejects them all before anything is written. */
async function decide(ctx: CustomerContext, addresses: readonly string[]): Promise<{ address: string; decision: AddressDecision }[]> {
  const facts = await ctx.records.addresses.facts(addresses);
  const rules = { mailingLists: ctx.loaded.config.mailingLists, onLicensedMembership: ctx.loaded.config.licensing.onLicensedMembership };
  const decisions = addresses.map((address) => ({ address, decision: decideInvitation(address, facts.get(addressKey(address)) ?? { customers: [], groups: [], licensedUsers: [] }, rules) }));
  const rejected = decisions.filter((d) => d.decision.kind === 'refused' && d.decision.reason === 'licensed-rejected');
  if (rejected.length > 0) {
    throw new DirbridgeError('ERR_LICENSED_ADDRESS', rejected.map((d) => (d.decision as { message: string }).message).join('; '), { details: { addresses: rejected.map((d) => d.address) } });
  }
  return decisions;
}

function invitedCustomer(ctx: CustomerContext, address: string, name: string | null): NewLocalCustomer {
  const link = invitationLink(invitationsConfig(ctx).portalUrl, address);
  return {
    externalId: portalOnlyId(addressDigest(addressKey(address))),
    username: address,
    email: address,
    displayName: name,
    accountType: 'portal-only',
    origin: 'invited',
    invitation: { status: ctx.mailer === null ? 'link' : 'unsent', link, attempts: 0, sentAt: null, messageId: null, lastError: null },
  };
}

/** The customers in one bulk write, then their history (the invitation, and a seat leak the strip policy reported). */
async function writeInvited(ctx: CustomerContext, created: readonly Invited[]): Promise<void> {
  const now = nowIso(ctx);
  await ctx.records.customers.insertLocal(created.map((c) => c.customer), now);
  await ctx.records.customers.appendEvents(
    created.flatMap(({ customer, seatLeak }): CustomerEvent[] => [
      { id: `${customer.externalId}:invited`, customerKey: customer.externalId, at: now, kind: 'invited', runId: null, actor: ctx.actor, detail: { address: customer.email } },
      ...(seatLeak === null
        ? []
        : [{ id: `${customer.externalId}:seat-leak`, customerKey: customer.externalId, at: now, kind: 'seat-leak' as const, runId: null, actor: ctx.actor, detail: { ...seatLeak, policy: 'strip' } }]),
    ]),
  );
}

/**
 * `customers invite --resend`: sends the invitations of these customers again (any state), or every
 * invitation still `unsent`.
 */
export async function resendInvitations(ctx: CustomerContext, request: { readonly who?: readonly string[] }): Promise<InviteResult> {
  invitationsConfig(ctx);
  const results: InviteOutcome[] = [];
  const send = async (c: { key: string; email: string | null; displayName: string | null; invitation: Invitation | null }): Promise<void> => {
    const delivery = await deliver(ctx, c.key, c.email ?? '', c.displayName, c.invitation as Invitation);
    results.push({ address: c.email ?? '', outcome: 'invited', key: c.key, delivery: delivery.status, link: delivery.link, error: delivery.error, seatLeak: null });
  };
  if (request.who !== undefined && request.who.length > 0) {
    for (const who of request.who) {
      const invited = (await resolveCustomers(ctx.records, who)).filter((c) => c.invitation !== null && c.active);
      const first = invited[0];
      if (first === undefined) results.push({ address: who, outcome: 'refused', code: 'ERR_CUSTOMER_NOT_FOUND', message: `no active invited customer is ${who}` });
      else await send(first);
    }
    return { results };
  }
  let after = '';
  for (;;) {
    const page = await ctx.records.customers.unsentInvitations(after, 100);
    for (const c of page) await send(c);
    if (page.length < 100) break;
    after = page[page.length - 1]?.externalId ?? after;
  }
  return { results };
}

interface Delivery {
  readonly status: 'sent' | 'unsent' | 'link';
  readonly link: string;
  readonly error: string | null;
}

/** Sends one invitation (or records its link when there is no SMTP) and records how it went. */
async function deliver(ctx: CustomerContext, key: string, email: string, name: string | null, previous: Invitation): Promise<Delivery> {
  const invitations = invitationsConfig(ctx);
  const link = invitationLink(invitations.portalUrl, email);
  const now = nowIso(ctx);
  const attempt = previous.attempts + 1;
  const eventId = `${key}:invitation:${attempt}:${now}`;
  if (ctx.mailer === null) {
    const invitation: Invitation = { ...previous, status: 'link', link, attempts: attempt };
    await ctx.records.customers.update(key, { invitation, invitationStatus: 'link', updatedAt: now });
    await ctx.records.customers.appendEvents([{ id: eventId, customerKey: key, at: now, kind: 'invitation-link', runId: null, actor: ctx.actor, detail: { link } }]);
    return { status: 'link', link, error: null };
  }
  const values = { name: name ?? email, email, link, portalUrl: invitations.portalUrl };
  try {
    const { messageId } = await ctx.mailer.send({ to: email, subject: renderTemplate(invitations.subject, values), text: renderTemplate(bodyTemplate(ctx), values) });
    const invitation: Invitation = { status: 'sent', link, attempts: attempt, sentAt: now, messageId, lastError: null };
    await ctx.records.customers.update(key, { invitation, invitationStatus: 'sent', updatedAt: now });
    await ctx.records.customers.appendEvents([{ id: eventId, customerKey: key, at: now, kind: 'invitation-sent', runId: null, actor: ctx.actor, detail: { messageId, to: email } }]);
    return { status: 'sent', link, error: null };
  } catch (error) {
    if (!isDirbridgeError(error) || error.code !== 'ERR_MAIL_SEND') throw error;
    ctx.logger.warn({ code: error.code, customer: key }, error.message);
    const invitation: Invitation = { ...previous, status: 'unsent', link, attempts: attempt, lastError: error.message };
    await ctx.records.customers.update(key, { invitation, invitationStatus: 'unsent', updatedAt: now });
    await ctx.records.customers.appendEvents([{ id: eventId, customerKey: key, at: now, kind: 'invitation-failed', runId: null, actor: ctx.actor, detail: { error: error.message } }]);
    return { status: 'unsent', link, error: error.message };
  }
}

function invitationsConfig(ctx: CustomerContext): NonNullable<CustomerContext['loaded']['config']['invitations']> {
  const invitations = ctx.loaded.config.invitations;
  if (invitations === undefined) {
    throw new DirbridgeError('ERR_CONFIG', 'inviting customers needs invitations.portalUrl in the config (and invitations.smtp to e-mail them); see config/examples/dirbridge.example.yml');
  }
  return invitations;
}

function bodyTemplate(ctx: CustomerContext): string {
  const invitations = invitationsConfig(ctx);
  if (invitations.templateFile === undefined) return invitations.template;
  const path = resolveConfigPath(ctx.loaded.baseDir, invitations.templateFile);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new DirbridgeError('ERR_CONFIG', `invitations.templateFile ${path} cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
  }
  const unknown = unknownPlaceholders(text);
  if (unknown.length > 0) throw new DirbridgeError('ERR_CONFIG', `invitations.templateFile ${path} uses unknown placeholders: ${unknown.map((p) => `{{${p}}}`).join(', ')}`);
  return text;
}

/** Results in the order the addresses were given (an address given twice is reported once). */
function orderLike(addresses: readonly string[], results: Map<string, InviteOutcome>): InviteOutcome[] {
  const out: InviteOutcome[] = [];
  const seen = new Set<InviteOutcome>();
  for (const input of addresses) {
    const checked = checkAddress(input);
    const found = checked.ok ? [...results.values()].find((r) => addressKey(r.address) === addressKey(checked.address)) : results.get(`invalid:${input}`);
    if (found !== undefined && !seen.has(found)) {
      seen.add(found);
      out.push(found);
    }
  }
  return out;
}
