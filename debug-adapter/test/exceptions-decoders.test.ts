// The pure parts of CPU exception stops: QEMU's `-d int,cpu_reset` log parsed from real log text
// (recorded from the test kernel in fixtures-exc, i386 and x86-64, and from our guest with its
// timer running),
// error-code decoding and the stop sentences, IDT gates, and the CPU-pushed interrupt frame.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { chainToDelivery, formatChain, parseInterruptLog, tripleFaultChain } from '../src/exceptions/interrupt-log';
import { decodePageFaultError, decodeSelectorError, describeException, describePageFaultAccess } from '../src/exceptions/cpu-exceptions';
import { decodeGate, decodeLongGate, handlerEntries, parseIdtr } from '../src/exceptions/idt';
import { faultingFrame, faultingFrame64 } from '../src/exceptions/interrupt-frame';
import { addressFromBigInt } from '../../qemu-bridge/src/address';

/** The adapter's number for a 64-bit address (signed: the kernel half is negative). */
const a64 = (v: bigint): number => addressFromBigInt(v, 64);

const LOGS = path.resolve(__dirname, '..', '..', '..', 'debug-adapter', 'test', 'fixtures-exc', 'logs');
const log = (name: string): string => fs.readFileSync(path.join(LOGS, name), 'latin1');

describe('exceptions: QEMU interrupt log parser (real log text)', () => {
  it('finds the chain #PF → #GP → #DF → #GP → triple fault of a kernel without an IDT, with the first fault\'s registers', () => {
    const events = parseInterruptLog(log('triple-fault-no-idt.log'));
    const chain = tripleFaultChain(events);
    assert.ok(chain);
    assert.deepStrictEqual(chain.links, [{ vector: 14, deliveredAs: 14 }, { vector: 13, deliveredAs: 8 }, { vector: 13 }]);
    assert.strictEqual(formatChain(chain), '#PF → #GP (delivered as #DF) → #GP → triple fault');
    const first = chain.first;
    assert.ok(first);
    assert.deepStrictEqual([first.vector, first.errorCode, first.cr2, first.cs, first.eip, first.esp], [14, 2, 0xdead0000, 8, 0x100451, 0x104fe0]);
    // The dump after the delivery line, as QEMU printed it.
    assert.strictEqual(first.registers.get('eax'), 0xdead0000);
    assert.strictEqual(first.registers.get('edx'), 0x1234);
    assert.strictEqual(first.registers.get('eip'), 0x100451);
    assert.strictEqual(first.registers.get('cr3'), 0x106000);
    assert.strictEqual(first.registers.get('cr0'), 0x80000011);
    assert.strictEqual(first.registers.get('eflags'), 2);
    assert.strictEqual(first.registers.get('cs'), 8);
  });

  it('tells the chain behind a double fault the kernel handled (#DE whose gate is not present → #NP → #DF), and no triple fault', () => {
    const events = parseInterruptLog(log('double-fault-with-idt.log'));
    assert.strictEqual(tripleFaultChain(events), undefined);
    const chain = chainToDelivery(events, 8);
    assert.ok(chain);
    assert.strictEqual(formatChain(chain), '#DE → #NP (delivered as #DF)');
    assert.strictEqual(chain.first?.eip, 0x100467);
  });

  it('parses timer interrupts and system calls of a running kernel (no check_exception) without inventing exceptions', () => {
    const text = log('timer-interrupts.log');
    const events = parseInterruptLog(text);
    const delivered = events.flatMap((e) => (e.kind === 'delivered' ? [e] : []));
    // The excerpt holds timer interrupts (vector 0x20) and the guest's system calls (int $0x81).
    assert.strictEqual(delivered.length, (text.match(/: v=[0-9a-f]{2} /g) ?? []).length);
    const timer = delivered.filter((e) => e.vector === 0x20);
    const calls = delivered.filter((e) => e.vector === 0x81);
    assert.ok(timer.length >= 5 && calls.length >= 5 && timer.length + calls.length === delivered.length);
    assert.ok(timer.every((e) => !e.software) && calls.every((e) => e.software));
    // Every dump agrees with its delivery line; only the last may be cut off by the excerpt's end.
    assert.ok(delivered.slice(0, -1).every((e) => e.registers.get('eip') === e.eip && e.registers.has('cr3')));
    const last = delivered[delivered.length - 1];
    assert.ok(!last.registers.has('eip') || last.registers.get('eip') === last.eip);
    assert.strictEqual(events.filter((e) => e.kind === 'raised').length, 0);
    assert.strictEqual(tripleFaultChain(events), undefined);
  });

  it('finds the chain when the log tail starts in the middle of a dump, and nothing when the start is cut off', () => {
    const text = log('triple-fault-no-idt.log');
    const cut = text.slice(text.indexOf('check_exception old: 0xffffffff new 0xe') - 300);
    assert.strictEqual(formatChain(tripleFaultChain(parseInterruptLog(cut)) ?? { links: [], triple: false }), '#PF → #GP (delivered as #DF) → #GP → triple fault');
    const late = text.slice(text.indexOf('check_exception old: 0xe new 0xd'));
    assert.strictEqual(tripleFaultChain(parseInterruptLog(late)), undefined);
  });

  it('infers the triple fault from a fault while delivering #DF when the log has no "Triple fault" line (-d int alone)', () => {
    const text = log('triple-fault-no-idt.log').replace('Triple fault', '');
    const chain = tripleFaultChain(parseInterruptLog(text));
    assert.strictEqual(chain && formatChain(chain), '#PF → #GP (delivered as #DF) → #GP → triple fault');
  });
});

