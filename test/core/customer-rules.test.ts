import { describe, expect, it } from 'vitest';
import { checkAddress, domainMatches, patternMatches, checkPattern } from '../../src/core/address.js';
import { customerKeyOf, LOCAL_DIRECTORY, migratedAccountId, parseCustomerKey, portalOnlyId } from '../../src/core/customer-key.js';
import type { CustomerView } from '../../src/core/customer-model.js';
import { decideIntake, decideInvitation, decideSignup, type AddressFacts, type SignupRules } from '../../src/core/customer-rules.js';
import { directoryAddresses } from '../../src/core/directory-addresses.js';
import { decideDeactivation, decideMigration, decideReactivation } from '../../src/core/migration.js';
import { invitationLink, renderTemplate, unknownPlaceholders } from '../../src/core/template.js';
import { group, snapshot, user } from '../helpers/fixtures.js';

const NONE: AddressFacts = { customers: [], groups: [], licensedUsers: [] };

function customer(overrides: Partial<CustomerView> = {}): CustomerView {
  const directoryId = overrides.directoryId ?? LOCAL_DIRECTORY;
  const externalId = overrides.externalId ?? 'pc-0000aaaa';
  return {
    key: customerKeyOf({ directoryId, externalId }),
    directoryId,
    externalId,
    username: 'ann@example.org',
    email: 'ann@example.org',
    displayName: null,
    location: null,
    groups: [],
    accountType: directoryId === LOCAL_DIRECTORY ? 'portal-only' : 'account',
    origin: directoryId === LOCAL_DIRECTORY ? 'invited' : directoryId,
    active: true,
    deactivatedReason: null,
    deactivatedAt: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    lastRunId: null,
    openRequests: 0,
    closedRequests: 0,
    needsMigrationTo: null,
    successorKey: null,
    migrationTo: null,
    migrationDone: false,
    invitation: null,
    ...overrides,
  };
}

const rules = (overrides: Partial<SignupRules> = {}): SignupRules => ({
  mailingLists: ['*-all@corp.example', 'list-?@*.example'],
  onLicensedMembership: 'strip',
  public: true,
  allowedDomains: [],
  refusedDomains: [],
  ...overrides,
});

describe('addresses', () => {
  it('accepts ordinary addresses and normalises the domain', () => {
    expect(checkAddress('  Ann.Lee+desk@Example.ORG ')).toEqual({ ok: true, address: 'Ann.Lee+desk@example.org', local: 'Ann.Lee+desk', domain: 'example.org' });
    expect(checkAddress('zoë@bücher.example')).toMatchObject({ ok: true, domain: 'bücher.example' });
  });

  it.each([
    ['', 'empty'],
    ['ann', 'no @'],
    ['@example.org', 'nothing before'],
    ['ann@localhost', 'no dot'],
    ['ann@@example.org', 'not valid'],
    ['ann..lee@example.org', 'not valid'],
    ['.ann@example.org', 'not valid'],
    ['"ann lee"@example.org', 'white space'],
    ['ann@exa_mple.org', 'not a valid host name'],
    ['ann@-example.org', 'not a valid host name'],
    ['ann@10.0.0.1', 'ends in a number'],
    [`${'a'.repeat(65)}@example.org`, 'longer than 64'],
    [`ann@${'a'.repeat(250)}.org`, 'longer than 254'],
  ])('refuses %j (%s)', (input, reason) => {
    const checked = checkAddress(input);
    expect(checked.ok).toBe(false);
    expect(checked.ok ? '' : checked.reason).toContain(reason);
  });

  it('matches domain rules and mailing-list patterns', () => {
    expect(domainMatches('Example.org', 'example.org')).toBe(true);
    expect(domainMatches('mail.example.org', 'example.org')).toBe(false);
    expect(domainMatches('mail.example.org', '*.example.org')).toBe(true);
    expect(domainMatches('example.org', '*.example.org')).toBe(false);
    expect(domainMatches('badexample.org', '*.example.org')).toBe(false);
    expect(patternMatches('Sales-All@Corp.example', '*-all@corp.example')).toBe(true);
    expect(patternMatches('sales@corp.example', '*-all@corp.example')).toBe(false);
    expect(patternMatches('list-a@x.example', 'list-?@*.example')).toBe(true);
    expect(patternMatches('list-ab@x.example', 'list-?@*.example')).toBe(false);
    expect(patternMatches('a*b@x.example', 'a*b@x.example')).toBe(true);
    expect(checkPattern('*@*')).toContain('matches every address');
    expect(checkPattern('team')).toContain('no @');
    expect(checkPattern('*@lists.corp.example')).toBeNull();
  });
});

