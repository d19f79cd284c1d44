import { writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeWorkspace, runCliAsync } from '../helpers/cli.js';
import { APP_NAME, APP_PASSWORD, sampleCrowdDirectory, startCrowdFixture, type CrowdFixture, type FixtureGroup, type FixtureUser } from '../helpers/crowd-fixture.js';
import { random } from '../helpers/random.js';

/**
 * Incremental equals full: random change sets (creates, renames, e-mail changes, disabling, deletions,
 * memberships added, removed and moved, groups created, nested, un-nested and deleted, and once a
 * config change) are made in the Crowd fixture; each is synced incrementally, then a full sync must
 * find nothing left to do. Seeded, so a failure is replayed by its seed.
 */
const config = (url: string, policy: { customerGroups: string[]; onLicensedMembership: string }): string => `store: { url: "file:./store.db" }
directories:
  - id: crowd
    type: crowd
    url: ${url}
    application: { name: ${APP_NAME}, password: "${APP_PASSWORD}" }
    retries: { max: 4, baseDelayMs: 5 }
roles: { customer: { groups: [${policy.customerGroups.join(', ')}] } }
licensing: { licensedGroups: [jira-servicedesk-users], onLicensedMembership: ${policy.onLicensedMembership} }
`;


const PROTECTED_GROUPS = new Set(['helpdesk-customers', 'jira-servicedesk-users']);

/** Makes `count` random changes to the fixture's directory (each recorded as Crowd's event); returns what was done. */
function randomChanges(fixture: CrowdFixture, next: () => number, round: number, count: number): string[] {
  const pick = <T>(list: readonly T[]): T | undefined => list[Math.floor(next() * list.length)];
  const active = (): FixtureGroup[] => fixture.groups.filter((g) => g.active !== false);
  const keyed = (): FixtureUser[] => fixture.users.filter((u) => u.key !== undefined);
  const done: string[] = [];
  let deletions = 0;
  for (let n = 0; done.length < count && n < count * 10; n++) {
    const tag = `${round}x${n}`;
    const kind = pick(['create', 'rename', 'email', 'toggle', 'delete', 'add', 'remove', 'move', 'createGroup', 'nest', 'unnest', 'deleteGroup'] as const);
    const user = pick(keyed());
    const group = pick(active());
    const other = pick(active());
    if (user === undefined || group === undefined || other === undefined) continue;
    switch (kind) {
      case 'create': {
        const groups = [group.name, ...(next() < 0.5 ? [other.name] : [])].filter((g, i, all) => all.indexOf(g) === i);
        fixture.change.createUser({ name: `new${tag}`, key: `1:new${tag}`, email: `new${tag}@example.org`, displayName: `New ${tag}` }, groups);
        break;
      }
      case 'rename':
        fixture.change.updateUser(user.name, { name: `${user.name}-r${tag}` });
        break;
      case 'email':
        fixture.change.updateUser(user.name, { email: `changed${tag}@example.org` });
        break;
      case 'toggle':
        fixture.change.updateUser(user.name, { active: user.active === false });
        break;
      case 'delete':
        if (deletions >= 2) continue; // the count-drop gate is tested apart
        deletions++;
        fixture.change.deleteUser(user.name);
        break;
      case 'add':
        if (group.users.includes(user.name)) continue;
        fixture.change.addMember(group.name, user.name);
        break;
      case 'remove': {
        const member = pick(group.users);
        if (member === undefined) continue;
        fixture.change.removeMember(group.name, member);
        break;
      }
      case 'move': {
        const member = pick(group.users);
        if (member === undefined || other === group || other.users.includes(member)) continue;
        fixture.change.removeMember(group.name, member);
        fixture.change.addMember(other.name, member);
        break;
      }
      case 'createGroup':
        fixture.change.createGroup(`grp${tag}`, fixture.users.filter(() => next() < 0.15).map((u) => u.name));
        break;
      case 'nest':
        if (group === other || other.groups.includes(group.name)) continue;
        fixture.change.nestGroup(group.name, other.name);
        break;
      case 'unnest': {
        const child = pick(group.groups);
        if (child === undefined) continue;
        fixture.change.unnestGroup(child, group.name);
        break;
      }
      case 'deleteGroup':
        if (PROTECTED_GROUPS.has(group.name)) continue;
        fixture.change.deleteGroup(group.name);
        break;
      default:
        continue;
    }
    done.push(`${kind} (user ${user.name}, groups ${group.name}, ${other.name})`);
  }
  return done;
}

describe('Crowd incremental sync equals a full sync (randomized)', () => {
  let fixture: CrowdFixture;
  beforeEach(async () => {
    fixture = await startCrowdFixture(sampleCrowdDirectory(60));
  });
  afterEach(async () => {
    await fixture.close();
  });

  for (const seed of [20261202, 7, 4242]) {
    it(`seed ${seed}: after each random change set, incremental then full reports zero changes; a config change reads whole`, async () => {
      const next = random(seed);
      const policy = { customerGroups: ['helpdesk-customers'], onLicensedMembership: 'strip' };
      const ws = makeWorkspace(config(fixture.url, policy));
      const cli = (...args: string[]) => runCliAsync(['--config', ws.config, ...args], { cwd: ws.dir });
      expect((await cli('sync', '--mode', 'incremental')).status).toBe(0);
      const rounds = 5;
      const configRound = 1 + Math.floor(next() * (rounds - 1));
      for (let round = 0; round < rounds; round++) {
        const changes = randomChanges(fixture, next, round, 4 + Math.floor(next() * 6));
        const context = `seed ${seed}, round ${round}: ${changes.join('; ')}`;
        if (round === configRound) {
          // A config change no event names: agent.smith (customer and licensed) is excluded now, and
          // members of another group become customers.
          policy.onLicensedMembership = policy.onLicensedMembership === 'strip' ? 'exclude' : 'strip';
          const extra = fixture.groups.find((g) => g.active !== false && !PROTECTED_GROUPS.has(g.name) && g.users.length > 0);
          policy.customerGroups = ['helpdesk-customers', ...(extra === undefined ? [] : [extra.name])];
          writeFileSync(ws.config, config(fixture.url, policy));
        }
        const incremental = await cli('sync', '--mode', 'incremental');
        expect(incremental.status, `${context}\n${incremental.stdout}\n${incremental.stderr}`).toBe(0);
        if (round === configRound) expect(incremental.stdout, context).toContain('crowd: full read: the config changed since the last read');
        else expect(incremental.stdout, context).toMatch(/crowd: incremental read, \d+ changes/);
        const full = await cli('sync');
        expect(full.status, context).toBe(0);
        expect(full.stdout, `${context}\n${incremental.stdout}\n${full.stdout}`).toContain('created 0, updated 0, reactivated 0, deactivated 0');
        expect(full.stdout, context).toContain('withheld 0');
      }
    }, 180_000);
  }
});
