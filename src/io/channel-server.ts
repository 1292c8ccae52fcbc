import { createServer, type Server, type Socket } from 'node:net';
import type { Buffer } from 'node:buffer';
import { parseIpv4 } from '../core/packet/ipv4.js';

/**
 * The interceptor's TCP listener for copier connections (default port 36524). Policy lives in
 * the engine; this adapter numbers connections, passes their bytes and events through, and
 * performs writes and closes. TCP_NODELAY on every connection (records are latency-critical);
 * SO_REUSEADDR is libuv's default for listening sockets.
 */
export interface ChannelHandler {
  /** Return false to refuse (the socket is closed at once). peerIp is a u32, or -1 if not IPv4. */
  onConnect(id: number, peerIp: number, peer: string): boolean;
  onData(id: number, chunk: Buffer): void;
  onDrain(id: number): void;
  /** Called once per accepted connection, whoever closed it. */
  onClosed(id: number, reason: string): void;
}

export interface ChannelServerOptions {
  port: number;
  /** null = all addresses. */
  host: string | null;
  backlog?: number;
}

/** "10.0.0.1" or "::ffff:10.0.0.1" → u32; anything else → -1. */
export function peerIpv4(address: string | undefined): number {
  if (address === undefined) return -1;
  return parseIpv4(address.startsWith('::ffff:') ? address.slice(7) : address) ?? -1;
}

export class ChannelServer {
  private readonly server: Server;
  private readonly sockets = new Map<number, Socket>();
  private readonly closeReasons = new Map<number, string>();
  private nextId = 1;


  constructor(
    private readonly handler: ChannelHandler,
    private readonly opts: ChannelServerOptions,
  ) {
    this.server = createServer({ noDelay: true, allowHalfOpen: false }, (s) => this.accept(s));
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Resolves once listening; rejects with the listen error (EADDRINUSE, EACCES…). */
  listen(): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      const done = (): void => {
        this.server.off('error', onError);
        this.server.on('error', () => undefined); // later server errors are per-connection noise
        const a = this.server.address();
        resolve(typeof a === 'object' && a !== null ? { address: a.address, port: a.port } : { address: String(a), port: this.opts.port });
      };
      if (this.opts.host === null) this.server.listen({ port: this.opts.port, backlog: this.opts.backlog ?? 128 }, done);
      else this.server.listen({ port: this.opts.port, host: this.opts.host, backlog: this.opts.backlog ?? 128 }, done);
    });
  }

  private accept(s: Socket): void {
    const id = this.nextId++;
    const peer = `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`;
    s.setNoDelay(true);
    if (!this.handler.onConnect(id, peerIpv4(s.remoteAddress), peer)) {
      s.destroy();
      return;
    }
    this.sockets.set(id, s);
    s.on('data', (chunk: Buffer) => this.handler.onData(id, chunk));
    s.on('drain', () => this.handler.onDrain(id));
    s.on('end', () => {
      if (!this.closeReasons.has(id)) this.closeReasons.set(id, 'peer closed the connection');
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.closeReasons.has(id)) this.closeReasons.set(id, `socket error ${err.code ?? err.message}`);
    });
    s.on('close', () => {
      this.sockets.delete(id);
      const reason = this.closeReasons.get(id) ?? 'closed';
      this.closeReasons.delete(id);
      this.handler.onClosed(id, reason);
    });
  }

  /**
   * Queues bytes on a connection; returns the bytes now queued there (0 if it is gone). `done`
   * runs once the socket no longer needs `data` (written, or failed/destroyed: node calls a
   * write's callback in every case), or at once if the connection is already gone; the caller
   * may then reuse the buffer. Pass the same function for every write of a buffer: no closure is
   * made per write.
   */
  write(id: number, data: Buffer, done: () => void): number {
    const s = this.sockets.get(id);
    // After end() (shutdown), a write would be an error that destroys the socket and throws
    // away what the copier has not read yet: refuse it instead.
    if (s === undefined || s.destroyed || s.writableEnded) {
      done();
      return 0;
    }
    s.write(data, done);
    return s.writableLength;
  }

  /** Closes one connection at once (pending output is discarded). */
  close(id: number, reason: string): void {
    const s = this.sockets.get(id);
    if (s === undefined) return;
    this.closeReasons.set(id, reason);
    s.destroy();
  }

  /**
   * Stops listening and closes every connection after its queued output is written, waiting at
   * most `graceMs` before destroying the stragglers (a copier that never reads).
   */
  async shutdown(graceMs: number): Promise<void> {
    this.server.close();
    const open = [...this.sockets.values()];
    await Promise.all(
      open.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.destroyed) {
              resolve();
              return;
            }
            const t = setTimeout(() => {
              s.destroy();
              resolve();
            }, graceMs);
            s.once('close', () => {
              clearTimeout(t);
              resolve();
            });
            s.end();
          }),
      ),
    );
  }
}