describe('customer keys', () => {
  it('names directory customers by directory and external id, local ones by their local id, both ways', () => {
    expect(customerKeyOf({ directoryId: 'crowd', externalId: '1:0a1b' })).toBe('crowd:1:0a1b');
    expect(parseCustomerKey('crowd:1:0a1b')).toEqual({ directoryId: 'crowd', externalId: '1:0a1b' });
    const local = portalOnlyId('0123456789abcdef0123456789');
    expect(local).toBe('pc-0123456789abcdef0123');
    expect(parseCustomerKey(local)).toEqual({ directoryId: LOCAL_DIRECTORY, externalId: local });
    expect(customerKeyOf({ directoryId: LOCAL_DIRECTORY, externalId: local })).toBe(local);
    expect(migratedAccountId(local)).toBe('ac-0123456789abcdef0123');
    expect(parseCustomerKey('ann@example.org')).toBeNull();
    expect(parseCustomerKey('~local:pc-1234')).toBeNull();
    expect(parseCustomerKey('bob')).toBeNull();
  });
});

describe('invitations', () => {
  it('creates an unknown address, reports a known one, and never invites a mailing list', () => {
    expect(decideInvitation('new@example.org', NONE, rules())).toEqual({ kind: 'create', seatLeak: null });
    const known = decideInvitation('ann@example.org', { ...NONE, customers: [customer()] }, rules());
    expect(known).toMatchObject({ kind: 'exists', customer: { key: 'pc-0000aaaa' } });
    const list = decideInvitation('staff@corp.example', { ...NONE, groups: [{ directoryId: 'corp-ad', name: 'All Staff' }] }, rules());
    expect(list).toEqual({ kind: 'refused', reason: 'mailing-list', message: expect.stringContaining('the group "All Staff" in directory corp-ad') });
    expect(decideInvitation('sales-all@corp.example', NONE, rules())).toMatchObject({ kind: 'refused', reason: 'mailing-list', message: expect.stringContaining('"*-all@corp.example"') });
  });

  it('prefers an active account, then an active portal-only customer, and does not count an inactive account', () => {
    const account = customer({ directoryId: 'corp-ad', externalId: 'g1' });
    const portal = customer();
    expect(decideInvitation('ann@example.org', { ...NONE, customers: [portal, account] }, rules())).toMatchObject({ kind: 'exists', customer: { key: 'corp-ad:g1' } });
    const gone = customer({ directoryId: 'corp-ad', externalId: 'g1', active: false, deactivatedReason: 'left-customer-groups' });
    expect(decideInvitation('ann@example.org', { ...NONE, customers: [gone] }, rules()).kind).toBe('create');
    const migrated = customer({ active: false, deactivatedReason: 'migrated', successorKey: 'ac-0000aaaa' });
    expect(decideInvitation('ann@example.org', { ...NONE, customers: [migrated] }, rules())).toMatchObject({ kind: 'exists', message: expect.stringContaining('migrated to ac-0000aaaa') });
  });

  it('handles the address of a licensed directory user as a sync would: strip, exclude or fail', () => {
    const facts = { ...NONE, licensedUsers: [{ directoryId: 'corp-ad', username: 'agent', licensedGroups: ['jira-servicedesk-users'] }] };
    expect(decideInvitation('agent@corp.example', facts, rules())).toEqual({ kind: 'create', seatLeak: facts.licensedUsers[0] });
    expect(decideInvitation('agent@corp.example', facts, rules({ onLicensedMembership: 'exclude' }))).toMatchObject({ kind: 'refused', reason: 'licensed-excluded' });
    expect(decideInvitation('agent@corp.example', facts, rules({ onLicensedMembership: 'fail' }))).toMatchObject({ kind: 'refused', reason: 'licensed-rejected', message: expect.stringContaining('jira-servicedesk-users') });
  });
});

describe('signup', () => {
  it('refuses an unknown address when signup is off, and accepts a known one whatever the switch', () => {
    expect(decideSignup('new@example.org', NONE, rules({ public: false }))).toMatchObject({ kind: 'refused', reason: 'signup-off', message: expect.stringContaining('signup.public') });
    expect(decideSignup('ann@example.org', { ...NONE, customers: [customer()] }, rules({ public: false })).kind).toBe('exists');
  });

  it('applies refused and allowed domains to unknown addresses', () => {
    const r = rules({ allowedDomains: ['example.org', '*.partner.example'], refusedDomains: ['spam.partner.example'] });
    expect(decideSignup('a@example.org', NONE, r).kind).toBe('create');
    expect(decideSignup('a@eu.partner.example', NONE, r).kind).toBe('create');
    expect(decideSignup('a@spam.partner.example', NONE, r)).toMatchObject({ kind: 'refused', reason: 'domain-refused' });
    expect(decideSignup('a@other.example', NONE, r)).toMatchObject({ kind: 'refused', reason: 'domain-not-allowed' });
    expect(decideSignup('sales-all@corp.example', NONE, r)).toMatchObject({ kind: 'refused', reason: 'mailing-list' });
  });
});

