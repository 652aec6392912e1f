// The DWARF expression evaluator over a register file and memory supplied by the test
// (the evaluator's own interface, not a stand-in for a peer), plus locating real -O0 locals.

import * as assert from 'assert';
import { formatAddress } from '../../qemu-bridge/src/address';
import { byteSizeOf, DebugSymbols, DwarfExpressionError, evaluateLocation, ExpressionContext, formatExpression } from '../src/symbols';
import { build, gdbBatch, readBytes, run } from './fixtures-c/compile';
import { buildX64Kernel } from './fixtures-x64/build64';

function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(byte & 0x40)) || (v === -1 && byte & 0x40)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const registers = [0x11, 0x22, 0x33, 0x44, 0x9000, 0x8000, 0x66, 0x77, 0x0804_9000];
const memory = new Map<number, number>([[0x1000, 0xdeadbeef], [0x7ff8, 0x1234]]);
const ctx: ExpressionContext = {
  readRegister: (n) => registers[n] ?? 0,
  readMemory: (address, size) => {
    const v = memory.get(address) ?? 0;
    return new Uint8Array([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]).subarray(0, size);
  },
  frameBase: () => 0x8008,
  callFrameCfa: () => 0x8008,
};

const expr = (...bytes: number[]): Uint8Array => new Uint8Array(bytes);

