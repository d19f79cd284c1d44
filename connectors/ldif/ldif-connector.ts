import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { DirbridgeError } from '../../src/errors.js';
import type { DirectorySnapshot } from '../../src/core/model.js';
import type { ConnectorContext, DirectoryConnector, FetchOptions } from '../../src/ports/directory-connector.js';
import { resolveConfigPath } from '../shared/paths.js';
import { checkByReadingWhole, resolveMapping, type AttributeMapping } from '../shared/profiles.js';
import { groupSelectionFilter, matchesFilter, scopeTest, userSelectionFilter } from '../shared/selection.js';
import { EntryMappingError, normalizeDn, SnapshotBuilder, type DirectoryEntry } from '../shared/snapshot-builder.js';
import type { LdifConfig } from './config.js';
import { LdifSyntaxError, parseLdif } from './ldif-parser.js';

/** An LDIF export read as a directory: the offline source, and the demo's. */
export function openLdifConnector(id: string, config: LdifConfig, context: ConnectorContext): DirectoryConnector {
  const path = resolveConfigPath(context.baseDir, config.path);
  const mapping = resolveMapping(config.profile, config.attributes);
  const classify = entryClassifier(mapping, config);

  const read = async (options: FetchOptions = {}): Promise<DirectorySnapshot> => {
    try {
      await access(path);
    } catch (cause) {
      throw new DirbridgeError('ERR_DIRECTORY_READ', `directory ${id}: cannot read LDIF file ${path}`, { cause, retryable: false });
    }
    const builder = new SnapshotBuilder(id, mapping, { memberOf: config.groups === undefined ? 'when-no-groups' : 'ignore' });
    const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
    let currentLine = 0;
    try {
      for await (const { entry, line } of parseLdif(lines)) {
        options.signal?.throwIfAborted();
        currentLine = line;
        const kind = classify(entry);
        if (kind === 'group') builder.addGroup(entry);
        else if (kind === 'user') builder.addUser(entry);
        if (options.onProgress !== undefined && (builder.counts.users + builder.counts.groups) % 1000 === 0) options.onProgress(builder.counts);
      }
      currentLine = 0;
      return builder.build();
    } catch (cause) {
      if (cause instanceof LdifSyntaxError) {
        throw new DirbridgeError('ERR_LDIF_PARSE', `directory ${id}: ${path} ${cause.message}`, { cause, details: { line: cause.line } });
      }
      if (cause instanceof EntryMappingError) {
        // The file is well-formed; an entry does not fit the attribute mapping: the message says what to set.
        const where = currentLine === 0 ? '' : ` line ${currentLine}`;
        throw new DirbridgeError('ERR_DIRECTORY_READ', `directory ${id}: ${path}${where}: ${cause.message}`, {
          cause,
          retryable: false,
          ...(currentLine === 0 ? {} : { details: { line: currentLine } }),
        });
      }
      throw cause;
    } finally {
      lines.close();
    }
  };

  return {
    id,
    type: 'ldif',
    check: checkByReadingWhole(read, mapping),
    fetchSnapshot: read,
    async close() {},
  };
}

/**
 * User, group or neither, as the ldap type's searches would say: an entry of a group class is a group
 * when it lies in the groups' base DN and scope and matches their filter (else it is nothing); any
 * other entry is a user when the user filter (profile classes, excluded classes, the admin's filter)
 * matches it inside the users' scope.
 */
function entryClassifier(mapping: AttributeMapping, config: Pick<LdifConfig, 'users' | 'groups'>): (entry: DirectoryEntry) => 'user' | 'group' | 'ignored' {
  const groupClasses = new Set(mapping.groupObjectClasses.map((c) => c.toLowerCase()));
  const userFilter = userSelectionFilter(mapping, config.users?.filter);
  const groupFilter = config.groups?.filter === undefined ? null : groupSelectionFilter(mapping, config.groups.filter);
  const inUserScope = config.users === undefined ? null : scopeTest(config.users);
  const inGroupScope = config.groups === undefined ? null : scopeTest(config.groups);
  return (entry) => {
    const classes = entry.attributes.get('objectclass') ?? [];
    if (classes.some((c) => typeof c === 'string' && groupClasses.has(c.toLowerCase()))) {
      if (inGroupScope !== null && !inGroupScope(normalizeDn(entry.dn))) return 'ignored';
      return groupFilter === null || matchesFilter(groupFilter, entry) ? 'group' : 'ignored';
    }
    if (inUserScope !== null && !inUserScope(normalizeDn(entry.dn))) return 'ignored';
    return matchesFilter(userFilter, entry) ? 'user' : 'ignored';
  };
}
