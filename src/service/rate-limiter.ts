/**
 * A token bucket per serve process: `requests` per `perSeconds`, refilled continuously, bursts up to
 * `requests`. `take()` answers 0 when the request may go, else the seconds until it may.
 */
export function createRateLimiter(options: { readonly requests: number; readonly perSeconds: number; readonly now?: () => number }) {
  const now = options.now ?? (() => Date.now());
  const rate = options.requests / (options.perSeconds * 1000);
  let tokens = options.requests;
  let last = now();
  return {
    take(): number {
      const t = now();
      tokens = Math.min(options.requests, tokens + (t - last) * rate);
      last = t;
      if (tokens >= 1) {
        tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - tokens) / rate / 1000));
    },
  };
}