describe('symbols: DWARF expressions', () => {
  it('computes memory locations from registers, the frame base and the CFA', async () => {
    assert.deepStrictEqual(await evaluateLocation(expr(0x75, ...sleb(-8)), ctx), { kind: 'memory', address: registers[5] - 8 }); // breg5 -8
    assert.deepStrictEqual(await evaluateLocation(expr(0x91, ...sleb(-20)), ctx), { kind: 'memory', address: 0x8008 - 20 }); // fbreg -20
    assert.deepStrictEqual(await evaluateLocation(expr(0x9c, 0x23, 8), ctx), { kind: 'memory', address: 0x8010 }); // cfa; plus_uconst 8
    assert.deepStrictEqual(await evaluateLocation(expr(0x03, 0x00, 0x10, 0x00, 0x00, 0x06), ctx), { kind: 'memory', address: 0xdeadbeef }); // addr; deref
    assert.deepStrictEqual(await evaluateLocation(expr(0x92, 4, ...sleb(16)), ctx), { kind: 'memory', address: registers[4] + 16 }); // bregx esp 16
  });

  it('returns registers, stack values, implicit values and pieces', async () => {
    assert.deepStrictEqual(await evaluateLocation(expr(0x53), ctx), { kind: 'register', register: 3 });
    assert.deepStrictEqual(await evaluateLocation(expr(0x90, 33), ctx), { kind: 'register', register: 33 });
    assert.deepStrictEqual(await evaluateLocation(expr(0x33, 0x34, 0x22, 0x9f), ctx), { kind: 'value', value: 7n }); // lit3 lit4 plus stack_value
    assert.deepStrictEqual(await evaluateLocation(expr(0x9e, 2, 0x34, 0x12), ctx), { kind: 'implicit', bytes: expr(0x34, 0x12) });
    const pieces = await evaluateLocation(expr(0x50, 0x93, 4, 0x75, ...sleb(-4), 0x93, 2, 0x93, 2), ctx);
    assert.deepStrictEqual(pieces, {
      kind: 'pieces',
      pieces: [
        { sizeBits: 32, offsetBits: 0, location: { kind: 'register', register: 0 } },
        { sizeBits: 16, offsetBits: 0, location: { kind: 'memory', address: registers[5] - 4 } },
        { sizeBits: 16, offsetBits: 0, location: { kind: 'unavailable', reason: 'optimized out' } },
      ],
    });
    assert.deepStrictEqual(await evaluateLocation(expr(), ctx), { kind: 'unavailable', reason: 'optimized out' });
    assert.strictEqual((await evaluateLocation(expr(0xa3, 1, 0x50, 0x9f), ctx)).kind, 'unavailable'); // entry_value(reg0)
    // With the caller's call site the entry value is known, and the expression goes on with it.
    const withEntry: ExpressionContext = { ...ctx, entryValue: (operand) => (operand.length === 1 && operand[0] === 0x50 ? 40 : Promise.reject(new Error('no call site'))) };
    assert.deepStrictEqual(await evaluateLocation(expr(0xa3, 1, 0x50, 0x32, 0x22, 0x9f), withEntry), { kind: 'value', value: 42n }); // entry_value(reg0) lit2 plus
    assert.strictEqual((await evaluateLocation(expr(0xa3, 1, 0x51, 0x9f), withEntry)).kind, 'unavailable'); // entry_value(reg1): not passed
  });

  it('does signed arithmetic, comparisons, stack operations and branches at 32 bits', async () => {
    const value = async (...bytes: number[]): Promise<bigint> => {
      const loc = await evaluateLocation(expr(...bytes, 0x9f), ctx);
      assert.strictEqual(loc.kind, 'value');
      return loc.kind === 'value' ? loc.value : 0n;
    };
    assert.strictEqual(await value(0x30, 0x31, 0x1c), 0xffffffffn); // 0 - 1 wraps
    assert.strictEqual(await value(0x11, ...sleb(-9), 0x32, 0x1b), BigInt.asUintN(32, -4n)); // -9 / 2 = -4
    assert.strictEqual(await value(0x11, ...sleb(-1), 0x30, 0x2d), 1n); // -1 < 0 (signed)
    assert.strictEqual(await value(0x31, 0x32, 0x16, 0x1c), 1n); // swap then minus: 2 - 1
    assert.strictEqual(await value(0x31, 0x32, 0x33, 0x17, 0x13, 0x13), 3n); // rot: 1 2 3 -> 3 1 2; drop, drop
    assert.strictEqual(await value(0x34, 0x12, 0x1e), 16n); // dup mul
    assert.strictEqual(await value(0x31, 0x28, 0x01, 0x00, 0x30, 0x35), 5n); // lit1; bra +1 over lit0; lit5
    assert.strictEqual(await value(0x0b, 0xff, 0xff, 0x1f), 1n); // const2s -1; neg
  });

  it('throws typed errors for malformed expressions instead of looping or crashing', async () => {
    const bad: Uint8Array[] = [
      expr(0x22), // plus on an empty stack
      expr(0x2f, 0xfd, 0xff), // skip -3: an endless loop
      expr(0x2f, 0x00, 0x10), // skip past the end
      expr(0x03, 0x00), // truncated address
      expr(0xff), // unknown opcode
      expr(0x50, 0x30), // an operation after a register location
      expr(0x31, 0x30, 0x1b, 0x9f), // division by zero
    ];
    for (const e of bad) await assert.rejects(evaluateLocation(e, ctx), DwarfExpressionError, formatExpressionSafe(e));
    await assert.rejects(evaluateLocation(expr(0x91, 0x10), { readRegister: () => 0, readMemory: () => new Uint8Array(4) }), DwarfExpressionError);
  });

  it('locates -O0 locals from the CFA like the compiler laid them out', async () => {
    const symbols = new DebugSymbols(readBytes(build('lines.c', { flags: ['-O0'] })));
    const fn = symbols.functionsNamed('sum_table')[0];
    const pc = symbols.lineToAddresses('lines.c', 21)?.addresses[0];
    assert.ok(pc !== undefined && pc > fn.lowPc && pc < fn.highPc);
    const visible = symbols.variablesAt(pc);
    assert.deepStrictEqual(visible.map((v) => v.name).sort(), ['i', 'n', 't', 'total']);
    const cfa = 0x7000;
    const where = new Map<string, number>();
    for (const v of visible) {
      const loc = await symbols.locateVariable(v, pc, { readRegister: () => 0, readMemory: () => new Uint8Array(4), callFrameCfa: () => cfa });
      assert.strictEqual(loc.kind, 'memory', v.name);
      if (loc.kind === 'memory') where.set(v.name, loc.address);
    }
    // cdecl: the first argument sits at the CFA, the second 4 bytes above; locals are below.
    assert.strictEqual(where.get('t'), cfa);
    assert.strictEqual(where.get('n'), cfa + 4);
    assert.ok((where.get('total') ?? cfa) < cfa - 8 && (where.get('i') ?? cfa) < cfa - 8);
  });
});

