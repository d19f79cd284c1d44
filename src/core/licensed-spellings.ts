import { normalizeGroupName } from './group-name.js';

/**
 * The licence-matching rule (`normalizeGroupName`: NFKC, trim, lower case) turned into patterns that a
 * server can evaluate on its own, so that the stores' server-side checks (SQLite triggers, the MongoDB
 * validator) refuse the same spellings the application does, for writers that bypass dirbridge.
 *
 * A spelling is a sequence of positions; each position is the set of characters that the rule turns into
 * the same text: `j` is `j`, `J`, `ｊ`, `Ｊ`, `𝐣`, `ⓙ`, …; `fi` may also be the ligature `ﬁ`. What the
 * patterns do not cover, the application's own check and the after-apply verification still do: a
 * character whose lower case depends on its neighbours (final sigma), and canonical composition across
 * characters (a base letter followed by a combining mark).
 */

/** Characters the rule maps (NFKC, then lower case) to other text, grouped by that text. */
let variantsByText: Map<string, string[]> | undefined;

function variants(): Map<string, string[]> {
  if (variantsByText !== undefined) return variantsByText;
  const byText = new Map<string, string[]>();
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const ch = String.fromCodePoint(cp);
    const text = ch.normalize('NFKC').toLowerCase();
    if (text === ch || text === '') continue;
    const list = byText.get(text);
    if (list === undefined) byText.set(text, [ch]);
    else list.push(ch);
  }
  variantsByText = byText;
  return byText;
}

/** Every character the rule trims from both ends (JavaScript white space, after NFKC). */
export function trimmedCharacters(): string {
  let out = '';
  for (let cp = 0; cp <= 0xffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const ch = String.fromCodePoint(cp);
    const text = ch.normalize('NFKC');
    if (text !== '' && text.trim() === '') out += ch;
  }
  return out;
}

/** One position of a spelling: the characters that may stand there. */
export type SpellingPosition = readonly string[];
export type Spelling = readonly SpellingPosition[];

/** Beyond this many spellings of one name (ligature combinations), the rest are left to the application. */
const MAX_SPELLINGS = 64;

/**
 * The spellings of one licensed group: every way to write its normalised name a character at a time, or
 * with characters that stand for several (ligatures, `ⅵ`).
 */
export function spellingsOf(licensedGroup: string): Spelling[] {
  const name = [...normalizeGroupName(licensedGroup)];
  const byText = variants();
  const single = (text: string): string[] => [text, ...(byText.get(text) ?? [])];
  const multi = [...byText.entries()].filter(([text]) => [...text].length > 1 && normalizeGroupName(licensedGroup).includes(text));

  const out: Spelling[] = [];
  const walk = (at: number, prefix: SpellingPosition[]): void => {
    if (out.length >= MAX_SPELLINGS) return;
    if (at === name.length) {
      out.push(prefix);
      return;
    }
    walk(at + 1, [...prefix, single(name[at]!)]);
    for (const [text, chars] of multi) {
      const length = [...text].length;
      if (name.slice(at, at + length).join('') === text) walk(at + length, [...prefix, chars]);
    }
  };
  walk(0, []);
  return out;
}

/** A SQLite GLOB pattern for one spelling (matched against the value with the trimmed characters removed). */
export function globPattern(spelling: Spelling): string {
  return spelling.map(globClass).join('');
}

function globClass(chars: SpellingPosition): string {
  const special = new Set(['*', '?', '[', ']']);
  if (chars.length === 1 && !special.has(chars[0]!)) return chars[0]!;
  // In a class, ']' is literal first, '-' last, '^' anywhere but first.
  const plain = chars.filter((c) => c !== ']' && c !== '-' && c !== '^');
  const head = chars.includes(']') ? [']'] : [];
  if (head.length === 0 && plain.length === 0 && chars.includes('^')) {
    return `[${chars.includes('-') ? '-' : ''}^]`;
  }
  return `[${[...head, ...plain, ...(chars.includes('^') ? ['^'] : []), ...(chars.includes('-') ? ['-'] : [])].join('')}]`;
}

/** One regular expression (for MongoDB's `$jsonSchema` `pattern`, PCRE in UTF mode) for every spelling of every group. */
export function spellingsRegex(licensedGroups: readonly string[]): string {
  const space = `[${[...trimmedCharacters()].map(regexChar).join('')}]*`;
  const alternatives = licensedGroups.flatMap(spellingsOf).map((s) => s.map((chars) => `[${chars.map(regexChar).join('')}]`).join(''));
  return `^${space}(?:${alternatives.join('|')})${space}$`;
}

function regexChar(ch: string): string {
  if ('\\]^-['.includes(ch)) return `\\${ch}`;
  const cp = ch.codePointAt(0)!;
  // Controls and white space as escapes, so that the pattern reads the same in every tool.
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || ch.trim() === '') return `\\x{${cp.toString(16)}}`;
  return ch;
}
