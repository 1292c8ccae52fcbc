import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { decodeLink, describeLinkType, isSupportedLinkType } from '../../../src/core/capture/link-types.js';
import { CaptureRecord } from '../../../src/core/capture/record.js';

function decode(linkType: number, hex: string): CaptureRecord {
  const rec = new CaptureRecord();
  const buf = Buffer.from(hex.replace(/\s+/g, ''), 'hex');
  assert.equal(decodeLink(linkType, buf, 0, buf.length, rec), true);
  return rec;
}

const MACS = '020000000001 020000000002';
const IPV4 = '4500001c000000004001000000000000000000000000';

test('Ethernet: plain IPv4, ARP, IPv6 and unknown EtherTypes', () => {
  assert.deepEqual([decode(1, `${MACS} 0800 ${IPV4}`).l3Kind, decode(1, `${MACS} 0800 ${IPV4}`).ipOffset], ['ipv4', 14]);
  assert.equal(decode(1, `${MACS} 0806 0001`).l3Kind, 'arp');
  assert.equal(decode(1, `${MACS} 86dd 60000000`).l3Kind, 'ipv6');
  const other = decode(1, `${MACS} 88cc 0000`);
  assert.deepEqual([other.l3Kind, other.ipOffset], ['other', -1]);
  // Frame cut inside the header.
  assert.deepEqual([decode(1, '0200000000').l3Kind, decode(1, '0200000000').ipOffset], ['other', -1]);
});

test('Ethernet: VLAN tags of any depth and all three TPIDs', () => {
  const r = decode(1, `${MACS} 88a8 0014 9100 0fff 8100 200a 0800 ${IPV4}`);
  assert.equal(r.l3Kind, 'ipv4');
  assert.equal(r.ipOffset, 26);
  assert.deepEqual(r.vlanList(), [20, 4095, 10]); // priority bits masked off
  // Deeper than the stored ids: all are skipped and counted.
  const deep = decode(1, `${MACS} ${'8100 0001 '.repeat(10)} 0800 ${IPV4}`);
  assert.equal(deep.vlanCount, 10);
  assert.equal(deep.vlanList().length, 8);
  assert.equal(deep.ipOffset, 14 + 40);
  // Tag header cut short.
  const cut = decode(1, `${MACS} 8100 00`);
  assert.deepEqual([cut.l3Kind, cut.ipOffset], ['other', -1]);
});

test('Linux cooked v1 and v2, with and without a VLAN tag', () => {
  const sll = decode(113, `0000 0001 0006 020000000001 0000 0800 ${IPV4}`);
  assert.deepEqual([sll.l3Kind, sll.ipOffset], ['ipv4', 16]);
  const sllVlan = decode(113, `0000 0001 0006 020000000001 0000 8100 0007 0800 ${IPV4}`);
  assert.deepEqual([sllVlan.l3Kind, sllVlan.ipOffset, sllVlan.vlanList()], ['ipv4', 20, [7]]);
  const sll2 = decode(276, `0800 0000 00000002 0001 00 06 020000000001 0000 ${IPV4}`);
  assert.deepEqual([sll2.l3Kind, sll2.ipOffset], ['ipv4', 20]);
  const sll2Vlan = decode(276, `8100 0000 00000002 0001 00 06 020000000001 0000 0009 0806 0001`);
  assert.deepEqual([sll2Vlan.l3Kind, sll2Vlan.ipOffset, sll2Vlan.vlanList()], ['arp', 24, [9]]);
});

test('raw IP link types pick IPv4/IPv6 by the version nibble', () => {
  for (const lt of [12, 14, 101]) {
    assert.deepEqual([decode(lt, IPV4).l3Kind, decode(lt, IPV4).ipOffset], ['ipv4', 0]);
    assert.equal(decode(lt, '60000000').l3Kind, 'ipv6');
  }
  assert.equal(decode(228, IPV4).l3Kind, 'ipv4');
  assert.equal(decode(228, '60000000').l3Kind, 'other');
  assert.equal(decode(229, '60000000').l3Kind, 'ipv6');
});

test('BSD null (either host byte order) and LOOP (network order)', () => {
  assert.deepEqual([decode(0, `02000000 ${IPV4}`).l3Kind, decode(0, `02000000 ${IPV4}`).ipOffset], ['ipv4', 4]);
  assert.equal(decode(0, `00000002 ${IPV4}`).l3Kind, 'ipv4'); // written by a big-endian host
  for (const af of ['18000000', '1c000000', '1e000000', '0000001e']) assert.equal(decode(0, `${af} 60000000`).l3Kind, 'ipv6');
  assert.equal(decode(0, '07000000 00').l3Kind, 'other');
  assert.equal(decode(108, `00000002 ${IPV4}`).l3Kind, 'ipv4');
  assert.equal(decode(108, `02000000 ${IPV4}`).l3Kind, 'other');
});

test('unsupported link types are reported, with names where known', () => {
  const rec = new CaptureRecord();
  assert.equal(decodeLink(105, Buffer.alloc(40), 0, 40, rec), false);
  assert.equal(isSupportedLinkType(105), false);
  assert.equal(describeLinkType(105), '105 (IEEE802_11)');
  assert.equal(describeLinkType(4242), '4242');
});