describe('symbols: DWARF expressions on x86-64', () => {
  it('computes 64-bit kernel-half addresses exactly (DW_OP_addr, breg, wrap-around at 2^64)', async () => {
    const ctx64: ExpressionContext = {
      addressSize: 8,
      readRegister: (n) => (n === 7 ? 0xffffffff80201000n : n === 6 ? -0x7fdff000 : 0),
      readMemory: (address, size) => {
        const out = Buffer.alloc(size);
        if (address === -0x7fdfeff8) out.writeBigUInt64LE(0xffffffff80100abcn);
        return out;
      },
    };
    // DW_OP_addr 0xffffffff80100040
    const addr = expr(0x03, 0x40, 0x00, 0x10, 0x80, 0xff, 0xff, 0xff, 0xff);
    assert.deepStrictEqual(await evaluateLocation(addr, ctx64), { kind: 'memory', address: -0x7fefffc0 });
    assert.strictEqual(formatExpression(addr, 8), 'DW_OP_addr: ffffffff80100040');
    // DW_OP_breg7 (rsp) -16, DW_OP_breg6 (rbp) +8; deref reads 8 bytes
    assert.deepStrictEqual(await evaluateLocation(expr(0x77, ...sleb(-16)), ctx64), { kind: 'memory', address: -0x7fdff010 });
    assert.deepStrictEqual(await evaluateLocation(expr(0x76, 8, 0x06), ctx64), { kind: 'memory', address: -0x7feff544 }); // 0xffffffff80100abc
    // lit0 lit1 minus: -1 as an address is 0xffffffffffffffff, held as -1
    assert.deepStrictEqual(await evaluateLocation(expr(0x30, 0x31, 0x1c), ctx64), { kind: 'memory', address: -1 });
    // 0x8000000000000000 is no canonical address: a typed error, not a rounded number
    await assert.rejects(evaluateLocation(expr(0x31, 0x08, 63, 0x24), ctx64), DwarfExpressionError);
  });

  it('reads DIE offsets of the 64-bit DWARF format as 8 bytes (DW_OP_implicit_pointer, DW_OP_call_ref)', async () => {
    // DW_OP_implicit_pointer <die 0x1_0000_0123 (8 bytes)> +4
    const pointer = expr(0xa0, 0x23, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04);
    const ctx64: ExpressionContext = { addressSize: 8, offsetSize: 8, readRegister: () => 0, readMemory: (_a, n) => new Uint8Array(n) };
    assert.deepStrictEqual(await evaluateLocation(pointer, ctx64), { kind: 'implicitPointer', die: 0x100000123, offset: 4 });
    assert.strictEqual(formatExpression(pointer, 8, 8), 'DW_OP_implicit_pointer: 4294967587 4');
    assert.strictEqual(formatExpression(expr(0x9a, 0x10, 0, 0, 0, 0, 0, 0, 0), 8, 8), 'DW_OP_call_ref: 16');
    // In the 32-bit format the same bytes are a 4-byte offset and trailing garbage.
    await assert.rejects(evaluateLocation(pointer, { ...ctx64, offsetSize: 4 }), DwarfExpressionError);
  });

  it('locates -O0 locals of an x86-64 kernel as gdb\'s info scope says (frame base = CFA in the kernel half)', async () => {
    const file = build('lines.c', { flags: ['-O0'], arch: 'x86-64' });
    const symbols = new DebugSymbols(readBytes(file));
    assert.strictEqual(symbols.addressSize, 8);
    const pc = symbols.lineToAddresses('lines.c', 21)?.addresses[0];
    assert.ok(pc !== undefined && pc < 0);
    const scope = gdbBatch(file, [`info scope *${formatAddress(pc, 64)}`]);
    const expected = new Map<string, { offset: number; length: number }>();
    for (const m of scope.matchAll(/Symbol (\w+) is a (?:variable|complex DWARF expression:)\s+0: DW_OP_fbreg (-?\d+)\s*, length (\d+)/g)) {
      expected.set(m[1], { offset: Number(m[2]), length: Number(m[3]) });
    }
    assert.deepStrictEqual([...expected.keys()].sort(), ['i', 'n', 't', 'total'], scope);
    const cfa = -0x7fdff000; // 0xffffffff80201000
    const visible = symbols.variablesAt(pc);
    assert.deepStrictEqual(visible.map((v) => v.name).sort(), [...expected.keys()].sort());
    for (const v of visible) {
      const loc = await symbols.locateVariable(v, pc, { readRegister: () => 0, readMemory: () => new Uint8Array(8), callFrameCfa: () => cfa });
      const want = expected.get(v.name)!;
      assert.deepStrictEqual(loc, { kind: 'memory', address: cfa + want.offset }, v.name);
      assert.strictEqual(byteSizeOf(v.type), want.length, `sizeof ${v.name}`);
    }
  });
});

