import { ConnectionString } from 'mongodb-connection-string-url';

/**
 * A MongoDB URL for people: scheme, user name, hosts and database, never the password or the options.
 * Parsed with the driver's own connection-string parser; a URL it refuses (a password with an
 * unencoded `@`, `/`, `:`, `?`, `#`, `[` or `]`) is cut at its last `@`, so that whatever the
 * password holds, no part of it is shown.
 */
export function redactMongoUrl(url: string): string {
  const scheme = /^mongodb(?:\+srv)?:\/\//.exec(url)?.[0];
  if (scheme === undefined) return 'mongodb://(unparseable URL)';
  let parsed: ConnectionString;
  try {
    parsed = new ConnectionString(url);
  } catch {
    return unparseable(scheme, url.slice(scheme.length));
  }
  const user = parsed.username === '' ? '' : `${decodeSafe(parsed.username)}:…@`;
  return `${scheme}${user}${parsed.hosts.join(',')}${parsed.pathname === '/' ? '' : parsed.pathname}`;
}

/** Everything up to the last `@` may be user information, whatever characters it holds: none of it is shown. */
function unparseable(scheme: string, rest: string): string {
  const at = rest.lastIndexOf('@');
  const hosts = (at < 0 ? rest : rest.slice(at + 1)).split(/[/?#]/)[0] ?? '';
  return `${scheme}${at < 0 ? '' : '…@'}${hosts === '' ? '(unparseable URL)' : `${hosts} (unparseable URL)`}`;
}

function decodeSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
