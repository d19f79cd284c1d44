import type { DirectoryUser } from '../../src/core/model.js';

/** Comparisons the incremental readers use to tell a stored row from the one just read. */
export function sameUser(a: DirectoryUser, b: DirectoryUser): boolean {
  return a.externalId === b.externalId && a.username === b.username && a.email === b.email && a.displayName === b.displayName && a.disabled === b.disabled && a.location === b.location;
}

export function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Code-unit order, as the stored rows are sorted. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
