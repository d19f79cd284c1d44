import { connectorRegistry } from '../../connectors/registry.js';
import type { DirectoryConfig } from '../config/schema.js';
import type { ConnectorContext, DirectoryConnector } from '../ports/directory-connector.js';

export function openConnector(dir: DirectoryConfig, context: ConnectorContext): DirectoryConnector {
  const definition = connectorRegistry[dir.type];
  return definition.open(dir, context);
}
