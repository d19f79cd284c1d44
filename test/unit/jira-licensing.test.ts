import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { DirbridgeError } from '../../src/errors.js';
import { fromApplications, licensingViolations } from '../../src/engine/licensing.js';
import type { ApplicationAccess } from '../../src/ports/licence-source.js';
import type { SyncPlan } from '../../src/core/model.js';

const config = (jira: string, customerGroups = '[sd-customers, partners]'): string => `
directories: [{ id: corp, type: ldif, path: ./x.ldif }]
roles: { customer: { groups: ${customerGroups} } }
licensing:
  source: jira
  licensedGroups: [jira-users, Jira-Software-Users]
${jira}`;

function problems(text: string): string[] {
  try {
    parseConfig(text, { path: '/etc/dirbridge.yml', env: { JIRA_TOKEN: 'jira-token-S3NTINEL-1', JIRA_PW: 'jira-pw-S3NTINEL-2' } });
    return [];
  } catch (error) {
    if (error instanceof DirbridgeError) return (error.details?.['problems'] as string[] | undefined) ?? [error.message];
    throw error;
  }
}

const app = (key: string, groups: string[], defaultGroups: string[] = []): ApplicationAccess => ({
  key,
  name: key.replace('jira-', 'Jira '),
  groups,
  defaultGroups,
  seats: { numberOfSeats: 10, remainingSeats: 5, userCount: 5, hasUnlimitedSeats: false },
});

describe('licensing.source: jira in the config', () => {
  it('needs licensing.jira with exactly one credential: a token, or username and password', () => {
    expect(problems(config(''))).toEqual([expect.stringContaining('licensing.jira: licensing.source is jira: add licensing.jira')]);
    expect(problems(config('  jira: { url: "https://jira.example.com" }'))).toEqual([expect.stringContaining('licensing.jira: no credential')]);
    expect(problems(config('  jira: { url: "https://jira.example.com", token: "${env:JIRA_TOKEN}", username: svc, password: "${env:JIRA_PW}" }'))).toEqual([
      expect.stringContaining('licensing.jira.token: give either token'),
    ]);
    expect(problems(config('  jira: { url: "https://jira.example.com", username: svc }'))).toEqual([expect.stringContaining('licensing.jira.password: HTTP Basic needs both')]);
    expect(problems(config('  jira: { url: "ftp://jira.example.com", token: "${env:JIRA_TOKEN}" }'))).toEqual([expect.stringContaining('licensing.jira.url')]);
    expect(problems(config('  jira: { url: "https://jira.example.com/jira", token: "${env:JIRA_TOKEN}" }'))).toEqual([]);
    expect(problems(config('  jira: { url: "https://jira.example.com", username: svc, password: "${env:JIRA_PW}" }'))).toEqual([]);
  });
});

describe('the licensed set from Jira', () => {
  const loaded = parseConfig(config('  jira: { url: "https://jira.example.com", token: "${env:JIRA_TOKEN}" }'), { path: '/etc/dirbridge.yml', env: {} });
  const state = { status: 'read' as const, label: 'Jira', readAt: '2026-12-01T00:00:00.000Z', error: null, warnings: [] };

  it('is the configured list plus every access and default group, never fewer than configured, each group once', () => {
    const licensing = fromApplications(loaded.config, { ...state, applications: [app('jira-software', ['jira-software-users', 'devs'], ['new-devs']), app('jira-core', ['JIRA-USERS', 'devs'])] });
    expect(licensing.licensedGroups).toEqual(['jira-users', 'Jira-Software-Users', 'devs', 'new-devs']);
    expect(fromApplications(loaded.config, { ...state, applications: [] }).licensedGroups).toEqual(['jira-users', 'Jira-Software-Users']);
    expect(licensing.problems).toEqual([]);
  });

  it("rejects a plan whose customer group is an application's default group, naming it; an access group is stripped and said", () => {
    const licensing = fromApplications(loaded.config, { ...state, applications: [app('jira-servicedesk', ['agents', 'Partners '], ['partners']), app('jira-software', ['sd-customers'])] });
    expect(licensing.problems.map((p) => [p.path, p.kind, p.application])).toEqual([
      ['roles.customer.groups[0]', 'access-group', 'jira-software'],
      ['roles.customer.groups[1]', 'default-group', 'jira-servicedesk'],
    ]);
    const plan = licensingViolations({ violations: [] } as unknown as SyncPlan, licensing);
    expect(plan.violations).toEqual([
      {
        kind: 'licensed-customer-group',
        directoryId: null,
        message: expect.stringContaining('roles.customer.groups[1]: customer group "partners" is a default group of the Jira application "Jira servicedesk" (jira-servicedesk)') as string,
      },
    ]);
    expect(licensing.warnings).toEqual([expect.stringContaining('customer group "sd-customers" grants access to the Jira application "Jira software" (jira-software)')]);
    expect(licensing.warnings[0]).toContain('it is stripped from every customer');
  });
});
