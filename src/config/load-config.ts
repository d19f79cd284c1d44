import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { resolveConfigPath } from '../../connectors/shared/paths.js';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { DirbridgeError } from '../errors.js';
import type { SyncPolicy } from '../core/model.js';
import { configSchema, type DirbridgeConfig } from './schema.js';

export interface LoadedConfig {
  readonly config: DirbridgeConfig;
  readonly path: string;
  /** Directory of the config file: relative paths in it resolve against this. */
  readonly baseDir: string;
  /** Every value resolved from a secret reference, for scrubbing logs and messages. */
  readonly secrets: readonly string[];
}

export interface LoadOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const REFERENCE = /\$\{(env|file):([^}]*)\}/g;

/** Reads, resolves secret references in, validates and freezes a config file. */
export function loadConfig(path: string, options: LoadOptions = {}): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new DirbridgeError('ERR_CONFIG', `cannot read config file ${path}: ${(cause as NodeJS.ErrnoException).code ?? 'unreadable'}. Fix: pass --config PATH, or copy config/examples/dirbridge.example.yml`, { cause });
  }
  return parseConfig(text, { ...options, path });
}

export function parseConfig(text: string, options: LoadOptions & { path: string }): LoadedConfig {
  const { path } = options;
  const baseDir = dirname(resolve(path));
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => `line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0] ?? ''}`);
    throw configError(path, problems);
  }
  const raw: unknown = doc.toJS();
  const secrets: string[] = [];
  const problems: string[] = [];
  const resolved = resolveReferences(raw, [], { env: options.env ?? process.env, baseDir, secrets, problems });
  if (problems.length > 0) throw configError(path, problems, 'ERR_SECRET');
  const result = configSchema.safeParse(resolved);
  if (!result.success) throw configError(path, result.error.issues.map(formatIssue));
  return { config: deepFreeze(result.data), path, baseDir, secrets };
}

/** The planner's view of a config. */
export function policyFromConfig(config: DirbridgeConfig): SyncPolicy {
  return {
    directories: config.directories.map((d) => ({ id: d.id, allUsers: d.allUsers })),
    customerGroups: config.roles.customer.groups,
    licensedGroups: config.licensing.licensedGroups,
    onLicensedMembership: config.licensing.onLicensedMembership,
    aggregateMemberships: config.aggregateMemberships,
    safety: config.safety,
  };
}

interface ResolveContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly baseDir: string;
  readonly secrets: string[];
  readonly problems: string[];
}

function resolveReferences(value: unknown, path: (string | number)[], ctx: ResolveContext): unknown {
  if (typeof value === 'string') return resolveString(value, path, ctx);
  if (Array.isArray(value)) return value.map((v, i) => resolveReferences(v, [...path, i], ctx));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveReferences(v, [...path, k], ctx)]));
  }
  return value;
}

function resolveString(value: string, path: (string | number)[], ctx: ResolveContext): string {
  return value.replace(REFERENCE, (_match, kind: string, name: string) => {
    if (kind === 'env') {
      const found = ctx.env[name];
      if (found === undefined || found === '') {
        ctx.problems.push(`${formatPath(path)}: environment variable ${name} is not set. Fix: export ${name}=… before running dirbridge`);
        return '';
      }
      ctx.secrets.push(found);
      return found;
    }
    const file = resolveConfigPath(ctx.baseDir, name);
    try {
      const found = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      ctx.secrets.push(found);
      return found;
    } catch (cause) {
      ctx.problems.push(`${formatPath(path)}: secret file ${file} cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'}). Fix: check the path and its permissions`);
      return '';
    }
  });
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return `${where}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}. Fix: remove it or check its spelling (every key is shown in config/examples/dirbridge.example.yml)`;
  }
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) {
    return `${where}: required (${issue.expected}) but missing. Fix: add it`;
  }
  if (issue.code === 'invalid_union' && 'discriminator' in issue) {
    return `${where}: unknown directory type. Fix: use one of: ldif, ldap, crowd`;
  }
  return `${where}: ${issue.message}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

function configError(path: string, problems: string[], code: 'ERR_CONFIG' | 'ERR_SECRET' = 'ERR_CONFIG'): DirbridgeError {
  const noun = problems.length === 1 ? 'problem' : 'problems';
  return new DirbridgeError(code, `config ${path} has ${problems.length} ${noun}:\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
    details: { problems },
  });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
