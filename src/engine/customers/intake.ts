import { createHash } from 'node:crypto';
import PostalMime, { type Address } from 'postal-mime';
import { addressKey, checkAddress } from '../../core/address.js';
import { decideIntake, type LicensedUser, type MessageFacts } from '../../core/customer-rules.js';
import { DirbridgeError } from '../../errors.js';
import { nowIso, signupRules, type CustomerContext } from './context.js';
import { createSignedUp } from './signup.js';

/** What the MIME parser made of a message's originator fields, as shown to people. */
export interface MessageSender {
  readonly from: string | null;
  readonly fromName: string | null;
  readonly sender: string | null;
  readonly replyTo: readonly string[];
  readonly listId: string | null;
  readonly subject: string | null;
  readonly messageId: string | null;
}

export interface IntakeResult {
  readonly outcome: 'accepted' | 'created';
  readonly customerKey: string;
  readonly request: { readonly id: string; readonly created: boolean };
  readonly message: MessageSender;
  readonly seatLeak: LicensedUser | null;
}

export const MAX_MESSAGE_BYTES = 25 * 1024 * 1024;

/**
 * The e-mail channel (`intake email FILE`, POST /intake/email): the message's author is its From (the
 * person who wrote it; Sender is who posted it for them, Reply-To where answers go: both shown, neither
 * used). A known, active customer is accepted and the message becomes an open request (its Message-ID
 * the request id, so a message delivered twice is one request). An unknown author becomes a customer
 * only as a signup would allow; otherwise the message is not processed (ERR_NOT_PROCESSED) and nothing
 * is written.
 */
export async function intakeEmail(ctx: CustomerContext, raw: Uint8Array): Promise<IntakeResult> {
  const parsed = await parseMessage(raw);
  const checked = parsed.sender.from === null ? null : checkAddress(parsed.sender.from);
  const from = checked !== null && checked.ok ? checked.address : null;
  const facts = from === null ? { customers: [], groups: [], licensedUsers: [] } : ((await ctx.records.addresses.facts([from])).get(addressKey(from)) ?? { customers: [], groups: [], licensedUsers: [] });
  const message: MessageFacts = { from, listId: parsed.sender.listId, autoSubmitted: parsed.autoSubmitted };
  const decision = decideIntake(message, facts, signupRules(ctx.loaded));
  switch (decision.kind) {
    case 'not-processed':
      throw new DirbridgeError('ERR_NOT_PROCESSED', `not processed: ${decision.message}`, { details: { reason: decision.reason, from: parsed.sender.from } });
    case 'refused':
      throw new DirbridgeError('ERR_LICENSED_ADDRESS', decision.message, { details: { from } });
    case 'accept': {
      const request = await recordRequest(ctx, decision.customer.key, raw, parsed);
      return { outcome: 'accepted', customerKey: decision.customer.key, request, message: parsed.sender, seatLeak: null };
    }
    case 'create': {
      const created = await createSignedUp(ctx, { address: from as string, name: parsed.sender.fromName, seatLeak: decision.seatLeak });
      const request = await recordRequest(ctx, created.key, raw, parsed);
      return { outcome: 'created', customerKey: created.key, request, message: parsed.sender, seatLeak: decision.seatLeak };
    }
  }
}

interface ParsedMessage {
  readonly sender: MessageSender;
  readonly autoSubmitted: boolean;
  /** The Date header as ISO 8601 UTC, when it parses. */
  readonly date: string | null;
}

export async function parseMessage(raw: Uint8Array): Promise<ParsedMessage> {
  if (raw.byteLength === 0) throw new DirbridgeError('ERR_MESSAGE_FILE', 'the message is empty');
  if (raw.byteLength > MAX_MESSAGE_BYTES) throw new DirbridgeError('ERR_MESSAGE_FILE', `the message is larger than ${MAX_MESSAGE_BYTES / 1024 / 1024} MB`);
  let email;
  try {
    email = await PostalMime.parse(raw, { maxNestingDepth: 50 });
  } catch (cause) {
    throw new DirbridgeError('ERR_MESSAGE_FILE', `the message cannot be parsed as MIME: ${(cause as Error).message}`, { cause });
  }
  const known = new Set(['from', 'sender', 'to', 'subject', 'date', 'message-id', 'received', 'return-path']);
  if (!email.headers.some((h) => known.has(h.key))) throw new DirbridgeError('ERR_MESSAGE_FILE', 'the file has no message headers (From, To, Subject, Date…): is it an .eml file?');
  const header = (name: string): string | null => email.headers.find((h) => h.key === name)?.value ?? null;
  const mailbox = (a: Address | undefined): { address: string; name: string } | null => {
    if (a === undefined) return null;
    const box = a.address !== undefined ? a : a.group[0];
    return box === undefined || box.address === '' ? null : { address: box.address, name: box.name };
  };
  const from = mailbox(email.from);
  const auto = (header('auto-submitted') ?? 'no').trim().toLowerCase();
  const date = email.date === undefined ? null : new Date(email.date);
  return {
    sender: {
      from: from?.address ?? null,
      fromName: from === null || from.name === '' ? null : from.name,
      sender: mailbox(email.sender)?.address ?? null,
      replyTo: (email.replyTo ?? []).flatMap((a) => (a.address !== undefined ? [a.address] : a.group.map((m) => m.address))),
      listId: header('list-id')?.trim() ?? null,
      subject: email.subject ?? null,
      messageId: email.messageId?.trim() ?? null,
    },
    autoSubmitted: auto !== '' && !auto.startsWith('no'),
    date: date === null || Number.isNaN(date.getTime()) ? null : date.toISOString(),
  };
}

/** The message as an open request of its customer; a second delivery of the same message is the same request. */
async function recordRequest(ctx: CustomerContext, customerKey: string, raw: Uint8Array, parsed: ParsedMessage): Promise<{ id: string; created: boolean }> {
  const messageId = parsed.sender.messageId?.replace(/^<|>$/g, '');
  const id = `mail:${messageId === undefined || messageId === '' ? createHash('sha256').update(raw).digest('hex').slice(0, 40) : messageId}`;
  const existing = (await ctx.records.requests.byIds([id])).get(id);
  if (existing !== undefined) return { id, created: false };
  const now = nowIso(ctx);
  const result = await ctx.records.requests.upsert([{ id, reporterKey: customerKey, status: 'open', createdAt: parsed.date ?? now, resolvedAt: null, source: 'email' }], now);
  return { id, created: result.created > 0 };
}
