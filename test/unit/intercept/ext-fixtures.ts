import { EXT_KIND_ACK, EXT_KIND_RECORD_PAYLOAD, FrameDecoder, RECORD_SIZE, readExtAck } from '../../../src/core/wire/index.js';
import type { FakeSink } from './fixtures.js';

/** What a copier that asked for the extension reads on `conn`: "ack N", "rec", "rec+payload <text>". */
export function decodeExtStream(sink: FakeSink, conn: number): string[] {
  const d = new FrameDecoder(RECORD_SIZE, 16, true, true);
  const out: string[] = [];
  for (const w of sink.writes) {
    if (w.conn !== conn) continue;
    d.feed(w.frame);
    for (let r = d.next(); r !== 'need-more'; r = d.next()) {
      if (r === 'bad-count') throw new Error('bad framing');
      if (r === 'record') out.push('rec');
      else if (d.extKind === EXT_KIND_ACK) out.push(`ack ${readExtAck(d.record, d.recordOff, d.extLen)}`);
      else if (d.extKind === EXT_KIND_RECORD_PAYLOAD) {
        out.push(`rec+payload ${d.record.subarray(d.recordOff + RECORD_SIZE, d.recordOff + d.extLen).toString()}`);
      }
    }
  }
  return out;
}
