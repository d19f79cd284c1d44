import type { LoadedConfig } from '../../config/load-config.js';
import type { DirectoryConfig } from '../../config/schema.js';
import type { Logger } from '../../logger.js';
import { openProvisioner } from '../open-connector.js';

export interface WriteProbe {
  readonly group: string;
  readonly writes: 'allowed' | 'read-only' | 'unknown';
  readonly detail: string;
}

/**
 * For `directories test` on a directory that can create users (Crowd): whether this application may
 * write there, where the directory can tell without a change (see the provisioner's probe). Null for
 * directories that cannot create users.
 */
export async function probeWrites(loaded: LoadedConfig, dir: DirectoryConfig, logger: Logger): Promise<WriteProbe | null> {
  if (dir.type !== 'crowd') return null;
  const { config } = loaded;
  const target = config.signup.target;
  const group = (target?.directory === dir.id ? target.group : undefined) ?? config.roles.customer.groups[0];
  if (group === undefined) return { group: '', writes: 'unknown', detail: 'no customer default group to probe with' };
  const provisioner = await openProvisioner(dir, { logger, baseDir: loaded.baseDir });
  try {
    return { group, ...(await provisioner.probeWrites(group)) };
  } finally {
    await provisioner.close();
  }
}
