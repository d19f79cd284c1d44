import { z } from 'zod';
import { checkPattern } from '../core/address.js';
import { normalizeGroupName } from '../core/group-name.js';
import { INVITATION_PLACEHOLDERS, unknownPlaceholders } from '../core/template.js';
import { secret } from './secret-positions.js';

/**
 * The config of customer management: invitations (portal URL, template, SMTP), public signup (and its
 * Crowd target), mailing-list patterns. Cross-key rules are in `checkCustomerConfig`.
 */
export const DEFAULT_INVITATION_SUBJECT = 'You are invited to our help center';
export const DEFAULT_INVITATION_TEMPLATE = `Hello {{name}},

you have been invited to our help center, where you can raise requests and follow them.
Open this link to sign in, or to set your password if you are new here:

{{link}}

(The help center: {{portalUrl}})
`;

const domainRule = z
  .string()
  .trim()
  .regex(/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)+$/i, 'a domain such as example.org, or *.example.org for its subdomains');

const template = z.string().min(1).refine((t) => unknownPlaceholders(t).length === 0, {
  message: `unknown placeholder; a template may use ${INVITATION_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}`,
});

export const invitationsSchema = z
  .strictObject({
    portalUrl: z.url({ protocol: /^https?$/ }).describe('The customer portal; invitation links point here (with the address as ?email=).'),
    subject: template.default(DEFAULT_INVITATION_SUBJECT).describe('Subject of the invitation e-mail; placeholders as in template.'),
    template: template.default(DEFAULT_INVITATION_TEMPLATE).describe('Plain-text body: {{name}}, {{email}}, {{link}}, {{portalUrl}}.'),
    templateFile: z.string().optional().describe('A file holding the body instead of template (relative to the config file).'),
    smtp: z
      .strictObject({
        host: z.string().min(1),
        port: z.int().min(1).max(65535).default(587),
        security: z
          .enum(['starttls', 'tls', 'none'])
          .default('starttls')
          .describe('starttls (required, port 587), tls (implicit, port 465) or none (plain text; logged as a warning).'),
        user: z.string().optional(),
        password: secret(z.string().min(1)).optional().describe('A secret reference: ${env:SMTP_PASSWORD}.'),
        from: z.string().min(3).describe('The sender, e.g. "Help Center <help@corp.example>".'),
        timeoutSeconds: z.number().positive().default(30),
        tls: z
          .strictObject({
            caFile: z.string().optional().describe('PEM file of the CA of the SMTP server certificate (relative to the config file).'),
            rejectUnauthorized: z.boolean().default(true),
          })
          .prefault({}),
      })
      .optional()
      .describe('Send invitations by e-mail; without it, `customers invite` prints each invitation link for another mailer.'),
  })
  .optional()
  .describe('Inviting customers by e-mail address (`dirbridge customers invite`).');

export const signupSchema = z
  .strictObject({
    public: z.boolean().default(false).describe('Public signup: unknown addresses become portal-only customers (CLI, POST /signup, the e-mail channel). Off: they are refused / not processed.'),
    allowedDomains: z.array(domainRule).default([]).describe('When not empty, signup only from these domains.'),
    refusedDomains: z.array(domainRule).default([]).describe('Never signup from these domains.'),
    target: z
      .strictObject({
        directory: z.string().describe('A Crowd directory id: signups are created there as users (needs Read/Write permission for the application).'),
        group: z.string().optional().describe('The default group they are added to (one of roles.customer.groups; default: the first).'),
      })
      .optional(),
    rateLimit: z
      .strictObject({
        requests: z.int().min(1).default(20),
        perSeconds: z.int().min(1).default(60),
      })
      .prefault({})
      .describe('POST /signup and POST /intake/email: at most this many requests per window, per serve process.'),
  })
  .prefault({});

export const mailingListsSchema = z
  .array(z.string().refine((p) => checkPattern(p) === null, { message: 'a mailing-list pattern matches whole addresses with * and ?, e.g. "*-all@corp.example"' }))
  .default([])
  .describe('Addresses that are mailing lists (besides directory groups with a mail address): never customers. * and ? wildcards.');

interface CustomerConfigView {
  readonly directories: readonly { readonly id: string; readonly type: string }[];
  readonly roles: { readonly customer: { readonly groups: readonly string[] } };
  readonly signup: z.output<typeof signupSchema>;
  readonly invitations?: z.output<typeof invitationsSchema>;
}

type AddIssue = (issue: { code: 'custom'; path: (string | number)[]; message: string }) => void;

export function checkCustomerConfig(config: CustomerConfigView, addIssue: AddIssue): void {
  const target = config.signup.target;
  if (target !== undefined) {
    const dir = config.directories.find((d) => d.id === target.directory);
    if (dir === undefined) addIssue({ code: 'custom', path: ['signup', 'target', 'directory'], message: `unknown directory id "${target.directory}"` });
    else if (dir.type !== 'crowd') addIssue({ code: 'custom', path: ['signup', 'target', 'directory'], message: `signup can create users only in a Crowd directory; ${dir.id} is ${dir.type}` });
    const groups = config.roles.customer.groups;
    if (target.group !== undefined && !groups.some((g) => normalizeGroupName(g) === normalizeGroupName(target.group ?? ''))) {
      addIssue({ code: 'custom', path: ['signup', 'target', 'group'], message: `"${target.group}" is not a customer default group (roles.customer.groups: ${groups.join(', ') || 'none'})` });
    }
    if (target.group === undefined && groups.length === 0) addIssue({ code: 'custom', path: ['signup', 'target', 'group'], message: 'name the default group signups join (roles.customer.groups is empty)' });
  }
  const refused = new Set(config.signup.refusedDomains.map((d) => d.toLowerCase()));
  config.signup.allowedDomains.forEach((d, i) => {
    if (refused.has(d.toLowerCase())) addIssue({ code: 'custom', path: ['signup', 'allowedDomains', i], message: `${d} is both allowed and refused` });
  });
  const smtp = config.invitations?.smtp;
  if (smtp !== undefined && (smtp.user === undefined) !== (smtp.password === undefined)) {
    addIssue({ code: 'custom', path: ['invitations', 'smtp', smtp.user === undefined ? 'user' : 'password'], message: 'SMTP authentication needs both user and password' });
  }
  if (config.invitations?.templateFile !== undefined && config.invitations.template !== DEFAULT_INVITATION_TEMPLATE) {
    addIssue({ code: 'custom', path: ['invitations', 'templateFile'], message: 'use template or templateFile, not both' });
  }
}

/** Things that are allowed but deserve a word (printed by `config validate`). */
export function customerConfigWarnings(config: CustomerConfigView & { readonly service: { readonly portalToken?: string | undefined } }): string[] {
  const warnings: string[] = [];
  const target = config.signup.target;
  if (target !== undefined) {
    warnings.push(
      `signup.target is the Crowd directory ${target.directory}: signups create users there, which needs the application's permission on that directory set to Read/Write ` +
        `(Crowd → Applications → dirbridge → Directories); check it with: dirbridge directories test ${target.directory}`,
    );
  }
  if (config.invitations?.smtp?.security === 'none') warnings.push('invitations.smtp.security is none: invitations (and the SMTP password) cross the network in plain text');
  if (config.signup.public && config.service.portalToken === undefined) warnings.push('signup.public is on but service.portalToken is not set: POST /signup and POST /intake/email are off on serve (the CLI works)');
  return warnings;
}
