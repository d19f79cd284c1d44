import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isAlias, isScalar, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { DirbridgeError } from '../errors.js';
import type { SyncPolicy } from '../core/model.js';
import { SecretValues } from '../secret-values.js';
import { readReference, REFERENCE, referenceKey, urlPasswordForms, userinfoSpan, type ReferenceContext } from './references.js';
import { visitConfig, type ConfigPath, type SecretPosition } from './secret-positions.js';
import { configSchema, type DirbridgeConfig } from './schema.js';

export interface LoadedConfig {
  /**
   * The validated, frozen config. At a secret position whose value holds a reference, it holds a
   * stand-in until resolved: pass the part you use through `resolveSecrets` first.
   */
  readonly config: DirbridgeConfig;
  readonly path: string;
  /** Directory of the config file: relative paths in it resolve against this. */
  readonly baseDir: string;
  /** The secret values known so far, growing as secrets are resolved: scrubs log lines and error messages. */
  readonly secrets: SecretValues;
  /**
   * `node` (the config, or any object or array in it) with every secret under it resolved, read now
   * (a rotated `${file:…}` secret is picked up): a directory's when it is read, the store's when it
   * is opened. Unresolvable or invalid secrets fail with ERR_SECRET / ERR_CONFIG, every one named.
   */
  resolveSecrets<T>(node: T): T;
  /** Resolves every secret once, reporting every problem at once (`config validate`, `serve`). */
  checkSecrets(): void;
}

export interface LoadOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Reads, resolves references in, validates and freezes a config file. */
export function loadConfig(path: string, options: LoadOptions = {}): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new DirbridgeError('ERR_CONFIG', `cannot read config file ${path}: ${(cause as NodeJS.ErrnoException).code ?? 'unreadable'}. Fix: pass --config PATH, or copy config/examples/dirbridge.example.yml`, { cause });
  }
  return parseConfig(text, { ...options, path });
}

/** A secret position whose value holds a reference, resolved on use. */
interface DeferredSecret extends SecretPosition {
  readonly template: string;
}

export function parseConfig(text: string, options: LoadOptions & { path: string }): LoadedConfig {
  const { path } = options;
  const ctx: ReferenceContext = { env: options.env ?? process.env, baseDir: dirname(resolve(path)) };
  const { raw, positions } = readYaml(text, path);
  const secrets = new SecretValues();
  const problems: string[] = [];
  const deferred = deferSecrets(raw, positions, ctx);
  const resolved = resolveReferences(raw, [], { ...ctx, secrets, problems, deferred });
  for (const position of positions) registerWrittenSecret(getAt(resolved, position.path), position, deferred, secrets);
  if (problems.length > 0) throw configError(path, problems.map(secrets.scrub), 'ERR_SECRET');
  const result = configSchema.safeParse(resolved);
  if (!result.success) throw configError(path, result.error.issues.map((issue) => secrets.scrub(formatIssue(issue))));

  for (const slot of deferred.slots.values()) if (slot.kind === 'value') setAt(result.data, slot.path, `\u0000unresolved secret at ${formatPath(slot.path)}\u0000`);
  const paths = new WeakMap<object, ConfigPath>();
  const config = deepFreeze(result.data, [], paths);
  const resolveSecrets = secretResolver(path, { ...ctx, secrets }, deferred, paths);
  return { config, path, baseDir: ctx.baseDir, secrets, resolveSecrets, checkSecrets: () => void resolveSecrets(config) };
}

/** The YAML as plain data, with scalars written as numbers or booleans where text is expected read as written. */
function readYaml(text: string, path: string): { raw: unknown; positions: SecretPosition[] } {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => `line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0] ?? ''}`);
    throw configError(path, problems);
  }
  const raw: unknown = doc.toJS();
  const positions: SecretPosition[] = [];
  visitConfig(configSchema, raw, {
    text: (at, value) => {
      if (typeof value === 'number' || typeof value === 'boolean') setAt(raw, at, sourceText(doc, at) ?? value);
    },
    secret: (position) => positions.push(position),
  });
  return { raw, positions };
}

