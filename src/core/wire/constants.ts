/**
 * Constants of the copier ↔ interceptor channel (docs/wire-protocol.md §10). Shared by both daemons;
 * the values are part of the wire format of stock tcpcopy 1.x, so they are not tunables.
 */
export { INTERNAL_VERSION } from '../version.js';

/** Default TCP port the interceptor listens on (`SERVER_PORT`). */
export const DEFAULT_CHANNEL_PORT = 36524;
/** Copier → interceptor message size, hello included. */
export const MESSAGE_SIZE = 14;
/** Message types (big-endian u16 at offset 6). */
export const MSG_CLIENT_ADD = 1;
export const MSG_CLIENT_DEL = 2;
/** The hello carries `type = INTERNAL_VERSION` (6). */
export const MSG_HELLO = 6;

/** Standard record: 20 IP + 20 TCP + 24 option bytes (`MSG_SERVER_SIZE`). */
export const RECORD_SIZE = 64;
/** Payload-variant record: options area grows by 128 payload bytes. */
export const PAYLOAD_RECORD_SIZE = 192;
/** TCP option bytes a record can carry. */
export const MAX_OPTION_BYTES = 24;
/** Largest TCP header a record can carry (fixed 20 + 24 options). */
export const MAX_RECORD_TCP_HEADER = 44;
/** Payload bytes carried by the payload variant (1..128; longer payloads are not carried). */
export const MAX_RECORD_PAYLOAD = 128;
/** Records per combined frame (`COMB_MAX_NUM`); 6 in the payload variant. */
export const MAX_FRAME_RECORDS = 16;
export const MAX_FRAME_RECORDS_PAYLOAD = 6;
/** Size of the big-endian u16 count that opens a combined frame. */
export const FRAME_HEADER_SIZE = 2;

/** Record size for a variant. */
export function recordSizeFor(withPayload: boolean): number {
  return withPayload ? PAYLOAD_RECORD_SIZE : RECORD_SIZE;
}

/** Largest count a frame may carry for a variant; a stock copier drops the connection above it. */
export function maxFrameRecordsFor(withPayload: boolean): number {
  return withPayload ? MAX_FRAME_RECORDS_PAYLOAD : MAX_FRAME_RECORDS;
}
