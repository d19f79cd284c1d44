/** What `customers list --search` matches: username, e-mail and display name, lower-cased in JS (Unicode-aware). */
export function searchText(c: { username: string; email: string | null; displayName: string | null }): string {
  return [c.username, c.email ?? '', c.displayName ?? ''].join('\n').toLowerCase();
}
