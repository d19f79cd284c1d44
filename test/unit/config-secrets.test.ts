import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { DirbridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';

const PATH = '/etc/dirbridge/dirbridge.yml';

/** An LDAP directory whose ordinary values (URL host and port, base DN, store path, group) and bind password come from the environment. */
const ldapConfig = (filter = ''): string => `
store: { url: "file:\${env:DATA}/store.db" }
directories:
  - id: corp
    type: ldap
    url: "ldaps://\${env:HOST}:\${env:PORT}"
    bind: { dn: "cn=svc,dc=example,dc=com", password: "\${env:LDAP_PW}" }
    users: { baseDn: "\${env:BASE}"${filter} }
roles: { customer: { groups: ["\${env:GROUP}"] } }
`;

const ENV = { DATA: '/var/lib/dirbridge', HOST: 'ldap.example.com', PORT: '1636', BASE: 'ou=People,dc=example,dc=com', GROUP: 'sd-customers', LDAP_PW: 'S3NTINEL-pw-7c41e9' };

function configError(text: string, env: Record<string, string>): DirbridgeError {
  try {
    parseConfig(text, { path: PATH, env });
  } catch (error) {
    if (error instanceof DirbridgeError) return error;
    throw error;
  }
  throw new Error('the config was accepted');
}

/** What a logger configured with `secrets` writes for one record. */
function logLine(secrets: NonNullable<Parameters<typeof createLogger>[0]['secrets']>, fields: Record<string, unknown>, message: string): string {
  let out = '';
  const logger = createLogger({ level: 'info', secrets, destination: { write: (line: string) => (out += line) } as never });
  logger.info(fields, message);
  return out;
}

describe('config: which values are secrets', () => {
  it('a validation message that quotes a secret is scrubbed, whichever position the value sits at', () => {
    // The bind password's variable also fills an LDAP filter that fails validation (and is quoted by the parser's message).
    const error = configError(ldapConfig(', filter: "(uid=${env:LDAP_PW}"'), ENV);
    expect(error.code).toBe('ERR_CONFIG');
    expect(error.message).toContain('directories[0].users.filter');
    expect(error.message).toContain('[redacted]');
    expect(`${error.message}\n${JSON.stringify(error.details)}`).not.toContain(ENV.LDAP_PW);
  });

  it('values read from the environment at ordinary positions (hosts, ports, base DNs, paths, group names) are config, never redacted', () => {
    const loaded = parseConfig(ldapConfig(), { path: PATH, env: ENV });
    const line = logLine(loaded.secrets, { baseDn: ENV.BASE, url: `ldaps://${ENV.HOST}:${ENV.PORT}`, group: ENV.GROUP }, `store file:${ENV.DATA}/store.db`);
    for (const value of [ENV.BASE, ENV.HOST, ENV.PORT, ENV.GROUP, ENV.DATA]) expect(line).toContain(value);
    expect(line).not.toContain('[redacted]');
  });
});

describe('config: defaults and YAML scalars', () => {
  it('roles may be left out when a directory admits all its users: no default groups', () => {
    const { config } = parseConfig('directories:\n  - { id: export, type: ldif, path: ./x.ldif, allUsers: true }\n', { path: PATH, env: {} });
    expect(config.roles.customer.groups).toEqual([]);
    const roleless = configError('directories:\n  - { id: export, type: ldif, path: ./x.ldif }\n', {});
    expect(roleless.message).toContain('roles.customer.groups: nobody can become a customer');
  });

  it('a YAML number or boolean where text is expected is taken as written: group 1000, 007, 1e3, true', () => {
    const text = `
directories:
  - { id: 2024, type: ldif, path: ./x.ldif }
roles: { customer: { groups: [1000, 007, 1e3, true, 0x1F] } }
licensing: { licensedGroups: [jira-users, 42] }
schedules: [{ cron: "0 2 * * *", directories: [2024] }]
`;
    const { config } = parseConfig(text, { path: PATH, env: {} });
    expect(config.directories[0]?.id).toBe('2024');
    expect(config.roles.customer.groups).toEqual(['1000', '007', '1e3', 'true', '0x1F']);
    expect(config.licensing.licensedGroups).toEqual(['jira-users', '42']);
    expect(config.schedules[0]?.directories).toEqual(['2024']);
  });

  it('numbers stay numbers where numbers are expected; an alias is read as written too; a null where text is expected says "quote it"', () => {
    const text = 'directories:\n  - { id: &n 1000, type: ldif, path: ./x.ldif, allUsers: true }\nservice: { port: 9090 }\nschedules: [{ cron: "0 2 * * *", directories: [*n] }]\n';
    const { config } = parseConfig(text, { path: PATH, env: {} });
    expect(config.service.port).toBe(9090);
    expect(config.schedules[0]?.directories).toEqual(['1000']);
    const unquoted = configError('directories:\n  - { id: a, type: ldif, path: ./x.ldif, allUsers: true }\nlicensing: { licensedGroups: [jira-users, null] }\n', {});
    expect(unquoted.message).toContain('licensing.licensedGroups[1]: expected text, found null: quote it');
  });
});

describe('config: secrets are resolved where they are used', () => {
  const twoDirectories = `
store: { url: "mongodb://dirbridge:\${env:MONGO_PW}@\${env:MONGO_HOST}/dirbridge?replicaSet=rs0" }
directories:
  - { id: export, type: ldif, path: ./x.ldif }
  - id: corp
    type: ldap
    url: ldaps://ldap.example.com
    bind: { dn: "cn=svc,dc=example,dc=com", password: "\${env:LDAP_PW}" }
    users: { baseDn: "dc=example,dc=com" }
roles: { customer: { groups: [sd-customers] } }
service: { triggerToken: "\${file:/nonexistent/token}" }
`;

  it('loads without any secret at hand; a directory, the store and the service need theirs only when used', () => {
    const loaded = parseConfig(twoDirectories, { path: PATH, env: { MONGO_HOST: 'db1.example' } });
    const [ldif, ldap] = loaded.config.directories;
    expect(loaded.resolveSecrets(ldif)).toBe(ldif); // nothing secret in it: the same frozen object
    const missing = (() => {
      try {
        loaded.resolveSecrets(ldap);
      } catch (error) {
        return error as DirbridgeError;
      }
      return null;
    })();
    expect(missing?.code).toBe('ERR_SECRET');
    expect(missing?.message).toContain('directories[1].bind.password: environment variable LDAP_PW is not set');
    expect(missing?.message).not.toContain('MONGO_PW');
    // Before it is resolved the config holds a stand-in that no server or client would take for a password.
    // eslint-disable-next-line no-control-regex -- the stand-in starts with NUL
    expect(ldap?.type === 'ldap' && ldap.bind.password).toMatch(/^\u0000unresolved secret at directories\[1\]\.bind\.password/);
  });

  it('inserts a reference in a URL user information percent-encoded, and scrubs the password in every form', () => {
    const password = 'p@ss/w:rd?#[]% +S3NT';
    const loaded = parseConfig(twoDirectories, { path: PATH, env: { MONGO_HOST: 'db1.example', MONGO_PW: password } });
    expect(loaded.config.store.url).toBe('mongodb://dirbridge:${env:MONGO_PW}@db1.example/dirbridge?replicaSet=rs0');
    const url = loaded.resolveSecrets(loaded.config.store).url;
    expect(url).toBe(`mongodb://dirbridge:${encodeURIComponent(password)}@db1.example/dirbridge?replicaSet=rs0`);
    expect(decodeURIComponent(new URL(url.replace('mongodb:', 'http:')).password)).toBe(password);
    expect(loaded.secrets.scrub(`auth ${password} / ${encodeURIComponent(password)} failed`)).toBe('auth [redacted] / [redacted] failed');
    expect(loaded.secrets.scrub('host db1.example')).toBe('host db1.example');
  });

  it('checkSecrets reports every unresolvable reference and every secret that fails its check, at once', () => {
    const loaded = parseConfig(twoDirectories.replace('${file:/nonexistent/token}', '${env:TOKEN}'), { path: PATH, env: { MONGO_HOST: 'h', TOKEN: 'too-short' } });
    let error: DirbridgeError | null = null;
    try {
      loaded.checkSecrets();
    } catch (e) {
      error = e as DirbridgeError;
    }
    expect(error?.code).toBe('ERR_SECRET');
    expect(error?.details?.['problems']).toEqual([
      'store.url: environment variable MONGO_PW is not set. Fix: export MONGO_PW=… before running dirbridge',
      'directories[1].bind.password: environment variable LDAP_PW is not set. Fix: export LDAP_PW=… before running dirbridge',
      'service.triggerToken: at least 16 characters: use a long random token',
    ]);
    const invalid = parseConfig(twoDirectories.replace('${file:/nonexistent/token}', '${env:TOKEN}'), { path: PATH, env: { MONGO_HOST: 'h', MONGO_PW: 'mongo-S3NT-pw', LDAP_PW: 'ldap-S3NT-pw', TOKEN: 'too-short' } });
    expect(() => invalid.checkSecrets()).toThrow(/service\.triggerToken: at least 16 characters/);
  });

  it('warns, naming the position, when a secret is too short or too common to be scrubbed safely', () => {
    const warnings: string[] = [];
    const loaded = parseConfig(twoDirectories.replace('${env:LDAP_PW}', 'password'), { path: PATH, env: { MONGO_HOST: 'h', MONGO_PW: 'admin' } });
    loaded.secrets.onWarning((w) => warnings.push(w));
    expect(warnings).toEqual([expect.stringMatching(/^directories\[1\]\.bind\.password: this secret is a common password, so it cannot be told apart from ordinary text/)]);
    loaded.resolveSecrets(loaded.config.store);
    expect(warnings[1]).toMatch(/^store\.url \(\$\{env:MONGO_PW\}\): this secret is shorter than 8 characters/);
    loaded.resolveSecrets(loaded.config.store); // resolved again, as every run does: warned once
    expect(warnings).toHaveLength(2);
  });
});
