import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';
import { allOnPath, checkBinary, isRejected } from './server-binaries.js';

/**
 * A real OpenLDAP slapd for the LDAP tests: config generated into a temp dir (mdb, memberof and
 * ppolicy, msuser.schema for AD attributes), data loaded with slapadd, a server size limit lower than
 * the test directory (paging must be proven), LDAP + LDAPS listeners with a certificate made here with
 * openssl. The connector binds as a non-root service account under ACLs; the rootdn only loads data.
 */
export const SLAPD_SIZE_LIMIT = 50;
export const ROOT_DN = 'cn=admin,dc=example,dc=com';
export const ROOT_PW = 'root-secret';
export const SVC_DN = 'cn=svc-dirbridge,ou=Service,dc=example,dc=com';
export const SVC_PW = 'svc-S3NTINEL-6a4f'; // a sentinel: tests grep output for it
export const LIMITED_DN = 'cn=svc-limited,ou=Service,dc=example,dc=com';
/** A service account whose pages may hold at most PAGE_CAP entries (size.pr), with no total limit. */
export const PAGE_CAP_DN = 'cn=svc-pagecap,ou=Service,dc=example,dc=com';
export const PAGE_CAP = 100;
export const AD_SVC_DN = 'CN=svc-dirbridge,OU=Service,DC=corp,DC=example';

