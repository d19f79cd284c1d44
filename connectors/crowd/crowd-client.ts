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
 * The Crowd REST client (`/rest/usermanagement/1`): HTTP Basic auth as the application, JSON unless
 * asked for XML, timeouts, keep-alive, a CA file, retries with backoff and jitter for 5xx, timeouts
 * and connection resets only, a concurrency limit. Errors never carry the request config (where axios
 * keeps the Authorization header): they are rebuilt from method, path, status and Crowd's reason.
 */
export function createCrowdClient(options: CrowdClientOptions) {
  const base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  const apiBase = new URL('rest/usermanagement/1/', base);
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: options.concurrency });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: options.concurrency, rejectUnauthorized: options.rejectUnauthorized, ...(options.ca === undefined ? {} : { ca: options.ca }) });
  const http: AxiosInstance = axios.create({
    auth: { username: options.applicationName, password: options.applicationPassword },
    timeout: options.timeoutMs,
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

  async function request<T>(path: string, params: Params, accept: 'json' | 'xml'): Promise<AxiosResponse<T>> {
    const target = url(path, params);
    for (let attempt = 0; ; attempt++) {
      let response: AxiosResponse<T> | undefined;
      let failure: string;
      try {
        response = await limited(() =>
          http.get<T>(target.toString(), {
            headers: { Accept: accept === 'json' ? 'application/json' : 'application/xml' },
            responseType: accept === 'json' ? 'json' : 'stream',
          }),
        );
        if (response.status < 500) return response;
        failure = `HTTP ${response.status}`;
        if (accept === 'xml') (response.data as Readable).destroy();
      } catch (error) {
        const code = (error as { code?: string }).code ?? '';
        if (!RETRYABLE_CODES.has(code) && !/timeout/i.test((error as Error).message)) throw transportError(where, path, error);
        failure = code === '' ? 'timeout' : code;
      }
      if (attempt >= options.retries) {
        throw new DirbridgeError('ERR_CROWD_CONNECT', `${where}: GET ${path} failed ${attempt + 1} times (last: ${failure}); giving up`, { retryable: true });
      }
      const delayMs = Math.min(10_000, options.baseDelayMs * 2 ** attempt * (0.5 + random()));
      options.onRetry?.({ path, attempt: attempt + 1, reason: failure, delayMs: Math.round(delayMs) });
      await sleep(delayMs);
    }
  }

  async function getJson<T>(path: string, params: Params = {}): Promise<T> {
    const response = await request<unknown>(path, params, 'json');
    if (response.status !== 200) throw statusError(where, path, response.status, response.data, response.headers['www-authenticate'] !== undefined);
    if (typeof response.data !== 'object' || response.data === null) {
      throw new DirbridgeError('ERR_CROWD_RESPONSE', `${where}: GET ${path} did not return JSON (a proxy or login page in the way?)`);
    }
    return response.data as T;
  }

  async function getXml(path: string, params: Params = {}): Promise<Readable> {
    const response = await request<Readable>(path, params, 'xml');
    if (response.status !== 200) {
      const body = await readText(response.data).catch(() => '');
      throw statusError(where, path, response.status, body, response.headers['www-authenticate'] !== undefined);
    }
    return response.data;
  }

  /** Ends the kept-alive connections, so the process can exit. */
  const close = (): void => {
    httpAgent.destroy();
    httpsAgent.destroy();
  };

  return { getJson, getXml, where, close };
}

export type CrowdClient = ReturnType<typeof createCrowdClient>;

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
