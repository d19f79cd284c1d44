import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { DirbridgeError } from '../../src/errors.js';

export interface CrowdClientOptions {
  readonly directoryId: string;
  /** Crowd base URL with its context path, e.g. https://crowd.example.com/crowd */
  readonly baseUrl: string;
  readonly applicationName: string;
  readonly applicationPassword: string;
  readonly ca?: Buffer;
  readonly rejectUnauthorized: boolean;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly baseDelayMs: number;
  readonly concurrency: number;
  readonly userAgent: string;
  /** Injected for tests: how to wait between retries. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly onRetry?: (info: { path: string; attempt: number; reason: string; delayMs: number }) => void;
}

export type Params = Record<string, string | number>;

/** Per call: the caller's abort signal (a run being stopped). */
export interface RequestOptions {
  readonly signal?: AbortSignal;
}

/** `GET` answered in JSON (parsed) or as text (XML, or whatever a proxy put in the way). */
export type Document = { readonly kind: 'json'; readonly body: object } | { readonly kind: 'text'; readonly text: string };

/** An HTTP answer the caller may handle (404 on an optional endpoint, 410 on an expired token). */
export class CrowdHttpError extends Error {
  override name = 'CrowdHttpError';
  constructor(
    readonly status: number,
    readonly reason: string | null,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

const RETRYABLE_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'ECONNABORTED', 'EPIPE', 'ERR_SOCKET_CONNECTION_TIMEOUT']);

/**
 * A path segment as RFC 3986 allows it (pchar): unreserved characters, sub-delims, ":" and "@" go out
 * as they are, everything else percent-encoded. `encodeURIComponent` would also encode ":" and "@",
 * and a server or proxy that does not decode them sees another value (Crowd's event tokens contain ":").
 */
export function encodePathSegment(value: string): string {
  return encodeURIComponent(value).replace(/%(3A|40|24|26|2B|2C|3B|3D)/gi, (escaped) => decodeURIComponent(escaped));
}

/**
 * The Crowd REST client (`/rest/usermanagement/1`): HTTP Basic auth as the application, JSON unless
 * asked for XML, keep-alive, a CA file, retries with backoff and jitter for 5xx, timeouts and
 * connection resets only, a concurrency limit. Errors never carry the request config (where axios
 * keeps the Authorization header): they are rebuilt from method, path, status and Crowd's reason.
 *
 * Every attempt has a whole-request deadline (`timeoutMs`): connecting, the headers and the whole body,
 * a streamed XML body included. An idle timeout would let a server that sends a byte now and then keep
 * a run (and its lease) alive indefinitely. A JSON answer that misses it is retried like a timeout; a
 * streamed body that misses it fails its reader with ERR_CROWD_CONNECT. The caller's abort signal ends
 * a request at once, with the signal's reason, and is never retried.
 */
export function createCrowdClient(options: CrowdClientOptions) {
  const base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  const apiBase = new URL('rest/usermanagement/1/', base);
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: options.concurrency });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: options.concurrency, rejectUnauthorized: options.rejectUnauthorized, ...(options.ca === undefined ? {} : { ca: options.ca }) });
  const http: AxiosInstance = axios.create({
    auth: { username: options.applicationName, password: options.applicationPassword },
    maxRedirects: 0,
    validateStatus: () => true,
    headers: { 'User-Agent': options.userAgent },
    httpAgent,
    httpsAgent,
    maxContentLength: 256 * 1024 * 1024,
    proxy: false,
  });
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  const where = `directory ${options.directoryId} (${base.origin}${base.pathname})`;

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
    const target = new URL(path, apiBase);
    for (const [key, value] of Object.entries(params)) target.searchParams.set(key, String(value));
    return target;
  };

  const deadlineText = `no complete answer within ${options.timeoutMs / 1000} s (timeouts.requestSeconds)`;

  async function request<T>(path: string, params: Params, kind: 'json' | 'text' | 'xml', signal: AbortSignal | undefined): Promise<AxiosResponse<T>> {
    const target = url(path, params);
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const deadline = startDeadline(options.timeoutMs, signal, () => new DirbridgeError('ERR_CROWD_CONNECT', `${where}: GET ${path}: ${deadlineText}: the read is incomplete`, { retryable: true }));
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
        else if (!RETRYABLE_CODES.has(code) && !/timeout/i.test((error as Error).message)) throw transportError(where, path, error);
        else failure = code === '' ? 'timeout' : code;
      }
      if (attempt >= options.retries) {
        throw new DirbridgeError('ERR_CROWD_CONNECT', `${where}: GET ${path} failed ${attempt + 1} times (last: ${failure}); giving up`, { retryable: true });
      }
      const delayMs = Math.min(10_000, options.baseDelayMs * 2 ** attempt * (0.5 + random()));
      options.onRetry?.({ path, attempt: attempt + 1, reason: failure, delayMs: Math.round(delayMs) });
      await sleep(delayMs);
    }
  }

  const authenticationChallenged = (response: AxiosResponse): boolean => response.headers['www-authenticate'] !== undefined;

  async function getJson<T>(path: string, params: Params = {}, opts: RequestOptions = {}): Promise<T> {
    const response = await request<unknown>(path, params, 'json', opts.signal);
    if (response.status !== 200) throw statusError(where, path, response.status, response.data, authenticationChallenged(response));
    if (typeof response.data !== 'object' || response.data === null) {
      throw new DirbridgeError('ERR_CROWD_RESPONSE', `${where}: GET ${path} did not return JSON (a proxy or login page in the way?)`);
    }
    return response.data as T;
  }

  /**
   * Asks for JSON and takes whatever comes: Crowd versions differ in what some resources produce (an
   * `<events …/>` document where JSON was asked for). The caller reads the text.
   */
  async function getDocument(path: string, opts: RequestOptions = {}): Promise<Document> {
    const response = await request<string>(path, {}, 'text', opts.signal);
    if (response.status !== 200) throw statusError(where, path, response.status, response.data, authenticationChallenged(response));
    const text = String(response.data);
    try {
      const body: unknown = JSON.parse(text);
      if (typeof body === 'object' && body !== null) return { kind: 'json', body };
    } catch {
      // not JSON: the caller decides whether it is the XML it can read
    }
    return { kind: 'text', text };
  }

  async function getXml(path: string, params: Params = {}, opts: RequestOptions = {}): Promise<Readable> {
    const response = await request<Readable>(path, params, 'xml', opts.signal);
    if (response.status !== 200) {
      const body = await readText(response.data).catch(() => '');
      throw statusError(where, path, response.status, body, authenticationChallenged(response));
    }
    return response.data;
  }

  /** Ends the kept-alive connections, so the process can exit. */
  const close = (): void => {
    httpAgent.destroy();
    httpsAgent.destroy();
  };

  return { getJson, getDocument, getXml, where, close };
}

