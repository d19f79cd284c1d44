/**
 * The benchmark: `npm run bench -- [--users N] [--groups G] [--source ldap,crowd] [--store sqlite,mongo] [--out FILE]`.
 * Generates a directory, loads it into a real slapd (slapadd, untimed) and into the Crowd fixture
 * server, and times the dirbridge CLI as a subprocess: first full sync, no-change resync, resync
 * after 1 % of users changed, and the next 1 % change as an incremental sync; for each
 * store. Peak RSS and CPU come from /proc while the process runs. `mongo` is FerretDB on PostgreSQL
 * (`--mongo-backend sqlite` for its SQLite backend), or the MongoDB that MONGODB_URI names; the
 * server's CPU (FerretDB and every PostgreSQL process, or mongod) is read from /proc around each run. The floor is OpenLDAP's own
 * ldapsearch reading the same entries with paging; the LDAP incremental run's ids-only pass has its own
 * floor (ldapsearch reading the stable ids alone). `--profile DIR` writes a V8 CPU profile of every
 * dirbridge run into DIR (open it in Chrome DevTools, or summarise it with scripts/cpu-profile-top.mjs).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BIN } from '../helpers/cli.js';
import { APP_NAME, APP_PASSWORD, startCrowdFixture, type CrowdFixture, type FixtureGroup, type FixtureUser } from '../helpers/crowd-fixture.js';
import { directorySkeleton } from '../helpers/ldap-fixtures.js';
import { startCommandCounter, type CommandCounter } from '../helpers/command-counter.js';
import { startMongoServer, type MongoServer } from '../helpers/mongo-server.js';
import { ROOT_DN, ROOT_PW, startSlapd, SVC_DN, SVC_PW, type Slapd } from '../helpers/slapd.js';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    groups: { type: 'string', default: '1000' },
    source: { type: 'string', default: 'ldap,crowd' },
    store: { type: 'string', default: 'sqlite,mongo' },
    out: { type: 'string' },
    'mongo-backend': { type: 'string', default: 'postgresql' },
    profile: { type: 'string' },
    'group-scaling': { type: 'boolean', default: false },
  },
});
const USERS = Number(args.users);
const GROUPS = Math.max(20, Number(args.groups));
const PAGE = 1000;

interface Model {
  users: { uid: string; uuid: string; mail: string; name: string }[];
  groups: { cn: string; members: number[]; children: string[] }[];
}

/**
 * N users, G groups: a tree of regional customer groups under `customers` (ten children each), two
 * very large groups (a third and a fifth of everyone), every user in one regional group, every 7th in
 * ten more, 1 % in the licensed group as well.
 */
