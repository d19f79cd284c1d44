import { readFileSync } from 'node:fs';
import { resolveConfigPath } from '../../connectors/shared/paths.js';

/** `${env:NAME}` or `${file:path}` inside any config string. */
export const REFERENCE = /\$\{(env|file):([^}]*)\}/g;

export interface ReferenceContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Relative `${file:…}` paths resolve against the config file's directory. */
  readonly baseDir: string;
}

export type Resolved = { readonly value: string } | { readonly problem: string };

/** What identifies a reference's source: the same key at two positions is the same value. */
export function referenceKey(kind: string, name: string, ctx: ReferenceContext): string {
  return kind === 'env' ? `env:${name}` : `file:${resolveConfigPath(ctx.baseDir, name)}`;
}

/** Reads one reference. `where` (a config path) starts the problem, which says how to fix it. */
export function readReference(kind: string, name: string, where: string, ctx: ReferenceContext): Resolved {
  if (kind === 'env') {
    const found = ctx.env[name];
    if (found === undefined || found === '') return { problem: `${where}: environment variable ${name} is not set. Fix: export ${name}=… before running dirbridge` };
    return { value: found };
  }
  const file = resolveConfigPath(ctx.baseDir, name);
  try {
    return { value: readFileSync(file, 'utf8').replace(/\r?\n$/, '') };
  } catch (cause) {
    return { problem: `${where}: secret file ${file} cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'}). Fix: check the path and its permissions` };
  }
}

/**
 * Where a URL template's user information lies ([start, end) before its `@`), or null when it has
 * none. References count as opaque text, so a `/` or `@` inside one ends nothing.
 */
export function userinfoSpan(template: string): readonly [number, number] | null {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(template);
  if (scheme === null) return null;
  let at = -1;
  for (let i = scheme[0].length; i < template.length; i++) {
    if (template.startsWith('${', i)) {
      const close = template.indexOf('}', i);
      if (close < 0) break;
      i = close;
      continue;
    }
    const ch = template[i];
    if (ch === '/' || ch === '?' || ch === '#') break;
    if (ch === '@') at = i;
  }
  return at < 0 ? null : [scheme[0].length, at];
}

/**
 * The password of a URL as written, and decoded. The user information ends at the last `@` of the
 * authority; when the authority holds none (an unencoded `/` in the password cut it short), at the
 * last `@` anywhere: better a longer value taken for the password than part of one missed.
 */
export function urlPasswordForms(url: string): string[] {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url);
  if (scheme === null) return [];
  const rest = url.slice(scheme[0].length);
  const authority = rest.split(/[/?#]/)[0] ?? '';
  const at = authority.includes('@') ? authority.lastIndexOf('@') : rest.lastIndexOf('@');
  if (at < 0) return [];
  const userinfo = rest.slice(0, at);
  const colon = userinfo.indexOf(':');
  if (colon < 0) return [];
  const password = userinfo.slice(colon + 1);
  let decoded = password;
  try {
    decoded = decodeURIComponent(password);
  } catch {
    // not valid percent-encoding: the written form is all there is
  }
  return [...new Set([password, decoded])].filter((p) => p !== '');
}