/** `LoadedConfig.resolveSecrets` over one loaded config. */
function secretResolver(path: string, ctx: ReferenceContext & { secrets: SecretValues }, deferred: Deferral, paths: WeakMap<object, ConfigPath>) {
  return <T>(node: T): T => {
    const base = node !== null && typeof node === 'object' ? paths.get(node) : undefined;
    if (base === undefined) return node;
    const slots = [...deferred.slots.values()].filter((s) => base.every((key, i) => s.path[i] === key));
    if (slots.length === 0) return node;
    const found = resolveDeferred(slots, ctx);
    if (found.missing.length + found.invalid.length > 0) throw configError(path, [...found.missing, ...found.invalid], found.missing.length > 0 ? 'ERR_SECRET' : 'ERR_CONFIG');
    const copy = structuredClone(node) as T;
    for (const [slot, value] of found.values) setAt(copy, slot.path.slice(base.length), value);
    return deepFreeze(copy, [], new WeakMap());
  };
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

interface Deferral {
  /** By path: secret positions whose references wait until they are used. */
  readonly slots: Map<string, DeferredSecret>;
  /** Sources (`env:NAME`, `file:/path`) a secret position refers to: their values are secrets wherever they appear. */
  readonly sources: Set<string>;
}

/** Finds the references that wait: all of a value position's, and those in a URL's user information. */
function deferSecrets(raw: unknown, positions: readonly SecretPosition[], ctx: ReferenceContext): Deferral {
  const slots = new Map<string, DeferredSecret>();
  const sources = new Set<string>();
  for (const position of positions) {
    const template = getAt(raw, position.path);
    if (typeof template !== 'string') continue;
    const waiting = waitingReferences(template, position.kind);
    if (waiting.length === 0) continue;
    for (const m of waiting) sources.add(referenceKey(m[1] as string, m[2] as string, ctx));
    slots.set(pathKey(position.path), { ...position, template });
  }
  return { slots, sources };
}

function waitingReferences(template: string, kind: SecretPosition['kind']): RegExpExecArray[] {
  const all = [...template.matchAll(REFERENCE)];
  if (kind === 'value') return all;
  const span = userinfoSpan(template);
  return span === null ? [] : all.filter((m) => m.index >= span[0] && m.index < span[1]);
}

interface ResolveContext extends ReferenceContext {
  readonly secrets: SecretValues;
  readonly problems: string[];
  readonly deferred: Deferral;
}

/** Resolves every reference that does not wait for its secret position to be used. */
function resolveReferences(value: unknown, path: (string | number)[], ctx: ResolveContext): unknown {
  if (typeof value === 'string') {
    const slot = ctx.deferred.slots.get(pathKey(path));
    if (slot?.kind === 'value') return value;
    const span = slot === undefined ? null : userinfoSpan(value);
    return value.replace(REFERENCE, (match: string, kind: string, name: string, offset: number) => {
      if (span !== null && offset >= span[0] && offset < span[1]) return match;
      const found = readReference(kind, name, formatPath(path), ctx);
      if ('problem' in found) {
        ctx.problems.push(found.problem);
        return '';
      }
      if (ctx.deferred.sources.has(referenceKey(kind, name, ctx))) ctx.secrets.add(found.value, `${formatPath(path)} (${match})`);
      return found.value;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveReferences(v, [...path, i], ctx));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveReferences(v, [...path, k], ctx)]));
  }
  return value;
}

/** A secret written in the file itself (or a URL read whole from a reference) is known from the start. */
function registerWrittenSecret(value: unknown, position: SecretPosition, deferred: Deferral, secrets: SecretValues): void {
  if (typeof value !== 'string' || deferred.slots.has(pathKey(position.path))) return;
  const where = formatPath(position.path);
  if (position.kind === 'value') secrets.add(value, where);
  else for (const form of urlPasswordForms(value)) secrets.add(form, `${where} (its password)`);
}

interface DeferredValues {
  readonly values: [DeferredSecret, string][];
  readonly missing: string[];
  readonly invalid: string[];
}

/**
 * Reads the waiting references of `slots`, registers what they hold as secrets and checks each
 * resolved value against its position's schema. A reference in a URL's user information is inserted
 * percent-encoded: the secret is stored as it is, not URL-encoded.
 */
