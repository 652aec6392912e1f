// The pure parts of allocation tracing, without QEMU: the calling-convention readers (i386 cdecl
// on the stack, x86-64 System V in registers), the record table's pairing of returns with entries
// by stack pointer (recursion, calls in flight on two stacks, a return never seen), its findings
// (double free, free never allocated, said as a warning when a return was missed, nothing when
// attached late), the sites, and the tracing description's check. The session-level behaviour
// (real kernels, real calls, gdb as the oracle) is in dap-tracing.test.ts.

import * as assert from 'assert';
import { AllocationTrace, ResolvedSite } from '../src/mm/model/allocation-trace';
import { decodeCallEntry, decodeReturnValue, entryStackBytes } from '../src/mm/model/call-abi';
import { sizeOfCall, tracedSize } from '../src/mm/model/tracing-description';
import { EventCondition } from '../src/mm/model/event-condition';

const site = (address: bigint): ResolvedSite => ({ address, function: `caller_${address.toString(16)}`, file: '/src/k.c', line: Number(address & 0xffn) });
const ctx = (thread = 1, cr3 = 0x1000n) => ({ time: 0, thread, cr3 });

function trace(complete = true): AllocationTrace {
  return new AllocationTrace({ returns: 'physical', resolveSite: site, complete });
}

