import type { Client } from 'ldapts';

/** What ldapts's message parser takes from the socket: each chunk as it arrives. */
export interface ChunkReader {
  read(data: Buffer, details: unknown): void;
}

/**
 * ldapts (8.x) hands every chunk the socket delivers to its message parser, which appends it to all it
 * holds (a new buffer each time) until a message is whole: a group entry with 333,000 member DNs
 * (16 MB) arriving in 64 KB chunks is copied some 250 times, about 2 GB of buffers to collect. On
 * Node 24 they outlived the group search (680 MB of ArrayBuffers, 2 GB of RSS at a million users).
 * This keeps the chunks in a list until the messages they hold are whole (each message's BER length
 * says when), then gives the parser whole messages only, copied once.
 */
export function frameWholeMessages(client: Client): void {
  const parser = (client as unknown as { messageParser?: ChunkReader }).messageParser;
  if (parser === undefined || typeof parser.read !== 'function') {
    throw new Error('ldapts changed: its client has no messageParser.read, before which dirbridge frames LDAP messages (check the ldapts version in package.json)');
  }
  parser.read = wholeMessageReader(parser.read.bind(parser));
}

/**
 * A chunk reader that passes `read` one whole BER message at a time (or, from a stream that is not
 * BER, everything at once: the parser reports it). One at a time, because ldapts's parser reads a
 * second message in its buffer by calling its `read` again, which is this reader once installed.
 */
export function wholeMessageReader(read: (data: Buffer, details: unknown) => void): (data: Buffer, details: unknown) => void {
  let chunks: Buffer[] = [];
  let size = 0;
  /** The length of the first message held, once its header has arrived. */
  let need: number | null = null;
  return (data, details) => {
    chunks.push(data);
    size += data.length;
    need ??= messageLength(headerBytes(chunks));
    if (need === null || size < need) return;
    const all = chunks.length === 1 ? data : Buffer.concat(chunks, size);
    const ends = messageEnds(all);
    const end = ends.at(-1) ?? 0;
    // The part of a message that follows is copied, so the large buffer is not kept for it.
    const rest = end === all.length ? null : Buffer.from(all.subarray(end));
    chunks = rest === null ? [] : [rest];
    size = rest?.length ?? 0;
    need = rest === null ? null : messageLength(rest);
    let start = 0;
    for (const e of ends) {
      read(start === 0 && e === all.length ? all : all.subarray(start, e), details);
      start = e;
    }
  };
}

const SEQUENCE = 0x30;
/** A message header: the tag, the first length byte and up to four more. */
const HEADER = 6;

/**
 * The whole length of the BER message `b` starts with; null while its header is incomplete; 0 when it
 * is not a definite-length SEQUENCE (not an LDAP message: passed on as it is).
 */
function messageLength(b: Buffer): number | null {
  if (b.length < 2) return null;
  if (b[0] !== SEQUENCE) return 0;
  const first = b[1] as number;
  if (first < 0x80) return 2 + first;
  const bytes = first & 0x7f;
  if (bytes === 0 || bytes > 4) return 0;
  if (b.length < 2 + bytes) return null;
  let length = 0;
  for (let i = 0; i < bytes; i++) length = length * 256 + (b[2 + i] as number);
  return 2 + bytes + length;
}

/** The first bytes of the chunks held, enough for a header. */
function headerBytes(chunks: readonly Buffer[]): Buffer {
  const first = chunks[0] as Buffer;
  if (first.length >= HEADER || chunks.length === 1) return first;
  return Buffer.concat(chunks).subarray(0, HEADER);
}

/** Where each whole message of `all` ends (the rest at once when it is not BER). */
function messageEnds(all: Buffer): number[] {
  const ends: number[] = [];
  let offset = 0;
  while (offset < all.length) {
    const length = messageLength(all.subarray(offset, offset + HEADER));
    if (length === 0) {
      ends.push(all.length);
      break;
    }
    if (length === null || offset + length > all.length) break;
    offset += length;
    ends.push(offset);
  }
  return ends;
}
