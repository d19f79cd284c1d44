import type { Readable } from 'node:stream';
import { DirbridgeError } from '../../src/errors.js';
import { authenticationChallenged, createHttpClient, readText, type Params } from '../shared/http-client.js';

export type { Params } from '../shared/http-client.js';

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
 * asked for XML, on the shared Atlassian HTTP setup (connectors/shared/http-client.ts: keep-alive, a CA
 * file, retries with backoff for outages only, a whole-request deadline per attempt, no redirects,
 * errors rebuilt without the request config). A streamed XML body that misses the deadline fails its
 * reader with ERR_CROWD_CONNECT.
 */
export function createCrowdClient(options: CrowdClientOptions) {
  const base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  const where = `directory ${options.directoryId} (${base.origin}${base.pathname})`;
  const client = createHttpClient({
    where,
    apiBase: new URL('rest/usermanagement/1/', base),
    auth: { kind: 'basic', username: options.applicationName, password: options.applicationPassword },
    rejectUnauthorized: options.rejectUnauthorized,
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    timeoutMs: options.timeoutMs,
    retries: options.retries,
    baseDelayMs: options.baseDelayMs,
    concurrency: options.concurrency,
    userAgent: options.userAgent,
    connectCode: 'ERR_CROWD_CONNECT',
    caKey: 'tls.caFile',
    ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
    ...(options.random === undefined ? {} : { random: options.random }),
    ...(options.onRetry === undefined ? {} : { onRetry: options.onRetry }),
  });
  const request = client.get;

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

  return { getJson, getDocument, getXml, where, close: client.close };
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
