import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { DirbridgeError, type ErrorCode } from '../../src/errors.js';

/** How an Atlassian REST client authenticates: HTTP Basic, or a bearer token (a personal access token). */
export type HttpAuth = { readonly kind: 'basic'; readonly username: string; readonly password: string } | { readonly kind: 'bearer'; readonly token: string };

export interface HttpClientOptions {
  /** Who is being read, for messages: `directory crowd (https://…)`. Never holds credentials. */
  readonly where: string;
  /** Base of every relative path asked for, ending in "/". */
  readonly apiBase: URL;
  readonly auth: HttpAuth;
  readonly ca?: Buffer;
  readonly rejectUnauthorized: boolean;
  /** Whole-request deadline per attempt, body included. */
  readonly timeoutMs: number;
  readonly retries: number;
  readonly baseDelayMs: number;
  readonly concurrency: number;
  readonly userAgent: string;
  /** The code of an outage (unreachable, kept failing): ERR_CROWD_CONNECT, ERR_JIRA_CONNECT. */
  readonly connectCode: ErrorCode;
  /** The config key that names the server's CA, for the TLS failure message. */
  readonly caKey: string;
  /** Injected for tests: how to wait between retries. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly onRetry?: (info: { path: string; attempt: number; reason: string; delayMs: number }) => void;
}

export type Params = Record<string, string | number | boolean>;

/** `json` (parsed), `text`, or `xml` (a stream whose reading the deadline keeps watching). */
export type BodyKind = 'json' | 'text' | 'xml';

const RETRYABLE_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'ECONNABORTED', 'EPIPE', 'ERR_SOCKET_CONNECTION_TIMEOUT']);

/**
 * The HTTP client setup shared by the Atlassian REST clients (Crowd, Jira): keep-alive agents with a
 * CA file, no redirects (a login page is an answer, not a place to go), no proxy from the environment,
 * retries with backoff and jitter for 5xx, timeouts and connection resets only, a concurrency limit.
 * Errors never carry the request config (where axios keeps the Authorization header): they are rebuilt
 * from method, path and what went wrong.
 *
 * Every attempt has a whole-request deadline (`timeoutMs`): connecting, the headers and the whole body,
 * a streamed body included. An idle timeout would let a server that sends a byte now and then keep a
 * run (and its lease) alive indefinitely. A buffered answer that misses it is retried like a timeout; a
 * streamed body that misses it fails its reader with `connectCode`. The caller's abort signal ends a
 * request at once, with the signal's reason, and is never retried.
 *
 * Any status below 500 is returned to the caller, who knows what a 401, 403 or 404 means for it.
 */
