import { connectorRegistry } from '../../connectors/registry.js';
import type { DirectoryConfig } from '../config/schema.js';
import type { ConnectorContext, ConnectorDefinition, DirectoryConnector } from '../ports/directory-connector.js';

export function openConnector(dir: DirectoryConfig, context: ConnectorContext): Promise<DirectoryConnector> {
  // The config schema is the union of the registry's schemas, so `dir` fits its own type's definition.
  const definition = connectorRegistry[dir.type] as unknown as ConnectorDefinition;
  return definition.open(dir, context);
}