function generate(groupCount: number): Model {
  const users = Array.from({ length: USERS }, (_, i) => ({ uid: `u${String(i).padStart(7, '0')}`, uuid: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`, mail: `u${i}@example.org`, name: `User ${i}` }));
  const regions = groupCount - 4;
  const groups: Model['groups'] = [
    { cn: 'customers', members: [], children: [] },
    { cn: 'jira-servicedesk-users', members: [], children: [] },
    { cn: 'big-third', members: [], children: [] },
    { cn: 'big-fifth', members: [], children: [] },
  ];
  for (let r = 0; r < regions; r++) {
    groups.push({ cn: `region-${r}`, members: [], children: [] });
    const parent = r < 10 ? groups[0] : groups[4 + Math.floor((r - 10) / 10)];
    parent?.children.push(`region-${r}`);
  }
  for (let i = 0; i < USERS; i++) {
    groups[4 + (i % regions)]?.members.push(i);
    if (i % 7 === 0) for (let k = 1; k <= 10; k++) groups[4 + ((i + k * 13) % regions)]?.members.push(i);
    if (i % 3 === 0) groups[2]?.members.push(i);
    if (i % 5 === 0) groups[3]?.members.push(i);
    if (i % 100 === 42) groups[1]?.members.push(i);
  }
  return { users, groups };
}

const userDn = (uid: string): string => `uid=${uid},ou=People,dc=example,dc=com`;

function toLdif(model: Model): string {
  const out = directorySkeleton({ suffix: 'dc=example,dc=com', organization: 'Example', units: ['ou=Service,dc=example,dc=com', 'ou=People,dc=example,dc=com', 'ou=Groups,dc=example,dc=com'], serviceAccounts: [SVC_DN] });
  for (const u of model.users) out.push(`dn: ${userDn(u.uid)}`, 'objectClass: inetOrgPerson', `uid: ${u.uid}`, `cn: ${u.name}`, `sn: ${u.uid}`, `displayName: ${u.name}`, `mail: ${u.mail}`, `entryUUID: ${u.uuid}`, '');
  for (const g of model.groups) {
    out.push(`dn: cn=${g.cn},ou=Groups,dc=example,dc=com`, 'objectClass: groupOfNames', `cn: ${g.cn}`);
    for (const m of g.members) out.push(`member: ${userDn(model.users[m]?.uid ?? '')}`);
    for (const c of g.children) out.push(`member: cn=${c},ou=Groups,dc=example,dc=com`);
    if (g.members.length + g.children.length === 0) out.push(`member: cn=${g.cn},ou=Groups,dc=example,dc=com`);
    out.push('');
  }
  return out.join('\n');
}

/** 1 % of users: half change their mail, a third leave their regional group, the rest are deleted. */
function changeSet(offset: number): { mail: number[]; leave: number[]; remove: number[] } {
  const picked = Array.from({ length: Math.max(3, Math.floor(USERS / 100)) }, (_, k) => (offset + k * 97) % USERS);
  const half = Math.floor(picked.length / 2);
  const third = Math.floor(picked.length / 3);
  return { mail: picked.slice(0, half), leave: picked.slice(half, half + third), remove: picked.slice(half + third) };
}

function regionOf(model: Model, i: number): string {
  return `region-${i % (model.groups.length - 4)}`;
}

interface Measure {
  wallSeconds: number;
  peakRssMb: number;
  cpuSeconds: number;
  readSeconds: number | null;
  /** LDAP: from the end of the user search to the snapshot built (group search and member resolution). */
  groupSeconds: number | null;
  /** From the snapshot read to the plan made (store load, membership resolution, diff). */
  planSeconds: number | null;
  /** The run log's own memory figures (MiB) when the snapshot was read and when the plan was made. */
  atRead: { rssMb: number; heapMb: number } | null;
  atPlan: { rssMb: number; heapMb: number } | null;
  /** LDAP incremental: the ids-only pass (from the run log). */
  idsSeconds: number | null;
  /** The snapshot save after a full read (from the run log): its time and the rows it wrote and deleted. */
  save: { seconds: number; written: number; deleted: number } | null;
  /** Customers written (from the run's output). */
  written: number;
  /** CPU the store's server processes used during the run (null: not on this machine, e.g. MONGODB_URI). */
  serverCpuSeconds: number | null;
  /** MongoDB-wire commands the run sent (data commands: no handshakes or heartbeats), by name with their summed answer times. */
  commands: { total: number; counts: Record<string, number>; millis: Record<string, number> } | null;
  summary: string;
}

async function dirbridge(config: string, cwd: string, extra: string[] = [], server: MongoServer | null = null): Promise<Measure> {
  const serverBefore = serverCpu(server);
  const relay = server === null ? null : commandRelay;
  relay?.reset();
  const started = process.hrtime.bigint();
  const profile = args.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', args.profile];
  const child = spawn(process.execPath, [...profile, BIN, '--config', config, '--log-level', 'info', 'sync', '--allow-deactivations', String(USERS), ...extra], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let peak = 0;
  let cpu = 0;
  const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const poll = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      cpu = (Number(stat[11]) + Number(stat[12])) / ticks;
    } catch {
      // the process has just exited
    }
  }, 20);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(poll);
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const serverAfter = serverCpu(server);
  if (code !== 0) throw new Error(`dirbridge exited ${String(code)}:\n${stderr.slice(-2000)}\n${stdout.slice(-2000)}`);
  const times = (msg: string): number[] => stderr.split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).map((l) => Number(/"time":(\d+)/.exec(l)?.[1]));
  const written = Number(/\((\d+) customers written/.exec(stdout)?.[1] ?? 0);
  const [readStart] = times('reading directory');
  const [readEnd] = times('directory read');
  const [usersRead] = times('users read, reading groups');
  const [planned] = times('plan made');
  const incremental = stderr.split('\n').find((l) => l.includes('"msg":"incremental read"'));
  const memory = (msg: string): { rssMb: number; heapMb: number } | null => {
    const line = stderr.split('\n').find((l) => l.includes(`"msg":"${msg}"`));
    return line === undefined ? null : { rssMb: Number(/"rssMb":(\d+)/.exec(line)?.[1]), heapMb: Number(/"heapMb":(\d+)/.exec(line)?.[1]) };
  };
  return {
    wallSeconds,
    peakRssMb: Math.round(peak / 1024),
    cpuSeconds: cpu,
    readSeconds: readStart !== undefined && readEnd !== undefined ? (readEnd - readStart) / 1000 : incremental === undefined ? null : 0,
    groupSeconds: usersRead !== undefined && readEnd !== undefined ? (readEnd - usersRead) / 1000 : null,
    planSeconds: readEnd !== undefined && planned !== undefined ? (planned - readEnd) / 1000 : null,
    atRead: memory('directory read'),
    atPlan: memory('plan made'),
    save: ((line) => (line === undefined ? null : { seconds: Number(/"saveMs":(\d+)/.exec(line)?.[1]) / 1000, written: Number(/"kind":"\w+","written":(\d+)/.exec(line)?.[1]), deleted: Number(/"deleted":(\d+)/.exec(line)?.[1]) }))(
      stderr.split('\n').find((l) => l.includes('"msg":"snapshot saved"')),
    ),
    idsSeconds: ((line) => (line === undefined ? null : Number(/"idsPassMs":(\d+)/.exec(line)?.[1]) / 1000))(stderr.split('\n').find((l) => l.includes('"msg":"ids-only pass read"'))),
    written,
    serverCpuSeconds: serverBefore === null || serverAfter === null ? null : serverAfter - serverBefore,
    commands: relay === null ? null : { total: relay.dataCommands(), counts: relay.counts(), millis: relay.millis() },
    summary: (/created \d+, updated \d+, reactivated \d+, deactivated \d+, unchanged \d+/.exec(stdout)?.[0] ?? '').replace(/(\w+) (\d+)/g, '$2 $1').replace(/reactivated/, 'react.'),
  };
}

/** The relay between dirbridge and a MongoDB-wire server on this machine that counts the commands sent. */
let commandRelay: CommandCounter | null = null;

const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime, stime, cutime, cstime of a process (seconds), and its parent's pid; null once it is gone. */
function procCpu(pid: number): { own: number; children: number; ppid: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return { own: (Number(stat[11]) + Number(stat[12])) / TICKS, children: (Number(stat[13]) + Number(stat[14])) / TICKS, ppid: Number(stat[1]) };
  } catch {
    return null;
  }
}

/**
 * The CPU time the store's server has used so far: FerretDB (or mongod) itself, plus for PostgreSQL
 * the postmaster, its live backends and the backends that have exited (their time is in the
 * postmaster's children counters). Null when the server is not a process here (MONGODB_URI, SQLite).
 */
function serverCpu(server: MongoServer | null): number | null {
  if (server?.pid === null || server?.pid === undefined) return null;
  let total = procCpu(server.pid)?.own ?? 0;
  const postmaster = server.postgres?.pid;
  if (postmaster !== undefined) {
    const main = procCpu(postmaster);
    total += (main?.own ?? 0) + (main?.children ?? 0);
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const child = procCpu(Number(entry));
      if (child?.ppid === postmaster) total += child.own;
    }
  }
  return total;
}

const CORP_LDIF = 'dn: dc=corp,dc=example\nobjectClass: dcObject\nobjectClass: organization\no: Corp\ndc: corp\n';

function ldapDirectory(url: string): string {
  return `{ id: corp, type: ldap, url: "${url}", tls: { allowPlaintext: true }, bind: { dn: "${SVC_DN}", password: "${SVC_PW}" }, users: { baseDn: "ou=People,dc=example,dc=com" }, groups: { baseDn: "ou=Groups,dc=example,dc=com" }, pageSize: ${PAGE} }`;
}

function writeConfig(path: string, store: string, directory: string): void {
  writeFileSync(path, `store: { url: "${store}" }\ndirectories:\n  - ${directory}\nroles: { customer: { groups: [customers] } }\nlicensing: { licensedGroups: [jira-servicedesk-users] }\n`);
}

/**
 * The MongoDB-wire server for `--store mongo`: the MongoDB that MONGODB_URI names when set (its CPU is
 * not measured: it may be anywhere), else FerretDB on `--mongo-backend` (PostgreSQL by default, the
 * backend FerretDB recommends for production; its server is a throwaway cluster of Debian's PostgreSQL).
 */
async function startStoreServer(): Promise<MongoServer> {
  const backend = args['mongo-backend'];
  if (backend !== 'postgresql' && backend !== 'sqlite') throw new Error(`--mongo-backend must be postgresql or sqlite, not ${String(backend)}`);
  const external = process.env['MONGODB_URI'];
  const server = external !== undefined && external !== '' ? await startMongoServer() : await startMongoServer({ backend });
  const what = server.kind === 'external' ? 'MONGODB_URI (server CPU not measured)' : server.kind === 'mongod' ? `mongod ${server.version ?? ''}` : `FerretDB ${server.version ?? ''} on ${server.backend === 'postgresql' ? (server.postgres?.version ?? 'PostgreSQL') : 'SQLite'}`;
  console.log(`store server for mongo: ${what}`);
  return server;
}

function storeUrl(kind: string, mongo: MongoServer | null, name: string, dir: string): string {
  if (kind !== 'mongo') return `file:${join(dir, `${name}.db`)}`;
  return commandRelay === null ? (mongo as MongoServer).uri(name) : `mongodb://${commandRelay.host}:${commandRelay.port}/${name}`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dirbridge-bench-'));
  const sources = (args.source ?? '').split(',');
  const stores = (args.store ?? '').split(',');
  const rows: Record<string, unknown>[] = [];
  const model = generate(GROUPS);
  const memberships = model.groups.reduce((n, g) => n + g.members.length, 0);
  console.log(`dirbridge benchmark: ${USERS} users, ${model.groups.length} groups, ${memberships} memberships; ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const mongo = stores.includes('mongo') ? await startStoreServer() : null;
  commandRelay = mongo?.address === null || mongo?.address === undefined ? null : await startCommandCounter(mongo.address);
  const mongoVersions = mongo === null ? null : { kind: mongo.kind, server: mongo.version, backend: mongo.backend, postgres: mongo.postgres?.version ?? null };
  let slapd: Slapd | null = null;
  const fixtures: { crowd: CrowdFixture | null } = { crowd: null };
  /** Users the benchmark has deleted from the Crowd fixture (model indexes). */
  const crowdDeleted = new Set<number>();
  let floorSeconds: number | null = null;
  let idsFloorSeconds: number | null = null;
  try {
    if (sources.includes('ldap')) {
      const t = Date.now();
      slapd = await startSlapd({ example: toLdif(model), corp: CORP_LDIF }, { sizeLimit: PAGE });
      console.log(`slapd loaded with slapadd in ${((Date.now() - t) / 1000).toFixed(1)} s (not timed below)`);
      // The best of three reads, so that one slow pass (a cold cache, a busy core) does not flatter the ratio.
      const passes: number[] = [];
      for (let pass = 0; pass < 3; pass++) {
        const f = process.hrtime.bigint();
        // The attributes dirbridge asks for (the openldap profile with a group search: no memberOf;
        // cn for display names when displayName is absent; a group's mail; modifyTimestamp for the change mark).
        for (const [base, filter, attrs] of [
          ['ou=People,dc=example,dc=com', '(objectClass=inetOrgPerson)', ['entryUUID', 'uid', 'mail', 'displayName', 'cn', 'pwdAccountLockedTime', 'modifyTimestamp']],
          ['ou=Groups,dc=example,dc=com', '(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))', ['cn', 'member', 'uniqueMember', 'memberUid', 'mail', 'modifyTimestamp']],
        ] as const) {
          execFileSync('ldapsearch', ['-x', '-LLL', '-H', slapd.ldapUrl, '-D', SVC_DN, '-w', SVC_PW, '-b', base, '-E', `pr=${PAGE}/noprompt`, filter, ...attrs], { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 2 ** 30 });
        }
        passes.push(Number(process.hrtime.bigint() - f) / 1e9);
      }
      floorSeconds = Math.min(...passes);
      console.log(`floor: ldapsearch (paged ${PAGE}) reads users and groups in ${floorSeconds.toFixed(2)} s (best of ${passes.map((p) => p.toFixed(2)).join(', ')})`);
      // The ids-only pass of an incremental read: the users' entryUUID alone, the groups' DNs alone.
      const idsPasses: number[] = [];
      for (let pass = 0; pass < 3; pass++) {
        const f = process.hrtime.bigint();
        for (const [base, filter, attrs] of [
          ['ou=People,dc=example,dc=com', '(objectClass=inetOrgPerson)', ['entryUUID']],
          ['ou=Groups,dc=example,dc=com', '(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))', ['1.1']],
        ] as const) {
          execFileSync('ldapsearch', ['-x', '-LLL', '-H', slapd.ldapUrl, '-D', SVC_DN, '-w', SVC_PW, '-b', base, '-E', `pr=${PAGE}/noprompt`, filter, ...attrs], { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 2 ** 30 });
        }
        idsPasses.push(Number(process.hrtime.bigint() - f) / 1e9);
      }
      idsFloorSeconds = Math.min(...idsPasses);
      console.log(`ids-only floor: ldapsearch reads the users' entryUUID and the group DNs in ${idsFloorSeconds.toFixed(2)} s (best of ${idsPasses.map((p) => p.toFixed(2)).join(', ')})`);
    }
    for (const source of sources) {
      for (const store of stores) {
        const name = `${source}_${store}`;
        const configPath = join(dir, `${name}.yml`);
        const directory = source === 'ldap' ? ldapDirectory((slapd as Slapd).ldapUrl) : `{ id: corp, type: crowd, url: "${await crowdUrl()}", application: { name: ${APP_NAME}, password: "${APP_PASSWORD}" }, pageSize: ${PAGE} }`;
        writeConfig(configPath, storeUrl(store, mongo, name, dir), directory);
        const record = (scenario: string, m: Measure): void => report(source, store, scenario, m);
        const server = store === 'mongo' ? mongo : null;
        // Read, resolve and plan with nothing written (the store is still empty): the figure to set
        // against other tools' read-and-flatten passes.
        if (store === stores[0]) record('dry-run plan', await dirbridge(configPath, dir, ['--dry-run'], server));
        record('first full sync', await dirbridge(configPath, dir, ['--mode', 'incremental'], server));
        record('no-change resync', await dirbridge(configPath, dir, [], server));
        if (source === 'ldap') applyLdapChanges(slapd as Slapd, changeSet(11 + stores.indexOf(store) * 5));
        else applyCrowdChanges(fixtures.crowd as CrowdFixture, changeSet(11 + stores.indexOf(store) * 5));
        record('1% changed, full', await dirbridge(configPath, dir, [], server));
        if (source === 'crowd') applyCrowdChanges(fixtures.crowd as CrowdFixture, changeSet(5000 + stores.indexOf(store) * 7));
        else applyLdapChanges(slapd as Slapd, changeSet(5000 + stores.indexOf(store) * 7));
        record('incremental 1%', await dirbridge(configPath, dir, ['--mode', 'incremental'], server));
      }
    }
    if (args['group-scaling'] && sources.includes('ldap')) {
      // The same users in twice as many groups (the same memberships spread wider, a deeper tree):
      // the group phase must at most double. Each side is the best of three dry runs, as the phase is
      // short enough for one busy moment to double it.
      const bestGroupPhase = async (url: string, name: string, groups: number): Promise<number | null> => {
        const configPath = join(dir, `${name}.yml`);
        writeConfig(configPath, `file:${join(dir, `${name}.db`)}`, ldapDirectory(url));
        let best: Measure | null = null;
        for (let pass = 0; pass < 3; pass++) {
          const m = await dirbridge(configPath, dir, ['--dry-run']);
          if (best === null || (m.groupSeconds ?? Infinity) < (best.groupSeconds ?? Infinity)) best = m;
        }
        if (best !== null) report('ldap', 'sqlite', `dry-run, ${groups} groups`, best, null);
        return best?.groupSeconds ?? null;
      };
      const base = await bestGroupPhase((slapd as Slapd).ldapUrl, 'groups1x', GROUPS);
      const doubled = await startSlapd({ example: toLdif(generate(GROUPS * 2)), corp: CORP_LDIF }, { sizeLimit: PAGE });
      try {
        const twice = await bestGroupPhase(doubled.ldapUrl, 'groups2x', GROUPS * 2);
        if (base !== null && twice !== null) {
          console.log(`group scaling: ${GROUPS} → ${GROUPS * 2} groups, group phase ${base.toFixed(2)} s → ${twice.toFixed(2)} s (${(twice / base).toFixed(2)}×; target ≤ 2×)`);
        }
      } finally {
        await doubled.stop();
      }
    }
  } finally {
    await slapd?.stop();
    await fixtures.crowd?.close();
    await commandRelay?.close();
    await mongo?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (args.out !== undefined) {
    const versions = { node: process.version, dirbridge: (JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version, slapd: execFileSync('/usr/sbin/slapd', ['-VV'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0] ?? null, mongo: mongoVersions };
    writeFileSync(args.out, `${JSON.stringify({ users: USERS, groups: model.groups.length, memberships, cores: cpus().length, versions, floorSeconds, idsFloorSeconds, rows }, null, 2)}\n`);
    console.log(`results written to ${args.out}`);
  }

  /** `floor`: the ldapsearch time of the directory this run read (null: none measured for it). */
  function report(source: string, store: string, scenario: string, m: Measure, floor = source === 'ldap' ? floorSeconds : null): void {
    // The client-side cost of the store's writes: CPU above that of the same work without them (the
    // dry run for the first sync, the no-change resync for the 1 % change), per written customer.
    const baseline = (name: string): Record<string, unknown> | undefined => rows.find((r) => r.source === source && r.scenario === name && (name === 'dry-run plan' || r.store === store));
    const without = scenario === 'first full sync' ? baseline('dry-run plan') : scenario === '1% changed, full' ? baseline('no-change resync') : undefined;
    const cpuMsPerWritten = without !== undefined && m.written > 0 ? Number((((m.cpuSeconds - (without.cpuSeconds as number)) * 1000) / m.written).toFixed(3)) : null;
    // The server's side of the same writes: its CPU above that of the baseline run on the same store
    // (none for a dry run on another store: it asked the server nothing).
    const serverWithout = without === undefined ? undefined : without.store === store ? (without.serverCpuSeconds as number | null) : 0;
    const serverMsPerWritten = m.serverCpuSeconds !== null && serverWithout !== undefined && serverWithout !== null && m.written > 0 ? Number((((m.serverCpuSeconds - serverWithout) * 1000) / m.written).toFixed(3)) : null;
    const idsVsFloor = m.idsSeconds !== null && idsFloorSeconds !== null && source === 'ldap' ? Number((m.idsSeconds / idsFloorSeconds).toFixed(2)) : null;
    const row = { source, store, scenario, ...m, cpuMsPerWritten, serverMsPerWritten, usersPerSecond: Math.round(USERS / m.wallSeconds), readVsFloor: m.readSeconds !== null && m.readSeconds > 0 && floor !== null ? Number((m.readSeconds / floor).toFixed(2)) : null, idsVsFloor };
    rows.push(row);
    const seconds = (label: string, s: number | null): string => (s === null ? '' : `  ${label} ${s.toFixed(2)} s`);
    console.log(
      `${source.padEnd(6)} ${store.padEnd(7)} ${scenario.padEnd(18)} ${m.wallSeconds.toFixed(2).padStart(7)} s ${String(row.usersPerSecond).padStart(8)} users/s ${String(m.peakRssMb).padStart(5)} MB  cpu ${m.cpuSeconds.toFixed(1).padStart(5)} s` +
        `${seconds('read', m.readSeconds)}${row.readVsFloor === null ? '' : ` (${row.readVsFloor}× floor)`}${seconds('ids-only', m.idsSeconds)}${idsVsFloor === null ? '' : ` (${idsVsFloor}× its floor)`}${seconds('groups', m.groupSeconds)}${seconds('plan', m.planSeconds)}${m.save === null ? '' : `  save ${m.save.seconds.toFixed(2)} s (${m.save.written} rows written, ${m.save.deleted} deleted)`}` +
        `${m.serverCpuSeconds === null ? '' : `  server cpu ${m.serverCpuSeconds.toFixed(1)} s`}${m.commands === null ? '' : `  ${m.commands.total} commands (${slowest(m.commands)})`}` +
        `${cpuMsPerWritten === null ? '' : `  cpu/written ${cpuMsPerWritten} ms`}${serverMsPerWritten === null ? '' : `  server/written ${serverMsPerWritten} ms`}  ${m.summary}`,
    );
  }

  /** The three command names the run waited longest for, with their counts and summed times. */
  function slowest(commands: NonNullable<Measure['commands']>): string {
    return Object.entries(commands.millis)
      .sort(([, a], [, b]) => b - a)
      .slice(0, 3)
      .map(([name, ms]) => `${commands.counts[name] ?? 0} ${name} ${(ms / 1000).toFixed(1)} s`)
      .join(', ');
  }

  async function crowdUrl(): Promise<string> {
    if (fixtures.crowd === null) {
      const users: FixtureUser[] = model.users.map((u) => ({ name: u.uid, key: u.uuid, email: u.mail, displayName: u.name }));
      const groups: FixtureGroup[] = model.groups.map((g) => ({ name: g.cn, users: g.members.map((m) => model.users[m]?.uid ?? ''), groups: [...g.children] }));
      fixtures.crowd = await startCrowdFixture({ users, groups });
    }
    return fixtures.crowd.url;
  }

  function applyLdapChanges(server: Slapd, set: ReturnType<typeof changeSet>): void {
    const ops: string[] = [];
    for (const i of set.mail) ops.push(`dn: ${userDn(model.users[i]?.uid ?? '')}\nchangetype: modify\nreplace: mail\nmail: changed-${i}@example.org\n`);
    for (const i of set.leave) ops.push(`dn: cn=${regionOf(model, i)},ou=Groups,dc=example,dc=com\nchangetype: modify\ndelete: member\nmember: ${userDn(model.users[i]?.uid ?? '')}\n`);
    for (const i of set.remove) ops.push(`dn: ${userDn(model.users[i]?.uid ?? '')}\nchangetype: delete\n`);
    execFileSync('ldapmodify', ['-c', '-x', '-H', server.ldapUrl, '-D', ROOT_DN, '-w', ROOT_PW], { input: ops.join('\n'), stdio: ['pipe', 'ignore', 'ignore'] });
  }

  function applyCrowdChanges(fixture: CrowdFixture, set: ReturnType<typeof changeSet>): void {
    const gone = (i: number): boolean => crowdDeleted.has(i);
    for (const i of set.mail) if (!gone(i)) fixture.change.updateUser(model.users[i]?.uid ?? '', { email: `changed-${i}@example.org` });
    for (const i of set.leave) if (!gone(i) && fixture.groups.find((g) => g.name === regionOf(model, i))?.users.includes(model.users[i]?.uid ?? '')) fixture.change.removeMember(regionOf(model, i), model.users[i]?.uid ?? '');
    for (const i of set.remove) {
      if (gone(i)) continue;
      fixture.change.deleteUser(model.users[i]?.uid ?? '');
      crowdDeleted.add(i);
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
