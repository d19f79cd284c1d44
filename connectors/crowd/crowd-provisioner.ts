import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { DirectoryUser } from '../../src/core/model.js';
import { DirbridgeError } from '../../src/errors.js';
import type { ConnectorContext, UserProvisioner } from '../../src/ports/directory-connector.js';
import { resolveConfigPath } from '../shared/paths.js';
import { toUser } from './apply-events.js';
import type { CrowdConfig } from './config.js';
import { USER_AGENT } from './crowd-connector.js';

/** The advice a refused write gets, whichever call Crowd refused. */
export const READ_ONLY_ADVICE = 'the Crowd directory is read-only for this application: set its permission to Read/Write (Crowd → Applications → the application → Directories, or the directory\'s permissions)';

/**
 * Signup into Crowd: creates a user as the application (POST /user), makes it a direct member of the
 * customer group (POST /user/group/direct), and reads it back (GET /user) so the customer record is the
 * one the next sync computes. Idempotent: a user an interrupted signup left (same name and address) is
 * reused, an existing membership (409) is fine. The password is random, sent once, never kept or
 * logged: the person sets their own through the portal. A 403 on any write is ERR_CROWD_READ_ONLY.
 */
export function openCrowdProvisioner(id: string, config: CrowdConfig, context: ConnectorContext): UserProvisioner {
  const base = new URL(config.url.endsWith('/') ? config.url : `${config.url}/`);
  const api = new URL('rest/usermanagement/1/', base);
  const where = `directory ${id} (${base.origin}${base.pathname})`;
  const httpAgent = new HttpAgent({ keepAlive: false });
  const httpsAgent = new HttpsAgent({
    keepAlive: false,
    rejectUnauthorized: config.tls.rejectUnauthorized,
    ...(config.tls.caFile === undefined ? {} : { ca: readFileSync(resolveConfigPath(context.baseDir, config.tls.caFile)) }),
  });
  const http: AxiosInstance = axios.create({
    auth: { username: config.application.name, password: config.application.password },
    timeout: config.timeouts.requestSeconds * 1000,
    maxRedirects: 0,
    validateStatus: () => true,
    headers: { 'User-Agent': USER_AGENT, Accept: 'application/json' },
    httpAgent,
    httpsAgent,
    proxy: false,
  });

  const call = async (method: 'GET' | 'POST', path: string, params: Record<string, string>, body?: unknown): Promise<AxiosResponse<unknown>> => {
    const url = new URL(path, api);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    try {
      return await http.request({ method, url: url.toString(), ...(body === undefined ? {} : { data: body, headers: { 'Content-Type': 'application/json' } }) });
    } catch (error) {
      // A new error: axios keeps the request (and its Authorization header) on its own.
      const code = (error as { code?: string }).code ?? 'network error';
      throw new DirbridgeError('ERR_CROWD_CONNECT', `${where}: ${method} ${path}: ${code}`, { retryable: true });
    }
  };
  const fail = (method: string, path: string, response: AxiosResponse<unknown>): DirbridgeError => {
    const reason = reasonOf(response.data);
    if (response.status === 401) return new DirbridgeError('ERR_CROWD_AUTH', `${where}: application authentication failed: check application.name and its password reference`);
    if (response.status === 403) return new DirbridgeError('ERR_CROWD_READ_ONLY', `${where}: ${method} ${path} was refused (HTTP 403${reason === null ? '' : ` ${reason.reason}`}): ${READ_ONLY_ADVICE}`);
    return new DirbridgeError('ERR_CROWD_RESPONSE', `${where}: ${method} ${path} answered HTTP ${response.status}${reason === null ? '' : ` (${reason.reason}${reason.message === '' ? '' : `: ${reason.message.slice(0, 200)}`})`}`);
  };
  const getUser = async (username: string): Promise<DirectoryUser | null> => {
    const response = await call('GET', 'user', { username });
    if (response.status === 404) return null;
    if (response.status !== 200) throw fail('GET', 'user', response);
    const u = response.data as { name?: string; key?: string; email?: string; active?: boolean; 'display-name'?: string };
    if (typeof u.name !== 'string') throw new DirbridgeError('ERR_CROWD_RESPONSE', `${where}: GET user returned no user name`);
    return toUser({ name: u.name, ...(u.key === undefined ? {} : { key: u.key }), ...(u.email === undefined ? {} : { email: u.email }), ...(u.active === undefined ? {} : { active: u.active }), displayName: u['display-name'] ?? '' });
  };

  return {
    async provisionCustomer(request) {
      const display = request.displayName ?? request.email.slice(0, request.email.indexOf('@'));
      const space = display.indexOf(' ');
      const created = await call('POST', 'user', {}, {
        name: request.username,
        email: request.email,
        'display-name': display,
        'first-name': space < 0 ? display : display.slice(0, space),
        'last-name': space < 0 ? display : display.slice(space + 1),
        active: true,
        password: { value: randomBytes(24).toString('base64url') },
      });
      let fresh = created.status === 201;
      if (!fresh) {
        if (created.status !== 400 || reasonOf(created.data)?.reason !== 'INVALID_USER') throw fail('POST', 'user', created);
        const existing = await getUser(request.username);
        if (existing === null || (existing.email ?? '').toLowerCase() !== request.email.toLowerCase()) {
          throw new DirbridgeError('ERR_CROWD_RESPONSE', `${where}: Crowd refused to create the user ${request.username}: ${reasonOf(created.data)?.message ?? 'invalid user'}${existing === null ? '' : ' (a user of that name exists with another address)'}`);
        }
        fresh = false;
      }
      const joined = await call('POST', 'user/group/direct', { username: request.username }, { name: request.group });
      if (joined.status !== 201 && joined.status !== 409) {
        if (joined.status === 400 && reasonOf(joined.data)?.reason === 'GROUP_NOT_FOUND') {
          throw new DirbridgeError('ERR_CONFIG', `${where}: the group ${request.group} (signup.target.group) does not exist in Crowd; the user ${request.username} was created without it — create the group and sign up again`);
        }
        throw fail('POST', 'user/group/direct', joined);
      }
      const user = await getUser(request.username);
      if (user === null) throw new DirbridgeError('ERR_CROWD_RESPONSE', `${where}: the user ${request.username} was created but cannot be read back`);
      return { user, created: fresh };
    },

    async probeWrites(group) {
      const members = await call('GET', 'group/user/direct', { groupname: group, 'start-index': '0', 'max-results': '1' });
      if (members.status === 404) return { writes: 'unknown', detail: `the group ${group} does not exist in Crowd` };
      if (members.status !== 200) throw fail('GET', 'group/user/direct', members);
      const list = ((members.data as { users?: { name?: string }[]; user?: { name?: string }[] }).users ?? (members.data as { user?: { name?: string }[] }).user ?? []) as { name?: string }[];
      const member = list[0]?.name;
      if (member === undefined) return { writes: 'unknown', detail: `the group ${group} has no member to probe with (the probe re-adds an existing membership, which changes nothing)` };
      // Re-adding an existing direct membership changes nothing either way: 409 means Crowd let the write through to its membership check.
      const probe = await call('POST', 'user/group/direct', { username: member }, { name: group });
      if (probe.status === 409) return { writes: 'allowed', detail: `re-adding ${member} to ${group} answered 409 MEMBERSHIP_ALREADY_EXISTS: the application may write` };
      if (probe.status === 403) return { writes: 'read-only', detail: READ_ONLY_ADVICE };
      if (probe.status === 401) throw fail('POST', 'user/group/direct', probe);
      return { writes: 'unknown', detail: `the probe answered HTTP ${probe.status}` };
    },

    async close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

function reasonOf(body: unknown): { reason: string; message: string } | null {
  if (body !== null && typeof body === 'object' && typeof (body as { reason?: unknown }).reason === 'string') {
    return { reason: (body as { reason: string }).reason, message: String((body as { message?: unknown }).message ?? '') };
  }
  if (typeof body === 'string') {
    const reason = /<reason>([^<]*)<\/reason>/.exec(body)?.[1];
    if (reason !== undefined) return { reason, message: /<message>([^<]*)<\/message>/.exec(body)?.[1] ?? '' };
  }
  return null;
}
