import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PROGRAMS, helpText, readmePath, withHelp } from '../../scripts/readme-help.js';

// README's flag reference is generated from commander's help; this fails when a flag changes
// without `node dist/scripts/readme-help.js` being run.
test('README flag reference equals the programs\' -h output', () => {
  const readme = readFileSync(readmePath, 'utf8');
  assert.equal(withHelp(readme, helpText), readme, 'run: npm run build && node dist/scripts/readme-help.js');
});

test('every flag either program accepts appears in README', () => {
  const readme = readFileSync(readmePath, 'utf8');
  for (const p of PROGRAMS) {
    const flags = helpText(p).match(/(?<=^\s+|, )--?[a-zA-Z][\w-]*/gm) ?? [];
    assert.ok(flags.length > 10, `${p}: parsed only ${flags.length} flags from -h`);
    for (const f of flags) assert.ok(readme.includes(f), `${p} ${f} is not in README.md`);
  }
});

test('the check fails on a stale block', () => {
  const stale = PROGRAMS.map((p) => `<!-- ${p} -h: start -->\n\`\`\`\nold\n\`\`\`\n<!-- ${p} -h: end -->`).join('\n');
  assert.notEqual(withHelp(stale, () => 'new'), stale);
  assert.throws(() => withHelp('no markers', () => 'x'), /has no/);
});
