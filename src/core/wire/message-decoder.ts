import { Buffer } from 'node:buffer';
import { MESSAGE_SIZE, MSG_CLIENT_ADD, MSG_CLIENT_DEL } from './constants.js';
import { readMessage, type ChannelMessage } from './messages.js';
import { isExtRequest } from './extension.js';

/**
 * Split-safe decoder for the copier → interceptor byte stream (interceptor side).
 *
 * Usage, with no per-message allocation:
 *   dec.feed(chunk);
 *   for (let r = dec.next(msg); r !== 'need-more'; r = dec.next(msg)) { ...; if (isError(r)) close }
 *
 * The first message on a connection is the hello (docs/wire-protocol.md §2.1). A hello whose client
 * fields are non-zero is a pre-version ("too old") copier: stock intercept ends up closing such
 * a connection by accident; we close it on purpose with a reason. A version other than 6 is
 * reported (`hello` result with `msg.type` = the version) so the caller can log it, and service
 * continues, as stock does.
 *
 * After the hello, only CLIENT_ADD, CLIENT_DEL and the payload extension's request
 * ('ext-request', docs/wire-extension.md) are valid. Anything else (an unknown type, a
 * second hello, a route for address 0 / port 0) is reported as an error; the daemon closes that
 * one connection. A stock copier never sends such messages, so closing costs nothing in
 * compatibility and stops a confused peer from filling the route table.
 */
export type MessageResult =
  | 'need-more'
  | 'hello'
  | 'client-add'
  | 'client-del'
  | 'ext-request'
  | 'bad-hello'
  | 'unknown-type'
  | 'bad-address';

export type MessageError = 'bad-hello' | 'unknown-type' | 'bad-address';

export function isMessageError(r: MessageResult): r is MessageError {
  return r === 'bad-hello' || r === 'unknown-type' || r === 'bad-address';
}

export class MessageDecoder {
  private readonly pending = Buffer.alloc(MESSAGE_SIZE);
  private pendingLen = 0;
  private chunk: Buffer = Buffer.alloc(0);
  private pos = 0;
  private helloDone = false;
  /** Messages decoded so far (hello included). */
  count = 0;

  /** Whether the hello has been read. */
  get helloSeen(): boolean {
    return this.helloDone;
  }

  /** Bytes held back waiting for the rest of a message (a short hello at EOF shows here). */
  get partialBytes(): number {
    return this.pendingLen + (this.chunk.length - this.pos);
  }

  /** Supplies the next chunk. Call `next()` until it returns 'need-more' before feeding again. */
  feed(chunk: Buffer): void {
    if (this.pos < this.chunk.length) {
      // The previous chunk was not drained; keep its bytes by folding them into the new one.
      chunk = Buffer.concat([this.chunk.subarray(this.pos), chunk]);
    }
    this.chunk = chunk;
    this.pos = 0;
  }

  /** Decodes the next message into `out`. */
  next(out: ChannelMessage): MessageResult {
    const avail = this.chunk.length - this.pos;
    if (this.pendingLen > 0) {
      const take = Math.min(MESSAGE_SIZE - this.pendingLen, avail);
      this.chunk.copy(this.pending, this.pendingLen, this.pos, this.pos + take);
      this.pendingLen += take;
      this.pos += take;
      if (this.pendingLen < MESSAGE_SIZE) return 'need-more';
      this.pendingLen = 0;
      readMessage(this.pending, 0, out);
    } else if (avail >= MESSAGE_SIZE) {
      readMessage(this.chunk, this.pos, out);
      this.pos += MESSAGE_SIZE;
    } else {
      if (avail > 0) {
        this.chunk.copy(this.pending, 0, this.pos, this.chunk.length);
        this.pendingLen = avail;
        this.pos = this.chunk.length;
      }
      return 'need-more';
    }
    this.count++;
    return this.classify(out);
  }

  private classify(m: ChannelMessage): MessageResult {
    if (!this.helloDone) {
      this.helloDone = true;
      if (m.cltIp !== 0 || m.cltPort !== 0) return 'bad-hello';
      return 'hello';
    }
    if (m.type === MSG_CLIENT_ADD || m.type === MSG_CLIENT_DEL) {
      if (m.cltIp === 0 || m.cltPort === 0) return 'bad-address';
      return m.type === MSG_CLIENT_ADD ? 'client-add' : 'client-del';
    }
    if (isExtRequest(m)) return 'ext-request';
    return 'unknown-type';
  }
}
