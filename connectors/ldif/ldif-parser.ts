import type { AttributeValue, DirectoryEntry } from '../shared/snapshot-builder.js';

export class LdifSyntaxError extends Error {
  override name = 'LdifSyntaxError';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

export interface ParsedEntry {
  readonly entry: DirectoryEntry;
  /** Line number (1-based) of the entry's `dn:` line. */
  readonly line: number;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const ATTRIBUTE = /^([A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)((?:;[A-Za-z0-9-=]+)*)$/;

/**
 * A streaming RFC 2849 reader for content records: comments, folded lines, `::` base64 values,
 * attribute options (dropped: `member;range=0-1499` counts as `member`), multi-valued attributes.
 * Change records and `:<` URL values are refused. Yields one entry at a time.
 */
export async function* parseLdif(lines: AsyncIterable<string> | Iterable<string>): AsyncGenerator<ParsedEntry> {
  let lineNo = 0;
  let logical: { text: string; line: number } | null = null;
  let inComment = false;
  let record: { dn: string; line: number; attributes: Map<string, AttributeValue[]> } | null = null;
  let sawVersion = false;

  const finishRecord = (): ParsedEntry | null => {
    const done = record;
    record = null;
    return done === null ? null : { entry: { dn: done.dn, attributes: done.attributes }, line: done.line };
  };

  const takeLine = (text: string, line: number): void => {
    const colon = text.indexOf(':');
    if (colon <= 0) throw new LdifSyntaxError(line, `expected "attribute: value", found ${JSON.stringify(text.slice(0, 40))}`);
    const description = text.slice(0, colon);
    let rest = text.slice(colon + 1);
    let value: AttributeValue;
    if (rest.startsWith(':')) {
      rest = rest.slice(1).trim();
      if (!BASE64.test(rest) || rest.length % 4 !== 0) throw new LdifSyntaxError(line, `invalid base64 value for ${description}`);
      value = Buffer.from(rest, 'base64');
    } else if (rest.startsWith('<')) {
      throw new LdifSyntaxError(line, `URL values (${description}:<) are not supported; inline the value`);
    } else {
      value = rest.replace(/^ +/, '');
    }
    const lower = description.toLowerCase();
    if (record === null) {
      if (lower === 'version') {
        if (sawVersion || String(value) !== '1') throw new LdifSyntaxError(line, 'only "version: 1" is supported, once, before the first entry');
        sawVersion = true;
        return;
      }
      if (lower !== 'dn') throw new LdifSyntaxError(line, `an entry must start with "dn:", found "${description}:"`);
      const dn = typeof value === 'string' ? value : decodeUtf8(value, line, 'dn');
      record = { dn, line, attributes: new Map() };
      return;
    }
    if (lower === 'dn') throw new LdifSyntaxError(line, 'a second "dn:" in one entry: separate entries with a blank line');
    if (lower === 'changetype') {
      if (String(value).trim() === 'add') return;
      throw new LdifSyntaxError(line, `change records (changetype: ${String(value).trim()}) are not supported; export content with ldapsearch or slapcat`);
    }
    const match = ATTRIBUTE.exec(description);
    if (match === null) throw new LdifSyntaxError(line, `invalid attribute name ${JSON.stringify(description)}`);
    const name = (match[1] as string).toLowerCase();
    const list = record.attributes.get(name);
    if (list === undefined) record.attributes.set(name, [value]);
    else list.push(value);
  };

  for await (const raw of lines) {
    lineNo++;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.startsWith(' ')) {
      if (inComment) continue;
      if (logical === null) throw new LdifSyntaxError(lineNo, 'a continuation line (starting with a space) with nothing to continue');
      logical.text += text.slice(1);
      continue;
    }
    if (logical !== null) {
      takeLine(logical.text, logical.line);
      logical = null;
    }
    inComment = text.startsWith('#');
    if (inComment) continue;
    if (text === '') {
      const done = finishRecord();
      if (done !== null) yield done;
      continue;
    }
    logical = { text, line: lineNo };
  }
  if (logical !== null) takeLine(logical.text, logical.line);
  const done = finishRecord();
  if (done !== null) yield done;
}

function decodeUtf8(bytes: Uint8Array, line: number, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new LdifSyntaxError(line, `${what} is not valid UTF-8`);
  }
}
