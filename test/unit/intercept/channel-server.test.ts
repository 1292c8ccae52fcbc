import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { connect, type Socket } from 'node:net';
import { ChannelServer } from '../../../src/io/channel-server.js';

async function pair(): Promise<{ server: ChannelServer; client: Socket; id: () => number; closed: Map<number, string> }> {
  let id = -1;
  const closed = new Map<number, string>();
  const server = new ChannelServer(
    {
      onConnect: (i) => ((id = i), true),
      onData: () => undefined,
      onDrain: () => undefined,
      onClosed: (i, reason) => closed.set(i, reason),
    },
    { port: 0, host: '127.0.0.1' },
  );
  const addr = await server.listen();
  const client = connect({ port: addr.port, host: '127.0.0.1' });
  await new Promise<void>((r) => client.once('connect', () => r()));
  for (let i = 0; i < 100 && id < 0; i++) await new Promise((r) => setTimeout(r, 5));
  return { server, client, id: () => id, closed };
}

test('shutdown: a copier still reading gets every byte queued before it; later writes are refused, not fatal', async () => {
  const { server, client, id, closed } = await pair();
  client.pause(); // a slow copier: the server's socket queues what the kernel cannot take
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  let queued = 0;
  let released = 0;
  const done = (): void => void released++;
  for (let i = 0; i < 64; i++) {
    server.write(id(), chunk, done);
    queued += chunk.length;
  }
  const finished = server.shutdown(10_000);
  // Responses still arrive while copiers drain (the queue is served until exit).
  assert.equal(server.write(id(), Buffer.alloc(66, 1), done), 0, 'a write after shutdown began is refused');
  let got = 0;
  const ended = new Promise<string>((resolve) => {
    client.on('data', (c: Buffer) => (got += c.length));
    client.on('end', () => resolve('end'));
    client.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
  });
  client.resume();
  assert.equal(await ended, 'end', 'closed with FIN after the data, not reset');
  await finished;
  assert.equal(got, queued, 'every byte queued before shutdown arrived');
  assert.equal(released, 65, 'every write callback ran (pooled buffers come back)');
  assert.ok(!/error/.test(closed.get(id()) ?? ''), `close reason: ${closed.get(id())}`);
  client.destroy();
});

test('write to a connection that is gone calls done at once and reports 0 queued', async () => {
  const { server, client, id } = await pair();
  let released = 0;
  server.close(id(), 'test');
  assert.equal(server.write(id(), Buffer.alloc(10), () => void released++), 0);
  assert.equal(released, 1);
  client.destroy();
  await server.shutdown(100);
});
