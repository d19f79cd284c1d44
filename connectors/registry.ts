import type { ConnectorDefinition } from '../src/ports/directory-connector.js';
import { crowdConnector } from './crowd/crowd-connector.js';
import { ldapConnector } from './ldap/ldap-connector.js';
import { ldifConnector } from './ldif/ldif-connector.js';

/** Config `type` → connector. The core never imports this; config and engine do. */
export const connectorRegistry = {
  ldif: ldifConnector,
  ldap: ldapConnector,
  crowd: crowdConnector,
} as const satisfies Record<string, ConnectorDefinition>;

export type ConnectorType = keyof typeof connectorRegistry;
