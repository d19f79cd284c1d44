import { writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeWorkspace, runCliAsync } from '../helpers/cli.js';
import { EXAMPLE_USERS, exampleLdif, corpLdif, GROUPS, PEOPLE } from '../helpers/ldap-fixtures.js';
import { startSlapd, SVC_DN, SVC_PW, type Slapd } from '../helpers/slapd.js';
import { random } from '../helpers/random.js';

/**
 * LDAP incremental equals full: random change sets are made in a real slapd (users added, changed,
 * disabled, deleted, re-created at a DN groups still name, renamed and moved out of the search base
 * by modrdn, moved back in and into sub-OUs; members added and removed by DN and by memberUid; groups created, nested, un-nested,
 * renamed and deleted; and once a config change). After each set an incremental sync runs, then a
 * full sync must find nothing left to do. Seeded, so a failure is replayed by its seed.
 */
const PARTNERS = 'ou=Partners,dc=example,dc=com';
const config = (url: string, caFile: string, policy: { customerGroups: string[]; onLicensedMembership: string }): string => `store: { url: "file:./store.db" }
directories:
  - id: corp
    type: ldap
    url: ${url}
    tls: { caFile: ${caFile} }
    bind: { dn: "${SVC_DN}", password: "${SVC_PW}" }
    users: { baseDn: "${PEOPLE}" }
    groups: { baseDn: "${GROUPS}" }
    pageSize: 20
roles: { customer: { groups: [${policy.customerGroups.join(', ')}] } }
licensing: { licensedGroups: [jira-servicedesk-users], onLicensedMembership: ${policy.onLicensedMembership} }
`;


interface Model {
  /** uid → DN of the users in ou=People. */
  users: Map<string, string>;
  /** DNs of users once deleted or moved away (groups may still name them). */
  gone: string[];
  /** uids of the users locked (pwdAccountLockedTime; user002 starts locked). */
  locked: Set<string>;
  /** uids of users moved out to ou=Partners (out of the search base). */
  away: string[];
  /** Team OUs made under ou=People. (slapd 2.5's mdb refuses to rename one that has entries below it,
   * "DN index add failed": users moved by a renamed parent are tested in ldap-incremental-safety.) */
  teams: string[];
  /** cn → { member DNs, memberUid names } of the groups. */
  groups: Map<string, { posix: boolean; members: Set<string>; uids: Set<string> }>;
}

const PROTECTED = new Set(['sd-customers', 'jira-servicedesk-users', 'partner-portal']);
const userDn = (uid: string): string => `uid=${uid},${PEOPLE}`;
const groupDn = (cn: string): string => `cn=${cn},${GROUPS}`;

function initialModel(): Model {
  const users = new Map<string, string>();
  for (let i = 0; i < EXAMPLE_USERS; i++) {
    const uid = `user${String(i).padStart(3, '0')}`;
    users.set(uid, userDn(uid));
  }
  const range = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, k) => userDn(`user${String(from + k).padStart(3, '0')}`));
  const groups: Model['groups'] = new Map([
    ['sd-customers', { posix: false, members: new Set([groupDn('emea-customers'), ...range(0, 20)]), uids: new Set<string>() }],
    ['emea-customers', { posix: false, members: new Set([groupDn('benelux-customers'), ...range(20, 60)]), uids: new Set<string>() }],
    ['benelux-customers', { posix: false, members: new Set([groupDn('emea-customers'), ...range(60, 80)]), uids: new Set<string>() }],
    ['partner-portal', { posix: true, members: new Set<string>(), uids: new Set(range(80, 90).map((dn) => /uid=([^,]+)/.exec(dn)?.[1] ?? '')) }],
    ['jira-servicedesk-users', { posix: false, members: new Set([userDn('user019'), ...range(100, 105)]), uids: new Set<string>() }],
  ]);
  return { users, gone: [], away: [], teams: [], groups, locked: new Set(['user002']) };
}

