import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/core/config/errors.js';
import { parseIgnoreFile, parseIgnoreHeader, parseIgnoreJsonPath } from '../../../src/core/config/report-rules.js';
import { IgnoreSet } from '../../../src/core/report/ignore-rules.js';
import { jsonDifferences, parseJsonPath } from '../../../src/core/report/json-path.js';

test('rules file: header, json, endpoint lines; comments and blank lines; errors name file:line', () => {
  const rules = parseIgnoreFile('# noise\nheader Date\n\njson $.meta.requestId   # per request\nendpoint GET /health\nendpoint GET /users/42\nendpoint GET /static/*\nendpoint redis ping\n', 'rules.txt');
  const set = new IgnoreSet(rules);
  assert.deepEqual(set.texts, ['header date', 'json $.meta.requestId', 'endpoint GET /health', 'endpoint GET /users/{id}', 'endpoint GET /static/*', 'endpoint redis PING']);
  assert.ok(set.headers.has('date'));
  assert.ok(set.skipsEndpoint('GET /health'));
  assert.ok(set.skipsEndpoint('GET /users/{id}'));
  assert.ok(set.skipsEndpoint('GET /static/app.js +2'));
  assert.ok(set.skipsEndpoint('redis PING'));
  assert.ok(!set.skipsEndpoint('POST /health'));
  assert.ok(!set.skipsEndpoint('GET /users/{id}/orders'));
  assert.ok(set.ignoresJson('$.meta.requestId'));
  assert.ok(!set.ignoresJson('$.meta.requestIdx'));
  assert.throws(() => parseIgnoreFile('header Date\nbody foo\n', 'r.txt'), (e: unknown) => e instanceof ConfigError && e.message.startsWith('--ignore-file r.txt:2 "body foo": expected one rule per line'));
  assert.throws(() => parseIgnoreFile('json meta.id', 'r.txt'), /--ignore-file r.txt:1 "meta.id": expected a JSON path .*starts with \$/);
  assert.throws(() => parseIgnoreFile('endpoint /health', 'r.txt'), /--ignore-file r.txt:1 "\/health": expected "endpoint METHOD \/path"/);
  assert.throws(() => parseIgnoreFile('endpoint GET health', 'r.txt'), /starting with \//);
});

test('--ignore-header and --ignore-json-path: bad values name the flag and the form', () => {
  assert.deepEqual(parseIgnoreHeader('X-Request-Id'), { kind: 'header', name: 'x-request-id' });
  assert.throws(() => parseIgnoreHeader('bad header'), /^ConfigError: --ignore-header "bad header": expected an HTTP header name/);
  assert.throws(() => parseIgnoreHeader(''), /--ignore-header "": expected/);
  assert.throws(() => parseIgnoreJsonPath('$.a..b'), /^ConfigError: --ignore-json-path "\$\.a\.\.b": expected a JSON path such as/);
  assert.throws(() => parseIgnoreJsonPath('$[x]'), /unexpected/);
});

test('JSON paths: canonical names of differing leaves; rules with [*], .*, quoted keys match leaves at or below them', () => {
  const a = { a: { b: [{ c: 1 }, { c: 2, d: null }] }, 'content-type': 'x', e: [], f: {}, "it's": true, same: [1, { x: 'y' }] };
  const b = { a: { b: [{ c: 1 }, { c: 3 }, 7] }, 'content-type': 'y', e: {}, f: {}, "it's": false, same: [1, { x: 'y' }], g: 0 };
  const none = (): boolean => false;
  assert.deepEqual(jsonDifferences(a, b, none), ['$.a.b[1].c', '$.a.b[1].d', '$.a.b[2]', "$['content-type']", '$.e', "$['it\\'s']", '$.g']);
  assert.deepEqual(jsonDifferences(a, structuredClone(a), none), []);
  assert.deepEqual(
    jsonDifferences(a, b, (p) => p.startsWith('$.a')),
    ["$['content-type']", '$.e', "$['it\\'s']", '$.g'],
    'the ignore test is asked per differing path',
  );
  assert.equal(jsonDifferences({ big: Array.from({ length: 50 }, (_, i) => i) }, { big: [] }, none, 10), null, 'too many differences');
  const m = (rule: string, path: string): boolean => {
    const r = parseJsonPath(rule);
    assert.ok(typeof r !== 'string', r as string);
    return r.pattern.test(path);
  };
  assert.ok(m('$.a.b[*].c', '$.a.b[7].c'));
  assert.ok(m('$.a.b[1].c', '$.a.b[1].c'));
  assert.ok(!m('$.a.b[1].c', '$.a.b[11].c'));
  assert.ok(m('$.a', '$.a.b[0].c'), 'a rule covers the leaves below it');
  assert.ok(!m('$.a', '$.ab'));
  assert.ok(m('$.*.b', '$.a.b[0].c'));
  assert.ok(m("$['content-type']", "$['content-type']"));
  assert.ok(m('$["content-type"]', "$['content-type']"));
  assert.ok(m("$['a']", '$.a.b[0].c'), 'identifier keys match in either notation');
  assert.ok(m('$', '$.anything'));
});
