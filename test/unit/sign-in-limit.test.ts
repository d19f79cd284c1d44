import rateLimit from '@fastify/rate-limit';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createSignInLimit, type SignInAttempt } from '../../src/service/console/sign-in-limit.js';

type Answer = 'right' | 'wrong' | 'slow-wrong';

/**
 * A fastify app with the sign-in limit (2 failures a minute) on one route. Each request says what its
 * password check answers; `slow-wrong` waits for `release()` then fails. `checks` counts password checks.
 */
async function limited() {
  const app = Fastify();
  await app.register(rateLimit, { global: false });
  const limit = createSignInLimit(app, { attempts: 2, perSeconds: 60 });
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const state = { checks: 0 };
  app.post('/login', async (request) => {
    const answer = request.headers['x-answer'] as Answer;
    return limit(request, async () => {
      state.checks++;
      if (answer === 'slow-wrong') await gate;
      return answer === 'right';
    });
  });
  await app.ready();
  const attempt = async (answer: Answer): Promise<SignInAttempt> => (await app.inject({ method: 'POST', url: '/login', remoteAddress: '192.0.2.7', headers: { 'x-answer': answer } })).json();
  return { app, attempt, release, state };
}

describe('the console sign-in limit', () => {
  const apps: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
  });

  it('does not count successful sign-ins; after the allowed failures it blocks every attempt, a correct password too, without checking it', async () => {
    const { app, attempt, state } = await limited();
    apps.push(app);
    for (let i = 0; i < 5; i++) expect(await attempt('right')).toEqual({ blocked: false, ok: true });
    expect(await attempt('wrong')).toEqual({ blocked: false, ok: false });
    expect(await attempt('right')).toEqual({ blocked: false, ok: true }); // one failure of two: still allowed
    expect(await attempt('wrong')).toEqual({ blocked: false, ok: false });
    const blocked = await attempt('right');
    expect(blocked).toMatchObject({ blocked: true });
    expect((blocked as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(0);
    expect(state.checks).toBe(8); // the blocked attempt's password was not checked
  });

  it('counts attempts still being checked, so parallel guesses cannot slip past the limit', async () => {
    const { app, attempt, release, state } = await limited();
    apps.push(app);
    let settled = 0;
    const guesses = Array.from({ length: 6 }, () => attempt('slow-wrong').finally(() => settled++));
    await expect.poll(() => settled).toBe(4); // four refused at once while two are being checked
    expect(state.checks).toBe(2);
    release();
    const outcomes = await Promise.all(guesses);
    expect(outcomes.filter((o) => !o.blocked)).toEqual([{ blocked: false, ok: false }, { blocked: false, ok: false }]);
    expect(await attempt('right')).toMatchObject({ blocked: true });
  });
});
