import { connectorRegistry } from '../../connectors/registry.js';
import type { DirectoryConfig } from '../config/schema.js';
import { DirbridgeError } from '../errors.js';
import type { ConnectorContext, ConnectorDefinition, DirectoryConnector, UserProvisioner } from '../ports/directory-connector.js';

export function openConnector(dir: DirectoryConfig, context: ConnectorContext): Promise<DirectoryConnector> {
  // The config schema is the union of the registry's schemas, so `dir` fits its own type's definition.
  const definition = connectorRegistry[dir.type] as unknown as ConnectorDefinition;
  return definition.open(dir, context);
}

/** The user provisioner of a directory that can create users (Crowd): signup.target. */
export function openProvisioner(dir: DirectoryConfig, context: ConnectorContext): Promise<UserProvisioner> {
  const definition = connectorRegistry[dir.type] as unknown as ConnectorDefinition;
  if (definition.openProvisioner === undefined) throw new DirbridgeError('ERR_CONFIG', `directory ${dir.id} (${dir.type}) cannot create users: signup.target must be a Crowd directory`);
  return definition.openProvisioner(dir, context);
}
