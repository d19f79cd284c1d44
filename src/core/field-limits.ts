import type { DirectoryUser, LimitedField, RefusedField, RefusedUser } from './model.js';

/**
 * The longest value dirbridge writes into a customer record, per field. A directory user with any
 * value over its limit is refused by the planner, whichever connector read it: no record is created or
 * updated from it, its stored customer (if any) is left as it is, and the plan reports it.
 *
 * - `email`: 254 octets of UTF-8, the longest address an SMTP path can carry (RFC 5321 §4.5.3.1.3).
 * - `username`, `displayName`, `group` (each customer group name a record carries): 255 characters,
 *   the limits of Jira and Crowd for user names, display names and group names.
 * - `externalId` (1024) and `location` (2048): far above any real directory id or DN; they only stop
 *   values no directory would produce.
 */
export const FIELD_LIMITS: Readonly<Record<LimitedField, number>> = {
  username: 255,
  email: 254,
  displayName: 255,
  externalId: 1024,
  location: 2048,
  group: 255,
};

const SHOWN = 64;

/** The fields of `user` (and the group names its record would carry) that are over their limits. */
export function fieldsOverLimit(user: DirectoryUser, groups: readonly string[]): RefusedField[] {
  const over: RefusedField[] = [];
  const check = (field: LimitedField, value: string | null): void => {
    if (value === null) return;
    const limit = FIELD_LIMITS[field];
    const octets = field === 'email';
    // Quick accept: a UTF-16 unit is at most one character, and at most three UTF-8 octets.
    if ((octets ? value.length * 3 : value.length) <= limit) return;
    const length = octets ? utf8Length(value) : characters(value);
    if (length > limit) over.push({ field, length, limit });
  };
  check('username', user.username);
  check('email', user.email);
  check('displayName', user.displayName);
  check('externalId', user.externalId);
  check('location', user.location);
  for (const group of groups) check('group', group);
  return over;
}

export function toRefusedUser(directoryId: string, user: DirectoryUser, fields: readonly RefusedField[]): RefusedUser {
  return {
    directoryId,
    externalId: shorten(user.externalId),
    username: shorten(user.username),
    fields,
    reason: fields.map((f) => `${f.field === 'group' ? 'a group name' : f.field} is ${f.length} ${f.field === 'email' ? 'octets' : 'characters'} long, over the limit of ${f.limit}`).join('; '),
  };
}

/** A value cut for a report line: at most 64 characters and an ellipsis. */
function shorten(value: string): string {
  const chars = [...value];
  return chars.length <= SHOWN ? value : `${chars.slice(0, SHOWN).join('')}…`;
}

function characters(value: string): number {
  let surrogates = 0;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit >= 0xdc00 && unit <= 0xdfff) surrogates++; // the second half of a pair
  }
  return value.length - surrogates;
}

function utf8Length(value: string): number {
  let n = 0;
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    n += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return n;
}
