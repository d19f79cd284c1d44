import type { ConnectorDefinition } from '../src/ports/directory-connector.js';
import { crowdConfigSchema } from './crowd/config.js';
import { ldapConfigSchema, validateLdapConfig } from './ldap/config.js';
import { ldifConfigSchema } from './ldif/config.js';

const crowd: ConnectorDefinition<typeof crowdConfigSchema> = {
  configSchema: crowdConfigSchema,
  open: async (config, context) => (await import('./crowd/crowd-connector.js')).openCrowdConnector(config.id, config, context),
  openProvisioner: async (config, context) => (await import('./crowd/crowd-provisioner.js')).openCrowdProvisioner(config.id, config, context),
};

const ldap: ConnectorDefinition<typeof ldapConfigSchema> = {
  configSchema: ldapConfigSchema,
  validate: validateLdapConfig,
  open: async (config, context) => (await import('./ldap/ldap-connector.js')).openLdapConnector(config.id, config, context),
};

const ldif: ConnectorDefinition<typeof ldifConfigSchema> = {
  configSchema: ldifConfigSchema,
  open: async (config, context) => (await import('./ldif/ldif-connector.js')).openLdifConnector(config.id, config, context),
};

/**
 * Config `type` → connector. The core never imports this; config and engine do. Only the config
 * schemas load eagerly: a connector's implementation (and its HTTP or LDAP client) loads when a
 * directory of that type is opened, so a run pays only for the connectors it uses.
 */
export const connectorRegistry = { ldif, ldap, crowd } as const satisfies Record<string, ConnectorDefinition>;

export type ConnectorType = keyof typeof connectorRegistry;