export function createHttpClient(options: HttpClientOptions) {
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: options.concurrency });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: options.concurrency, rejectUnauthorized: options.rejectUnauthorized, ...(options.ca === undefined ? {} : { ca: options.ca }) });
  const http: AxiosInstance = axios.create({
    ...(options.auth.kind === 'basic' ? { auth: { username: options.auth.username, password: options.auth.password } } : {}),
    maxRedirects: 0,
    validateStatus: () => true,
    headers: { 'User-Agent': options.userAgent, ...(options.auth.kind === 'bearer' ? { Authorization: `Bearer ${options.auth.token}` } : {}) },
    httpAgent,
    httpsAgent,
    maxContentLength: 256 * 1024 * 1024,
    proxy: false,
  });
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  const { where } = options;

  let active = 0;
  const waiting: (() => void)[] = [];
  const limited = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= options.concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };

  const url = (path: string, params: Params = {}): URL => {
    const target = new URL(path, options.apiBase);
    for (const [key, value] of Object.entries(params)) target.searchParams.set(key, String(value));
    return target;
  };

  const deadlineText = `no complete answer within ${options.timeoutMs / 1000} s (timeouts.requestSeconds)`;

  /** `GET path?params`, retried on outages; any answer below 500 is the caller's. */
  async function get<T>(path: string, params: Params, kind: BodyKind, signal: AbortSignal | undefined): Promise<AxiosResponse<T>> {
    const target = url(path, params);
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const deadline = startDeadline(options.timeoutMs, signal, () => new DirbridgeError(options.connectCode, `${where}: GET ${path}: ${deadlineText}: the read is incomplete`, { retryable: true }));
      let failure: string;
      try {
        const response = await limited(() =>
          http.get<T>(target.toString(), {
            headers: { Accept: kind === 'xml' ? 'application/xml' : 'application/json' },
            responseType: kind === 'xml' ? 'stream' : kind === 'text' ? 'text' : 'json',
            signal: deadline.signal,
          }),
        );
        if (response.status < 500) {
          if (kind === 'xml') deadline.follow(response.data as Readable);
          else deadline.clear();
          return response;
        }
        deadline.clear();
        failure = `HTTP ${response.status}`;
        if (kind === 'xml') (response.data as Readable).destroy();
      } catch (error) {
        deadline.clear();
        signal?.throwIfAborted();
        const code = (error as { code?: string }).code ?? '';
        if (deadline.expired) failure = deadlineText;
        else if (!RETRYABLE_CODES.has(code) && !/timeout/i.test((error as Error).message)) throw transportError(options, path, error);
        else failure = code === '' ? 'timeout' : code;
      }
      if (attempt >= options.retries) {
        throw new DirbridgeError(options.connectCode, `${where}: GET ${path} failed ${attempt + 1} times (last: ${failure}); giving up`, { retryable: true });
      }
      const delayMs = Math.min(10_000, options.baseDelayMs * 2 ** attempt * (0.5 + random()));
      options.onRetry?.({ path, attempt: attempt + 1, reason: failure, delayMs: Math.round(delayMs) });
      await sleep(delayMs);
    }
  }

  /** Ends the kept-alive connections, so the process can exit. */
  const close = (): void => {
    httpAgent.destroy();
    httpsAgent.destroy();
  };

  return { get, where, close };
}

export type HttpClient = ReturnType<typeof createHttpClient>;

/** Whether a 401 came with a challenge (a server asking for credentials), rather than from a proxy. */
export const authenticationChallenged = (response: AxiosResponse): boolean => response.headers['www-authenticate'] !== undefined;

interface Deadline {
  /** Aborts the request when the deadline passes or the caller's signal fires. */
  readonly signal: AbortSignal;
  readonly expired: boolean;
  /** Keeps the deadline running over a streamed body: the stream is destroyed when it passes. */
  follow(stream: Readable): void;
  clear(): void;
}

function startDeadline(ms: number, caller: AbortSignal | undefined, expiredError: () => Error): Deadline {
  const controller = new AbortController();
  let expired = false;
  let stream: Readable | null = null;
  // A followed stream is destroyed with the reason before axios aborts it (with a reason of its own).
  const timer = setTimeout(() => {
    expired = true;
    stream?.destroy(expiredError());
    controller.abort();
  }, ms);
  const onAbort = (): void => {
    stream?.destroy(caller?.reason instanceof Error ? caller.reason : new Error('aborted'));
    controller.abort(caller?.reason);
  };
  caller?.addEventListener('abort', onAbort, { once: true });
  const clear = (): void => {
    clearTimeout(timer);
    caller?.removeEventListener('abort', onAbort);
  };
  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    follow(s) {
      stream = s;
      s.once('close', clear);
    },
    clear,
  };
}

function transportError(options: HttpClientOptions, path: string, error: unknown): DirbridgeError {
  const e = error as { code?: string; message?: string };
  const tls = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(e.code ?? '');
  const why = tls ? `TLS failure (${e.code ?? ''}): set ${options.caKey} to the CA of the server's certificate` : e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'ENOTFOUND' ? 'host not found' : (e.code ?? 'network error');
  // A new error: axios errors hold the request config, and with it the Authorization header.
  return new DirbridgeError(options.connectCode, `${options.where}: GET ${path}: ${why}`, { retryable: !tls });
}

/** The start of a streamed body (an error page), at most 64 KiB. */
export async function readText(stream: Readable): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += String(chunk);
    if (text.length > 65_536) break;
  }
  return text;
}
