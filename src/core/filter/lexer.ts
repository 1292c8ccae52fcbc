import { FilterError } from './errors.js';

/**
 * Tokens of the pcap-filter language subset we compile. A "word" is anything made of letters,
 * digits and `. _ - \` (addresses, numbers, port ranges, keywords); `/` stands alone so CIDR
 * prefixes are parsed as `word / word`, as libpcap does.
 */
export type TokenKind = 'word' | '(' | ')' | '/' | 'and' | 'or' | 'not' | 'end';

export interface Token {
  kind: TokenKind;
  /** Source text (lower-cased for keywords is left to the parser). */
  text: string;
  /** 0-based character offset in the expression. */
  pos: number;
}

const WORD_CHAR = /[A-Za-z0-9_.\-\\]/;

export function tokenize(expr: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === '/') {
      out.push({ kind: c, text: c, pos: i });
      i++;
      continue;
    }
    if (c === '!') {
      // `!=` belongs to byte-offset expressions, which this compiler does not support.
      if (expr[i + 1] === '=') throw new FilterError(expr, i, "comparisons ('!=') are not supported; use host/net/port/proto primitives");
      out.push({ kind: 'not', text: c, pos: i });
      i++;
      continue;
    }
    if (c === '&' || c === '|') {
      if (expr[i + 1] !== c) throw new FilterError(expr, i, `expected '${c}${c}', got a lone '${c}' (bit operations are not supported)`);
      out.push({ kind: c === '&' ? 'and' : 'or', text: c + c, pos: i });
      i += 2;
      continue;
    }
    if (WORD_CHAR.test(c)) {
      const start = i;
      while (i < expr.length && WORD_CHAR.test(expr[i] as string)) i++;
      const text = expr.slice(start, i);
      const lower = text.toLowerCase();
      const kind: TokenKind = lower === 'and' ? 'and' : lower === 'or' ? 'or' : lower === 'not' ? 'not' : 'word';
      out.push({ kind, text, pos: start });
      continue;
    }
    throw new FilterError(expr, i, `unexpected character '${c}'`);
  }
  out.push({ kind: 'end', text: '', pos: expr.length });
  return out;
}
