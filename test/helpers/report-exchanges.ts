import { Buffer } from 'node:buffer';
import type { Answer, AnswerEnd, Exchange, ReportRun } from '../../src/core/report/exchange.js';

/** Test builders for the report core: answers, HTTP messages, exchanges, runs. */

export function answer(text: string | Buffer, firstByteUs: number | null = 1000, lastByteUs: number | null = 2000, end: AnswerEnd = 'complete'): Answer {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  return { bytes, size: bytes.length, firstByteUs: bytes.length === 0 ? null : firstByteUs, lastByteUs: bytes.length === 0 ? null : lastByteUs, end };
}

export function noAnswer(end: AnswerEnd = 'no-response'): Answer {
  return answer('', null, null, end);
}

export function httpResponse(status: number, body: string, headers: Record<string, string> = {}): string {
  const lines = [`HTTP/1.1 ${status} X`, 'Server: nginx', `Content-Length: ${Buffer.byteLength(body)}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

export function httpGet(path: string, method = 'GET'): string {
  return `${method} ${path} HTTP/1.1\r\nHost: example\r\n\r\n`;
}

export function resp(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

export function exchange(session: string, index: number, request: string, reference: Answer | null, tests: (Answer | null)[], servicePort = 80): Exchange {
  const req = Buffer.from(request, 'latin1');
  return { session, index, servicePort, request: req, requestSize: req.length, reference, tests };
}

export function captureRun(targets = 1): ReportRun {
  return {
    input: 'prod.pcap',
    startedAt: '2026-12-02T08:00:00.000Z',
    acceleration: 1,
    targets: Array.from({ length: targets }, (_, i) => ({ address: `10.0.0.${i + 2}:80`, role: 'candidate' as const })),
    reference: 'capture',
  };
}

export function diffyRun(): ReportRun {
  return {
    input: 'live eth0',
    startedAt: '2026-12-02T08:00:00.000Z',
    acceleration: 1,
    targets: [
      { address: '10.0.0.2:80', role: 'candidate' },
      { address: '10.0.0.3:80', role: 'baseline' },
      { address: '10.0.0.4:80', role: 'baseline' },
    ],
    reference: 'baselines',
  };
}