export type CrowdClient = ReturnType<typeof createCrowdClient>;

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

function statusError(where: string, path: string, status: number, body: unknown, basicChallenge: boolean): Error {
  const reason = crowdReason(body);
  const detail = reason === null ? '' : ` (${reason.reason}${reason.message === '' ? '' : `: ${reason.message.slice(0, 200)}`})`;
  if (status === 401) {
    return new DirbridgeError('ERR_CROWD_AUTH', `${where}: application authentication failed${basicChallenge ? '' : ' (HTTP 401)'}: check application.name and its password reference, and that the application exists in Crowd`, { retryable: false });
  }
  if (status === 403) {
    const message =
      reason?.reason === 'APPLICATION_PERMISSION_DENIED'
        ? `${where}: permission denied: the application may not ${path.startsWith('event') ? 'read events' : 'perform this operation'}${detail}`
        : `${where}: forbidden${detail}: is this host's address allowed for the application (Crowd → Applications → Remote addresses)?`;
    return new DirbridgeError('ERR_CROWD_PERMISSION', message, { retryable: false });
  }
  return new CrowdHttpError(status, reason?.reason ?? null, path, `${where}: GET ${path} answered HTTP ${status}${detail}`);
}

/** Crowd's error entity, in JSON or XML: `{reason, message}` / `<error><reason/><message/></error>`. */
function crowdReason(body: unknown): { reason: string; message: string } | null {
  if (body !== null && typeof body === 'object' && typeof (body as { reason?: unknown }).reason === 'string') {
    return { reason: (body as { reason: string }).reason, message: String((body as { message?: unknown }).message ?? '') };
  }
  if (typeof body === 'string') {
    const reason = /<reason>([^<]*)<\/reason>/.exec(body)?.[1];
    if (reason !== undefined) return { reason, message: /<message>([^<]*)<\/message>/.exec(body)?.[1] ?? '' };
    try {
      return crowdReason(JSON.parse(body));
    } catch {
      return null;
    }
  }
  return null;
}

function transportError(where: string, path: string, error: unknown): DirbridgeError {
  const e = error as { code?: string; message?: string };
  const tls = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(e.code ?? '');
  const why = tls ? `TLS failure (${e.code ?? ''}): set tls.caFile to the CA of Crowd's certificate` : e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'ENOTFOUND' ? 'host not found' : (e.code ?? 'network error');
  // A new error: axios errors hold the request config, and with it the Authorization header.
  return new DirbridgeError('ERR_CROWD_CONNECT', `${where}: GET ${path}: ${why}`, { retryable: !tls });
}

async function readText(stream: Readable): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += String(chunk);
    if (text.length > 65_536) break;
  }
  return text;
}
