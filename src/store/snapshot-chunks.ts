import type { DirectoryGroup, DirectorySnapshot, DirectoryUser } from '../core/model.js';

/** A snapshot cut into pieces small enough for one row or document each (MongoDB caps documents at 16 MB). */
export interface SnapshotChunk {
  readonly users: DirectoryUser[];
  readonly groups: DirectoryGroup[];
}

const USERS_PER_CHUNK = 5000;
const MEMBERS_PER_CHUNK = 50_000;

export function toChunks(snapshot: DirectorySnapshot): SnapshotChunk[] {
  const chunks: SnapshotChunk[] = [];
  for (let i = 0; i < snapshot.users.length; i += USERS_PER_CHUNK) chunks.push({ users: snapshot.users.slice(i, i + USERS_PER_CHUNK), groups: [] });
  let current: DirectoryGroup[] = [];
  let members = 0;
  for (const group of snapshot.groups) {
    const size = group.memberUserIds.length + group.memberGroupIds.length + 1;
    if (current.length > 0 && members + size > MEMBERS_PER_CHUNK) {
      chunks.push({ users: [], groups: current });
      current = [];
      members = 0;
    }
    current.push(group);
    members += size;
  }
  if (current.length > 0) chunks.push({ users: [], groups: current });
  return chunks;
}

export function fromChunks(directoryId: string, chunks: readonly SnapshotChunk[]): DirectorySnapshot {
  return { directoryId, users: chunks.flatMap((c) => c.users), groups: chunks.flatMap((c) => c.groups) };
}
