import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Logger } from '../../../src/io/logger.js';

test('logger: levels filter, file lines carry timestamp and level, reopen follows logrotate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'icpt-log-'));
  try {
    const file = join(dir, 'intercept.log');
    const log = new Logger({ name: 'intercept', level: 'info', file });
    log.debug('hidden');
    log.info('first');
    assert.equal(log.enabled('debug'), false);
    renameSync(file, `${file}.1`); // logrotate moves the file…
    log.info('still old'); // …writes go to the moved file until SIGHUP
    log.reopen();
    log.warn('second');
    log.close();
    const old = readFileSync(`${file}.1`, 'utf8');
    const cur = readFileSync(file, 'utf8');
    assert.match(old, /^\d{4}-\d\d-\d\dT[\d:.]+Z intercept\[\d+\] INFO first\n/);
    assert.match(old, /still old/);
    assert.doesNotMatch(old, /hidden/);
    assert.match(cur, /WARN second\n$/);
    assert.doesNotMatch(cur, /first/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('logger: under journald (JOURNAL_STREAM set) lines carry <priority> prefixes and no timestamp', () => {
  const mod = new URL('../../../src/io/logger.js', import.meta.url).href;
  const js = `import { Logger } from '${mod}';
    const l = new Logger({ name: 'intercept', level: 'info', file: null });
    l.error('e1'); l.warn('w1'); l.info('i1'); l.debug('d1');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', js], { encoding: 'utf8', env: { ...process.env, JOURNAL_STREAM: '1:2' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '<3>e1\n<4>w1\n<6>i1\n');
});
