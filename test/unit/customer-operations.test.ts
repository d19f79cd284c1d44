import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { directoryAddresses } from '../../src/core/directory-addresses.js';
import { toCustomerRecord } from '../../src/core/plan-sync.js';
import { intakeEmail } from '../../src/engine/customers/intake.js';
import { inviteCustomers } from '../../src/engine/customers/invite.js';
import { signupCustomer } from '../../src/engine/customers/signup.js';
import { isDirbridgeError } from '../../src/errors.js';
import type { SyncStore } from '../../src/ports/store.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { customerConfig, customerContext, TEST_NOW } from '../helpers/customer-context.js';
import { group, snapshot, user } from '../helpers/fixtures.js';
import { dumpStore } from '../helpers/store-dump.js';

const dir = mkdtempSync(join(tmpdir(), 'dirbridge-custops-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const MAIL = join(import.meta.dirname, '..', 'fixtures', 'mail');
const eml = (name: string): Buffer => readFileSync(join(MAIL, name));
const LICENSED = ['jira-users', 'jira-servicedesk-users'];
const NOW = TEST_NOW.toISOString();

async function code(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  return isDirbridgeError(error) ? error.code : String(error);
}

describe('customer operations on the embedded store', () => {
  let store: SyncStore;
  beforeEach(async () => {
    store = openSqliteStore({ path: join(dir, `s${n++}.db`), licensedGroups: LICENSED });
    // A directory with an agent (licensed), a distribution group, and a customer.
    const snap = snapshot(
      'dir-a',
      [user('u1', 'alice.agent', { email: 'alice.agent@example.com' }), user('u2', 'ann.account', { email: 'ann.account@example.com' })],
      [{ ...group('g-all', ['u1'], [], 'All Staff'), mail: 'all-staff@example.com' }, group('g-lic', ['u1'], [], 'jira-servicedesk-users'), group('g-c', ['u2'], [], 'customers')],
    );
    await store.records.insertMany({ ...(await import('../../src/store/records/collections.js')).DIRECTORY_ADDRESSES }, directoryAddresses(snap, LICENSED).map((a) => ({ ...a, licensedGroups: [...a.licensedGroups] })));
    await store.applyActions([{ kind: 'create', customer: toCustomerRecord('dir-a', user('u2', 'ann.account', { email: 'ann.account@example.com' }), ['customers']) }], { runId: 'r1', now: NOW });
  });
  afterEach(async () => {
    await store.close();
  });

  const withSignup = (on: boolean, extra = '') => customerContext(store, { loaded: customerConfig(`signup: { public: ${on} }\ninvitations: { portalUrl: "https://help.example.com/portal" }\n${extra}`) });

  it('with signup off, refuses an unknown address and an unknown e-mail sender, and writes nothing', async () => {
    const ctx = withSignup(false);
    const before = await dumpStore(store);
    expect(await code(signupCustomer(ctx, { address: 'new@public.example' }))).toBe('ERR_SIGNUP_REFUSED');
    for (const file of ['encoded-from-multipart.eml', 'latin1-from.eml', 'mixed-attachment.eml', 'sender-reply-to.eml']) expect(await code(intakeEmail(ctx, eml(file)))).toBe('ERR_NOT_PROCESSED');
    expect(await dumpStore(store)).toEqual(before);
  });

  it('accepts mail from a known customer as a request (once per message), and from a new sender with signup on', async () => {
    const invite = await inviteCustomers(withSignup(false), { addresses: ['ann@partner.example'] });
    expect(invite.results[0]).toMatchObject({ outcome: 'invited', delivery: 'link', link: 'https://help.example.com/portal?email=ann%40partner.example' });
    const ctx = withSignup(false);
    const first = await intakeEmail(ctx, eml('sender-reply-to.eml'));
    expect(first).toMatchObject({ outcome: 'accepted', request: { id: 'mail:sender-0001@partner.example', created: true }, message: { sender: 'assistant@partner.example' } });
    expect((await intakeEmail(ctx, eml('sender-reply-to.eml'))).request.created).toBe(false);
    const [ann] = await ctx.records.customers.byEmails(['ann@partner.example']);
    expect(ann).toMatchObject({ openRequests: 1, origin: 'invited' });

    const open = withSignup(true);
    const created = await intakeEmail(open, eml('latin1-from.eml'));
    expect(created).toMatchObject({ outcome: 'created', request: { created: true } });
    const [jorg] = await open.records.customers.byEmails(['jorg.muller@partner.example']);
    expect(jorg).toMatchObject({ displayName: 'Jörg Müller', accountType: 'portal-only', origin: 'signup', openRequests: 1 });
    expect((await open.records.customers.history(jorg!.key)).map((e) => [e.kind, e.detail])).toEqual([['signed-up', { channel: 'cli' }]]);
  });

  it('never makes a customer of list traffic, an auto-reply or a group address, even with signup on', async () => {
    const ctx = withSignup(true);
    const before = await dumpStore(store);
    for (const [file, reason] of [['list-message.eml', 'list-message'], ['auto-reply.eml', 'auto-reply'], ['from-group.eml', 'mailing-list']] as const) {
      const error = await intakeEmail(ctx, eml(file)).catch((e: unknown) => e);
      expect(isDirbridgeError(error) && [error.code, error.details?.['reason']]).toEqual(['ERR_NOT_PROCESSED', reason]);
    }
    expect(await code(signupCustomer(ctx, { address: 'All-Staff@example.com' }))).toBe('ERR_MAILING_LIST');
    expect(await dumpStore(store)).toEqual(before);
  });

  it('refuses to invite a distribution group, naming it, and reports an existing customer instead of duplicating it', async () => {
    const result = await inviteCustomers(withSignup(false), { addresses: ['all-staff@example.com', 'ANN.ACCOUNT@example.com', 'x@partner.example', 'x@partner.example'] });
    expect(result.results.map((r) => [r.address, r.outcome, r.outcome === 'refused' ? r.code : r.outcome === 'exists' ? r.key : ''])).toEqual([
      ['all-staff@example.com', 'refused', 'ERR_MAILING_LIST'],
      ['ANN.ACCOUNT@example.com', 'exists', 'dir-a:u2'],
      ['x@partner.example', 'invited', ''],
    ]);
    expect(result.results[0]).toMatchObject({ message: expect.stringContaining('the group "All Staff" in directory dir-a') });
  });

  it("applies onLicensedMembership to a licensed directory user's address: strip reports, exclude refuses, fail writes nothing of the batch", async () => {
    const policy = (onLicensedMembership: 'strip' | 'exclude' | 'fail') =>
      customerContext(store, { loaded: customerConfig('signup: { public: true }\ninvitations: { portalUrl: "https://help.example.com/portal" }', { onLicensedMembership }) });
    const message = Buffer.from('From: alice.agent@example.com\r\nSubject: x\r\nMessage-ID: <a@b>\r\n\r\nhi\r\n');

    const before = await dumpStore(store);
    expect(await code(inviteCustomers(policy('fail'), { addresses: ['carl@partner.example', 'alice.agent@example.com'] }))).toBe('ERR_LICENSED_ADDRESS');
    expect(await code(signupCustomer(policy('fail'), { address: 'alice.agent@example.com' }))).toBe('ERR_LICENSED_ADDRESS');
    expect(await code(intakeEmail(policy('fail'), message))).toBe('ERR_LICENSED_ADDRESS');
    expect(await code(signupCustomer(policy('exclude'), { address: 'alice.agent@example.com' }))).toBe('ERR_LICENSED_EXCLUDED');
    expect(await intakeEmail(policy('exclude'), message).catch((e: unknown) => e)).toMatchObject({ code: 'ERR_NOT_PROCESSED', details: { reason: 'licensed-excluded' } });
    expect(await dumpStore(store)).toEqual(before);
    const excluded = await inviteCustomers(policy('exclude'), { addresses: ['alice.agent@example.com', 'bob@partner.example'] });
    expect(excluded.results.map((r) => [r.outcome, r.outcome === 'refused' ? r.code : ''])).toEqual([['refused', 'ERR_LICENSED_EXCLUDED'], ['invited', '']]);

    const strip = await inviteCustomers(policy('strip'), { addresses: ['alice.agent@example.com'] });
    expect(strip.results[0]).toMatchObject({ outcome: 'invited', seatLeak: { directoryId: 'dir-a', username: 'alice.agent', licensedGroups: ['jira-servicedesk-users'] } });
    const [alice] = await policy('strip').records.customers.byEmails(['alice.agent@example.com']);
    expect(alice).toMatchObject({ groups: [], accountType: 'portal-only' });
    expect((await policy('strip').records.customers.history(alice!.key)).map((e) => e.kind)).toEqual(['invited', 'seat-leak', 'invitation-link']);
    expect(await store.findLicensedCustomers(LICENSED, 10)).toEqual([]);
  });
});
