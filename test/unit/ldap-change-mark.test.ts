import { describe, expect, it } from 'vitest';
import {
  changeFilter,
  decodeChangeMark,
  encodeChangeMark,
  formatGeneralizedTime,
  parseGeneralizedTime,
  timestampMark,
  usnMark,
  type ServerState,
} from '../../connectors/ldap/change-cursor.js';

/**
 * The LDAP change mark. slapd cannot be Active Directory, so the uSNChanged side (a mark per domain
 * controller, read whole when another DC answers or the DC was restored) is proven here on the rootDSE
 * values AD gives; the modifyTimestamp side also runs against slapd in ldap-incremental-random.test.ts.
 */
const DC1 = 'CN=NTDS Settings,CN=DC1,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=corp,DC=example';
const DC2 = DC1.replace('DC1', 'DC2');
const ad = (dc: string, usn: string, invocationId: string | null = 'aa11'): ServerState => ({ usn: { dc, invocationId, highestCommittedUsn: usn } });
const openldap: ServerState = { usn: null };

describe('Active Directory: uSNChanged per domain controller', () => {
  it('takes the DC, its invocationId and highestCommittedUSN, and reads from the next USN on the same DC', () => {
    const mark = usnMark(ad(DC1, '12345'), 'settings-1');
    expect(mark).toEqual({ kind: 'usn', settings: 'settings-1', dc: DC1, invocationId: 'aa11', usn: '12345' });
    const cursor = encodeChangeMark(mark as NonNullable<typeof mark>);
    expect(decodeChangeMark(cursor)).toEqual(mark);
    expect(changeFilter(cursor, ad(DC1, '12400'), 'settings-1')).toEqual({ kind: 'since', attribute: 'uSNChanged', value: '12346' });
    // The DN as the server spells it may differ in case only.
    expect(changeFilter(cursor, ad(DC1.toUpperCase(), '12345'), 'settings-1')).toMatchObject({ kind: 'since', value: '12346' });
    // USNs past 2^53 stay exact.
    const big = encodeChangeMark({ kind: 'usn', settings: 's', dc: DC1, invocationId: null, usn: '9007199254740993' });
    expect(changeFilter(big, ad(DC1, '9007199254740999', null), 's')).toEqual({ kind: 'since', attribute: 'uSNChanged', value: '9007199254740994' });
  });

  it('reads whole, saying why, when another DC answers, the DC was restored, its USN went back, or it is no longer AD', () => {
    const cursor = encodeChangeMark({ kind: 'usn', settings: 's', dc: DC1, invocationId: 'aa11', usn: '500' });
    expect(changeFilter(cursor, ad(DC2, '900'), 's')).toEqual({ kind: 'full', reason: expect.stringContaining(`another domain controller answered (${DC2}, the mark is of ${DC1}): uSNChanged is counted per domain controller`) });
    expect(changeFilter(cursor, ad(DC1, '900', 'bb22'), 's')).toEqual({ kind: 'full', reason: expect.stringContaining("the domain controller's invocationId changed (aa11 → bb22") });
    expect(changeFilter(cursor, ad(DC1, '499'), 's')).toEqual({ kind: 'full', reason: expect.stringContaining('highestCommittedUSN (499) is below the change mark (500)') });
    expect(changeFilter(cursor, openldap, 's')).toEqual({ kind: 'full', reason: expect.stringContaining('no longer reports highestCommittedUSN') });
    // An invocationId the bind account could not read on either side does not block the DC check.
    expect(changeFilter(cursor, ad(DC1, '900', null), 's')).toMatchObject({ kind: 'since', value: '501' });
  });
});

describe('modifyTimestamp marks (OpenLDAP, 389 DS, FreeIPA)', () => {
  it('are the newest change seen minus the read time and one second, never moving back', () => {
    const newest = Date.UTC(2026, 11, 3, 1, 15, 30);
    expect(timestampMark(newest, 2400, null)).toBe('20261203011526Z'); // 3 s of read (rounded up) + 1 s
    expect(timestampMark(newest, 0, '20261203011600Z')).toBe('20261203011600Z');
    expect(timestampMark(null, 100, '20261203011600Z')).toBe('20261203011600Z');
    expect(timestampMark(null, 100, null)).toBeNull();
  });

  it('parses generalized time with fractions and offsets, and formats whole UTC seconds', () => {
    expect(parseGeneralizedTime('20261203011530Z')).toBe(Date.UTC(2026, 11, 3, 1, 15, 30));
    expect(parseGeneralizedTime('20261203011530.250Z')).toBe(Date.UTC(2026, 11, 3, 1, 15, 30, 250));
    expect(parseGeneralizedTime('20261203021530+0100')).toBe(Date.UTC(2026, 11, 3, 1, 15, 30));
    expect(parseGeneralizedTime('not a time')).toBeNull();
    expect(formatGeneralizedTime(Date.UTC(2026, 0, 2, 3, 4, 5, 999))).toBe('20260102030405Z');
  });

  it('read from a timestamp mark; another server kind, other read settings or an unknown mark read whole', () => {
    const cursor = encodeChangeMark({ kind: 'timestamp', settings: 's', mark: '20261203011526Z' });
    expect(changeFilter(cursor, openldap, 's')).toEqual({ kind: 'since', attribute: 'modifyTimestamp', value: '20261203011526Z' });
    expect(changeFilter(cursor, ad(DC1, '1'), 's')).toMatchObject({ kind: 'full', reason: expect.stringContaining('now an Active Directory domain controller') });
    expect(changeFilter(cursor, openldap, 'other')).toMatchObject({ kind: 'full', reason: expect.stringContaining('search bases, filters or attribute mapping changed') });
    expect(changeFilter('crowd-token-123', openldap, 's')).toMatchObject({ kind: 'full', reason: expect.stringContaining('not one this version of dirbridge reads') });
    expect(decodeChangeMark('ldap1:{"kind":"usn","settings":"s","dc":"x","usn":"12a"}')).toBeNull();
  });
});