describe('exceptions: error codes and sentences', () => {
  it('decodes every page-fault error bit', () => {
    assert.deepStrictEqual(decodePageFaultError(0b10111), { present: true, write: true, user: true, reserved: false, fetch: true, protectionKey: false, shadowStack: false });
    assert.strictEqual(describePageFaultAccess(2, 0xdead0000), 'write to 0xdead0000, not present, in kernel mode');
    assert.strictEqual(describePageFaultAccess(5, 0x1000), 'read from 0x1000, protection violation, in user mode');
    assert.strictEqual(describePageFaultAccess(0x19, 0xc0000000), 'instruction fetch from 0xc0000000, protection violation, reserved bit set in a paging entry, in kernel mode');
  });

  it('decodes selector error codes and writes the sentences', () => {
    assert.deepStrictEqual(decodeSelectorError(0x1234), { external: false, table: 'LDT', index: 0x246 });
    assert.deepStrictEqual(decodeSelectorError(0x72), { external: false, table: 'IDT', index: 14 });
    assert.strictEqual(describeException({ vector: 14, errorCode: 2, cr2: 0xdead0000, where: 'kmain.c:42 (poke)' }),
      'page fault: write to 0xdead0000, not present, in kernel mode, at kmain.c:42 (poke)');
    assert.strictEqual(describeException({ vector: 13, errorCode: 0x1234, where: 'kmain.c:9' }), 'general protection fault: segment selector 0x1234 (LDT entry 582), at kmain.c:9');
    assert.strictEqual(describeException({ vector: 13, errorCode: 0, where: 'x.c:1' }), 'general protection fault at x.c:1');
    assert.strictEqual(describeException({ vector: 6, where: 'x.c:2', notes: ['bytes 0f 0b'] }), 'invalid opcode at x.c:2; bytes 0f 0b');
  });
});

