import type { Readable } from 'node:stream';
import { SaxesParser } from 'saxes';

export interface Membership {
  readonly group: string;
  readonly users: string[];
  readonly groups: string[];
}

/**
 * Streams Crowd's bulk `GET /group/membership` document, one `<membership>` at a time:
 * `<memberships><membership group="g"><users><user name="u"/></users><groups><group name="c"/></groups></membership>…`
 * Direct members only; the core resolves nesting.
 */
export async function* parseMemberships(stream: Readable): AsyncGenerator<Membership> {
  const parser = new SaxesParser();
  const ready: Membership[] = [];
  let current: Membership | null = null;
  let section: 'users' | 'groups' | null = null;
  let error: Error | null = null;
  let sawRoot = false;
  parser.on('error', (e) => {
    error ??= e;
  });
  parser.on('opentag', (tag) => {
    const name = tag.attributes['name'];
    switch (tag.name) {
      case 'memberships':
        sawRoot = true;
        break;
      case 'membership':
        current = { group: String(tag.attributes['group'] ?? ''), users: [], groups: [] };
        break;
      case 'users':
      case 'groups':
        section = tag.name;
        break;
      case 'user':
        if (current !== null && section === 'users' && typeof name === 'string') current.users.push(name);
        break;
      case 'group':
        if (current !== null && section === 'groups' && typeof name === 'string') current.groups.push(name);
        break;
    }
  });
  parser.on('closetag', (tag) => {
    if (tag.name === 'membership' && current !== null) {
      ready.push(current);
      current = null;
    } else if (tag.name === 'users' || tag.name === 'groups') {
      section = null;
    }
  });
  for await (const chunk of stream) {
    parser.write(String(chunk));
    if (error !== null) throw error;
    yield* ready.splice(0);
  }
  parser.close();
  if (error !== null) throw error;
  if (!sawRoot) throw new Error('the membership document has no <memberships> root');
  yield* ready.splice(0);
}
