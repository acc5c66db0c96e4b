/**
 * Keep-alive connections to backends: one idle list per address, most recently used first, so a
 * busy backend keeps a few hot connections and the rest age out before the backend's own
 * keep-alive timeout can close them under a request.
 */
import { connect, Socket } from 'node:net';
import { type SecureContext, connect as tlsConnect } from 'node:tls';
import { type BackendIdentity, tlsOptions } from './backend-tls.js';
import type { ResponseHead } from './http1.js';

/** Idle connections older than this are closed (Node.js servers close theirs after 5 s). */
export const BACKEND_IDLE_MS = 4_000;
const MAX_IDLE_PER_ADDRESS = 256;
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Whoever uses a connection for one exchange. */
export interface BackendUser {
  onBackendData(data: Buffer): void;
  /** The connection closed while in use (`error` when it broke). */
  onBackendClose(error: (Error & { code?: string }) | undefined): void;
  /** The connection's write buffer drained. */
  onBackendDrain(): void;
}

/** One TCP connection to a backend, reused across exchanges. */
export class BackendConnection {
  user: BackendUser | undefined;
  /** Exchanges this connection served before the current one. */
  served = 0;
  idleSince = 0;
  /**
   * The last response head read on this connection and what it parsed to: a backend answers the
   * same head again and again (only a Date differs, once a second), and reading one costs more
   * than comparing two. Parsing is pure, so equal text gives an equal head.
   */
  lastHead: { text: string; head: ResponseHead } | undefined;
  private error: (Error & { code?: string }) | undefined;
  /**
   * The first-byte timeout, one timer per connection re-armed (`refresh`) for each exchange rather
   * than one made and cleared per request: Node.js drops a timer list that empties and builds it
   * again for the next request, which showed in the profile.
   */
  private firstByteTimer: NodeJS.Timeout | undefined;
  private firstByteMs = 0;
  private onFirstByteTimeout: (() => void) | undefined;

  /** Bytes read from the backend (a copy: the read buffer is shared). */
  received(d: Buffer): void {
    if (this.user) this.user.onBackendData(d);
    else this.socket.destroy(); // bytes nobody asked for: the connection is out of step
  }

  /** Calls `onTimeout` unless `firstByteCame()` is called within `timeoutMs`. */
  awaitFirstByte(timeoutMs: number, onTimeout: () => void): void {
    this.onFirstByteTimeout = onTimeout;
    if (this.firstByteTimer && this.firstByteMs === timeoutMs) {
      this.firstByteTimer.refresh();
      return;
    }
    clearTimeout(this.firstByteTimer);
    this.firstByteMs = timeoutMs;
    this.firstByteTimer = setTimeout(() => this.onFirstByteTimeout?.(), timeoutMs).unref();
  }

  /** The exchange got its answer (or ended): the timer, still running, now does nothing. */
  firstByteCame(): void {
    this.onFirstByteTimeout = undefined;
  }

  constructor(
    /** The idle-list key: the address, or `tls:` and the address for a TLS backend. */
    readonly address: string,
    readonly socket: Socket,
    private readonly pool: BackendPool,
  ) {
    socket.on('drain', () => this.user?.onBackendDrain());
    socket.on('error', (err: Error) => {
      this.error = err;
    });
    socket.on('close', () => {
      clearTimeout(this.firstByteTimer);
      this.pool.dropIdle(this);
      const user = this.user;
      this.user = undefined;
      user?.onBackendClose(this.error ?? Object.assign(new Error('backend closed'), { code: 'ECONNRESET' }));
    });
  }
}

/** `host:port` (IPv6 in brackets) as connect options. */
export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(address.slice(colon + 1)) };
}

const noIdentity = (address: string) =>
  Object.assign(new Error(`connecting to ${address} over TLS: the gateway has no SVID yet`), {
    code: 'NO_IDENTITY',
  });

type Connected = (err: (Error & { code?: string }) | null, conn?: BackendConnection) => void;

/** The idle connections of every backend address. */
export class BackendPool {
  private readonly idle = new Map<string, BackendConnection[]>();
  private readonly sweeper: NodeJS.Timeout;
  /** The gateway's client SVID and the trust bundle, for backends that serve TLS (`run.tls`). */
  private identity: { context: SecureContext; spiffeId: string } | undefined;

  constructor(private readonly connectTimeoutMs: number) {
    this.sweeper = setInterval(() => this.closeStale(Date.now()), 1_000);
    this.sweeper.unref();
  }