describe('symbols: x86-64 call sites and entry values', function () {
  this.timeout(60_000);
  for (const dwarf of [4, 5] as const) {
    it(`DWARF ${dwarf}: every call site readelf lists, and reduce()'s arguments recovered through kmain's call sites`, async () => {
      const file = buildX64Kernel({ opt: 'O2', dwarf, cfi: '.eh_frame' });
      const symbols = new DebugSymbols(readBytes(file));
      // readelf: the return pc of every call site DIE (DWARF 5 DW_AT_call_return_pc, GNU DW_AT_low_pc).
      const expected: number[] = [];
      let inSite = false;
      for (const line of run('readelf', ['--debug-dump=info', '-W', file]).split('\n')) {
        if (/Abbrev Number: \d+ \(DW_TAG_(?:GNU_)?call_site\)/.test(line)) { inSite = true; continue; }
        if (/Abbrev Number/.test(line)) inSite = false;
        const m = /DW_AT_(?:call_return_pc|low_pc)\s*:\s*(?:\(addr\)\s*)?0x([0-9a-f]+)/.exec(line);
        if (inSite && m) { expected.push(addressFrom(m[1])); inSite = false; }
      }
      assert.ok(expected.length > 15, `${expected.length} call sites`);
      for (const returnPc of expected) assert.ok(symbols.callSiteAt(returnPc), `no call site returns to ${formatAddress(returnPc, 64)}`);

      const reduce = symbols.functionsNamed('reduce')[0];
      const kmain = symbols.functionsNamed('kmain')[0];
      const sites = expected.filter((pc) => symbols.functionAt(pc) === kmain && symbols.callSiteAt(pc)?.calleeName === 'reduce');
      assert.strictEqual(sites.length, 2, 'kmain calls reduce twice');
      const samples = symbols.elf.symbolByName('samples');
      assert.ok(samples && samples.value < 0);
      const caller: ExpressionContext = { readRegister: () => 0, readMemory: (_a, n) => new Uint8Array(n) };
      for (const returnPc of sites) {
        // rdi (DWARF 5) = &samples, rsi (4) = 12 elements: main64.c passes them as constants.
        assert.strictEqual(await symbols.entryValue(expr(0x55), reduce.lowPc, returnPc, caller), BigInt.asUintN(64, BigInt(samples.value)));
        assert.strictEqual(await symbols.entryValue(expr(0x54), reduce.lowPc, returnPc, caller), 12n);
      }
      // n where reduce's own code has moved it away: DW_OP_entry_value(DW_OP_reg4) through the call site.
      const n = reduce.parameters.find((p) => p.name === 'n')!;
      assert.strictEqual(n.location.kind, 'list');
      const entry = n.location.kind === 'list' ? n.location.entries.find((e) => e.expression[0] === 0xa3 || e.expression[0] === 0xf3) : undefined;
      assert.ok(entry, 'n has an entry-value location');
      const loc = await symbols.locateVariable(n, entry.start, {
        readRegister: () => 0,
        readMemory: (_a, size) => new Uint8Array(size),
        entryValue: (operand) => symbols.entryValue(operand, entry.start, sites[0], caller),
      });
      assert.deepStrictEqual(loc, { kind: 'value', value: 12n });
    });
  }
});

function addressFrom(hex: string): number {
  return Number(BigInt.asIntN(64, BigInt(`0x${hex}`)));
}

function formatExpressionSafe(e: Uint8Array): string {
  try {
    return formatExpression(e);
  } catch {
    return Array.from(e, (b) => b.toString(16)).join(' ');
  }
}
