// Parsers of HMP text on their own (the texts are the formats QEMU 7.2 prints).

import * as assert from 'assert';
import { parseInfoRegisters, parseInfoTlb, parseXpBytes } from '../src/hmp-parsers';

describe('hmp-parsers', () => {
  it('parses info tlb lines for 4 KiB and 4 MiB pages', () => {
    const t = parseInfoTlb('00000000c0400000: 0000000000803000 ----A---W\r\n00000000c0000000: 0000000000400000 --P-----W\nnoise\n');
    assert.deepStrictEqual(t, [
      { virtual: 0xc0400000, physical: 0x803000, flags: '----A---W', large: false, virtualExact: 0xc0400000n, physicalExact: 0x803000n },
      { virtual: 0xc0000000, physical: 0x400000, flags: '--P-----W', large: true, virtualExact: 0xc0000000n, physicalExact: 0x400000n },
    ]);
  });
  it('keeps x86-64 addresses exact', () => {
    const [t] = parseInfoTlb('ffffffff80201000: 0000000000007000 X-------W\n');
    assert.deepStrictEqual([t.virtualExact, t.physicalExact, t.flags], [0xffffffff80201000n, 0x7000n, 'X-------W']);
  });
  it('parses xp byte dumps', () => {
    assert.deepStrictEqual(parseXpBytes('0000000000100000: 0x02 0xb0 0xad 0x1b\n0000000000100004: 0x00\n'), Buffer.from([2, 0xb0, 0xad, 0x1b, 0]));
    assert.strictEqual(parseXpBytes('nothing here'), undefined);
  });
  it('parses info registers', () => {
    const r = parseInfoRegisters('EAX=00001364 EBX=12345678\nEIP=00100108 EFL=00000002 [-------] CPL=0\nCS =0008 00000000 ffffffff\nCR0=80000011 CR2=00000000 CR3=00200000 CR4=00000010\nEFER=0000000000000000\n');
    assert.strictEqual(r.get('ebx'), 0x12345678);
    assert.strictEqual(r.get('eflags'), 2);
    assert.strictEqual(r.get('cs'), 8);
    assert.strictEqual(r.get('cr3'), 0x200000);
    assert.strictEqual(r.get('efer'), 0);
  });
});