/** Makes `count` random changes in slapd (ldapmodify as the rootdn); returns what was done. */
function randomChanges(slapd: Slapd, model: Model, next: () => number, round: number, count: number): string[] {
  const pick = <T>(list: readonly T[]): T | undefined => list[Math.floor(next() * list.length)];
  const done: string[] = [];
  let deletions = 0;
  for (let n = 0; done.length < count && n < count * 10; n++) {
    const tag = `r${round}n${n}`;
    const kinds = ['create', 'recreate', 'mail', 'name', 'disable', 'delete', 'rename', 'moveOut', 'moveIn', 'intoTeam', 'add', 'remove', 'addUid', 'removeUid', 'createGroup', 'nest', 'unnest', 'renameGroup', 'deleteGroup'] as const;
    const kind = pick(kinds);
    const uid = pick([...model.users.keys()]);
    const cn = pick([...model.groups.keys()]);
    const other = pick([...model.groups.keys()]);
    if (kind === undefined || uid === undefined || cn === undefined || other === undefined) continue;
    const dn = model.users.get(uid) as string;
    const group = model.groups.get(cn) as Model['groups'] extends Map<string, infer G> ? G : never;
    const modify = (target: string, body: string): void => slapd.modify(`dn: ${target}\nchangetype: modify\n${body}\n`);
    switch (kind) {
      case 'create': {
        const name = `new${tag}`;
        slapd.modify(`dn: ${userDn(name)}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: ${name}\ncn: New ${tag}\nsn: ${tag}\nmail: ${name}@example.org\n`);
        model.users.set(name, userDn(name));
        if (!group.posix && next() < 0.7) {
          modify(groupDn(cn), `add: member\nmember: ${userDn(name)}`);
          group.members.add(userDn(name));
        }
        break;
      }
      case 'recreate': {
        // A new entry at a DN that groups may still name (deleted or moved away before).
        const old = pick(model.gone.filter((d) => /^uid=[^,]+,ou=People,dc=example,dc=com$/.test(d)));
        if (old === undefined) continue;
        const name = /^uid=([^,]+)/.exec(old)?.[1] ?? '';
        if (model.users.has(name) || model.away.includes(name)) continue;
        slapd.modify(`dn: ${old}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: ${name}\ncn: Again ${tag}\nsn: ${tag}\nmail: again-${tag}@example.org\n`);
        model.users.set(name, old);
        model.gone = model.gone.filter((d) => d !== old);
        break;
      }
      case 'mail':
        modify(dn, `replace: mail\nmail: changed-${tag}@example.org`);
        break;
      case 'name':
        modify(dn, `replace: displayName\ndisplayName: Renamed ${tag}`);
        break;
      case 'disable': {
        const locked = model.locked.has(uid);
        modify(dn, locked ? 'delete: pwdAccountLockedTime' : 'add: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z');
        if (locked) model.locked.delete(uid);
        else model.locked.add(uid);
        break;
      }
      case 'delete':
        if (deletions >= 2) continue; // the count-drop gate is tested apart
        deletions++;
        slapd.modify(`dn: ${dn}\nchangetype: delete\n`);
        model.users.delete(uid);
        model.locked.delete(uid);
        model.gone.push(dn);
        break;
      case 'rename': {
        const name = `${uid.replace(/-.*$/, '')}-${tag}`;
        slapd.modify(`dn: ${dn}\nchangetype: modrdn\nnewrdn: uid=${name}\ndeleteoldrdn: 1\n`);
        model.users.delete(uid);
        model.users.set(name, `uid=${name},${dn.slice(dn.indexOf(',') + 1)}`);
        if (model.locked.delete(uid)) model.locked.add(name);
        model.gone.push(dn);
        break;
      }
      case 'moveIn': {
        // Back into the search base from ou=Partners: the same entry (entryUUID) again in scope.
        const name = pick(model.away);
        if (name === undefined || model.users.has(name)) continue;
        slapd.modify(`dn: uid=${name},${PARTNERS}\nchangetype: modrdn\nnewrdn: uid=${name}\ndeleteoldrdn: 1\nnewsuperior: ${PEOPLE}\n`);
        model.away = model.away.filter((a) => a !== name);
        model.users.set(name, userDn(name));
        break;
      }
      case 'intoTeam': {
        let team = pick(model.teams);
        if (team === undefined || next() < 0.3) {
          team = `ou=team-${tag},${PEOPLE}`;
          slapd.modify(`dn: ${team}\nchangetype: add\nobjectClass: organizationalUnit\nou: team-${tag}\n`);
          model.teams.push(team);
        }
        if (dn.endsWith(`,${team}`)) continue;
        slapd.modify(`dn: ${dn}\nchangetype: modrdn\nnewrdn: uid=${uid}\ndeleteoldrdn: 1\nnewsuperior: ${team}\n`);
        model.users.set(uid, `uid=${uid},${team}`);
        model.gone.push(dn);
        break;
      }
      case 'add':
        if (group.posix || group.members.has(dn)) continue;
        modify(groupDn(cn), `add: member\nmember: ${dn}`);
        group.members.add(dn);
        break;
      case 'remove': {
        const member = pick([...group.members]);
        if (member === undefined || group.members.size < 2) continue;
        modify(groupDn(cn), `delete: member\nmember: ${member}`);
        group.members.delete(member);
        break;
      }
      case 'addUid': {
        const portal = model.groups.get('partner-portal');
        if (portal === undefined || portal.uids.has(uid)) continue;
        modify(groupDn('partner-portal'), `add: memberUid\nmemberUid: ${uid}`);
        portal.uids.add(uid);
        break;
      }
      case 'removeUid': {
        const portal = model.groups.get('partner-portal');
        const name = pick([...(portal?.uids ?? [])]);
        if (portal === undefined || name === undefined) continue;
        modify(groupDn('partner-portal'), `delete: memberUid\nmemberUid: ${name}`);
        portal.uids.delete(name);
        break;
      }
      case 'createGroup': {
        const name = `grp-${tag}`;
        const members = [...model.users.values()].filter(() => next() < 0.1);
        if (members.length === 0) continue;
        slapd.modify(`dn: ${groupDn(name)}\nchangetype: add\nobjectClass: groupOfNames\ncn: ${name}\n${members.map((m) => `member: ${m}`).join('\n')}\n`);
        model.groups.set(name, { posix: false, members: new Set(members), uids: new Set() });
        break;
      }
      case 'nest':
        if (cn === other || group.posix || group.members.has(groupDn(other))) continue;
        modify(groupDn(cn), `add: member\nmember: ${groupDn(other)}`);
        group.members.add(groupDn(other));
        break;
      case 'unnest': {
        const child = pick([...group.members].filter((m) => m.startsWith('cn=')));
        if (child === undefined || group.members.size < 2) continue;
        modify(groupDn(cn), `delete: member\nmember: ${child}`);
        group.members.delete(child);
        break;
      }
      case 'renameGroup': {
        if (PROTECTED.has(cn)) continue;
        const name = `${cn.replace(/-x.*$/, '')}-x${tag}`;
        slapd.modify(`dn: ${groupDn(cn)}\nchangetype: modrdn\nnewrdn: cn=${name}\ndeleteoldrdn: 1\n`);
        model.groups.set(name, group);
        model.groups.delete(cn);
        break;
      }
      case 'deleteGroup':
        if (PROTECTED.has(cn)) continue;
        slapd.modify(`dn: ${groupDn(cn)}\nchangetype: delete\n`);
        model.groups.delete(cn);
        break;
      default:
        continue;
    }
    done.push(`${kind} (user ${uid}, groups ${cn}, ${other})`);
  }
  return done;
}

