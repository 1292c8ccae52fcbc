import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRules, parseQueueRules, ruleMatchesPort, type RuleCheckInput } from '../../../src/core/doctor/index.js';

// Lines as `iptables -S` prints them (iptables-nft 1.8.9), including our tagged rule.
const LISTING = [
  '-P INPUT ACCEPT',
  '-P OUTPUT ACCEPT',
  '-A OUTPUT ! -o lo -p tcp -m tcp --sport 80 -m comment --comment "tcpcopy-ts intercept" -j NFQUEUE --queue-num 0',
  '-A OUTPUT -p tcp -m multiport --sports 6379,8000:8010 -j NFQUEUE --queue-num 2',
  '-A OUTPUT -p udp -m udp --sport 53 -j NFQUEUE',
  '-A OUTPUT -p tcp -j ACCEPT',
].join('\n');

function input(over: Partial<RuleCheckInput>): RuleCheckInput {
  return { rules: parseQueueRules('filter', LISTING), listError: null, queueNum: 0, ports: [80], installRule: false, channelPort: 36524, rulesScript: 'scripts/intercept-rules.sh', ...over };
}

test('parseQueueRules: queue numbers, port lists and ranges, protocols', () => {
  const rules = parseQueueRules('filter', LISTING);
  assert.equal(rules.length, 3);
  const [ours, multi, udp] = rules;
  assert.deepEqual(ours?.sports, [[80, 80]]);
  assert.equal(ours?.queueFirst, 0);
  assert.equal(ours?.chain, 'OUTPUT');
  assert.deepEqual(multi?.sports, [[6379, 6379], [8000, 8010]]);
  assert.equal(multi?.queueFirst, 2);
  assert.ok(multi !== undefined && ruleMatchesPort(multi, 8005) && !ruleMatchesPort(multi, 8011));
  assert.equal(udp?.tcp, false);
  assert.equal(udp?.queueFirst, 0, 'NFQUEUE without --queue-num is queue 0');
  const bal = parseQueueRules('mangle', '-A POSTROUTING -p tcp --sport 80 -j NFQUEUE --queue-balance 3:5');
  assert.deepEqual([bal[0]?.queueFirst, bal[0]?.queueLast, bal[0]?.table], [3, 5, 'mangle']);
});

test('checkRules: present rule is ok; missing port names the exact script command', () => {
  const good = checkRules(input({}));
  assert.deepEqual(good.map((r) => r.status), ['ok']);
  const bad = checkRules(input({ ports: [80, 443] }));
  assert.equal(bad[0]?.status, 'problem');
  assert.match(bad[0]?.detail ?? '', /port\(s\) 443 to NFQUEUE 0/);
  assert.equal(bad[0]?.fix, 'bash scripts/intercept-rules.sh add --port 443 --queue 0  (or start intercept with --install-rule 443)');
});

test('checkRules: the port goes to another queue → says which', () => {
  const r = checkRules(input({ ports: [6379] }));
  assert.equal(r[0]?.status, 'problem');
  assert.match(r[0]?.detail ?? '', /port 6379 goes to NFQUEUE 2/);
  // Asking for queue 2 makes it fine.
  assert.equal(checkRules(input({ ports: [6379], queueNum: 2 }))[0]?.status, 'ok');
});

test('checkRules: no rule at all, with and without ports; --install-rule is ok', () => {
  const none = checkRules(input({ rules: [], ports: [] }));
  assert.equal(none[0]?.status, 'problem');
  assert.match(none[0]?.detail ?? '', /no rule in OUTPUT sends packets to NFQUEUE 0/);
  assert.equal(checkRules(input({ rules: [], installRule: true }))[0]?.status, 'ok');
  assert.equal(checkRules(input({ ports: [] }))[0]?.status, 'ok');
});

test('checkRules: a rule queueing every tcp source port also swallows the channel port', () => {
  const rules = parseQueueRules('filter', '-A OUTPUT -p tcp -j NFQUEUE --queue-num 0');
  const r = checkRules(input({ rules }));
  const ch = r.find((x) => x.id === 'nfqueue-rule-channel');
  assert.equal(ch?.status, 'problem');
  assert.match(ch?.detail ?? '', /36524/);
  assert.match(ch?.fix ?? '', /iptables -t filter -D OUTPUT -p tcp -j NFQUEUE --queue-num 0/);
});

test('checkRules: a queue rule in INPUT is named as the wrong chain; list errors are problems', () => {
  const rules = parseQueueRules('filter', '-A INPUT -p tcp --dport 80 -j NFQUEUE --queue-num 0');
  const r = checkRules(input({ rules }));
  assert.deepEqual(r.map((x) => [x.id, x.status]), [['nfqueue-rule', 'problem'], ['nfqueue-rule-chain', 'problem']]);
  const e = checkRules(input({ rules: [], listError: 'iptables: not found' }));
  assert.equal(e[0]?.status, 'problem');
  assert.match(e[0]?.detail ?? '', /cannot list iptables rules: iptables: not found/);
});
