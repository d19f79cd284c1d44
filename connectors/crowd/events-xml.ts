import type { Readable } from 'node:stream';
import { SaxesParser } from 'saxes';

export type Operation = 'CREATED' | 'UPDATED' | 'DELETED';

export interface CrowdUserEntity {
  readonly name: string;
  readonly key?: string;
  readonly active?: boolean;
  readonly email?: string;
  readonly displayName?: string;
}

export type CrowdEvent =
  | { readonly kind: 'user'; readonly operation: Operation; readonly user: CrowdUserEntity }
  | { readonly kind: 'group'; readonly operation: Operation; readonly group: string; readonly active: boolean }
  | { readonly kind: 'userMembership'; readonly operation: Operation; readonly user: string; readonly parentGroups: string[] }
  | { readonly kind: 'groupMembership'; readonly operation: Operation; readonly group: string; readonly parentGroups: string[]; readonly childGroups: string[] };

export interface EventList {
  readonly newEventToken: string | null;
  readonly events: CrowdEvent[];
}

interface Node {
  readonly name: string;
  readonly attributes: Record<string, string>;
  readonly children: Node[];
  text: string;
}

const EVENT_ELEMENTS = new Set(['userEvent', 'groupEvent', 'userMembershipEvent', 'groupMembershipEvent']);

/** What `GET /event` says: the current token, and whether Crowd guarantees incremental synchronisation. */
export interface EventTokenAnswer {
  readonly newEventToken?: string;
  readonly incrementalSynchronisationAvailable?: boolean;
}

/**
 * Reads the `<events incrementalSynchronisationAvailable="true" newEventToken="…"/>` document some
 * Crowd versions answer to `GET /event` whatever was asked for. Anything else (an HTML page, a
 * truncated document) throws.
 */
export function parseEventToken(text: string): EventTokenAnswer {
  const parser = new SaxesParser();
  let root: { name: string; attributes: Record<string, string> } | null = null;
  let error: Error | null = null;
  parser.on('error', (e) => {
    error ??= e;
  });
  parser.on('opentag', (tag) => {
    root ??= { name: tag.name, attributes: Object.fromEntries(Object.entries(tag.attributes).map(([k, v]) => [k, String(v)])) };
  });
  parser.write(text).close();
  const found = root as { name: string; attributes: Record<string, string> } | null;
  if (error !== null || found === null || found.name !== 'events') throw new Error('not an <events> document');
  const { newEventToken, incrementalSynchronisationAvailable: flag } = found.attributes;
  return {
    ...(newEventToken === undefined ? {} : { newEventToken }),
    ...(flag === undefined ? {} : { incrementalSynchronisationAvailable: flag === 'true' }),
  };
}

/** Parses `GET /event/{token}` (`<events newEventToken="…">…</events>`), events in the order received. */
export async function parseEvents(stream: Readable): Promise<EventList> {
  const parser = new SaxesParser();
  const stack: Node[] = [];
  let root: Node | null = null;
  let error: Error | null = null;
  parser.on('error', (e) => {
    error ??= e;
  });
  parser.on('opentag', (tag) => {
    const node: Node = { name: tag.name, attributes: Object.fromEntries(Object.entries(tag.attributes).map(([k, v]) => [k, String(v)])), children: [], text: '' };
    stack[stack.length - 1]?.children.push(node);
    root ??= node;
    stack.push(node);
  });
  parser.on('text', (text) => {
    const top = stack[stack.length - 1];
    if (top !== undefined) top.text += text;
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  for await (const chunk of stream) {
    parser.write(String(chunk));
    if (error !== null) throw error;
  }
  parser.close();
  if (error !== null) throw error;
  const events: Node | null = root;
  if (events === null || (events as Node).name !== 'events') throw new Error('the event document has no <events> root');
  return { newEventToken: (events as Node).attributes['newEventToken'] ?? null, events: (events as Node).children.filter((n) => EVENT_ELEMENTS.has(n.name)).map(toEvent) };
}

function toEvent(node: Node): CrowdEvent {
  const operation = child(node, 'operation')?.text.trim();
  if (operation !== 'CREATED' && operation !== 'UPDATED' && operation !== 'DELETED') throw new Error(`${node.name} with operation ${String(operation)}`);
  const names = (parent: string): string[] => (child(node, parent)?.children ?? []).map((g) => required(g.attributes['name'], `${node.name}/${parent}`));
  switch (node.name) {
    case 'userEvent': {
      const u = child(node, 'user');
      if (u === undefined) throw new Error('userEvent without <user>');
      const text = (name: string): string | undefined => child(u, name)?.text.trim() || undefined;
      const active = text('active');
      return {
        kind: 'user',
        operation,
        user: {
          name: required(u.attributes['name'], 'userEvent/user'),
          ...(text('key') === undefined ? {} : { key: text('key') as string }),
          ...(active === undefined ? {} : { active: active === 'true' }),
          ...(text('email') === undefined ? {} : { email: text('email') as string }),
          ...(text('display-name') === undefined ? {} : { displayName: text('display-name') as string }),
        },
      };
    }
    case 'groupEvent': {
      const g = child(node, 'group');
      return { kind: 'group', operation, group: required(g?.attributes['name'], 'groupEvent/group'), active: g === undefined ? true : child(g, 'active')?.text.trim() !== 'false' };
    }
    case 'userMembershipEvent':
      return { kind: 'userMembership', operation, user: required(child(node, 'childUser')?.attributes['name'], 'userMembershipEvent/childUser'), parentGroups: names('parentGroups') };
    default:
      return { kind: 'groupMembership', operation, group: required(child(node, 'group')?.attributes['name'], 'groupMembershipEvent/group'), parentGroups: names('parentGroups'), childGroups: names('childGroups') };
  }
}

function child(node: Node, name: string): Node | undefined {
  return node.children.find((c) => c.name === name);
}

function required(value: string | undefined, where: string): string {
  if (value === undefined || value === '') throw new Error(`${where} has no name`);
  return value;
}
