import type { DirectorySnapshot } from '../../src/core/model.js';
import type { StoredSnapshotView } from '../../src/ports/directory-connector.js';
import { snapshotRows } from '../../src/ports/incremental-store.js';

/** An in-memory stored snapshot, as the engine gives a connector from the store (for connector tests without a store). */
export function snapshotView(snapshot: DirectorySnapshot): StoredSnapshotView & { readonly queries: unknown[] } {
  const rows = snapshotRows(snapshot);
  const queries: unknown[] = [];
  return {
    groups: rows.groups,
    queries,
    async userKeys() {
      return rows.users.map((r) => ({ externalId: r.user.externalId, location: r.user.location }));
    },
    async groupMembers(ids) {
      return rows.groups.filter((g) => ids.includes(g.id)).map((g) => ({ groupId: g.id, members: rows.users.filter((r) => r.groups.includes(g.id)).map((r) => r.user.externalId) }));
    },
    async users(query) {
      queries.push(query);
      const ids = new Set(query.ids ?? []);
      const names = new Set((query.names ?? []).map((n) => n.toLowerCase()));
      const groups = new Set(query.memberOf ?? []);
      return rows.users.filter((r) => ids.has(r.user.externalId) || names.has(r.user.username.toLowerCase()) || r.groups.some((g) => groups.has(g)));
    },
  };
}
