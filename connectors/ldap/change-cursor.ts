/**
 * The change mark of an LDAP directory: where its next incremental read starts. Kept by the engine as
 * the stored snapshot's cursor (an opaque string), so it is encoded here with everything the next read
 * must check before it trusts it.
 *
 * - Active Directory (the rootDSE has `highestCommittedUSN` and `dsServiceName`): the domain
 *   controller's `highestCommittedUSN` taken **before** the read. Every later change on that DC has a
 *   higher `uSNChanged`, so the next read asks for `uSNChanged >= usn + 1`. USNs are counted per
 *   domain controller: the mark names the DC (`dsServiceName`) and its database (`invocationId`, new
 *   after a restore from backup), and any other DC, or the same one restored, means a full read.
 * - Every other server (OpenLDAP, 389 DS, FreeIPA): `modifyTimestamp`, which has one-second
 *   granularity and no server clock to ask for. The mark is the newest `modifyTimestamp` the read saw,
 *   minus the read's own duration, minus one second. That newest change happened before the read
 *   ended, so the server's clock at the start of the read was at least the mark: every change made
 *   after the read started is at or after it. The next read asks for `modifyTimestamp >= mark` and
 *   reads again the few entries changed in that overlap (harmless: unchanged rows change nothing).
 *
 * Both carry a hash of the directory's read settings (URL, search bases, scopes, filters, attribute
 * mapping): rows read under other settings are not continued from.
 */

export type ChangeMark =
  | { readonly kind: 'timestamp'; readonly settings: string; readonly mark: string }
  | { readonly kind: 'usn'; readonly settings: string; readonly dc: string; readonly invocationId: string | null; readonly usn: string };

/** What the rootDSE says about the server: its USN state when it is an Active Directory domain controller. */
export interface ServerState {
  readonly usn: { readonly dc: string; readonly invocationId: string | null; readonly highestCommittedUsn: string } | null;
}

const PREFIX = 'ldap1:';
const OVERLAP_MS = 1000;
const USN = /^\d{1,20}$/;

export function encodeChangeMark(mark: ChangeMark): string {
  return PREFIX + JSON.stringify(mark);
}

export function decodeChangeMark(cursor: string): ChangeMark | null {
  if (!cursor.startsWith(PREFIX)) return null;
  try {
    const value = JSON.parse(cursor.slice(PREFIX.length)) as Partial<Record<string, unknown>>;
    if (typeof value['settings'] !== 'string') return null;
    if (value['kind'] === 'timestamp' && typeof value['mark'] === 'string' && parseGeneralizedTime(value['mark']) !== null) {
      return { kind: 'timestamp', settings: value['settings'], mark: value['mark'] };
    }
    if (value['kind'] === 'usn' && typeof value['dc'] === 'string' && typeof value['usn'] === 'string' && USN.test(value['usn'])) {
      const invocationId = typeof value['invocationId'] === 'string' ? value['invocationId'] : null;
      return { kind: 'usn', settings: value['settings'], dc: value['dc'], invocationId, usn: value['usn'] };
    }
    return null;
  } catch {
    return null;
  }
}

/** The mark a read starts with on this server (AD: its USN now), or null for a timestamp mark, which only a read can give. */
export function usnMark(server: ServerState, settings: string): ChangeMark | null {
  if (server.usn === null) return null;
  return { kind: 'usn', settings, dc: server.usn.dc, invocationId: server.usn.invocationId, usn: server.usn.highestCommittedUsn };
}

export type ChangeFilter = { readonly kind: 'since'; readonly attribute: 'uSNChanged' | 'modifyTimestamp'; readonly value: string } | { readonly kind: 'full'; readonly reason: string };

/**
 * Where an incremental read starts from the stored mark, or why it cannot (then the directory is read
 * whole). `settings` is the hash of the directory's read settings now.
 */
export function changeFilter(cursor: string, server: ServerState, settings: string): ChangeFilter {
  const stored = decodeChangeMark(cursor);
  if (stored === null) return { kind: 'full', reason: 'the stored change mark is not one this version of dirbridge reads' };
  if (stored.settings !== settings) return { kind: 'full', reason: "the directory's URL, search bases, filters or attribute mapping changed since the last read" };
  if (stored.kind === 'timestamp') {
    if (server.usn !== null) return { kind: 'full', reason: 'the server is now an Active Directory domain controller (changes are tracked by uSNChanged there, not modifyTimestamp)' };
    return { kind: 'since', attribute: 'modifyTimestamp', value: stored.mark };
  }
  if (server.usn === null) return { kind: 'full', reason: 'the server no longer reports highestCommittedUSN: it is not the Active Directory domain controller the change mark came from' };
  if (server.usn.dc.toLowerCase() !== stored.dc.toLowerCase()) {
    return { kind: 'full', reason: `another domain controller answered (${server.usn.dc}, the mark is of ${stored.dc}): uSNChanged is counted per domain controller` };
  }
  if (stored.invocationId !== null && server.usn.invocationId !== null && stored.invocationId !== server.usn.invocationId) {
    return { kind: 'full', reason: `the domain controller's invocationId changed (${stored.invocationId} → ${server.usn.invocationId}: restored from a backup?), so its uSNChanged values may repeat` };
  }
  if (BigInt(server.usn.highestCommittedUsn) < BigInt(stored.usn)) {
    return { kind: 'full', reason: `the domain controller's highestCommittedUSN (${server.usn.highestCommittedUsn}) is below the change mark (${stored.usn})` };
  }
  return { kind: 'since', attribute: 'uSNChanged', value: (BigInt(stored.usn) + 1n).toString() };
}

/**
 * The timestamp mark after a read: the newest modifyTimestamp seen, minus the read's duration and one
 * second, never before the previous mark. Null when the read saw no timestamp and there was no previous mark.
 */
export function timestampMark(newestSeenMs: number | null, readMs: number, previous: string | null): string | null {
  const before = previous === null ? null : parseGeneralizedTime(previous);
  if (newestSeenMs === null) return previous;
  const mark = newestSeenMs - Math.ceil(Math.max(0, readMs) / 1000) * 1000 - OVERLAP_MS;
  if (before !== null && before >= mark) return previous;
  return formatGeneralizedTime(mark);
}

const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{4})$/;

/** An LDAP GeneralizedTime (20261203011500Z, with optional fraction or offset) in ms since the epoch, or null. */
export function parseGeneralizedTime(text: string): number | null {
  const m = GENERALIZED_TIME.exec(text.trim());
  if (m === null) return null;
  const [, y, mo, d, h, mi, s, fraction, zone] = m as unknown as [string, string, string, string, string, string, string | undefined, string | undefined, string];
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), fraction === undefined ? 0 : Math.floor(Number(`0.${fraction}`) * 1000));
  if (Number.isNaN(ms)) return null;
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    ms -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) * 60_000;
  }
  return ms;
}

/** Whole seconds, UTC: the form every server compares modifyTimestamp with. */
export function formatGeneralizedTime(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
}
