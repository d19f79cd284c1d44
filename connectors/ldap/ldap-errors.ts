import { DirbridgeError } from '../../src/errors.js';

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'ECONNABORTED', 'EPIPE']);

/**
 * ldapts reports a broken socket as a plain Error without a code, whatever the operation in flight:
 * "Socket error. Message type: BindRequest (0x60)\nread ECONNRESET", "Connection closed before message
 * response was received…", "Socket connection not established", "Connection timeout". In any phase
 * that is a lost connection (retryable), never a refused bind or a failed search.
 */
const CONNECTION_LOST = /timeout|connection closed|socket error|socket connection not established|ECONNRESET|EPIPE/i;

/**
 * ldapts and socket errors → one precise DirbridgeError, wrapped once at the connector edge.
 * Messages name the directory, the URL and the DN involved, never the password.
 */
export function ldapError(directoryId: string, url: string, phase: 'connect' | 'bind' | 'search', cause: unknown, context = ''): DirbridgeError {
  if (cause instanceof DirbridgeError) return cause;
  const e = cause as { code?: string | number; name?: string; message?: string };
  const where = `directory ${directoryId} (${url})`;
  if (typeof e.code === 'string' && TLS_CODES.has(e.code)) {
    return new DirbridgeError('ERR_LDAP_TLS', `${where}: TLS failure: ${tlsReason(e.code, e.message ?? '')}`, { cause, retryable: false });
  }
  if (/timed out/i.test(e.message ?? '')) {
    return new DirbridgeError('ERR_LDAP_CONNECT', `${where} stopped answering during ${phase} (timeouts.operationSeconds / connectSeconds): the read is incomplete`, { cause, retryable: true });
  }
  if ((typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) || CONNECTION_LOST.test(e.message ?? '')) {
    const reset = e.code === 'ECONNRESET' || /ECONNRESET/.test(e.message ?? '');
    const why = e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'ENOTFOUND' ? 'host not found' : reset ? 'connection reset' : (e.message ?? String(e.code)).split('\n')[0];
    return new DirbridgeError('ERR_LDAP_CONNECT', `${where} is unreachable during ${phase}: ${why}`, { cause, retryable: true });
  }
  switch (e.name) {
    case 'InvalidCredentialsError':
      return new DirbridgeError('ERR_LDAP_BIND', `${where}: bind as ${context} failed: invalid credentials (check bind.dn and the password reference)`, { cause, retryable: false });
    case 'ConfidentialityRequiredError':
    case 'StrongAuthRequiredError':
      return new DirbridgeError('ERR_LDAP_BIND', `${where}: the server requires a secure connection for binding: use ldaps:// or startTls: true`, { cause, retryable: false });
    case 'NoSuchObjectError':
      return new DirbridgeError('ERR_LDAP_SEARCH', `${where}: base DN not found: ${context} (check users.baseDn / groups.baseDn, and that the bind account may read it)`, { cause, retryable: false });
    case 'SizeLimitExceededError':
      return new DirbridgeError('ERR_LDAP_SEARCH', `${where}: the server's size limit cut the search under ${context} short${serverSaid(e)}: the read is incomplete. Raise the limit for the bind account (OpenLDAP: limits dn.exact="…" size=unlimited)`, { cause });
    case 'TimeLimitExceededError':
      return new DirbridgeError('ERR_LDAP_SEARCH', `${where}: the search under ${context} hit the time limit${serverSaid(e)}: the read is incomplete (raise timeouts.searchTimeLimitSeconds or the server's limit)`, { cause });
    case 'AdminLimitExceededError':
      if (/page ?size/i.test(e.message ?? '')) {
        return new DirbridgeError(
          'ERR_LDAP_SEARCH',
          `${where}: the server refused the page size of the search under ${context}${serverSaid(e)}. Fix: lower pageSize (users) or groupPageSize (groups) to what the server allows, or raise the bind account's limit (OpenLDAP: limits dn.exact="…" size.pr=…)`,
          { cause, retryable: false },
        );
      }
      return new DirbridgeError('ERR_LDAP_SEARCH', `${where}: an administrative limit cut the search under ${context} short${serverSaid(e)}: the read is incomplete`, { cause });
    case 'InsufficientAccessError':
      return new DirbridgeError('ERR_LDAP_SEARCH', `${where}: the bind account may not search ${context}`, { cause, retryable: false });
    default:
      return new DirbridgeError(phase === 'search' ? 'ERR_LDAP_SEARCH' : phase === 'bind' ? 'ERR_LDAP_BIND' : 'ERR_LDAP_CONNECT', `${where}: ${phase} failed: ${e.message ?? String(cause)}`, { cause });
  }
}

/** The server's own diagnostic message (ldapts puts it before " Code: 0x…"), quoted, or nothing. */
function serverSaid(e: { message?: string }): string {
  const text = (e.message ?? '').replace(/\s*Code: 0x[0-9a-f]+$/i, '').trim();
  return text === '' ? '' : ` (server: "${text}")`;
}

function tlsReason(code: string, message: string): string {
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return `the server certificate is not signed by a trusted CA (${code}): set tls.caFile to the CA's PEM file`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `the certificate does not name this host (${message}): connect by a name the certificate holds, or set tls.serverName`;
    case 'CERT_HAS_EXPIRED':
      return 'the server certificate has expired';
    default:
      return `${code}: ${message}`;
  }
}
