import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameWholeMessages, wholeMessageReader } from '../../connectors/ldap/message-framing.js';

/** A BER SEQUENCE of `length` content bytes (short or long length form), filled with `fill`. */
function message(length: number, fill: number): Buffer {
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  const header = length < 0x80 ? [0x30, length] : [0x30, 0x80 | bytes.length, ...bytes];
  return Buffer.concat([Buffer.from(header), Buffer.alloc(length, fill)]);
}

/** Splits `stream` at the given cut points (fractions of its length). */
function split(stream: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * stream.length)))].filter((p) => p > 0 && p < stream.length).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, stream.length]) {
    chunks.push(stream.subarray(from, p));
    from = p;
  }
  return chunks;
}

/** Cuts a delivered buffer into its messages; fails the test if it does not hold whole messages. */
function messagesIn(buffer: Buffer): number[] {
  const lengths: number[] = [];
  let offset = 0;
  while (offset < buffer.length) {
    const first = buffer[offset + 1] as number;
    const bytes = first < 0x80 ? 0 : first & 0x7f;
    let length = first < 0x80 ? first : 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (buffer[offset + 2 + i] as number);
    const whole = 2 + bytes + length;
    expect(offset + whole).toBeLessThanOrEqual(buffer.length);
    lengths.push(whole);
    offset += whole;
  }
  return lengths;
}

describe('LDAP messages framed before ldapts parses them', () => {
  it('hands the parser whole messages only, every byte once and in order, however the stream is cut', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 70_000 }), { minLength: 1, maxLength: 12 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }), (lengths, cuts) => {
        const messages = lengths.map((length, i) => message(length, i % 251));
        const stream = Buffer.concat(messages);
        const delivered: Buffer[] = [];
        const read = wholeMessageReader((data) => delivered.push(Buffer.from(data)));
        for (const chunk of split(stream, cuts)) read(chunk, null);
        expect(Buffer.concat(delivered).equals(stream)).toBe(true);
        expect(delivered.flatMap(messagesIn)).toEqual(messages.map((m) => m.length));
      }),
      { numRuns: 300 },
    );
  });

  it('copies a large message once, not once per chunk', () => {
    const big = message(16 * 2 ** 20, 7);
    const delivered: Buffer[] = [];
    const read = wholeMessageReader((data) => delivered.push(data));
    const chunks = split(big, Array.from({ length: 255 }, (_, i) => (i + 1) / 256));
    for (const chunk of chunks.slice(0, -1)) read(chunk, null);
    expect(delivered).toEqual([]);
    read(chunks.at(-1) as Buffer, null);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]?.length).toBe(big.length);
  });

  it('passes a stream that is not BER on at once, for the parser to report', () => {
    const delivered: Buffer[] = [];
    const read = wholeMessageReader((data) => delivered.push(data));
    read(Buffer.from('HTTP/1.1 400 Bad Request\r\n'), null);
    expect(delivered.map((d) => d.toString())).toEqual(['HTTP/1.1 400 Bad Request\r\n']);
  });
});

describe('framing an ldapts client', () => {
  it('wraps the message parser of the ldapts version installed, and says so when it has changed', async () => {
    const { Client } = await import('ldapts');
    const client = new Client({ url: 'ldap://127.0.0.1:1' });
    const parser = (client as unknown as { messageParser: { read: unknown } }).messageParser;
    const original = parser.read;
    frameWholeMessages(client);
    expect(parser.read).not.toBe(original);
    expect(() => frameWholeMessages({} as never)).toThrow(/ldapts changed/);
  });
});

/** A BER tag-length-value. */
function tlv(tag: number, content: Buffer): Buffer {
  const bytes: number[] = [];
  for (let rest = content.length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.concat([Buffer.from(content.length < 0x80 ? [tag, content.length] : [tag, 0x80 | bytes.length, ...bytes]), content]);
}

/** An LDAP SearchResultEntry: message id, DN and one attribute with its values. */
function searchEntry(id: number, dn: string, attribute: string, values: readonly string[]): Buffer {
  const text = (s: string): Buffer => tlv(0x04, Buffer.from(s));
  const attributes = tlv(0x30, tlv(0x30, Buffer.concat([text(attribute), tlv(0x31, Buffer.concat(values.map(text)))])));
  return tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from([id])), tlv(0x64, Buffer.concat([text(dn), attributes]))]));
}

describe("ldapts's own parser behind the framing", () => {
  it('parses every entry of a stream cut anywhere, in order, large and small entries mixed', async () => {
    const { Client } = await import('ldapts');
    const entries = [1, 2, 3, 4, 5, 6].map((id) => ({ id, dn: `cn=group${id},ou=Groups,dc=example,dc=com`, members: Array.from({ length: id % 2 === 0 ? 3000 : 2 }, (_, k) => `uid=u${id}-${k},ou=People,dc=example,dc=com`) }));
    const stream = Buffer.concat(entries.map((e) => searchEntry(e.id, e.dn, 'member', e.members)));
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 60 }), (cuts) => {
        const client = new Client({ url: 'ldap://127.0.0.1:1' });
        frameWholeMessages(client);
        const parser = (client as unknown as { messageParser: { read(d: Buffer, m: Map<string, unknown>): void; on(e: string, f: (x: unknown) => void): void } }).messageParser;
        const seen: { id: number; dn: string; members: unknown }[] = [];
        parser.on('error', (error) => {
          throw error;
        });
        parser.on('message', (m) => {
          const message = m as { messageId: number; name: string; attributes: { type: string; values: string[] }[] };
          seen.push({ id: message.messageId, dn: message.name, members: message.attributes[0]?.values });
        });
        for (const chunk of split(stream, cuts)) parser.read(chunk, new Map());
        expect(seen).toEqual(entries.map((e) => ({ id: e.id, dn: e.dn, members: e.members })));
      }),
      { numRuns: 60 },
    );
  });
});
