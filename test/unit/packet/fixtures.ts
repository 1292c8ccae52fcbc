import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir } from '../../helpers/paths.js';

/** The kernel-made IPv4 packets of test/fixtures/packets/kernel-http.hex, in capture order. */
export function kernelPackets(): Buffer[] {
  const text = readFileSync(join(fixturesDir, 'packets', 'kernel-http.hex'), 'utf8');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => Buffer.from(l, 'hex'));
}
