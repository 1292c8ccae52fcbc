import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Disposers } from '../../../src/app/disposers.js';

test('steps run last in first out, and size counts what is left', async () => {
  const d = new Disposers();
  const order: string[] = [];
  for (const name of ['log', 'socket', 'channel', 'timer']) d.defer(name, () => void order.push(name));
  assert.equal(d.size, 4);
  await d.dispose();
  assert.deepEqual(order, ['timer', 'channel', 'socket', 'log']);
  assert.equal(d.size, 0);
});

test('a second dispose() runs nothing again; a step deferred in between runs once', async () => {
  const d = new Disposers();
  const calls = new Map<string, number>();
  const count = (name: string) => (): void => void calls.set(name, (calls.get(name) ?? 0) + 1);
  d.defer('a', count('a'));
  d.defer('b', count('b'));
  await d.dispose();
  d.defer('c', count('c'));
  await d.dispose();
  await d.dispose();
  assert.deepEqual(Object.fromEntries(calls), { a: 1, b: 1, c: 1 });
});

test('two overlapping dispose() calls still run each step exactly once', async () => {
  const d = new Disposers();
  const calls: string[] = [];
  d.defer('a', () => void calls.push('a'));
  d.defer('slow', async () => {
    await sleep(5);
    calls.push('slow');
  });
  await Promise.all([d.dispose(), d.dispose()]);
  assert.deepEqual([...calls].sort(), ['a', 'slow']);
});

test('a throwing step (sync or async) is reported by name and the later steps still run', async () => {
  const d = new Disposers();
  const ran: string[] = [];
  const boomSync = new Error('sync boom');
  const boomAsync = new Error('async boom');
  d.defer('first', () => void ran.push('first'));
  d.defer('async-thrower', async () => {
    await sleep(1);
    throw boomAsync;
  });
  d.defer('middle', () => void ran.push('middle'));
  d.defer('sync-thrower', () => {
    throw boomSync;
  });
  d.defer('last', () => void ran.push('last'));
  const errors: [string, unknown][] = [];
  await d.dispose((name, err) => errors.push([name, err]));
  assert.deepEqual(ran, ['last', 'middle', 'first']);
  assert.equal(errors.length, 2);
  assert.equal(errors[0]?.[0], 'sync-thrower');
  assert.equal(errors[0]?.[1], boomSync);
  assert.equal(errors[1]?.[0], 'async-thrower');
  assert.equal(errors[1]?.[1], boomAsync);
});

test('without onError a failing step is swallowed and the rest run', async () => {
  const d = new Disposers();
  const ran: string[] = [];
  d.defer('kept', () => void ran.push('kept'));
  d.defer('bad', () => Promise.reject(new Error('x')));
  await d.dispose();
  assert.deepEqual(ran, ['kept']);
});

test('async steps are awaited: each one starts only after the previous one finished', async () => {
  const d = new Disposers();
  const events: string[] = [];
  // Later-deferred steps sleep less: without awaiting, their ends would come first.
  for (const [name, ms] of [['a', 1], ['b', 10], ['c', 20]] as const) {
    d.defer(name, async () => {
      events.push(`start ${name}`);
      await sleep(ms);
      events.push(`end ${name}`);
    });
  }
  await d.dispose();
  assert.deepEqual(events, ['start c', 'end c', 'start b', 'end b', 'start a', 'end a']);
});