export interface Slapd {
  readonly ldapUrl: string;
  readonly ldapsUrl: string;
  /** CA that signed the server certificate (valid for 127.0.0.1, localhost and ldap.test). */
  readonly caFile: string;
  readonly dir: string;
  /** Runs ldapmodify as the rootdn with the given LDIF (e.g. a modrdn). */
  modify(ldif: string): void;
  /**
   * An export made the way admins make them: `ldapsearch -LLL` as the service account, paged, folded
   * lines, user attributes plus memberOf; with `operational`, every operational attribute too (entryUUID).
   */
  exportLdif(baseDn: string, options?: { operational?: boolean; bindDn?: string }): string;
  /** Sends a signal to slapd: SIGSTOP freezes it mid-operation, SIGCONT resumes it. */
  signal(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

const INSTALL_HINT = 'Fix: run `npm run test:all` (it installs or repairs the Debian packages slapd and ldap-utils), or `apt-get install slapd ldap-utils`.';
export const SCHEMAS = ['core', 'cosine', 'inetorgperson', 'nis', 'msuser'].map((name) => `/etc/ldap/schema/${name}.schema`);

/** slapd checked before it is started: it must answer -VV as OpenLDAP 2.x, with the tools and schemas the harness uses. */
export function findSlapd(): { slapd: string; slapadd: string } {
  const problems: string[] = [];
  const slapd = ['/usr/sbin/slapd', ...allOnPath('slapd')].find((p) => existsSync(p));
  if (slapd === undefined) problems.push('slapd is not installed');
  else {
    const checked = checkBinary(slapd, { what: 'OpenLDAP slapd 2.x', args: ['-VV'], expect: /OpenLDAP: slapd 2\./ });
    if (isRejected(checked)) problems.push(checked.reason);
  }
  const slapadd = ['/usr/sbin/slapadd', ...allOnPath('slapadd')].find((p) => existsSync(p));
  if (slapadd === undefined) problems.push('slapadd is not installed');
  for (const tool of ['ldapmodify', 'openssl']) if (allOnPath(tool).length === 0) problems.push(`${tool} is not on PATH`);
  for (const schema of SCHEMAS) if (!existsSync(schema)) problems.push(`${schema} is missing`);
  if (slapd === undefined || slapadd === undefined || problems.length > 0) throw new Error(`OpenLDAP is not usable for the LDAP tests: ${problems.join('; ')}. ${INSTALL_HINT}`);
  return { slapd, slapadd };
}

export async function startSlapd(data: { example: string; corp: string }, options: { sizeLimit?: number } = {}): Promise<Slapd> {
  const { slapd, slapadd } = findSlapd();

  const dir = mkdtempSync(join(tmpdir(), 'dirbridge-slapd-'));
  const caFile = makeCertificates(dir);
  for (const db of ['example', 'corp']) mkdirSync(join(dir, db));
  const conf = join(dir, 'slapd.conf');
  const sizeLimit = options.sizeLimit ?? SLAPD_SIZE_LIMIT;
  writeFileSync(conf, slapdConf(dir, sizeLimit));
  writeFileSync(join(dir, 'example.ldif'), data.example);
  writeFileSync(join(dir, 'corp.ldif'), data.corp);
  execFileSync(slapadd, ['-q', '-f', conf, '-b', 'dc=example,dc=com', '-l', join(dir, 'example.ldif')], { stdio: 'pipe' });
  execFileSync(slapadd, ['-q', '-f', conf, '-b', 'dc=corp,dc=example', '-l', join(dir, 'corp.ldif')], { stdio: 'pipe' });

  const { child, exited, ldapPort, ldapsPort } = await listen(slapd, conf, dir);
  const ldapUrl = `ldap://127.0.0.1:${ldapPort}`;
  return {
    ldapUrl,
    ldapsUrl: `ldaps://127.0.0.1:${ldapsPort}`,
    caFile,
    dir,
    modify: (ldif) => {
      execFileSync('ldapmodify', ['-x', '-H', ldapUrl, '-D', ROOT_DN, '-w', ROOT_PW], { input: ldif, stdio: 'pipe' });
    },
    exportLdif: (baseDn, options = {}) =>
      execFileSync('ldapsearch', ['-x', '-LLL', '-H', ldapUrl, '-D', options.bindDn ?? SVC_DN, '-w', SVC_PW, '-E', `pr=${sizeLimit}/noprompt`, '-b', baseDn, '*', 'memberOf', ...(options.operational === true ? ['+'] : [])], {
        encoding: 'utf8',
        maxBuffer: 2 ** 28,
      }),
    signal: (signal) => {
      child.kill(signal);
    },
    stop: async () => {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function slapdConf(dir: string, sizeLimit: number): string {
  const acl = (suffix: string, svc: string) => `
access to dn.base="" by * read
access to attrs=userPassword by self read by anonymous auth by * none
access to dn.subtree="${suffix}" by dn.exact="${svc}" read by dn.exact="${LIMITED_DN}" read by dn.exact="${PAGE_CAP_DN}" read by * none`;
  return `${SCHEMAS.map((schema) => `include ${schema}`).join('\n')}
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload ppolicy
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
TLSCACertificateFile ${dir}/ca.pem
TLSCertificateFile ${dir}/server.pem
TLSCertificateKeyFile ${dir}/server.key
sizelimit ${sizeLimit}

database mdb
suffix "dc=example,dc=com"
rootdn "${ROOT_DN}"
rootpw ${ROOT_PW}
directory ${dir}/example
maxsize 4294967296
# The service account may page through everything; svc-limited keeps the server's size limit.
limits dn.exact="${SVC_DN}" size.soft=${sizeLimit} size.hard=${sizeLimit} size.pr=${sizeLimit} size.prtotal=unlimited
limits dn.exact="${PAGE_CAP_DN}" size.soft=${sizeLimit} size.hard=${sizeLimit} size.pr=${PAGE_CAP} size.prtotal=unlimited
overlay memberof
overlay ppolicy
${acl('dc=example,dc=com', SVC_DN)}

database mdb
suffix "dc=corp,dc=example"
rootdn "cn=admin,dc=corp,dc=example"
rootpw ${ROOT_PW}
directory ${dir}/corp
maxsize 4294967296
limits dn.exact="${AD_SVC_DN.toLowerCase()}" size.prtotal=unlimited size.pr=${sizeLimit}
${acl('dc=corp,dc=example', AD_SVC_DN)}
`;
}

/** A CA and a server certificate for 127.0.0.1, localhost and ldap.test. */
function makeCertificates(dir: string): string {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=dirbridge test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=ldap.test');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:ldap.test\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  return join(dir, 'ca.pem');
}

async function waitForPidFile(path: string, child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (code !== undefined) throw new Error(`slapd exited (code ${code}) before binding its ports: another process may hold one of them`);
    if (existsSync(path) && readFileSync(path, 'utf8').trim() === String(child.pid)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`slapd did not write ${path} within 15 s`);
}

/**
 * Starts slapd on two free loopback ports. slapd writes its pid file only once its listeners are
 * bound, so a port that answers before then may belong to another test file's server (a free-port
 * race) and is never mistaken for ours; a slapd that lost such a race is started again on new ports.
 */
async function listen(slapd: string, conf: string, dir: string): Promise<{ child: ChildProcess; exited: Promise<number | null>; ldapPort: number; ldapsPort: number }> {
  for (let attempt = 1; ; attempt++) {
    const [ldapPort, ldapsPort] = [await freePort(), await freePort()];
    const child: ChildProcess = spawn(slapd, ['-f', conf, '-h', `ldap://127.0.0.1:${ldapPort}/ ldaps://127.0.0.1:${ldapsPort}/`, '-d', '0'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await waitForPidFile(join(dir, 'slapd.pid'), child, exited);
    } catch (error) {
      child.kill('SIGKILL');
      if (attempt < 3 && child.exitCode !== null) continue;
      throw error;
    }
    await waitForPort(ldapPort, 15_000, exited, 'slapd');
    await waitForPort(ldapsPort, 15_000, exited, 'slapd');
    return { child, exited, ldapPort, ldapsPort };
  }
}
