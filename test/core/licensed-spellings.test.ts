import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeGroupName } from '../../src/core/group-name.js';
import { spellingsRegex } from '../../src/core/licensed-spellings.js';
import { spelledLicensed } from '../helpers/licensed-spellings.js';

const LICENSED = ['jira-users', 'JIRA Software Users', 'staff-finance', 'grp[1]^-*?'];
/** MongoDB reads the pattern as PCRE; JavaScript spells a code point escape \u{…}. */
const regex = new RegExp(spellingsRegex(LICENSED).replaceAll('\\x{', '\\u{'), 'u');
const licensed = new Set(LICENSED.map(normalizeGroupName));
const spelled = spelledLicensed(LICENSED);
describe('licensed spellings: the licence rule as patterns a store server evaluates', () => {
  it('every spelling it generates is one the rule matches, and the validator pattern matches it', () => {
    fc.assert(
      fc.property(spelled, (value) => {
        expect(licensed.has(normalizeGroupName(value))).toBe(true);
        expect(regex.test(value)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('the pattern matches nothing the rule does not match', () => {
    const near = spelled.chain((value) => fc.record({ value: fc.constant(value), at: fc.nat(value.length), insert: fc.string({ unit: 'grapheme', maxLength: 2 }) }))
      .map(({ value, at, insert }) => value.slice(0, at) + insert + value.slice(at + 1));
    fc.assert(
      fc.property(fc.oneof(near, fc.string({ unit: 'grapheme', maxLength: 24 })), (value) => {
        if (!licensed.has(normalizeGroupName(value))) expect(regex.test(value)).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it('covers case, width, white space, mathematical letters and ligatures; not a longer name', () => {
    for (const value of ['ｊｉｒａ-users', 'JIRA-Users', ' jira-users\u3000', '\u00a0𝐣𝐢𝐫𝐚-ｕsers', 'staﬀ-ﬁnance', 'Jira\u00a0software users', 'GRP[1]^-*?']) {
      expect(regex.test(value), value).toBe(true);
    }
    for (const value of ['jira-users-archive', 'jira_users', 'jira users', 'grp[1]^-*']) expect(regex.test(value), value).toBe(false);
  });
});
