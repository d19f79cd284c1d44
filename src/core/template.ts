/**
 * Invitation templates: `{{name}}` placeholders, nothing else (no logic, no HTML). The config names
 * the placeholders it uses; an unknown one is a config error, not an empty string in someone's mail.
 */
export const INVITATION_PLACEHOLDERS = ['name', 'email', 'link', 'portalUrl'] as const;
export type InvitationPlaceholder = (typeof INVITATION_PLACEHOLDERS)[number];

const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

export function unknownPlaceholders(template: string): string[] {
  const known = new Set<string>(INVITATION_PLACEHOLDERS);
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] as string).filter((name) => !known.has(name));
}

export function renderTemplate(template: string, values: Readonly<Record<InvitationPlaceholder, string>>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => (name in values ? values[name as InvitationPlaceholder] : whole));
}

/**
 * The invitation link: the portal URL with the address, so that the portal can greet a known address
 * with its sign-in and a new one with the form that sets a password (the portal asks POST /signup,
 * which accepts an invited address whatever signup.public says).
 */
export function invitationLink(portalUrl: string, email: string): string {
  const separator = portalUrl.includes('?') ? '&' : '?';
  return `${portalUrl}${separator}email=${encodeURIComponent(email)}`;
}
