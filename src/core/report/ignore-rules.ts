import type { JsonPathRule } from './json-path.js';

/**
 * Known noise the report ignores (parsed from the flags and the rules file by
 * core/config/report-rules.ts): header names (lower case), JSON paths, endpoints to skip.
 */
export type IgnoreRule =
  | { kind: 'header'; name: string }
  | { kind: 'json'; path: JsonPathRule }
  | { kind: 'endpoint'; endpoint: string; prefix: boolean };

/** The rules as the report lists them ("header date", "json $.a", "endpoint GET /health"). */
export function ruleText(r: IgnoreRule): string {
  if (r.kind === 'header') return `header ${r.name}`;
  if (r.kind === 'json') return `json ${r.path.text}`;
  return `endpoint ${r.endpoint}${r.prefix ? '*' : ''}`;
}

/** Rules compiled for lookups per answer. */
export class IgnoreSet {
  readonly headers: ReadonlySet<string>;
  private readonly json: JsonPathRule[];
  private readonly endpoints: { endpoint: string; prefix: boolean }[];
  readonly texts: string[];

  constructor(rules: readonly IgnoreRule[]) {
    this.headers = new Set(rules.flatMap((r) => (r.kind === 'header' ? [r.name] : [])));
    this.json = rules.flatMap((r) => (r.kind === 'json' ? [r.path] : []));
    this.endpoints = rules.flatMap((r) => (r.kind === 'endpoint' ? [{ endpoint: r.endpoint, prefix: r.prefix }] : []));
    this.texts = rules.map(ruleText);
  }

  ignoresJson(path: string): boolean {
    return this.json.some((r) => r.pattern.test(path));
  }

  skipsEndpoint(endpoint: string): boolean {
    if (this.endpoints.length === 0) return false;
    // Pipelined bursts carry " +N" after the first request's endpoint.
    const base = endpoint.replace(/ \+\d+$/, '');
    return this.endpoints.some((e) => (e.prefix ? base.startsWith(e.endpoint) : base === e.endpoint));
  }
}
