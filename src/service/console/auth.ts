import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { proxyMatcher, type ConsoleConfig } from '../../config/console-config.js';

export type Role = 'admin' | 'auditor';

export interface ConsoleUser {
  readonly username: string;
  readonly role: Role;
  /** How they came in: the sign-in form, or the trusted proxy header. */
  readonly via: 'password' | 'proxy';
}

export const SIGN_IN_COOKIE = 'dirbridge_console';
export const CONSOLE_PATH = '/console';

/**
 * Who is asking. A sign-in is a signed, HTTP-only, SameSite=Strict cookie holding the username and
 * its expiry (no server-side state, so every replica of serve accepts it); the role is looked up in the
 * config on every request, so removing a user or changing a role takes effect at once. With
 * trustedHeader, a request from one of the configured proxy addresses carrying the header is that user
 * (the header is ignored from any other address).
 */
export function createAuth(config: ConsoleConfig) {
  const byName = new Map(config.users.map((u) => [u.username.toLowerCase(), u]));
  const fromProxy = config.trustedHeader === undefined ? () => false : proxyMatcher(config.trustedHeader.proxies);
  const header = config.trustedHeader?.name.toLowerCase();
  const lifetimeMs = config.signedInHours * 3600 * 1000;

  const known = (name: string, via: ConsoleUser['via']): ConsoleUser | null => {
    const user = byName.get(name.toLowerCase());
    return user === undefined ? null : { username: user.username, role: user.role, via };
  };

  return {
    lookup: (name: string) => byName.get(name.toLowerCase()) ?? null,

    userOf(request: FastifyRequest): ConsoleUser | null {
      if (header !== undefined && fromProxy(request.socket.remoteAddress)) {
        const name = request.headers[header];
        if (typeof name === 'string' && name.trim() !== '') return known(name.trim(), 'proxy');
      }
      const raw = request.cookies[SIGN_IN_COOKIE];
      if (raw === undefined) return null;
      const unsigned = request.unsignCookie(raw);
      if (!unsigned.valid || unsigned.value === null) return null;
      const match = /^(\d+):(.+)$/.exec(unsigned.value);
      if (match === null || Number(match[1]) < Date.now()) return null;
      return known(match[2] as string, 'password');
    },

    signIn(reply: FastifyReply, username: string): void {
      reply.setCookie(SIGN_IN_COOKIE, `${Date.now() + lifetimeMs}:${username}`, { ...cookieOptions(), signed: true, maxAge: Math.floor(lifetimeMs / 1000) });
    },

    signOut(reply: FastifyReply): void {
      reply.clearCookie(SIGN_IN_COOKIE, cookieOptions());
    },
  };
}

/** HTTP-only, same-site only, on the console's path; Secure whenever the request came over HTTPS. */
export function cookieOptions() {
  return { path: CONSOLE_PATH, httpOnly: true, sameSite: 'strict' as const, secure: 'auto' as const };
}

export type Auth = ReturnType<typeof createAuth>;