describe('allocation tracing: the model', () => {
  it('reads an i386 cdecl call from the stack and an x86-64 System V call from registers', () => {
    const stack = Buffer.alloc(entryStackBytes('i386-cdecl'));
    stack.writeUInt32LE(0x00100abc, 0);
    stack.writeUInt32LE(7, 4);
    stack.writeUInt32LE(0xdeadbeef, 8);
    const i386 = decodeCallEntry('i386-cdecl', new Map([['esp', 0x1ff0n], ['eax', 5n]]), stack);
    assert.strictEqual(i386.returnAddress, 0x100abcn);
    assert.strictEqual(i386.stackPointerAfterReturn, 0x1ff4n);
    assert.deepStrictEqual(i386.args.slice(0, 2), [7n, 0xdeadbeefn]);
    const ret = Buffer.alloc(8);
    ret.writeBigUInt64LE(0xffffffff80101234n, 0);
    const regs = new Map([['rsp', 0xffffffff80200ff8n], ['rdi', 3n], ['rsi', 0xffff888000001000n], ['rdx', 0n], ['rcx', 0n], ['r8', 0n], ['r9', 9n], ['rax', 0xffff888000002000n]]);
    const x64 = decodeCallEntry('x86-64-sysv', regs, ret);
    assert.strictEqual(x64.returnAddress, 0xffffffff80101234n);
    assert.strictEqual(x64.stackPointerAfterReturn, 0xffffffff80201000n);
    assert.deepStrictEqual(x64.args, [3n, 0xffff888000001000n, 0n, 0n, 0n, 9n]);
    assert.strictEqual(decodeReturnValue('x86-64-sysv', regs), 0xffff888000002000n);
    assert.strictEqual(decodeReturnValue('i386-cdecl', new Map([['eax', 0x1_0000_0010n]])), 0x10n);
    assert.throws(() => decodeCallEntry('i386-cdecl', new Map([['esp', 0n]]), Buffer.alloc(2)), /stack could not be read/);
  });

  it('pairs returns with their entries by stack pointer: two calls from one site in flight on two stacks, and a nested call', () => {
    const t = trace();
    // Thread A (stack at 0x2000) enters from site 0x100; kalloc yields, thread B (stack 0x4000) enters from the same site.
    t.enterAlloc({ ...ctx(1), returnAddress: 0x100n, stackPointerAfterReturn: 0x2000n, size: 4096 });
    t.enterAlloc({ ...ctx(1), returnAddress: 0x100n, stackPointerAfterReturn: 0x4000n, size: 4096 });
    // B's call allocates once more inside (a nested call from 0x200 in kalloc itself).
    t.enterAlloc({ ...ctx(1), returnAddress: 0x200n, stackPointerAfterReturn: 0x3f00n, size: 4096 });
    assert.deepStrictEqual(t.returnAddresses().sort(), [0x100n, 0x200n]);
    assert.strictEqual(t.returnFromAlloc(0x200n, 0x3f00n, 0xa000n).kind, 'allocated');
    // Another path through 0x100 (a loop back to it) with a stack pointer no call left: no match.
    assert.strictEqual(t.returnFromAlloc(0x100n, 0x2100n, 0x1n).kind, 'unmatched');
    const a = t.returnFromAlloc(0x100n, 0x2000n, 0xb000n);
    const b = t.returnFromAlloc(0x100n, 0x4000n, 0xc000n);
    assert.ok(a.kind === 'allocated' && b.kind === 'allocated');
    assert.deepStrictEqual([a.allocation.seq, b.allocation.seq], [1, 2], 'each return got its own entry');
    assert.strictEqual(t.pendingCalls, 0);
    assert.deepStrictEqual(t.returnAddresses(), []);
    assert.deepStrictEqual(t.live().map((x) => x.seq), [1, 2, 3]);
    const json = t.toJson({ allocFunction: 'kalloc', freeFunction: 'kfree', callsPerSecond: 10 });
    assert.deepStrictEqual(json.sites.map((s) => [s.site.address, s.live, s.bytes]), [[0x100, 2, 8192], [0x200, 1, 4096]]);
    assert.strictEqual(json.tracedCalls, 3);
    assert.strictEqual(json.live[0].site.function, 'caller_100');
  });

  it('abandons a call whose stack slot a new call reuses, and one beyond the pending bound', () => {
    const t = new AllocationTrace({ returns: 'address', resolveSite: site, complete: true, maxPending: 2 });
    t.enterAlloc({ ...ctx(), returnAddress: 0x100n, stackPointerAfterReturn: 0x2000n, size: 1 });
    // The same stack pointer in the same space: the first call's return was missed (e.g. the user stepped past it).
    t.enterAlloc({ ...ctx(), returnAddress: 0x180n, stackPointerAfterReturn: 0x2000n, size: 1 });
    assert.strictEqual(t.counts.abandoned, 1);
    assert.deepStrictEqual(t.returnAddresses(), [0x180n]);
    // The same stack pointer in another address space is another stack.
    t.enterAlloc({ ...ctx(1, 0x9000n), returnAddress: 0x100n, stackPointerAfterReturn: 0x2000n, size: 1 });
    assert.strictEqual(t.counts.abandoned, 1);
    t.enterAlloc({ ...ctx(), returnAddress: 0x300n, stackPointerAfterReturn: 0x1000n, size: 1 });
    assert.strictEqual(t.counts.abandoned, 2, 'the oldest beyond maxPending');
    assert.strictEqual(t.pendingCalls, 2);
  });

  it('finds a double free and a free of something never allocated, naming the sites', () => {
    const t = trace();
    t.enterAlloc({ ...ctx(), returnAddress: 0x111n, stackPointerAfterReturn: 0x2000n, size: 4096 });
    t.returnFromAlloc(0x111n, 0x2000n, 0x5000n);
    assert.strictEqual(t.free(0x5000n, 0x122n, ctx()).kind, 'freed');
    const again = t.free(0x5000n, 0x133n, ctx());
    assert.strictEqual(again.kind, 'double-free');
    assert.strictEqual(again.kind === 'double-free' && again.finding.message,
      '0x5000 was freed twice: allocated by caller_111 at k.c:17, freed by caller_122 at k.c:34, then freed again by caller_133 at k.c:51.');
    assert.strictEqual(t.free(0n, 0x144n, ctx()).kind, 'null', 'free(NULL) is no finding');
    const never = t.free(0x7000n, 0x155n, ctx());
    assert.ok(never.kind === 'never-allocated' && never.finding?.severity === 'error');
    assert.deepStrictEqual(t.findings.map((f) => [f.kind, f.physical, f.site?.function]), [['double-free', 0x5000, 'caller_133'], ['free-never-allocated', 0x7000, 'caller_155']]);
    // Allocated again after the free: a new live allocation, no finding when it is freed.
    t.enterAlloc({ ...ctx(), returnAddress: 0x111n, stackPointerAfterReturn: 0x2000n, size: 4096 });
    t.returnFromAlloc(0x111n, 0x2000n, 0x5000n);
    assert.strictEqual(t.free(0x5000n, 0x122n, ctx()).kind, 'freed');
    assert.strictEqual(t.findings.length, 2);
  });

  it('takes a site that frees many frames it never allocated for the kernel filling its pool (xv6\'s freerange), not for a mistake', () => {
    const t = trace();
    // kinit: frees every frame from one site; the first one looks like a mistake until the second.
    assert.strictEqual(t.free(0x1000n, 0x300n, ctx()).kind, 'never-allocated');
    assert.strictEqual(t.findings.length, 1);
    for (let f = 2n; f < 10n; f++) t.free(f * 0x1000n, 0x300n, ctx());
    assert.strictEqual(t.findings.length, 0, 'withdrawn');
    assert.deepStrictEqual(t.poolFillers().map((p) => [p.site.function, p.frees]), [['caller_300', 9]]);
    // A frame given to the pool and freed again without an allocation between: a double free.
    const twice = t.free(0x3000n, 0x311n, ctx());
    assert.ok(twice.kind === 'double-free');
    assert.match(twice.finding.message, /^0x3000 was freed twice: given to the allocator by caller_300 at k\.c:0, then freed again by caller_311 at k\.c:17\.$/);
    // Allocated from the pool and freed: no finding; a one-off free of an unknown frame elsewhere: a finding.
    t.enterAlloc({ ...ctx(), returnAddress: 0x111n, stackPointerAfterReturn: 0x2000n, size: 4096 });
    t.returnFromAlloc(0x111n, 0x2000n, 0x4000n);
    assert.strictEqual(t.free(0x4000n, 0x122n, ctx()).kind, 'freed');
    t.free(0x99000n, 0x155n, ctx());
    assert.deepStrictEqual(t.findings.map((f) => f.kind), ['double-free', 'free-never-allocated']);
  });

  it('makes no false finding: attached late, none; after a missed return, a warning', () => {
    const late = trace(false);
    assert.strictEqual(late.free(0x7000n, 0x155n, ctx()).kind, 'never-allocated');
    assert.deepStrictEqual(late.findings, []);
    const missed = trace();
    missed.enterAlloc({ ...ctx(), returnAddress: 0x100n, stackPointerAfterReturn: 0x2000n, size: 1 });
    missed.enterAlloc({ ...ctx(), returnAddress: 0x100n, stackPointerAfterReturn: 0x2000n, size: 1 });
    missed.free(0x7000n, 0x155n, ctx());
    assert.deepStrictEqual(missed.findings.map((f) => f.severity), ['warning']);
    assert.match(missed.findings[0].message, /1 traced allocation never returned, so it may be one of them/);
  });

  it('reads a traced allocation\'s size: a constant, or an expression over the arguments; one sentence when it cannot', () => {
    const buddy = { alloc: { function: 'buddy_alloc', returns: 'frame', size: '4096 << $arg0' }, free: { function: 'buddy_free', argument: 0 } } as const;
    const size = tracedSize(buddy);
    assert.ok(size instanceof EventCondition);
    assert.strictEqual(sizeOfCall(size, [3n]), 32768);
    assert.strictEqual(tracedSize({ ...buddy, alloc: { function: 'kalloc', returns: 'address' } }), 4096);
    assert.strictEqual(sizeOfCall(8192, []), 8192);
    assert.match(String(tracedSize({ ...buddy, alloc: { ...buddy.alloc, size: '$arg9 * 2' } })), /^the size expression "\$arg9 \* 2" cannot be read \("\$arg9" is not known here/);
    assert.match(String(tracedSize({ ...buddy, alloc: { ...buddy.alloc, size: 'sizeof(struct page)' } })), /cannot be read/);
  });

  it('evaluates conditions on string fields and numbers alike', () => {
    const c = new EventCondition('function == "load_elf" && size >= 8192', ['function', 'size']);
    assert.strictEqual(c.evaluate({ function: 'load_elf', size: 8192 }), true);
    assert.strictEqual(c.evaluate({ function: 'kmain', size: 8192 }), false);
    assert.strictEqual(new EventCondition('function != "kmain"', ['function']).evaluate({ function: 'x' }), true);
  });
});
