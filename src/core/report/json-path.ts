/**
 * JSON paths for ignore rules and learned noise. Leaves of a parsed JSON body are named by a
 * canonical path: `$`, then `.key` for identifier keys, `['key']` otherwise (quotes and
 * backslashes escaped), `[n]` for array indices (`$.items[3].id`, `$['content-type']`).
 *
 * A rule path is that form plus two wildcards, `.*` and `[*]`, each matching any one key or
 * index. A rule matches a leaf at or below it (`$.meta` covers `$.meta.requestId`).
 */

const IDENT = /^[A-Za-z_$][\w$]*$/;
const MAX_DEPTH = 64;

function keySegment(k: string): string {
  return IDENT.test(k) ? `.${k}` : `['${k.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Paths where two parsed JSON values differ, walking both at once (no copy of either): a leaf
 * whose value differs, or the root of a subtree present on one side only or of another type.
 * `ignored(path)` is asked only for differing paths. Null once more than `max` paths differ or
 * the values nest deeper than MAX_DEPTH.
 */
export function jsonDifferences(a: unknown, b: unknown, ignored: (path: string) => boolean, max = 32): string[] | null {
  const out: string[] = [];
  const walk = (x: unknown, y: unknown, path: string, depth: number): boolean => {
    if (x === y) return true;
    // Hostile nesting must not exhaust the stack: past MAX_DEPTH the body is one difference.
    if (depth > MAX_DEPTH) return false;
    if (Array.isArray(x) && Array.isArray(y)) {
      const n = Math.max(x.length, y.length);
      for (let i = 0; i < n; i++) if (!walk(x[i], y[i], `${path}[${i}]`, depth + 1)) return false;
      return true;
    }
    if (isObject(x) && isObject(y)) {
      for (const k of Object.keys(x)) if (!walk(x[k], Object.hasOwn(y, k) ? y[k] : undefined, path + keySegment(k), depth + 1)) return false;
      for (const k of Object.keys(y)) if (!Object.hasOwn(x, k) && !walk(undefined, y[k], path + keySegment(k), depth + 1)) return false;
      return true;
    }
    if (ignored(path)) return true;
    out.push(path);
    return out.length <= max;
  };
  return walk(a, b, '$', 0) ? out : null;
}

/** A concrete path with every index as [*]: the key learned noise is stored under. */
export function generalizePath(path: string): string {
  return path.replace(/\[\d+\]/g, '[*]');
}

export interface JsonPathRule {
  /** The rule as written. */
  text: string;
  /** Matches a canonical leaf path at or below the rule's path. */
  pattern: RegExp;
}

const ANY_SEGMENT = String.raw`(?:\.[A-Za-z_$][\w$]*|\['(?:[^'\\]|\\.)*'\]|\[\d+\])`;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Parses a rule path; returns an error text instead of throwing so the caller names its flag
 * or file line. Accepted: `$` followed by `.key`, `['key']` / `["key"]`, `[n]`, `[*]`, `.*`.
 */
export function parseJsonPath(text: string): JsonPathRule | string {
  if (!text.startsWith('$')) return 'a JSON path starts with $';
  let re = '^\\$';
  let i = 1;
  while (i < text.length) {
    const rest = text.slice(i);
    let m: RegExpExecArray | null;
    if ((m = /^\.\*/.exec(rest)) !== null || (m = /^\[\*\]/.exec(rest)) !== null) {
      re += ANY_SEGMENT;
    } else if ((m = /^\.([A-Za-z_$][\w$]*)/.exec(rest)) !== null) {
      re += escapeRegExp(keySegment(m[1] as string));
    } else if ((m = /^\[(\d+)\]/.exec(rest)) !== null) {
      re += escapeRegExp(`[${m[1]}]`);
    } else if ((m = /^\['((?:[^'\\]|\\.)*)'\]/.exec(rest)) !== null || (m = /^\["((?:[^"\\]|\\.)*)"\]/.exec(rest)) !== null) {
      re += escapeRegExp(keySegment((m[1] as string).replace(/\\(.)/g, '$1')));
    } else {
      return `unexpected ${JSON.stringify(rest.slice(0, 12))} at offset ${i} (accepted: $.key, $['key'], [n], [*], .*)`;
    }
    i += m[0].length;
  }
  return { text, pattern: new RegExp(`${re}(?=$|[.[])`) };
}