describe('LDAP incremental sync equals a full sync (randomized, real slapd)', () => {
  let slapd: Slapd;
  beforeEach(async () => {
    slapd = await startSlapd({ example: exampleLdif(), corp: corpLdif() });
  }, 60_000);
  afterEach(async () => {
    await slapd?.stop();
  });

  for (const seed of [20261203, 11, 909]) {
    it(`seed ${seed}: after each random change set, incremental then full reports zero changes; a config change reads whole`, async () => {
      const next = random(seed);
      const model = initialModel();
      const policy = { customerGroups: ['sd-customers', 'partner-portal'], onLicensedMembership: 'strip' };
      const ws = makeWorkspace(config(slapd.ldapsUrl, slapd.caFile, policy));
      const cli = (...args: string[]) => runCliAsync(['--config', ws.config, ...args], { cwd: ws.dir });
      const first = await cli('sync', '--mode', 'incremental');
      expect(first.status, first.stdout + first.stderr).toBe(0);
      expect(first.stdout).toContain('corp: full read: no stored snapshot and change mark yet');
      const rounds = 8;
      const configRound = 1 + Math.floor(next() * (rounds - 1));
      for (let round = 0; round < rounds; round++) {
        const changes = randomChanges(slapd, model, next, round, 4 + Math.floor(next() * 6));
        const context = `seed ${seed}, round ${round}: ${changes.join('; ')}`;
        if (round === configRound) {
          policy.onLicensedMembership = policy.onLicensedMembership === 'strip' ? 'exclude' : 'strip';
          const extra = [...model.groups.keys()].find((g) => !PROTECTED.has(g));
          policy.customerGroups = ['sd-customers', 'partner-portal', ...(extra === undefined ? [] : [extra])];
          writeFileSync(ws.config, config(slapd.ldapsUrl, slapd.caFile, policy));
        }
        const incremental = await cli('sync', '--mode', 'incremental');
        expect(incremental.status, `${context}\n${incremental.stdout}\n${incremental.stderr}`).toBe(0);
        if (round === configRound) expect(incremental.stdout, context).toContain('corp: full read: the config changed since the last read');
        else expect(incremental.stdout, `${context}\n${incremental.stdout}`).toMatch(/corp: incremental read, \d+ changes/);
        const full = await cli('sync', '--dry-run'); // a whole read planned against the store: the next incremental run goes on from the incremental rows
        expect(full.status, `${context}\n${full.stdout}\n${full.stderr}`).toBe(0);
        expect(full.stdout, `${context}\n--- incremental:\n${incremental.stdout}\n--- full:\n${full.stdout}`).toContain('created 0, updated 0, reactivated 0, deactivated 0');
        expect(full.stdout, context).toContain('withheld 0');
      }
    }, 240_000);
  }
});
