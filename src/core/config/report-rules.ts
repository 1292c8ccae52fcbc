import { ConfigError } from './errors.js';
import { pathTemplate } from '../report/endpoint.js';
import type { IgnoreRule } from '../report/ignore-rules.js';
import { parseJsonPath } from '../report/json-path.js';

/**
 * Parsers of the replay report's ignore rules: `--ignore-header NAME`, `--ignore-json-path PATH`
 * and the lines of an `--ignore-file` (docs/replay-report.md, "Ignore rules"):
 *
 *     # comment
 *     header Date
 *     json $.meta.requestId
 *     endpoint GET /health         (skip the endpoint entirely; a trailing * matches a prefix)
 *     endpoint redis PING
 */

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `--ignore-header NAME` (case-insensitive). */
export function parseIgnoreHeader(value: string, flag = '--ignore-header'): IgnoreRule {
  const name = value.trim();
  if (!HEADER_NAME.test(name)) throw new ConfigError(flag, value, 'expected an HTTP header name such as Date or X-Request-Id');
  return { kind: 'header', name: name.toLowerCase() };
}

/** `--ignore-json-path PATH`. */
export function parseIgnoreJsonPath(value: string, flag = '--ignore-json-path'): IgnoreRule {
  const path = parseJsonPath(value.trim());
  if (typeof path === 'string') throw new ConfigError(flag, value, `expected a JSON path such as $.meta.requestId or $.items[*].ts: ${path}`);
  return { kind: 'json', path };
}

/** `endpoint METHOD PATH` (the path is templated like captured requests) or `endpoint redis CMD`. */
function parseIgnoreEndpoint(value: string, flag: string): IgnoreRule {
  const m = /^(\S+)\s+(\S+)$/.exec(value.trim());
  if (m === null) throw new ConfigError(flag, value, 'expected "endpoint METHOD /path" (e.g. endpoint GET /health) or "endpoint redis COMMAND"');
  const first = m[1] as string;
  let second = m[2] as string;
  const prefix = second.endsWith('*') && second !== '*';
  if (prefix) second = second.slice(0, -1);
  if (first === 'redis' || first === 'tcp') return { kind: 'endpoint', endpoint: `${first} ${first === 'redis' ? second.toUpperCase() : second}`, prefix };
  if (!second.startsWith('/')) throw new ConfigError(flag, value, 'expected an HTTP path starting with / (e.g. endpoint GET /health)');
  const template = prefix ? second : pathTemplate(second);
  return { kind: 'endpoint', endpoint: `${first.toUpperCase()} ${template}`, prefix };
}

/** The rules of an --ignore-file; errors name the file and line. */
export function parseIgnoreFile(text: string, file: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') return;
    const flag = `--ignore-file ${file}:${i + 1}`;
    const sp = line.search(/\s/);
    const word = sp < 0 ? line : line.slice(0, sp);
    const rest = sp < 0 ? '' : line.slice(sp + 1).trim();
    if (word === 'header') rules.push(parseIgnoreHeader(rest, flag));
    else if (word === 'json') rules.push(parseIgnoreJsonPath(rest, flag));
    else if (word === 'endpoint') rules.push(parseIgnoreEndpoint(rest, flag));
    else throw new ConfigError(flag, line, 'expected one rule per line: "header NAME", "json $.path" or "endpoint METHOD /path" (# starts a comment)');
  });
  return rules;
}
