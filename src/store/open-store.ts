import { fileURLToPath } from 'node:url';
import { DirbridgeError } from '../errors.js';
import type { SyncStore } from '../ports/store.js';
import { resolveConfigPath } from '../../connectors/shared/paths.js';

export interface OpenStoreOptions {
  readonly url: string;
  readonly baseDir: string;
  readonly licensedGroups: readonly string[];
}

/** `file:PATH` (relative to the config file) → the embedded store; `mongodb://` or `mongodb+srv://` → MongoDB. */
export async function openStore(options: OpenStoreOptions): Promise<SyncStore> {
  const { url } = options;
  if (url.startsWith('file:')) {
    const rest = url.slice('file:'.length);
    const path = rest === ':memory:' ? rest : rest.startsWith('//') ? fileURLToPath(url) : resolveConfigPath(options.baseDir, rest);
    const { openSqliteStore } = await import('./sqlite/sqlite-store.js');
    return openSqliteStore({ path, licensedGroups: options.licensedGroups });
  }
  if (url.startsWith('mongodb://') || url.startsWith('mongodb+srv://')) {
    // Loaded on demand, like the SQLite adapter: a run pays only for the store it uses.
    const { openMongoStore } = await import('./mongodb/mongo-store.js');
    return openMongoStore({ url, licensedGroups: options.licensedGroups });
  }
  throw new DirbridgeError('ERR_CONFIG', `unsupported store URL scheme "${url.split(':')[0] ?? ''}:": use file:PATH or mongodb://…`);
}
