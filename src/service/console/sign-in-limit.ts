import type {} from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export type SignInAttempt = { readonly blocked: false; readonly ok: boolean } | { readonly blocked: true; readonly retryAfterSeconds: number };

/**
 * The sign-in limit (`console.loginRateLimit`): failed attempts per client address and window, counted in
 * @fastify/rate-limit's store (per serve process). A successful sign-in is not counted, so a correct
 * password never uses the limit up; once an address has failed `attempts` times, every sign-in from it
 * waits for the window to end, a correct password too (else guessing could go on). Attempts still being
 * checked count as failures until they end, so parallel guesses cannot slip past the limit.
 */
export function createSignInLimit(app: FastifyInstance, limit: { readonly attempts: number; readonly perSeconds: number }) {
  const failures = app.createRateLimit({ max: limit.attempts, timeWindow: limit.perSeconds * 1000 });
  const checking = new Map<string, number>();
  const settle = (key: string): void => {
    const left = (checking.get(key) ?? 1) - 1;
    if (left > 0) checking.set(key, left);
    else checking.delete(key);
  };
  return async (request: FastifyRequest, check: () => Promise<boolean>): Promise<SignInAttempt> => {
    const state = await failures(request, { increment: false });
    if (state.isAllowed) return { blocked: false, ok: await check() };
    const inFlight = checking.get(state.key) ?? 0;
    if (state.remaining - inFlight <= 0) return { blocked: true, retryAfterSeconds: Math.max(1, state.ttlInSeconds) };
    checking.set(state.key, inFlight + 1);
    try {
      const ok = await check();
      if (!ok) await failures(request);
      return { blocked: false, ok };
    } finally {
      settle(state.key);
    }
  };
}
