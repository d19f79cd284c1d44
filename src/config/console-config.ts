import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { PASSWORD_HASH_PATTERN } from '../service/console/password.js';
import { secret } from './secret-positions.js';

/**
 * The admin console of `dirbridge serve` (src/service/console). Without a `console` section the console
 * is off (serve logs so). With one, it needs at least one user and a cookie secret: a console nobody can
 * sign in to, or whose sign-in cookies anyone could forge, is a config error.
 */
const username = z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/, 'letters, digits, ".", "_", "@" and "-" (at most 100), starting with a letter or digit');

export const consoleSchema = z
  .strictObject({
    users: z
      .array(
        z.strictObject({
          username,
          role: z.enum(['admin', 'auditor']).describe('admin: everything; auditor: read-only (customers, runs, plans, the seat audit and its downloads).'),
          passwordHash: z
            .string()
            .regex(PASSWORD_HASH_PATTERN, 'a hash made by `dirbridge console hash-password` (scrypt$N$r$p$salt$hash)')
            .optional()
            .describe('Made by `dirbridge console hash-password`. Without one, the user can only come through the trusted proxy header.'),
        }),
      )
      .min(1, 'list at least one console user (make a password hash with: dirbridge console hash-password)')
      .describe('Who may sign in, and with which role.'),
    cookieSecret: secret(z.string().min(32, 'at least 32 characters: use a long random value, e.g. from `openssl rand -base64 48`'))
      .describe('Signs the sign-in cookies (a secret reference: ${env:DIRBRIDGE_CONSOLE_SECRET}). Changing it signs everyone out.'),
    signedInHours: z.number().positive().max(720).default(8).describe('How long a sign-in lasts before the password is asked again.'),
    loginRateLimit: z
      .strictObject({
        attempts: z.int().min(1).default(5),
        perSeconds: z.int().min(1).default(60),
      })
      .prefault({})
      .describe('Failed sign-in attempts allowed per client address in each window (a successful sign-in is not counted); past them every sign-in from that address answers 429 until the window ends.'),
    trustedHeader: z
      .strictObject({
        name: z.string().regex(/^[A-Za-z0-9-]+$/, 'an HTTP header name, e.g. X-Remote-User').describe('The header the proxy sets to the authenticated username.'),
        proxies: z
          .array(z.string().refine((p) => parseAddress(p) !== null, { message: 'an IP address or a CIDR range, e.g. 10.0.0.5 or 10.0.0.0/24' }))
          .min(1, 'name the address of at least one proxy: the header is only honoured from these')
          .describe('Addresses (or CIDR ranges) of the reverse proxies the header is honoured from; from anywhere else it is ignored.'),
      })
      .optional()
      .describe('Off by default. Behind an authenticating reverse proxy: the user named in this header (a console.users entry) is signed in.'),
  })
  .optional()
  .superRefine((value, ctx) => {
    if (value === undefined) return;
    const seen = new Set<string>();
    value.users.forEach((user, i) => {
      if (seen.has(user.username.toLowerCase())) ctx.addIssue({ code: 'custom', path: ['users', i, 'username'], message: `duplicate console user "${user.username}"` });
      seen.add(user.username.toLowerCase());
      if (user.passwordHash === undefined && value.trustedHeader === undefined) {
        ctx.addIssue({ code: 'custom', path: ['users', i, 'passwordHash'], message: `${user.username} has no passwordHash and there is no trustedHeader: nobody could sign in as them (make one with: dirbridge console hash-password)` });
      }
    });
  })
  .describe('The admin console on `dirbridge serve` (/console/). Off without this section.');

export type ConsoleConfig = NonNullable<z.output<typeof consoleSchema>>;

/** An address or CIDR range: `{ address, prefix }`, or null. */
export function parseAddress(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address = '', prefixText] = text.trim().split('/');
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** The proxies' addresses as a BlockList (IPv4-mapped IPv6 client addresses are checked as IPv4). */
export function proxyMatcher(proxies: readonly string[]): (remote: string | undefined) => boolean {
  const list = new BlockList();
  for (const p of proxies) {
    const parsed = parseAddress(p);
    if (parsed !== null) list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return (remote) => {
    if (remote === undefined) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote)?.[1];
    const address = mapped ?? remote;
    const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    return isIP(address) !== 0 && list.check(address, family);
  };
}

/** Things `config validate` says about a console that is allowed but probably not meant. */
export function consoleConfigWarnings(config: ConsoleConfig | undefined): string[] {
  if (config === undefined) return [];
  const warnings: string[] = [];
  for (const proxy of config.trustedHeader?.proxies ?? []) {
    if (parseAddress(proxy)?.prefix === 0) {
      warnings.push(`console.trustedHeader.proxies has ${proxy}: the ${config.trustedHeader?.name ?? ''} header is honoured from any address, so anyone who can reach serve can sign in as any console user; name the proxies' own addresses`);
    }
  }
  for (const user of config.users) {
    const cost = user.passwordHash === undefined ? null : Number(PASSWORD_HASH_PATTERN.exec(user.passwordHash)?.[1]);
    if (cost !== null && cost < 2 ** 14) warnings.push(`console user ${user.username}: the password hash is cheap to guess (scrypt N=${cost}); make a new one with: dirbridge console hash-password`);
  }
  return warnings;
}
