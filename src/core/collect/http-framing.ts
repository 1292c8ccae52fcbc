import type { Buffer } from 'node:buffer';

const AT_START = 0;
const IN_HEAD = 1;
const IN_BODY = 2;
/** Not HTTP/1.x request framing we follow (another protocol, chunked bodies): stop looking. */
const OPAQUE = 3;

const CL = 'content-length:';
const TE = 'transfer-encoding:';
/** A head longer than this is not one we follow (nginx's default large_client_header_buffers is 4 × 8 KB). */
const MAX_HEAD = 32 * 1024;

/**
 * Where a client byte stream stands in HTTP/1.x request framing: between requests, or inside a
 * request's head or its Content-Length body. A server may answer before a request is complete
 * (nginx `return`, a 401 or 413 before reading the body, `100 Continue`); the rest of that request
 * is still the same request, not a new one. Byte by byte over heads, counted over bodies; a few
 * numbers per connection, no allocation. Anything else (Redis, TLS, chunked bodies) turns it opaque:
 * the caller's protocol-free cutting then applies.
 */
export class HttpFraming {
  private state = AT_START;
  private headLen = 0;
  private lineLen = 0;
  /** Characters of CL / TE matched at the start of the current line; -1: this line is neither. */
  private clAt = 0;
  private teAt = 0;
  /** Digits of the Content-Length value being read; -1: none. */
  private clValue = -1;
  private inClValue = false;
  /** The head has a Transfer-Encoding (a chunked body, framed otherwise). */
  private encoded = false;
  private bodyLeft = 0;

  /** Inside a request (part of its head or body seen, not all of it): more bytes continue it. */
  get midRequest(): boolean {
    return this.state === IN_HEAD || this.state === IN_BODY;
  }

  /** A new connection: a new stream. */
  reset(): void {
    this.state = AT_START;
    this.bodyLeft = 0;
  }

  /** The next `len` bytes of the stream, at buf[off..]. */
  feed(buf: Buffer, off: number, len: number): void {
    const end = off + len;
    let i = off;
    while (i < end && this.state !== OPAQUE) {
      if (this.state === IN_BODY) {
        const n = Math.min(this.bodyLeft, end - i);
        this.bodyLeft -= n;
        i += n;
        if (this.bodyLeft === 0) this.state = AT_START;
        continue;
      }
      const c = buf[i++] as number;
      if (this.state === AT_START) {
        // A request line starts with a method token (GET, POST, ...); CR/LF between requests are allowed.
        if (c === 13 || c === 10) continue;
        if (c < 65 || c > 90) {
          this.state = OPAQUE;
          return;
        }
        this.state = IN_HEAD;
        this.headLen = 1;
        this.lineLen = 1;
        this.clAt = this.teAt = -1;
        this.clValue = -1;
        this.inClValue = false;
        this.encoded = false;
        continue;
      }
      // IN_HEAD
      if (++this.headLen > MAX_HEAD) {
        this.state = OPAQUE;
        return;
      }
      if (c === 10) {
        if (this.lineLen === 0) this.endHead();
        this.lineLen = 0;
        this.clAt = this.teAt = 0;
        this.inClValue = false;
        continue;
      }
      if (c === 13) continue;
      this.headerByte(c);
      this.lineLen++;
    }
  }

  private headerByte(c: number): void {
    if (this.inClValue) {
      // Past 2^40 it is no length we would wait for: the head then counts as without a body.
      if (c >= 48 && c <= 57 && this.clValue < 2 ** 40) this.clValue = (this.clValue < 0 ? 0 : this.clValue * 10) + (c - 48);
      else if (c !== 32 && c !== 9) this.inClValue = false;
      return;
    }
    const lower = c >= 65 && c <= 90 ? c + 32 : c;
    if (this.clAt >= 0) {
      if (lower === CL.charCodeAt(this.clAt)) {
        if (++this.clAt === CL.length) {
          this.inClValue = true;
          this.clValue = -1;
          this.clAt = -1;
        }
      } else this.clAt = -1;
    }
    if (this.teAt >= 0) {
      if (lower === TE.charCodeAt(this.teAt)) {
        if (++this.teAt === TE.length) {
          this.encoded = true;
          this.teAt = -1;
        }
      } else this.teAt = -1;
    }
  }

  private endHead(): void {
    if (this.encoded) {
      // A body framed by chunks, which we do not follow: stop after this head.
      this.state = OPAQUE;
      return;
    }
    this.bodyLeft = this.clValue > 0 && this.clValue < 2 ** 40 ? this.clValue : 0;
    this.state = this.bodyLeft > 0 ? IN_BODY : AT_START;
  }
}