describe('the e-mail channel', () => {
  const message = (from: string | null, extra: { listId?: string; autoSubmitted?: boolean } = {}) => ({ from, listId: extra.listId ?? null, autoSubmitted: extra.autoSubmitted ?? false });

  it('accepts a known customer, creates an unknown one only with signup on, else does not process', () => {
    expect(decideIntake(message('ann@example.org'), { ...NONE, customers: [customer()] }, rules({ public: false }))).toMatchObject({ kind: 'accept', customer: { key: 'pc-0000aaaa' } });
    expect(decideIntake(message('new@example.org'), NONE, rules())).toEqual({ kind: 'create', seatLeak: null });
    expect(decideIntake(message('new@example.org'), NONE, rules({ public: false }))).toMatchObject({ kind: 'not-processed', reason: 'signup-off' });
    expect(decideIntake(message(null), NONE, rules())).toMatchObject({ kind: 'not-processed', reason: 'no-sender' });
  });

  it('never turns list traffic, a list or an auto-reply into a customer', () => {
    expect(decideIntake(message('new@example.org', { listId: '<users.lists.example.org>' }), NONE, rules())).toMatchObject({ kind: 'not-processed', reason: 'list-message' });
    expect(decideIntake(message('ann@example.org', { listId: '<users.lists.example.org>' }), { ...NONE, customers: [customer()] }, rules()).kind).toBe('accept');
    expect(decideIntake(message('new@example.org', { autoSubmitted: true }), NONE, rules())).toMatchObject({ kind: 'not-processed', reason: 'auto-reply' });
    expect(decideIntake(message('staff@corp.example'), { ...NONE, groups: [{ directoryId: 'ad', name: 'Staff' }] }, rules())).toMatchObject({ kind: 'not-processed', reason: 'mailing-list' });
    expect(decideIntake(message('ann@example.org'), { ...NONE, customers: [customer({ active: false, deactivatedReason: 'deactivated-by-admin' })] }, rules())).toMatchObject({ kind: 'not-processed', reason: 'inactive-customer' });
  });

  it('applies the licence policy to an unknown sender', () => {
    const facts = { ...NONE, licensedUsers: [{ directoryId: 'ad', username: 'agent', licensedGroups: ['jira-users'] }] };
    expect(decideIntake(message('agent@corp.example'), facts, rules({ onLicensedMembership: 'exclude' }))).toMatchObject({ kind: 'not-processed', reason: 'licensed-excluded' });
    expect(decideIntake(message('agent@corp.example'), facts, rules({ onLicensedMembership: 'fail' }))).toMatchObject({ kind: 'refused', reason: 'licensed-rejected' });
  });
});

