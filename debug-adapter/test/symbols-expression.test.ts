// The DWARF expression evaluator over a register file and memory supplied by the test
// (the evaluator's own interface, not a stand-in for a peer), plus locating real -O0 locals.

import * as assert from 'assert';
import { DebugSymbols, DwarfExpressionError, evaluateLocation, ExpressionContext, formatExpression } from '../src/symbols';
import { build, readBytes } from './fixtures-c/compile';

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

function formatExpressionSafe(e: Uint8Array): string {
  try {
    return formatExpression(e);
  } catch {
    return Array.from(e, (b) => b.toString(16)).join(' ');
  }
}
