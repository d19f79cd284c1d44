import fc from 'fast-check';
import { spellingsOf, trimmedCharacters } from '../../src/core/licensed-spellings.js';

/** A random spelling of one of the names, padded with characters the licence rule trims. */
export function spelledLicensed(names: readonly string[]): fc.Arbitrary<string> {
  const padding = [...trimmedCharacters()];
  return fc
    .record({
      name: fc.constantFrom(...names),
      pick: fc.infiniteStream(fc.nat()),
      left: fc.array(fc.constantFrom(...padding), { maxLength: 3 }),
      right: fc.array(fc.constantFrom(...padding), { maxLength: 3 }),
    })
    .map(({ name, pick, left, right }) => {
      const spellings = spellingsOf(name);
      const it = pick[Symbol.iterator]();
      const next = (n: number) => (it.next().value as number) % n;
      const spelling = spellings[next(spellings.length)]!;
      return left.join('') + spelling.map((chars) => chars[next(chars.length)]!).join('') + right.join('');
    });
}