function resolveDeferred(slots: readonly DeferredSecret[], ctx: ReferenceContext & { secrets: SecretValues }): DeferredValues {
  const out: DeferredValues = { values: [], missing: [], invalid: [] };
  for (const slot of slots) {
    const where = formatPath(slot.path);
    const waiting = new Set(waitingReferences(slot.template, slot.kind).map((m) => m.index));
    let failed = false;
    const value = slot.template.replace(REFERENCE, (match: string, kind: string, name: string, offset: number) => {
      const found = readReference(kind, name, where, ctx);
      if ('problem' in found) {
        out.missing.push(ctx.secrets.scrub(found.problem));
        failed = true;
        return '';
      }
      if (!waiting.has(offset)) return found.value; // outside a URL's user information: ordinary config
      ctx.secrets.add(found.value, `${where} (${match})`);
      return slot.kind === 'url-userinfo' ? encodeURIComponent(found.value) : found.value;
    });
    if (failed) continue;
    if (slot.kind === 'value') ctx.secrets.add(value, where);
    else for (const form of urlPasswordForms(value)) ctx.secrets.add(form, `${where} (its password)`);
    const checked = slot.schema.safeParse(value);
    if (!checked.success) out.invalid.push(...checked.error.issues.map((issue) => ctx.secrets.scrub(formatIssue({ ...issue, path: [...slot.path, ...issue.path] }))));
    else out.values.push([slot, value]);
  }
  return out;
}

/** The text a YAML scalar was written as (`007`, `1e3`, `true`), following an alias; null for anything else. */
function sourceText(doc: Document, path: ConfigPath): string | null {
  let node: unknown = doc.getIn(path, true);
  if (isAlias(node)) node = node.resolve(doc);
  if (!isScalar(node)) return null;
  if (typeof node.source === 'string' && node.source !== '') return node.source;
  return typeof node.value === 'number' || typeof node.value === 'boolean' ? String(node.value) : null;
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return `${where}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}. Fix: remove it or check its spelling (every key is shown in config/examples/dirbridge.example.yml)`;
  }
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) {
    return `${where}: required (${issue.expected}) but missing. Fix: add it`;
  }
  if (issue.code === 'invalid_type' && issue.expected === 'string' && issue.message.includes('received null')) {
    return `${where}: expected text, found null: quote it ("null") if that is the name, or remove the entry`;
  }
  if (issue.code === 'invalid_union' && 'discriminator' in issue) {
    return `${where}: unknown directory type. Fix: use one of: ldif, ldap, crowd`;
  }
  const first = issue.code === 'invalid_union' ? issue.errors[0]?.[0] : undefined;
  if (first !== undefined) return formatIssue({ ...first, path: [...issue.path, ...first.path] }); // a secret position: its own schema's problem
  return `${where}: ${issue.message}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

const pathKey = (path: ConfigPath): string => JSON.stringify(path);

function getAt(root: unknown, path: ConfigPath): unknown {
  let node = root;
  for (const key of path) node = node !== null && typeof node === 'object' ? (node as Record<string | number, unknown>)[key] : undefined;
  return node;
}

function setAt(root: unknown, path: ConfigPath, value: unknown): void {
  const parent = getAt(root, path.slice(0, -1));
  const key = path[path.length - 1];
  if (parent !== null && typeof parent === 'object' && key !== undefined) (parent as Record<string | number, unknown>)[key] = value;
}

function configError(path: string, problems: string[], code: 'ERR_CONFIG' | 'ERR_SECRET' = 'ERR_CONFIG'): DirbridgeError {
  const noun = problems.length === 1 ? 'problem' : 'problems';
  return new DirbridgeError(code, `config ${path} has ${problems.length} ${noun}:\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
    details: { problems },
  });
}

/** Freezes a value deeply, noting where each object sits (for `resolveSecrets`). */
function deepFreeze<T>(value: T, path: ConfigPath, paths: WeakMap<object, ConfigPath>): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    paths.set(value, path);
    Object.freeze(value);
    for (const [key, child] of Object.entries(value)) deepFreeze(child, [...path, Array.isArray(value) ? Number(key) : key], paths);
  }
  return value;
}
