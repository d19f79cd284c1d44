import { z } from 'zod';

/**
 * Secret positions: the places in the config whose value is a secret. They are marked in the zod
 * schema itself, so a new secret key is covered by construction:
 *
 *   password: secret(z.string().min(1)).describe('…')         // the whole value is a secret
 *   url: secret(z.string().regex(…), 'url-userinfo')            // a URL whose user information is
 *
 * What a position being secret means (see load-config.ts):
 * - a `${env:…}` / `${file:…}` reference there is resolved only when that part of the config is used
 *   (a directory's when it is read, the store's when it is opened), and its checks (`min(16)`, …) run
 *   on the resolved value then, or for all at once with `config validate`;
 * - the value (for `url-userinfo`, the URL's password) is scrubbed from log lines and error messages,
 *   and so is the value of any reference a secret position uses, wherever else it appears;
 * - every other value, references included, is ordinary config: resolved when the file is loaded,
 *   never scrubbed.
 */
export type SecretKind = 'value' | 'url-userinfo';

const markers = z.registry<{ kind: SecretKind }>();

/** A value holding a reference passes at load; the marked schema checks it once it is resolved. */
const REFERENCE_TEXT = /\$\{(?:env|file):[^}]*\}/;
const MARKERS: Record<SecretKind, z.ZodString> = {
  value: z.string().regex(REFERENCE_TEXT, 'a ${env:NAME} or ${file:path} reference').register(markers, { kind: 'value' }),
  'url-userinfo': z.string().regex(REFERENCE_TEXT, 'a ${env:NAME} or ${file:path} reference').register(markers, { kind: 'url-userinfo' }),
};

/** Marks `schema` as a secret position (see the module comment). */
export function secret<T extends z.ZodType<string, string>>(schema: T, kind: SecretKind = 'value'): z.ZodUnion<[T, z.ZodString]> {
  return z.union([schema, MARKERS[kind]]);
}

export type ConfigPath = readonly (string | number)[];

export interface SecretPosition {
  readonly path: ConfigPath;
  readonly kind: SecretKind;
  /** The checks the resolved value must pass. */
  readonly schema: z.ZodType;
}

export interface ConfigVisitor {
  /** A position where the schema expects text (secret positions included), with the value found there. */
  text?(path: ConfigPath, value: unknown): void;
  secret?(position: SecretPosition, value: unknown): void;
}

interface Def {
  readonly type: string;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly discriminator?: string;
  readonly shape?: Record<string, z.ZodType>;
  readonly element?: z.ZodType;
  readonly values?: readonly unknown[];
}

const defOf = (schema: z.ZodType): Def => schema._zod.def as unknown as Def;
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'nonoptional', 'catch']);

function asSecret(def: Def): { kind: SecretKind; schema: z.ZodType } | null {
  const options = def.type === 'union' ? (def.options ?? []) : [];
  const marker = options.find((o) => markers.has(o));
  const schema = options.find((o) => !markers.has(o));
  if (marker === undefined || schema === undefined) return null;
  return { kind: (markers.get(marker) as { kind: SecretKind }).kind, schema };
}

/**
 * Walks a config value (parsed YAML, before validation) along its schema, reporting text positions
 * and secret positions. A discriminated union follows the option the value names (every option when
 * it names none, so a misspelt `type` still has its secrets found).
 */
export function visitConfig(schema: z.ZodType, value: unknown, visitor: ConfigVisitor, path: ConfigPath = []): void {
  const def = defOf(schema);
  if (WRAPPERS.has(def.type) && def.innerType !== undefined) return visitConfig(def.innerType, value, visitor, path);
  if (def.type === 'pipe' && def.in !== undefined) return visitConfig(def.in, value, visitor, path);
  const secretOf = asSecret(def);
  if (secretOf !== null) {
    visitor.text?.(path, value);
    visitor.secret?.({ path, ...secretOf }, value);
    return;
  }
  switch (def.type) {
    case 'string':
      visitor.text?.(path, value);
      return;
    case 'union':
      if (def.discriminator !== undefined) for (const option of matchingOptions(def, value)) visitConfig(option, value, visitor, path);
      return;
    case 'object':
      if (isRecord(value)) {
        for (const [key, child] of Object.entries(def.shape ?? {})) if (key in value) visitConfig(child, value[key], visitor, [...path, key]);
      }
      return;
    case 'array':
      if (Array.isArray(value) && def.element !== undefined) value.forEach((item, i) => visitConfig(def.element as z.ZodType, item, visitor, [...path, i]));
      return;
  }
}

function matchingOptions(def: Def, value: unknown): readonly z.ZodType[] {
  const options = def.options ?? [];
  const tag = isRecord(value) ? value[def.discriminator as string] : undefined;
  const matching = options.filter((o) => defOf(defOf(o).shape?.[def.discriminator as string] ?? z.never()).values?.includes(tag) === true);
  return matching.length > 0 ? matching : options;
}

/** Every secret position of a schema, as `directories[].bind.password` (for the README, and its test). */
export function listSecretPositions(schema: z.ZodType, path = ''): string[] {
  const def = defOf(schema);
  if (WRAPPERS.has(def.type) && def.innerType !== undefined) return listSecretPositions(def.innerType, path);
  if (def.type === 'pipe' && def.in !== undefined) return listSecretPositions(def.in, path);
  const secretOf = asSecret(def);
  if (secretOf !== null) return [secretOf.kind === 'value' ? path : `${path} (user information)`];
  const join = (key: string): string => (path === '' ? key : `${path}.${key}`);
  switch (def.type) {
    case 'union':
      return [...new Set((def.options ?? []).flatMap((o) => listSecretPositions(o, path)))];
    case 'object':
      return Object.entries(def.shape ?? {}).flatMap(([key, child]) => listSecretPositions(child, join(key)));
    case 'array':
      return def.element === undefined ? [] : listSecretPositions(def.element, `${path}[]`);
    default:
      return [];
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