  /** A new client SVID for TLS backends: new connections present it, open ones keep theirs. */
  setIdentity(identity: BackendIdentity): void {
    this.identity = { context: identity.context, spiffeId: identity.spiffeId };
  }

  /**
   * A connection to `address`: an idle one if there is one, else a new one. With `serverId` the
   * backend serves TLS with its SVID: the connection presents the gateway's SVID and accepts only a
   * certificate of the workload CA whose one URI SAN is `serverId`.
   */
  acquire(address: string, done: Connected, serverId?: string): void {
    const key = serverId === undefined ? address : `tls:${address}`;
    const idle = this.idle.get(key);
    const conn = idle?.pop();
    if (conn) {
      done(null, conn);
      return;
    }
    if (serverId !== undefined) {
      this.acquireTls(address, key, serverId, done);
      return;
    }
    const holder: { conn?: BackendConnection } = {};
    // Reading into one shared buffer skips the stream machinery of 'data' events; each read is
    // copied out at once, so the buffer is free again before the next read.
    const socket = connect({
      ...splitAddress(address),
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buf: Uint8Array) => {
          holder.conn?.received(Buffer.from(buf.subarray(0, n)));
          return true;
        },
      },
    });
    this.opened(socket, address, key, 'connect', holder, done);
  }

  /** A socket to `address` for a tunnel (upgrade): TLS as `acquire` when `serverId` is set. */
  dial(address: string, serverId?: string): { socket: Socket; ready: 'connect' | 'secureConnect' } {
    if (serverId === undefined) return { socket: connect(splitAddress(address)), ready: 'connect' };
    return { socket: this.tlsSocket(address, serverId), ready: 'secureConnect' };
  }

  private acquireTls(address: string, key: string, serverId: string, done: Connected): void {
    if (!this.identity) return void queueMicrotask(() => done(noIdentity(address)));
    const holder: { conn?: BackendConnection } = {};
    const socket = this.tlsSocket(address, serverId);
    socket.on('data', (d: Buffer) => holder.conn?.received(d));
    this.opened(socket, address, key, 'secureConnect', holder, done);
  }

  private tlsSocket(address: string, serverId: string): Socket {
    if (this.identity) return tlsConnect(tlsOptions(splitAddress(address), this.identity.context, serverId));
    const socket = new Socket();
    process.nextTick(() => socket.destroy(noIdentity(address)));
    return socket;
  }

  private opened(
    socket: Socket,
    address: string,
    key: string,
    ready: 'connect' | 'secureConnect',
    holder: { conn?: BackendConnection },
    done: Connected,
  ): void {
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy(
        Object.assign(new Error(`connect to ${address} timed out`), { code: 'CONNECT_TIMEOUT' }),
      );
    }, this.connectTimeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      done(err);
    };
    socket.once('error', fail);
    socket.once(ready, () => {
      clearTimeout(timer);
      socket.off('error', fail);
      holder.conn = new BackendConnection(key, socket, this);
      done(null, holder.conn);
    });
  }

  /** Puts a connection whose exchange completed cleanly back for reuse. */
  release(conn: BackendConnection): void {
    conn.user = undefined;
    conn.served++;
    if (conn.socket.destroyed) return;
    let list = this.idle.get(conn.address);
    if (!list) {
      list = [];
      this.idle.set(conn.address, list);
    }
    if (list.length >= MAX_IDLE_PER_ADDRESS) return void conn.socket.destroy();
    conn.idleSince = Date.now();
    list.push(conn);
  }

  dropIdle(conn: BackendConnection): void {
    const list = this.idle.get(conn.address);
    const at = list?.indexOf(conn) ?? -1;
    if (at >= 0) list!.splice(at, 1);
  }

  /** Closes the idle connections of a backend that left every pool. */
  forget(address: string): void {
    for (const key of [address, `tls:${address}`]) {
      const list = this.idle.get(key);
      this.idle.delete(key);
      for (const conn of list ?? []) conn.socket.destroy();
    }
  }

  closeAll(): void {
    clearInterval(this.sweeper);
    for (const address of [...this.idle.keys()]) this.forget(address);
  }

  /** Oldest connections sit at the front of each list. */
  private closeStale(now: number): void {
    for (const list of this.idle.values()) {
      while (list.length > 0 && now - list[0]!.idleSince > BACKEND_IDLE_MS) list.shift()!.socket.destroy();
    }
  }
}
