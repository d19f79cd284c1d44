import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP fault proxy for tests (node:net): listens on a loopback port and relays every connection to a
 * real server, misbehaving as `mode` says. It works below TLS and HTTP, so it breaks a connection the
 * way a network or a dying server does, which no server-side fault switch can (slapd's retcode overlay
 * answers with result codes; it cannot drop a connection half-way through a page).
 *
 * Modes apply to connections accepted while they are set; byte counts are per connection.
 * - `pass`: a plain relay.
 * - `reset`: relays, then resets the client connection (a TCP RST, `ECONNRESET` on the client) once
 *   `afterBytes` bytes have gone from the server to the client (`direction: 'response'`, the default)
 *   or from the client to the server (`'request'`). With `afterBytes: 0` and `'response'` the request
 *   reaches the server and no byte of its answer reaches the client.
 * - `black-hole`: accepts the connection and reads what the client sends; never connects upstream and
 *   never answers (a frozen server or a dropped route, without the kernel's refusal).
 * - `slow-drip`: relays the client's bytes at once; each answer (what the server sends after the client
 *   last wrote) passes its first `passBytes` bytes at once (e.g. an HTTP status line and headers), then
 *   `chunkBytes` bytes every `intervalMs`: a server that keeps the connection busy without ever
 *   finishing, the case an idle timeout misses.
 */
export type FaultMode =
  | { readonly kind: 'pass' }
  | { readonly kind: 'reset'; readonly afterBytes: number; readonly direction?: 'response' | 'request' }
  | { readonly kind: 'black-hole' }
  | { readonly kind: 'slow-drip'; readonly passBytes?: number; readonly chunkBytes: number; readonly intervalMs: number };

export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  mode: FaultMode;
  /** Connections accepted so far, and how many of them the proxy reset. */
  readonly stats: { accepted: number; reset: number };
  /** Resets every connection relayed so far (the server side just closed), leaving the listener up. */
  cut(): void;
  /**
   * A frozen server (SIGSTOP, a hung VM): every connection relayed so far stops passing bytes either
   * way while staying open, and new connections are black-holed, until `thaw()`.
   */
  freeze(): void;
  thaw(): void;
  /** Closes the listener and every relayed connection. */
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }, mode: FaultMode = { kind: 'pass' }): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const stats = { accepted: 0, reset: 0 };
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };

  const proxy: { mode: FaultMode } = { mode };
  const frozen: { mode: FaultMode | null } = { mode: null };
  const server: Server = createServer((client) => {
    stats.accepted++;
    track(client);
    const current = proxy.mode;
    if (current.kind === 'black-hole') {
      client.resume();
      return;
    }
    const upstream = createConnection(target.port, target.host);
    track(upstream);
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    let upstreamClosed = false;
    upstream.on('close', () => {
      upstreamClosed = true;
      if (current.kind !== 'slow-drip') client.end(); // a drip ends once its queue is out
    });
    client.on('close', () => upstream.destroy());
    upstream.on('error', closeBoth);

    const reset = (): void => {
      stats.reset++;
      client.resetAndDestroy();
      upstream.destroy();
    };

    if (current.kind === 'reset') {
      let counted = 0;
      const limit = current.afterBytes;
      const relay = (to: Socket, counts: boolean) => (chunk: Buffer) => {
        if (!counts) return void to.write(chunk);
        const room = limit - counted;
        if (room > 0) to.write(chunk.subarray(0, room));
        counted += Math.min(chunk.length, Math.max(room, 0));
        if (counted >= limit) reset();
      };
      const responseCounts = (current.direction ?? 'response') === 'response';
      client.on('data', relay(upstream, !responseCounts));
      upstream.on('data', relay(client, responseCounts));
      return;
    }

    if (current.kind === 'pass') {
      client.on('data', (chunk: Buffer) => upstream.write(chunk));
      upstream.on('data', (chunk: Buffer) => client.write(chunk));
      return;
    }
    // slow-drip: queue each answer and let it out a few bytes at a time.
    let pending = Buffer.alloc(0);
    let free = 0;
    client.on('data', (chunk: Buffer) => {
      free = current.passBytes ?? 0;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      const now = chunk.subarray(0, free);
      free -= now.length;
      if (now.length > 0) client.write(now);
      pending = Buffer.concat([pending, chunk.subarray(now.length)]);
    });
    const timer = setInterval(() => {
      if (pending.length > 0) {
        client.write(pending.subarray(0, current.chunkBytes));
        pending = pending.subarray(current.chunkBytes);
      }
      if (pending.length === 0 && upstreamClosed) client.end();
    }, current.intervalMs);
    timers.add(timer);
    client.on('close', () => {
      clearInterval(timer);
      timers.delete(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    stats,
    get mode() {
      return proxy.mode;
    },
    set mode(next: FaultMode) {
      proxy.mode = next;
    },
    cut: () => {
      for (const socket of sockets) socket.resetAndDestroy();
    },
    freeze: () => {
      frozen.mode = proxy.mode;
      proxy.mode = { kind: 'black-hole' };
      for (const socket of sockets) socket.pause();
    },
    thaw: () => {
      if (frozen.mode !== null) proxy.mode = frozen.mode;
      frozen.mode = null;
      for (const socket of sockets) socket.resume();
    },
    close: async () => {
      for (const timer of timers) clearInterval(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
