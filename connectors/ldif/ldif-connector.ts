import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { DirbridgeError } from '../../src/errors.js';
import type { DirectorySnapshot } from '../../src/core/model.js';
import type { ConnectorContext, DirectoryConnector, FetchOptions } from '../../src/ports/directory-connector.js';
import { resolveConfigPath } from '../shared/paths.js';
import { describeMapping, resolveMapping } from '../shared/profiles.js';
import { EntryMappingError, SnapshotBuilder } from '../shared/snapshot-builder.js';
import type { LdifConfig } from './config.js';
import { LdifSyntaxError, parseLdif } from './ldif-parser.js';

/** An LDIF export read as a directory: the offline source, and the demo's. */
export function openLdifConnector(id: string, config: LdifConfig, context: ConnectorContext): DirectoryConnector {
  const path = resolveConfigPath(context.baseDir, config.path);
  const mapping = resolveMapping(config.profile, config.attributes);

  const read = async (options: FetchOptions = {}): Promise<SnapshotBuilder> => {
    try {
      await access(path);
    } catch (cause) {
      throw new DirbridgeError('ERR_DIRECTORY_READ', `directory ${id}: cannot read LDIF file ${path}`, { cause, retryable: false });
    }
    const builder = new SnapshotBuilder(id, mapping);
    const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
    let currentLine = 0;
    try {
      for await (const { entry, line } of parseLdif(lines)) {
        options.signal?.throwIfAborted();
        currentLine = line;
        builder.add(entry);
        if (options.onProgress !== undefined && (builder.counts.users + builder.counts.groups) % 1000 === 0) options.onProgress(builder.counts);
      }
    } catch (cause) {
      if (cause instanceof LdifSyntaxError) {
        throw new DirbridgeError('ERR_LDIF_PARSE', `directory ${id}: ${path} ${cause.message}`, { cause, details: { line: cause.line } });
      }
      if (cause instanceof EntryMappingError) {
        throw new DirbridgeError('ERR_LDIF_PARSE', `directory ${id}: ${path} line ${currentLine}: ${cause.message}`, {
          cause,
          details: { line: currentLine },
        });
      }
      throw cause;
    } finally {
      lines.close();
    }
    return builder;
  };

  return {
    id,
    type: 'ldif',
    async check() {
      const builder = await read();
      const { users, groups } = builder.counts;
      return { users, groups, partial: false, sampleUser: builder.sampleUser(), mapping: describeMapping(mapping) };
    },
    async fetchSnapshot(options?: FetchOptions): Promise<DirectorySnapshot> {
      return (await read(options)).build();
    },
    async close() {},
  };
}