describe('exceptions: IDT and interrupt frame', () => {
  it('reads IDTR from info registers and decodes 32-bit gates', () => {
    assert.deepStrictEqual(parseIdtr('GDT=     001008a0 00000017\nIDT=     00107000 000007ff\nCR0=80000011'), { base: 0x107000, limit: 0x7ff });
    assert.strictEqual(parseIdtr('EAX=0'), undefined);
    const table = Buffer.alloc(16 * 8);
    // vector 14: interrupt gate 0x08:0x0010004d, present, DPL 0; vector 13: not present; vector 6: trap gate.
    Buffer.from([0x4d, 0x00, 0x08, 0x00, 0x00, 0x8e, 0x10, 0x00]).copy(table, 14 * 8);
    Buffer.from([0x49, 0x00, 0x08, 0x00, 0x00, 0x0e, 0x10, 0x00]).copy(table, 13 * 8);
    Buffer.from([0x3f, 0x00, 0x08, 0x00, 0x00, 0xef, 0x10, 0x00]).copy(table, 6 * 8);
    assert.deepStrictEqual(decodeGate(table, 14), { vector: 14, present: true, type: 'interrupt', dpl: 0, selector: 8, offset: 0x10004d });
    assert.deepStrictEqual(decodeGate(table, 6), { vector: 6, present: true, type: 'trap', dpl: 3, selector: 8, offset: 0x10003f });
    assert.deepStrictEqual([...handlerEntries({ base: 0, limit: 0x7f }, table, [0, 6, 13, 14])], [[6, 0x10003f], [14, 0x10004d]]);
    // A limit that ends inside gate 14 leaves it out.
    assert.deepStrictEqual([...handlerEntries({ base: 0, limit: 14 * 8 + 6 }, table, [6, 14])], [[6, 0x10003f]]);
  });

  it('rebuilds the faulting frame from the CPU-pushed words, in kernel and from user mode', () => {
    const live = new Map([['eip', 0x10004d], ['esp', 0x104fd0], ['cs', 8], ['eax', 7], ['cr2', 0xdead0000]]);
    const words = Buffer.alloc(24);
    [2, 0x100451, 8, 0x202, 0, 0].forEach((w, i) => words.writeUInt32LE(w, i * 4));
    const k = faultingFrame(live, words, true);
    assert.ok(k);
    assert.strictEqual(k.errorCode, 2);
    assert.deepStrictEqual([k.registers.get('eip'), k.registers.get('esp'), k.registers.get('eflags'), k.registers.get('eax'), k.fromUser], [0x100451, 0x104fe0, 0x202, 7, false]);
    [0x8048000, 0x1b, 0x202, 0xbffff000, 0x23, 0].forEach((w, i) => words.writeUInt32LE(w, i * 4));
    const u = faultingFrame(live, words, false);
    assert.ok(u);
    assert.strictEqual(u.errorCode, undefined);
    assert.deepStrictEqual([u.registers.get('eip'), u.registers.get('esp'), u.registers.get('ss'), u.registers.get('cs'), u.fromUser], [0x8048000, 0xbffff000, 0x23, 0x1b, true]);
    assert.strictEqual(faultingFrame(live, Buffer.alloc(8), true), undefined);
  });
});

