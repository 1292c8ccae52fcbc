import type { Buffer } from 'node:buffer';
import type { AppHandler, TargetConn } from './fake-target.js';

/**
 * Scripted server applications for the fake target. All count "early" requests: a new request
 * starting to arrive while the previous response is still being sent — what made nginx reset
 * connections under the stock copier.
 */
export interface HttpAppOptions {
  /** Response size for the i-th request (0-based) of a connection. */
  responseSize: (i: number) => number;
  /** Server-first greeting bytes written on accept. */
  greeting?: number;
  /** Close (server first) after the response to request i. */
  closeAfter?: (i: number) => boolean;
  /** Terminator of a request. */
  terminator?: string;
  /** Processing time before the response to request i is written. */
  delayUs?: (i: number) => number;
}

export interface HttpState {
  requests: number;
  responded: number;
  early: number;
  pending: string;
}

export function state(c: TargetConn): HttpState {
  return c.data as unknown as HttpState;
}

export function httpApp(o: HttpAppOptions): (c: TargetConn) => AppHandler {
  const term = o.terminator ?? '\r\n\r\n';
  return (c) => {
    const st = c.data as unknown as HttpState;
    st.requests = 0;
    st.responded = 0;
    st.early = 0;
    st.pending = '';
    return {
      onAccept(conn) {
        if (o.greeting !== undefined && o.greeting > 0) conn.write(o.greeting);
      },
      onData(conn, data: Buffer) {
        if (st.pending === '' && (st.responded < st.requests || conn.responseSent < conn.written)) st.early++;
        st.pending += data.toString('latin1');
        for (;;) {
          const i = st.pending.indexOf(term);
          if (i < 0) break;
          st.pending = st.pending.slice(i + term.length);
          const idx = st.requests++;
          const respond = (): void => {
            st.responded++;
            conn.write(o.responseSize(idx));
            if (o.closeAfter?.(idx) === true) conn.close();
          };
          const d = o.delayUs?.(idx) ?? 0;
          if (d > 0) conn.target.world.after(d, respond);
          else respond();
        }
      },
      onPeerFin(conn) {
        conn.close();
      },
    };
  };
}
