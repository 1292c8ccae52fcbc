/**
 * JSON paths for ignore rules and learned noise. Leaves of a parsed JSON body are named by a
 * canonical path: `$`, then `.key` for identifier keys, `['key']` otherwise (quotes and
 * backslashes escaped), `[n]` for array indices (`$.items[3].id`, `$['content-type']`).
 *
 * A rule path is that form plus two wildcards, `.*` and `[*]`, each matching any one key or
 * index. A rule matches a leaf at or below it (`$.meta` covers `$.meta.requestId`).
 */

const IDENT = /^[A-Za-z_$][\w$]*$/;

function keySegment(k: string): string {
  return IDENT.test(k) ? `.${k}` : `['${k.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
}

/** Leaf path → JSON text of the value; empty arrays/objects are leaves ("[]", "{}"). Stops at `max` leaves (returns null). */
export function flattenJson(value: unknown, max = 20_000): Map<string, string> | null {
  const out = new Map<string, string>();
  const walk = (v: unknown, path: string): boolean => {
    if (out.size > max) return false;
    if (Array.isArray(v)) {
      if (v.length === 0) out.set(path, '[]');
      for (let i = 0; i < v.length; i++) if (!walk(v[i], `${path}[${i}]`)) return false;
      return true;
    }
    if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v);
      if (keys.length === 0) out.set(path, '{}');
      for (const k of keys) if (!walk((v as Record<string, unknown>)[k], path + keySegment(k))) return false;
      return true;
    }
    out.set(path, JSON.stringify(v) ?? 'undefined');
    return true;
  };
  return walk(value, '$') && out.size <= max ? out : null;
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
