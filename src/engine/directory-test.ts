import type { ConnectorCheck } from '../ports/directory-connector.js';
import { selectDirectories, type EngineDeps } from './run-sync.js';
import type { WriteProbe } from './customers/probe-writes.js';

export interface DirectoryTest extends ConnectorCheck {
  readonly writes?: WriteProbe;
}

/** `directories test ID` (and the console's "test connection"): reads the directory as a sync would and says what it found. */
export async function testDirectory(deps: Pick<EngineDeps, 'loaded' | 'logger'>, id: string): Promise<DirectoryTest> {
  const { loaded, logger } = deps;
  const [dir] = selectDirectories(loaded, [id]);
  const resolved = loaded.resolveSecrets(dir as NonNullable<typeof dir>);
  const { openConnector } = await import('./open-connector.js');
  const connector = await openConnector(resolved, { logger, baseDir: loaded.baseDir });
  try {
    const check = await connector.check();
    const { probeWrites } = await import('./customers/probe-writes.js');
    const writes = await probeWrites(loaded, resolved, logger);
    return { ...check, ...(writes === null ? {} : { writes }) };
  } finally {
    await connector.close();
  }
}
