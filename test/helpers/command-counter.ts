import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import mongoose from 'mongoose';

/**
 * A loopback relay in front of a MongoDB-wire server that counts the commands clients send, by name,
 * read from the wire protocol itself (OP_MSG's body document: its first key is the command). It sees
 * every round trip whatever layer sends it (mongoose models, the driver's collections, the monitor's
 * heartbeats), with no hook in the code under test.
 */
export interface CommandCounter {
  readonly host: string;
  readonly port: number;
  /**
   * Data commands seen since the last reset, by name (`insert`, `update`, `find`, `getMore`, ...): reads
   * and writes of collections, without the handshakes, heartbeats and session ends whose number
   * depends on timing.
   */
  counts(): Record<string, number>;
  /** Their total. */
  dataCommands(): number;
  /**
   * Write statements seen since the last reset, by command and collection (`insert snapshot_users`: the
   * documents inserted, `update …`: the update statements, `delete …`: the delete statements), read from
   * the commands' bodies and document sequences.
   */
  writes(): Record<string, number>;
  /** Milliseconds from each data command sent to its answer received, summed by name (where the time goes; never asserted). */
  millis(): Record<string, number>;
  reset(): void;
  close(): Promise<void>;
}

const OP_MSG = 2013;
/** Commands that move no collection data: handshakes, heartbeats, authentication, sessions. */
const CONTROL = new Set(['hello', 'ismaster', 'isMaster', 'ping', 'buildInfo', 'buildinfo', 'saslStart', 'saslContinue', 'endSessions', 'getParameter', 'OP_QUERY']);
/** The legacy query opcode: the driver's first handshake on each new connection. */
const OP_QUERY = 2004;

export async function startCommandCounter(target: { host: string; port: number }): Promise<CommandCounter> {
  let counts = new Map<string, number>();
  let writes = new Map<string, number>();
  let millis = new Map<string, number>();
  const inFlight = new Map<number, { name: string; at: number }>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection(target);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 16) {
        const length = pending.readInt32LE(0);
        if (pending.length < length) break;
        const name = commandName(pending.subarray(0, length));
        counts.set(name, (counts.get(name) ?? 0) + 1);
        const statements = writeStatements(pending.subarray(0, length));
        if (statements !== null) writes.set(statements.key, (writes.get(statements.key) ?? 0) + statements.count);
        inFlight.set(pending.readInt32LE(4), { name, at: performance.now() });
        pending = pending.subarray(length);
      }
    });
    let answers = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
      answers = Buffer.concat([answers, chunk]);
      while (answers.length >= 16) {
        const length = answers.readInt32LE(0);
        if (answers.length < length) break;
        const sent = inFlight.get(answers.readInt32LE(8));
        if (sent !== undefined) {
          inFlight.delete(answers.readInt32LE(8));
          millis.set(sent.name, (millis.get(sent.name) ?? 0) + performance.now() - sent.at);
        }
        answers = answers.subarray(length);
      }
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const snapshot = (): Record<string, number> => Object.fromEntries([...counts].filter(([name]) => !CONTROL.has(name)).sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    host: '127.0.0.1',
    port,
    counts: snapshot,
    dataCommands: () => [...counts].reduce((n, [name, count]) => (CONTROL.has(name) ? n : n + count), 0),
    writes: () => Object.fromEntries([...writes].sort(([a], [b]) => (a < b ? -1 : 1))),
    millis: () => Object.fromEntries([...millis].filter(([name]) => !CONTROL.has(name)).map(([name, ms]) => [name, Math.round(ms)])),
    reset: () => {
      counts = new Map();
      writes = new Map();
      millis = new Map();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The command an OP_MSG carries: the first key of its body section (kind 0), after any document sequences (kind 1). */
function commandName(message: Buffer): string {
  if (message.readInt32LE(12) === OP_QUERY) return 'OP_QUERY';
  if (message.readInt32LE(12) !== OP_MSG) return `opcode ${message.readInt32LE(12)}`;
  let at = 20; // header (16) + flagBits (4)
  while (at < message.length) {
    const kind = message.readUInt8(at);
    if (kind === 1) {
      at += 1 + message.readInt32LE(at + 1);
      continue;
    }
    const name = at + 1 + 4 + 1; // kind, document size, first element's type
    return message.toString('utf8', name, message.indexOf(0, name));
  }
  return 'unknown';
}

/** The statements a write command carries: in its body (`documents`, `updates`, `deletes`) or in document sequences (kind 1) of that name. */
const STATEMENTS: Record<string, string> = { insert: 'documents', update: 'updates', delete: 'deletes' };

function writeStatements(message: Buffer): { key: string; count: number } | null {
  if (message.readInt32LE(12) !== OP_MSG) return null;
  let body: Record<string, unknown> | null = null;
  const sequences = new Map<string, number>();
  let at = 20;
  const end = message.readInt32LE(0) - ((message.readInt32LE(16) & 1) === 1 ? 4 : 0); // without the checksum
  while (at < end) {
    const kind = message.readUInt8(at);
    if (kind === 0) {
      const size = message.readInt32LE(at + 1);
      body = mongoose.mongo.BSON.deserialize(message.subarray(at + 1, at + 1 + size));
      at += 1 + size;
    } else {
      const size = message.readInt32LE(at + 1);
      const identifier = message.toString('utf8', at + 5, message.indexOf(0, at + 5));
      let doc = message.indexOf(0, at + 5) + 1;
      let n = 0;
      while (doc < at + 1 + size) {
        doc += message.readInt32LE(doc);
        n++;
      }
      sequences.set(identifier, n);
      at += 1 + size;
    }
  }
  if (body === null) return null;
  const [command] = Object.keys(body);
  const field = command === undefined ? undefined : STATEMENTS[command];
  if (command === undefined || field === undefined) return null;
  const inBody = body[field];
  return { key: `${command} ${String(body[command])}`, count: Array.isArray(inBody) ? inBody.length : (sequences.get(field) ?? 0) };
}
