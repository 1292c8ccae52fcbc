import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTcpcopyOptions } from '../../../src/core/config/tcpcopy-cli.js';
import { ConfigError } from '../../../src/core/config/errors.js';
import { parseForwardPayload, copyRangeFor, parseInterceptOptions } from '../../../src/core/config/intercept.js';

const base = { intercept: '10.0.0.2', pcap: 'x.pcap' };
const parse = (raw: Record<string, unknown>): ReturnType<typeof parseTcpcopyOptions> =>
  parseTcpcopyOptions({ ...base, ...raw }, { randomSeed: 1, isFile: () => true });

test('--report and companions: targets with roles, ignore rules, caps; no report without the file flags', () => {
  const c = parse({ transfer: '80-10.0.0.2:8080', report: 'r.json', ignoreHeader: ['Date'], ignoreJsonPath: ['$.meta.id'], reportMismatches: '50' }).config;
  assert.equal(c.report?.jsonPath, 'r.json');
  assert.equal(c.report?.htmlPath, null);
  assert.deepEqual(c.report?.targets.map((t) => [t.address, t.role]), [['10.0.0.2:8080', 'candidate']]);
  assert.equal(c.report?.ignore.length, 2);
  assert.equal(c.report?.mismatchCap, 50);
  assert.equal(c.engine.mirror, false);
  assert.equal(parse({ transfer: '80-10.0.0.2:8080' }).config.report, null);
});

test('--diffy: three entries per service, candidate first; implies --mirror and drops the "never used" warning', () => {
  const p = parse({ transfer: '80-10.0.0.2:80,80-10.0.0.3:80,80-10.0.0.4:80', report: 'r.json', diffy: true });
  assert.deepEqual(p.config.report?.targets.map((t) => t.role), ['candidate', 'baseline', 'baseline']);
  assert.equal(p.config.engine.mirror, true);
  assert.deepEqual(p.warnings, []);
  assert.equal(parse({ transfer: '80-10.0.0.2:80,80-10.0.0.3:80', mirror: true }).config.engine.mirror, true);
});

test('bad report flags name the flag and the accepted form', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ transfer: '80-10.0.0.2:80,80-10.0.0.3:80', report: 'r.json', diffy: true }, '--diffy'],
    [{ transfer: '80-10.0.0.2:80', diffy: true }, '--diffy'],
    [{ transfer: '80-10.0.0.2:80', ignoreHeader: ['Date'] }, '--ignore-header'],
    [{ transfer: '80-10.0.0.2:80', report: 'r.json', ignoreHeader: ['bad header'] }, '--ignore-header'],
    [{ transfer: '80-10.0.0.2:80', report: 'r.json', reportBytes: '1' }, '--report-bytes'],
    [{ transfer: '80-10.0.0.2:80', report: ' ' }, '--report'],
  ];
  for (const [raw, flag] of cases) {
    assert.throws(() => parse(raw), (e: unknown) => e instanceof ConfigError && e.flag === flag, JSON.stringify(raw));
  }
});

test('intercept --forward-payload: bytes or all, and the copy range it needs', () => {
  assert.equal(parseForwardPayload('all'), 65535);
  assert.equal(parseForwardPayload('1000'), 1000);
  assert.throws(() => parseForwardPayload('0'), ConfigError);
  assert.throws(() => parseForwardPayload('lots'), ConfigError);
  assert.equal(copyRangeFor(parseInterceptOptions({}).config), 64);
  assert.equal(copyRangeFor(parseInterceptOptions({ forwardPayload: '1000' }).config), 1120);
  assert.equal(copyRangeFor(parseInterceptOptions({ forwardPayload: 'all' }).config), 65531);
});
