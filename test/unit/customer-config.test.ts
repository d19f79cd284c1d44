import { describe, expect, it } from 'vitest';
import { customerConfigWarnings } from '../../src/config/customer-config.js';
import { parseConfig } from '../../src/config/load-config.js';
import { DirbridgeError } from '../../src/errors.js';

const base = (extra: string): string => `directories:
  - { id: corp, type: ldif, path: ./x.ldif }
  - { id: crowd, type: crowd, url: "https://crowd.example/crowd", application: { name: app, password: pw } }
roles: { customer: { groups: [sd-customers, partners] } }
${extra}`;

function problems(extra: string): string[] {
  try {
    parseConfig(base(extra), { path: 'dirbridge.yml', env: {} });
    return [];
  } catch (error) {
    if (error instanceof DirbridgeError) return (error.details?.['problems'] as string[] | undefined) ?? [error.message];
    throw error;
  }
}

describe('customer management config', () => {
  it('defaults: signup off, no invitations, no list patterns', () => {
    const { config } = parseConfig(base(''), { path: 'dirbridge.yml', env: {} });
    expect(config.signup).toEqual({ public: false, allowedDomains: [], refusedDomains: [], rateLimit: { requests: 20, perSeconds: 60 } });
    expect(config.invitations).toBeUndefined();
    expect(config.mailingLists).toEqual([]);
  });

  it('reports every mistake with its path', () => {
    expect(problems('signup: { target: { directory: corp } }')).toEqual(['signup.target.directory: signup can create users only in a Crowd directory; corp is ldif']);
    expect(problems('signup: { target: { directory: nope } }')).toEqual(['signup.target.directory: unknown directory id "nope"']);
    expect(problems('signup: { target: { directory: crowd, group: jira-users } }')).toEqual(['signup.target.group: "jira-users" is not a customer default group (roles.customer.groups: sd-customers, partners)']);
    expect(problems('signup: { allowedDomains: [a.example], refusedDomains: [A.example, "not a domain"] }')).toEqual([
      'signup.refusedDomains[1]: a domain such as example.org, or *.example.org for its subdomains',
      'signup.allowedDomains[0]: a.example is both allowed and refused',
    ]);
    expect(problems('mailingLists: ["*@*", "team"]')).toHaveLength(2);
    expect(problems('invitations: { portalUrl: "ftp://x.example", template: "Hi {{nmae}}" }')).toEqual([
      'invitations.portalUrl: Invalid URL',
      'invitations.template: unknown placeholder; a template may use {{name}}, {{email}}, {{link}}, {{portalUrl}}',
    ]);
    expect(problems('invitations: { portalUrl: "https://help.example", smtp: { host: h, from: "a@b.example", user: u } }')).toEqual(['invitations.smtp.password: SMTP authentication needs both user and password']);
    expect(problems('service: { portalToken: short }')).toHaveLength(1);
  });

  it('warns about signup into Crowd, plain-text SMTP and signup without a portal token', () => {
    const { config } = parseConfig(base('signup: { public: true, target: { directory: crowd } }\ninvitations: { portalUrl: "https://help.example", smtp: { host: h, from: "a@b.example", security: none } }'), { path: 'dirbridge.yml', env: {} });
    const warnings = customerConfigWarnings(config);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^signup\.target is the Crowd directory crowd: .*Read\/Write/);
  });
});
