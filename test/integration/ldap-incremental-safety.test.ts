import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeChangeMark, encodeChangeMark } from '../../connectors/ldap/change-cursor.js';
import { parseConfig } from '../../src/config/load-config.js';
import { openConnector } from '../../src/engine/open-connector.js';
import { runSync, type SyncOptions } from '../../src/engine/run-sync.js';
import { createLogger } from '../../src/logger.js';
import type { SyncStore } from '../../src/ports/store.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { corpLdif, exampleLdif, GROUPS, PEOPLE, userDn } from '../helpers/ldap-fixtures.js';
import { LIMITED_DN, startSlapd, SVC_DN, SVC_PW, type Slapd } from '../helpers/slapd.js';

/**
 * The safety rules in LDAP incremental mode, against a real slapd: an ids-only pass that fails proves
 * no absence (nobody is deactivated, the stored snapshot stays), the count-drop gate and the
 * deactivation limit apply to an incremental read as to a full one.
 */
const logger = createLogger({ level: 'silent' });
let slapd: Slapd;
let dir: string;
let store: SyncStore | undefined;
beforeEach(async () => {
  slapd = await startSlapd({ example: exampleLdif(), corp: corpLdif() });
  dir = mkdtempSync(join(tmpdir(), 'dirbridge-ldap-incr-'));
}, 60_000);
afterEach(async () => {
  await store?.close();
  store = undefined;
  await slapd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function engine(options: { bindDn?: string; safety?: string; directory?: string } = {}) {
  const yaml = `store: { url: "file:${dir}/store.db" }
directories:
  - id: corp
    type: ldap
    url: ${slapd.ldapsUrl}
    tls: { caFile: ${slapd.caFile} }
    bind: { dn: "${options.bindDn ?? SVC_DN}", password: "${SVC_PW}" }
    ${options.directory ?? `users: { baseDn: "${PEOPLE}" }
    groups: { baseDn: "${GROUPS}" }`}
    pageSize: 10
roles: { customer: { groups: [sd-customers] } }
licensing: { licensedGroups: [jira-servicedesk-users] }
${options.safety ?? ''}
`;
  const loaded = parseConfig(yaml, { path: join(dir, 'dirbridge.yml'), env: {} });
  store ??= openSqliteStore({ path: join(dir, 'store.db'), licensedGroups: loaded.config.licensing.licensedGroups });
  const deps = { loaded, store: store, logger, openConnector: (d: Parameters<typeof openConnector>[0]) => openConnector(d, { logger, baseDir: dir }) };
  return (options: SyncOptions = {}) => runSync(deps, options);
}

const opened = (): SyncStore => store as SyncStore;
const deleteUsers = (indexes: number[]): void => slapd.modify(indexes.map((i) => `dn: ${userDn(i)}\nchangetype: delete\n`).join('\n'));

describe('LDAP incremental reads keep the safety rules', () => {
  it('a failed ids-only pass deactivates nobody and leaves the stored snapshot where it was', async () => {
    const sync = engine();
    // A change made seconds after the data was loaded, so that the change mark passes the load time
    // and the next change search returns only what changed since (fewer entries than the size limit).
    await new Promise((resolve) => setTimeout(resolve, 3100));
    slapd.modify(`dn: ${userDn(3)}\nchangetype: modify\nreplace: mail\nmail: moved-on@example.org\n`);
    expect((await sync()).outcome).toBe('success');
    const head = await opened().incremental.head('corp');
    const before = await opened().loadCurrent();
    expect(before.filter((c) => c.active)).toHaveLength(79);

    deleteUsers([4, 5, 6]);
    slapd.modify(`dn: ${userDn(7)}\nchangetype: modify\nreplace: mail\nmail: seven@example.org\n`);
    // svc-limited keeps the server's size limit (50): the change search (a few entries) passes, the
    // ids-only pass over 117 users does not.
    const limited = await engine({ bindDn: LIMITED_DN })({ mode: 'incremental' });
    expect(limited.outcome).toBe('partial');
    expect(limited.failures).toEqual([expect.objectContaining({ directoryId: 'corp', code: 'ERR_LDAP_SEARCH', message: expect.stringContaining('in the ids-only pass of an incremental read') })]);
    expect(limited.failures[0]?.message).toContain('size limit');
    expect(limited.plan.summary).toMatchObject({ create: 0, update: 0, deactivate: 0 });
    expect(limited.written).toBe(0);
    expect(await opened().loadCurrent()).toEqual(before);
    expect(await opened().incremental.head('corp')).toEqual(head);

    const next = await sync({ mode: 'incremental' });
    expect(next.reads).toEqual([expect.objectContaining({ directoryId: 'corp', mode: 'incremental' })]);
    expect(next.plan.summary).toMatchObject({ deactivate: 3, update: 1 });
    expect(next.outcome).toBe('success');
  }, 60_000);

  it('the count-drop gate withholds the deactivations of an incremental read that lost too many users', async () => {
    const sync = engine();
    expect((await sync({ mode: 'incremental' })).outcome).toBe('success');
    deleteUsers(Array.from({ length: 40 }, (_, k) => k + 40)); // 120 → 80 users: 33 % fewer (countDropPercent 30)
    const result = await sync({ mode: 'incremental' });
    expect(result.reads).toEqual([expect.objectContaining({ directoryId: 'corp', mode: 'incremental' })]);
    expect(result.plan.directories[0]).toMatchObject({ status: 'suspect', users: 80 });
    expect(result.plan.summary).toMatchObject({ deactivate: 0, withheld: 40 });
    expect(result.outcome).toBe('withheld');
    expect((await opened().loadCurrent()).filter((c) => c.active)).toHaveLength(79);
  }, 60_000);

  it('the deactivation limit rejects an incremental plan; the same changes are read again and applied when allowed', async () => {
    const sync = engine({ safety: 'safety: { maxDeactivations: { count: 2, percent: 10 } }' });
    expect((await sync({ mode: 'incremental' })).outcome).toBe('success');
    const head = await opened().incremental.head('corp');
    deleteUsers([10, 11, 12]);
    const rejected = await sync({ mode: 'incremental' });
    expect(rejected.reads).toEqual([expect.objectContaining({ mode: 'incremental' })]);
    expect(rejected.outcome).toBe('rejected');
    expect(rejected.plan.violations).toEqual([expect.objectContaining({ kind: 'too-many-deactivations' })]);
    expect(await opened().incremental.head('corp')).toEqual(head);
    const allowed = await sync({ mode: 'incremental', allowDeactivations: 3 });
    expect(allowed.reads).toEqual([expect.objectContaining({ mode: 'incremental' })]);
    expect(allowed.plan.summary).toMatchObject({ deactivate: 3 });
    expect(allowed.outcome).toBe('success');
  }, 60_000);

  it('reads whole and says why when the search settings changed, or when memberships come from memberOf', async () => {
    expect((await engine()({ mode: 'incremental' })).reads[0]?.note).toContain('full read: no stored snapshot and change mark yet');
    expect((await engine()({ mode: 'incremental' })).reads[0]).toMatchObject({ mode: 'incremental', note: expect.stringMatching(/^\d+ changes$/) });
    const filtered = engine({ directory: `users: { baseDn: "${PEOPLE}", filter: "(mail=*)" }\n    groups: { baseDn: "${GROUPS}" }` });
    expect((await filtered({ mode: 'incremental' })).reads[0]?.note).toBe("full read: the directory's URL, search bases, filters or attribute mapping changed since the last read");
    expect((await filtered({ mode: 'incremental' })).reads[0]?.mode).toBe('incremental');
    const memberOf = await engine({ directory: `users: { baseDn: "${PEOPLE}" }` })({ mode: 'incremental' });
    expect(memberOf.reads[0]?.note).toContain("no change mark for the next incremental run: memberships come from users' memberOf (no group search)");
  }, 60_000);

  it('users new or moved without a change of their own (a renamed parent entry) are read by their DN from the ids-only pass', async () => {
    const sync = engine();
    expect((await sync({ mode: 'incremental' })).outcome).toBe('success');
    // The stored mark moved past every change to come: only the ids-only pass can see them, as it sees
    // the users of a renamed OU (whose own entries, and marks, do not change).
    const head = await opened().incremental.head('corp');
    const mark = decodeChangeMark(head?.cursor ?? '');
    if (head === null || mark?.kind !== 'timestamp') throw new Error(`expected a timestamp mark, got ${head?.cursor}`);
    await opened().incremental.apply('corp', { users: [], deletedUsers: [], groups: [], deletedGroups: [] }, { ...head, cursor: encodeChangeMark({ ...mark, mark: '29991231235959Z' }) });
    slapd.modify(`dn: ${userDn(8)}\nchangetype: modrdn\nnewrdn: uid=user008-renamed\ndeleteoldrdn: 1\n`);
    slapd.modify(`dn: ${userDn(9)}\nchangetype: modrdn\nnewrdn: uid=user009\ndeleteoldrdn: 1\nnewsuperior: ou=Partners,dc=example,dc=com\n`);
    slapd.modify(`dn: uid=late,${PEOPLE}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: late\ncn: Late\nsn: Late\nmail: late@example.org\n`);
    slapd.modify(`dn: cn=sd-customers,${GROUPS}\nchangetype: modify\nadd: member\nmember: uid=late,${PEOPLE}\n`); // a group change the mark hides too
    const result = await sync({ mode: 'incremental' });
    expect(result.reads).toEqual([expect.objectContaining({ mode: 'incremental' })]);
    // user008 renamed: out of sd-customers, which names its old DN; user009 moved out of the base.
    // "late" is read by its DN, and the server says which unchanged group names that DN (sd-customers).
    expect(result.plan.summary).toMatchObject({ create: 1, deactivate: 2 });
    expect((await sync({ dryRun: true })).plan.summary).toMatchObject({ create: 0, update: 0, deactivate: 0, reactivate: 0 });
  }, 60_000);
});
