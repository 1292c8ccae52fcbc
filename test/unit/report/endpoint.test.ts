import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { detectProtocol, pathTemplate, requestInfo } from '../../../src/core/report/endpoint.js';
import { httpGet, resp } from '../../helpers/report-exchanges.js';

test('path templates collapse numeric ids, UUIDs, hex ids and long tokens; query and fragment dropped', () => {
  const cases: [string, string][] = [
    ['/users/42', '/users/{id}'],
    ['/users/42/orders/7?expand=1', '/users/{id}/orders/{id}'],
    ['/objects/3f2504e0-4f89-11d3-9a0c-0305e82c3301', '/objects/{uuid}'],
    ['/blobs/9f86d081884c7d65', '/blobs/{hex}'],
    ['/s/aB3dE6gH9jK2mN5pQ8rT1vW', '/s/{token}'],
    ['/static/app.js', '/static/app.js'],
    ['/api/v2/status', '/api/v2/status'],
    ['/deadbeef', '/deadbeef'], // hex letters only: a word, not an id
    ['http://example.com/a/12#frag', '/a/{id}'],
    ['/', '/'],
    ['', '/'],
    ['*', '*'],
    ['/%E2%82%AC/12', '/€/{id}'],
    ['/bad%zz/1', '/bad%zz/{id}'],
    ['/x%1b%5B31m/y', '/x%1b%5B31m/y'], // no terminal escape sequence from a decoded path
  ];
  for (const [path, want] of cases) assert.equal(pathTemplate(path), want, path);
});

test('protocol: an HTTP request line, a RESP array, else the service port (6379), else raw', () => {
  const b = (s: string): Buffer => Buffer.from(s, 'latin1');
  assert.equal(detectProtocol(b(httpGet('/')), 6379), 'http');
  assert.equal(detectProtocol(b(resp('GET', 'k')), 7000), 'redis');
  assert.equal(detectProtocol(b('PING\r\n'), 6379), 'redis');
  assert.equal(detectProtocol(b('\x16\x03\x01'), 443), 'raw');
});

test('endpoints: method + template, redis command, tcp port; pipelined bursts name the first with +N', () => {
  const b = (s: string): Buffer => Buffer.from(s, 'latin1');
  assert.deepEqual(requestInfo(b(httpGet('/users/7?x=1')), 80), { protocol: 'http', endpoint: 'GET /users/{id}', methods: ['GET'] });
  assert.equal(requestInfo(b(httpGet('/a') + httpGet('/b', 'HEAD')), 80).endpoint, 'GET /a +1');
  assert.deepEqual(requestInfo(b(httpGet('/a') + httpGet('/b', 'HEAD')), 80).methods, ['GET', 'HEAD']);
  assert.equal(requestInfo(b(resp('get', 'user:1')), 6379).endpoint, 'redis GET');
  assert.equal(requestInfo(b(resp('GET', 'a') + resp('GET', 'b')), 6379).endpoint, 'redis GET +1');
  assert.equal(requestInfo(b('\x00\x01binary'), 3306).endpoint, 'tcp :3306');
});

test('endpoints: a single request is named the same by the shortcut as by parsing (queries, absolute form, bodies, bare LF)', () => {
  const cases: [string, string][] = [
    ['GET /s/400.txt?r=1-2 HTTP/1.1\r\nHost: a\r\n\r\n', 'GET /s/400.txt'],
    ['GET /s/400.txt?r=1-3 HTTP/1.1\r\nHost: a\r\n\r\n', 'GET /s/400.txt'],
    ['GET /users/42#top HTTP/1.1\r\n\r\n', 'GET /users/{id}'],
    ['GET http://example.com/users/7?x HTTP/1.1\r\n\r\n', 'GET /users/{id}'],
    ['DELETE /users/42 HTTP/1.0\r\n\r\n', 'DELETE /users/{id}'],
    ['POST /users HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}', 'POST /users'],
    ['GET /bare HTTP/1.1\nHost: a\n\n', 'GET /bare'],
    ['GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n', 'GET /a +1'],
    ['get /lower HTTP/1.1\r\n\r\n', 'tcp :80'],
  ];
  for (const [text, want] of cases) {
    // twice: named, then from the cache
    assert.equal(requestInfo(Buffer.from(text), 80).endpoint, want, text);
    assert.equal(requestInfo(Buffer.from(text), 80).endpoint, want, `${text} (again)`);
  }
  assert.deepEqual(requestInfo(Buffer.from('HEAD /x HTTP/1.1\r\n\r\n'), 80).methods, ['HEAD']);
});