describe('migration preconditions', () => {
  const portal = customer({ needsMigrationTo: 'corp-ad:g1' });
  const account = customer({ directoryId: 'corp-ad', externalId: 'g1', username: 'ann' });

  it('migrates to the named account, the flagged one, or a new local account with a new key', () => {
    expect(decideMigration({ source: portal, requested: { username: 'ann', matches: [account] }, named: account })).toEqual({ kind: 'migrate', targetKey: 'corp-ad:g1', createTarget: false, resume: false });
    expect(decideMigration({ source: portal, named: account })).toMatchObject({ targetKey: 'corp-ad:g1', createTarget: false });
    expect(decideMigration({ source: customer(), named: null })).toEqual({ kind: 'migrate', targetKey: 'ac-0000aaaa', createTarget: true, resume: false });
  });

  it('refuses what the product refuses', () => {
    expect(decideMigration({ source: account, named: null })).toMatchObject({ kind: 'refused', reason: 'not-portal-only' });
    expect(decideMigration({ source: customer({ migrationTo: 'corp-ad:g1', migrationDone: true, successorKey: 'corp-ad:g1', active: false }), named: account })).toMatchObject({ kind: 'refused', reason: 'already-migrated' });
    expect(decideMigration({ source: customer({ active: false, deactivatedReason: 'deactivated-by-admin' }), named: null })).toMatchObject({ kind: 'refused', reason: 'inactive' });
    expect(decideMigration({ source: portal, requested: { username: 'nobody', matches: [] }, named: null })).toMatchObject({ reason: 'target-not-found' });
    expect(decideMigration({ source: portal, requested: { username: 'ann', matches: [account, { ...account, key: 'b:x' }] }, named: null })).toMatchObject({ reason: 'target-ambiguous' });
    expect(decideMigration({ source: portal, requested: { username: 'x', matches: [{ ...account, email: 'other@example.org' }] }, named: null })).toMatchObject({ reason: 'email-mismatch' });
    expect(decideMigration({ source: portal, requested: { username: 'x', matches: [customer({ externalId: 'pc-0000bbbb', key: 'pc-0000bbbb' })] }, named: null })).toMatchObject({ reason: 'target-not-account' });
  });

  it('finishes an interrupted migration to the same target only', () => {
    const started = customer({ migrationTo: 'corp-ad:g1' });
    expect(decideMigration({ source: started, named: account })).toEqual({ kind: 'migrate', targetKey: 'corp-ad:g1', createTarget: false, resume: true });
    expect(decideMigration({ source: { ...started, active: false, deactivatedReason: 'migrated' }, named: account })).toMatchObject({ kind: 'migrate', resume: true });
    expect(decideMigration({ source: started, requested: { username: 'bob', matches: [{ ...account, key: 'corp-ad:g2' }] }, named: account })).toMatchObject({ reason: 'in-progress-elsewhere' });
    expect(decideMigration({ source: started, named: { ...account, active: false } })).toMatchObject({ reason: 'target-inactive' });
    expect(decideMigration({ source: customer({ migrationTo: 'ac-0000aaaa' }), named: null })).toEqual({ kind: 'migrate', targetKey: 'ac-0000aaaa', createTarget: true, resume: true });
  });

  it('never reactivates a migrated profile, and leaves directory accounts to their directory', () => {
    expect(decideReactivation(customer({ active: false, deactivatedReason: 'migrated', successorKey: 'ac-1', migrationTo: 'ac-1', migrationDone: true }))).toMatchObject({ kind: 'refused', reason: 'migrated' });
    expect(decideReactivation(customer({ active: false, deactivatedReason: 'deactivated-by-admin' }))).toEqual({ kind: 'change' });
    expect(decideReactivation(customer())).toEqual({ kind: 'unchanged' });
    expect(decideReactivation(account)).toMatchObject({ kind: 'refused', reason: 'owned-by-directory' });
    expect(decideDeactivation(account)).toMatchObject({ kind: 'refused', reason: 'owned-by-directory' });
    expect(decideDeactivation(customer({ migrationTo: 'ac-1' }))).toMatchObject({ kind: 'refused', reason: 'migrating' });
    expect(decideDeactivation(customer())).toEqual({ kind: 'change' });
  });
});

describe('directory addresses', () => {
  it('keeps group addresses and enabled licensed users (nested groups too), nothing else', () => {
    const snap = snapshot(
      'ad',
      [user('u1', 'agent'), user('u2', 'nested.agent'), user('u3', 'customer'), user('u4', 'gone.agent', { disabled: true }), user('u5', 'nomail', { email: null })],
      [
        { ...group('g-dl', [], [], 'Support DL'), mail: 'Support@Corp.example' },
        group('g-lic', ['u1', 'u4', 'u5'], ['g-team'], 'jira-servicedesk-users'),
        group('g-team', ['u2'], [], 'team'),
        group('g-c', ['u3'], [], 'customers'),
        { ...group('g-bad', [], [], 'Broken'), mail: 'not an address' },
      ],
    );
    expect(directoryAddresses(snap, ['jira-servicedesk-users']).map((a) => [a.kind, a.address, a.name, a.licensedGroups])).toEqual([
      ['group', 'support@corp.example', 'Support DL', []],
      ['licensed-user', 'agent@example.org', 'agent', ['jira-servicedesk-users']],
      ['licensed-user', 'nested.agent@example.org', 'nested.agent', ['jira-servicedesk-users']],
    ]);
  });
});

describe('invitation templates', () => {
  it('fills placeholders and names unknown ones', () => {
    expect(renderTemplate('Hi {{ name }}, {{link}} {{other}}', { name: 'Ann', email: 'a@x.org', link: 'L', portalUrl: 'P' })).toBe('Hi Ann, L {{other}}');
    expect(unknownPlaceholders('{{name}} {{nmae}} {{link}}')).toEqual(['nmae']);
    expect(invitationLink('https://help.example.org/portal/1', 'a+b@x.org')).toBe('https://help.example.org/portal/1?email=a%2Bb%40x.org');
    expect(invitationLink('https://help.example.org/?lang=de', 'a@x.org')).toBe('https://help.example.org/?lang=de&email=a%40x.org');
  });
});