describe('exceptions on x86-64: the long-mode log, gates, frame and sentences', () => {
  it('parses qemu-system-x86_64 7.2\'s log: the chain of a kernel without an IDT, and the first fault\'s 64-bit registers exactly', () => {
    const events = parseInterruptLog(log('x86_64-triple-fault-no-idt.log'));
    const chain = tripleFaultChain(events);
    assert.ok(chain);
    assert.strictEqual(formatChain(chain), '#PF → #GP (delivered as #DF) → #GP → triple fault');
    const first = chain.first;
    assert.ok(first);
    assert.deepStrictEqual([first.width, first.vector, first.errorCode, first.cr2, first.cs, first.eip, first.esp, first.ss],
      [64, 14, 2, 0xdead0000, 8, a64(0xffffffff80105786n), a64(0xffffffff8010bfb0n), 0x10]);
    const r = first.registers;
    assert.deepStrictEqual(['rax', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'rip', 'r8', 'r15', 'eflags', 'cs', 'ss', 'cr0', 'cr2', 'cr3', 'efer'].map((n) => r.get(n)),
      [0xdead0000, 0x1234, 0x1234, 0xdead0000, a64(0xffffffff8010bfc0n), a64(0xffffffff8010bfb0n), a64(0xffffffff80105786n), 0, 0, 0x82, 8, 0x10, 0x80000011, 0xdead0000, 0x10d000, 0x500]);
    // The low halves the adapter keeps beside the 64-bit registers.
    assert.deepStrictEqual([r.get('eip'), r.get('esp'), r.get('eax')], [0x80105786, 0x8010bfb0, 0xdead0000]);
  });

  it('reads the 64-bit IDTR and decodes 16-byte gates (offset 63:0, IST, type), leaving out what long mode cannot deliver', () => {
    assert.deepStrictEqual(parseIdtr('GDT=     0000000000107000 00000037\nIDT=     ffffffff80115000 00000fff\n', 64), { base: a64(0xffffffff80115000n), limit: 0xfff });
    assert.deepStrictEqual(parseIdtr('IDT=     ffffffff80115000 00000fff\n'), { base: 0x80115000, limit: 0xfff });
    const table = Buffer.alloc(16 * 16);
    // vector 14: interrupt gate 0x08:0xffffffff80105a3c, IST 2; vector 3: trap gate DPL 3; vector 6: a 32-bit-style task gate (invalid in long mode).
    Buffer.from([0x3c, 0x5a, 0x08, 0x00, 0x02, 0x8e, 0x10, 0x80, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]).copy(table, 14 * 16);
    Buffer.from([0x10, 0x5a, 0x08, 0x00, 0x00, 0xef, 0x10, 0x80, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]).copy(table, 3 * 16);
    Buffer.from([0x10, 0x5a, 0x08, 0x00, 0x00, 0x85, 0x10, 0x80, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]).copy(table, 6 * 16);
    assert.deepStrictEqual(decodeLongGate(table, 14), { vector: 14, present: true, type: 'interrupt', dpl: 0, selector: 8, offset: a64(0xffffffff80105a3cn), ist: 2 });
    assert.deepStrictEqual(decodeLongGate(table, 3), { vector: 3, present: true, type: 'trap', dpl: 3, selector: 8, offset: a64(0xffffffff80105a10n), ist: 0 });
    assert.strictEqual(decodeLongGate(table, 6)?.type, 'invalid');
    assert.deepStrictEqual([...handlerEntries({ base: 0, limit: 0xff }, table, [3, 6, 14], 'long')], [[3, a64(0xffffffff80105a10n)], [14, a64(0xffffffff80105a3cn)]]);
    // A limit that ends inside the 16-byte gate 14 leaves it out; read as 8-byte gates, the same bytes are other vectors.
    assert.deepStrictEqual([...handlerEntries({ base: 0, limit: 14 * 16 + 14 }, table, [3, 14], 'long')], [[3, a64(0xffffffff80105a10n)]]);
    assert.notDeepStrictEqual([...handlerEntries({ base: 0, limit: 0xff }, table, [3, 14])], [...handlerEntries({ base: 0, limit: 0xff }, table, [3, 14], 'long')]);
  });

  it('rebuilds the faulting frame from the long-mode frame (8-byte slots; ss:rsp always pushed), in kernel and from user mode', () => {
    const live = new Map([['rip', a64(0xffffffff80105a3cn)], ['rsp', a64(0xffffffff8010bf80n)], ['eip', 0x80105a3c], ['esp', 0x8010bf80], ['cs', 8], ['rax', 7], ['cr2', 0xdead0000]]);
    const slots = (values: bigint[]): Buffer => {
      const b = Buffer.alloc(values.length * 8);
      values.forEach((v, i) => b.writeBigUInt64LE(v, i * 8));
      return b;
    };
    const k = faultingFrame64(live, slots([2n, 0xffffffff80105786n, 8n, 0x82n, 0xffffffff8010bfb0n, 0x10n]), true);
    assert.ok(k);
    assert.strictEqual(k.errorCode, 2);
    assert.deepStrictEqual(['rip', 'rsp', 'eflags', 'cs', 'ss', 'rax', 'eip', 'esp'].map((n) => k.registers.get(n)),
      [a64(0xffffffff80105786n), a64(0xffffffff8010bfb0n), 0x82, 8, 0x10, 7, 0x80105786, 0x8010bfb0]);
    assert.strictEqual(k.fromUser, false);
    const u = faultingFrame64(live, slots([0xffffffff80105900n, 0x1bn, 0x202n, 0xffffffff80120ff8n, 0x23n]), false);
    assert.ok(u);
    assert.deepStrictEqual([u.registers.get('rip'), u.registers.get('rsp'), u.registers.get('cs'), u.registers.get('ss'), u.fromUser, u.errorCode],
      [a64(0xffffffff80105900n), a64(0xffffffff80120ff8n), 0x1b, 0x23, true, undefined]);
    // Five slots are the least a frame has (six with an error code); the 32-bit reader sees other values in the same bytes.
    assert.strictEqual(faultingFrame64(live, Buffer.alloc(40), true), undefined);
  });

  it('prints 64-bit addresses exactly in the sentences', () => {
    assert.strictEqual(describePageFaultAccess(2, a64(0xffff8000dead0000n), 64), 'write to 0xffff8000dead0000, not present, in kernel mode');
    assert.strictEqual(describeException({ vector: 14, errorCode: 0x10, cr2: a64(0xffffffff80200000n), where: 'x.c:1', width: 64 }),
      'page fault: instruction fetch from 0xffffffff80200000, not present, in kernel mode, at x.c:1');
    // The i386 printing of the same number is its low 32 bits (that is the bug a 64-bit kernel showed).
    assert.strictEqual(describePageFaultAccess(2, a64(0xffffffff80105800n)), 'write to 0x80105800, not present, in kernel mode');
  });
});
