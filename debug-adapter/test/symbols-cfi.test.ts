// Call frame information against readelf --debug-dump=frames-interp (.eh_frame by default,
// .debug_frame with -fno-asynchronous-unwind-tables, and -O2), on i386 fixtures and on the x86-64
// fixture kernel matrix (every address of every FDE), and one unwinding step on each.

import * as assert from 'assert';
import { AddressWidth, formatAddress, parseAddress } from '../../qemu-bridge/src/address';
import { CallFrameInfo, DebugSymbols, fdeRows, I386_DWARF_REGISTERS, RegisterRule, unwindFrame, UnwindRow, X86_64_DWARF_REGISTERS } from '../src/symbols';
import { build, readBytes, run } from './fixtures-c/compile';
import { buildX64Kernel, X64_MATRIX, x64VariantId } from './fixtures-x64/build64';

type InterpRow = { loc: number; cells: Map<string, string> };
interface InterpFde { start: number; end: number; rows: InterpRow[]; cie: InterpRow | undefined }

/** readelf's frames-interp tables; addresses (8 or 16 hex digits) under the address rule. */
function readelfFrames(file: string, width: AddressWidth = 32): InterpFde[] {
  const fdes: InterpFde[] = [];
  const cies = new Map<string, InterpRow>();
  let current: InterpFde | undefined;
  let cie: string | undefined;
  let columns: string[] = [];
  for (const line of run('readelf', ['--debug-dump=frames-interp', '-W', file]).split('\n')) {
    const f = /FDE cie=([0-9a-f]+) pc=([0-9a-f]+)\.\.([0-9a-f]+)/.exec(line);
    if (f) {
      current = { start: parseAddress(`0x${f[2]}`, width), end: parseAddress(`0x${f[3]}`, width), rows: [], cie: cies.get(f[1]) };
      fdes.push(current);
      cie = undefined;
      continue;
    }
    const c = /^([0-9a-f]+) [0-9a-f]+ [0-9a-f]+ CIE/.exec(line);
    if (c) { current = undefined; cie = c[1]; continue; }
    if (/^\s+LOC\s+CFA/.test(line)) { columns = line.trim().split(/\s+/); continue; }
    const r = /^([0-9a-f]{8}|[0-9a-f]{16})\s+(.*)$/.exec(line);
    if (r && (current || cie)) {
      const cells = r[2].trim().split(/\s+/);
      const map = new Map<string, string>();
      cells.forEach((cell, i) => map.set(columns[i + 1], cell));
      const row = { loc: current ? parseAddress(`0x${r[1]}`, width) : 0, cells: map };
      if (current) current.rows.push(row);
      else if (cie && !cies.has(cie)) cies.set(cie, row);
    }
  }
  return fdes;
}

function cfaText(row: UnwindRow, names: readonly string[] = I386_DWARF_REGISTERS): string {
  if (row.cfa.kind === 'expression') return 'exp';
  const o = row.cfa.offset;
  return `${names[row.cfa.register]}${o >= 0 ? '+' : ''}${o}`;
}

function ruleText(rule: RegisterRule | undefined, names: readonly string[] = I386_DWARF_REGISTERS): string {
  if (!rule || rule.kind === 'undefined') return 'u';
  switch (rule.kind) {
    case 'offset': return `c${rule.offset >= 0 ? '+' : ''}${rule.offset}`;
    case 'valOffset': return `v${rule.offset >= 0 ? '+' : ''}${rule.offset}`;
    case 'sameValue': return 's';
    case 'register': return names[rule.register];
    case 'expression': return 'exp';
    case 'valExpression': return 'vexp';
  }
}

/**
 * Every address of every FDE: our row against the last readelf row at or below it (the CIE's
 * initial row for an FDE without instructions). Returns [addresses compared, mismatches].
 */
function compareEveryAddress(symbols: DebugSymbols, expected: InterpFde[]): [number, string[]] {
  const cfi = symbols.callFrameInfo as CallFrameInfo;
  const names = symbols.dwarfRegisterNames;
  const hex = (a: number): string => formatAddress(a, symbols.addressWidth);
  const wrong: string[] = [];
  let compared = 0;
  for (const fde of expected) {
    let k = -1;
    for (let pc = fde.start; pc < fde.end; pc++) {
      while (k + 1 < fde.rows.length && fde.rows[k + 1].loc <= pc) k++;
      const want = k >= 0 ? fde.rows[k] : fde.cie;
      if (!want) { wrong.push(`${hex(pc)}: readelf shows no row`); continue; }
      compared++;
      const mine = cfi.rowAt(pc);
      if (!mine) { wrong.push(`${hex(pc)}: no row of ours`); continue; }
      const columns = new Set<number>();
      for (const [column, text] of want.cells) {
        if (column === 'CFA') {
          if (cfaText(mine, names) !== text) wrong.push(`${hex(pc)} CFA: readelf ${text}, ours ${cfaText(mine, names)}`);
          continue;
        }
        const reg = column === 'ra' ? mine.returnAddressRegister : names.indexOf(column);
        columns.add(reg);
        if (ruleText(mine.registers.get(reg), names) !== text) wrong.push(`${hex(pc)} ${column}: readelf ${text}, ours ${ruleText(mine.registers.get(reg), names)}`);
      }
      for (const [reg, rule] of mine.registers) {
        if (!columns.has(reg) && rule.kind !== 'undefined') wrong.push(`${hex(pc)}: a rule for ${names[reg] || reg} readelf does not list`);
      }
    }
  }
  return [compared, wrong];
}

const variants: [string, string, string[], string][] = [
  ['.eh_frame -O0', 'lines.c', ['-O0'], '.eh_frame'],
  ['.debug_frame -O0', 'lines.c', ['-O0', '-fno-asynchronous-unwind-tables'], '.debug_frame'],
  ['.eh_frame -O2', 'optimized.c', ['-O2'], '.eh_frame'],
  ['.debug_frame -O2 DWARF 4', 'optimized.c', ['-O2', '-gdwarf-4', '-fno-asynchronous-unwind-tables'], '.debug_frame'],
];

describe('symbols: call frame information', function () {
  this.timeout(60_000);
  for (const [label, source, flags, section] of variants) {
    it(`gives the same rows as readelf for ${label}`, () => {
      const file = build(source, { flags });
      const symbols = new DebugSymbols(readBytes(file));
      const cfi = symbols.callFrameInfo;
      assert.ok(cfi, 'the image should have CFI');
      const expected = readelfFrames(file);
      assert.ok(expected.length > 2);
      assert.strictEqual(cfi.fdes.length, expected.length);
      assert.ok(cfi.fdes.every((f) => f.source === section));
      let compared = 0;
      for (const fde of expected) {
        for (const row of fde.rows) {
          const mine = cfi.rowAt(row.loc);
          assert.ok(mine, `no row at 0x${row.loc.toString(16)}`);
          assert.strictEqual(mine.address, row.loc);
          for (const [column, text] of row.cells) {
            if (column === 'CFA') assert.strictEqual(cfaText(mine), text, `CFA at 0x${row.loc.toString(16)}`);
            else {
              const reg: number = column === 'ra' ? mine.returnAddressRegister : I386_DWARF_REGISTERS.indexOf(column);
              assert.strictEqual(ruleText(mine.registers.get(reg)), text, `${column} at 0x${row.loc.toString(16)}`);
            }
            compared++;
          }
        }
        // The last byte of the FDE is covered, the first byte past it is not (unless another FDE starts).
        assert.ok(cfi.rowAt(fde.end - 1));
      }
      assert.ok(compared > 10);
    });
  }

  for (const variant of X64_MATRIX) {
    it(`gives readelf's row at every address for ${x64VariantId(variant)}`, () => {
      const file = buildX64Kernel(variant);
      const symbols = new DebugSymbols(readBytes(file));
      assert.strictEqual(symbols.arch, 'x86-64');
      const cfi = symbols.callFrameInfo;
      assert.ok(cfi, 'the image should have CFI');
      const expected = readelfFrames(file, 64);
      assert.ok(expected.length > 10, `${expected.length} FDEs`);
      assert.strictEqual(cfi.fdes.length, expected.length);
      assert.ok(cfi.fdes.every((f) => f.source === variant.cfi));
      assert.deepStrictEqual(cfi.fdes.map((f) => [f.start, f.end]), expected.map((f) => [f.start, f.end]));
      assert.ok(cfi.fdes.every((f) => f.cie.returnAddressRegister === 16));
      const [compared, wrong] = compareEveryAddress(symbols, expected);
      assert.ok(compared > 1000, `${compared} addresses`);
      assert.deepStrictEqual(wrong.slice(0, 12), [], `${wrong.length} mismatches in ${compared} addresses`);
      console.log(`      ${expected.length} FDEs, ${compared} addresses compared, ${wrong.length} differ`);
    });
  }

  it('gives readelf\'s row at every address of the i386 fixtures too', () => {
    for (const [, source, flags] of variants) {
      const file = build(source, { flags });
      const symbols = new DebugSymbols(readBytes(file));
      const [compared, wrong] = compareEveryAddress(symbols, readelfFrames(file));
      assert.ok(compared > 100, `${compared} addresses`);
      assert.deepStrictEqual(wrong.slice(0, 12), [], `${source} ${flags.join(' ')}: ${wrong.length} mismatches`);
    }
  });

  it('unwinds one x86-64 frame at kernel addresses: CFA from rsp, the return address and rbp from the stack', async () => {
    const file = buildX64Kernel({ opt: 'O0', dwarf: 5, cfi: '.eh_frame' });
    const symbols = new DebugSymbols(readBytes(file));
    const fn = symbols.functionsNamed('many_args')[0];
    assert.ok(fn.lowPc < 0, 'a kernel-half address is a negative number');
    const { stackPointer, framePointer, returnAddress } = symbols.specialRegisters;
    assert.deepStrictEqual([stackPointer, framePointer, returnAddress], [7, 6, 16]);
    // After push %rbp; mov %rsp,%rbp: CFA = rbp+16, rbp at CFA-16, the return address at CFA-8.
    const body = fdeRows(symbols.callFrameInfo!.fdeFor(fn.lowPc)!, 8).find((r) => r.cfa.kind === 'registerOffset' && r.cfa.register === framePointer);
    assert.ok(body, 'a row with CFA based on rbp');
    const rbp = -0x7fff0100; // 0xffffffff8000ff00
    const stack = new Map<number, bigint>([[rbp, 0xffffffff8000ff80n], [rbp + 8, 0xffffffff80100123n]]);
    const frame = await unwindFrame(body, {
      addressSize: 8,
      readRegister: (r) => (r === framePointer ? 0xffffffff8000ff00n : 0n),
      readMemory: (address, size) => {
        const out = Buffer.alloc(size);
        out.writeBigUInt64LE(stack.get(address) ?? 0xdeadbeefdeadbeefn);
        return out;
      },
    }, stackPointer);
    assert.strictEqual(formatAddress(frame.cfa, 64), '0xffffffff8000ff10');
    assert.strictEqual(frame.returnAddress, -0x7fefff00 + 0x23);
    assert.strictEqual(frame.registers.get(framePointer), -0x7fff0080);
    assert.strictEqual(frame.values.get(returnAddress), 0xffffffff80100123n);
    assert.strictEqual(frame.registers.get(stackPointer), frame.cfa);
    assert.strictEqual(X86_64_DWARF_REGISTERS[returnAddress], 'rip');
  });

  it('reads .debug_frame entries in the 64-bit DWARF format (gcc writes them 32-bit even with -gdwarf64)', () => {
    const u64 = (v: bigint): number[] => [...Buffer.from(BigInt.asUintN(64, v).toString(16).padStart(16, '0'), 'hex')].reverse();
    const entry = (body: number[]): number[] => [0xff, 0xff, 0xff, 0xff, ...u64(BigInt(body.length)), ...body];
    // CIE: id all ones, version 1, no augmentation, code 1, data -8, ra 16; def_cfa rsp+8, ra at cfa-8.
    const cie = entry([...u64(-1n), 1, 0, 1, 0x78, 16, 0x0c, 7, 8, 0x90, 1]);
    // FDE for [0xffffffff80100000, +0x20): advance 1, def_cfa_offset 16, rbp at cfa-16.
    const fde = entry([...u64(0n), ...u64(0xffffffff80100000n), ...u64(0x20n), 0x41, 0x0e, 16, 0x86, 2]);
    const cfi = new CallFrameInfo(new Uint8Array([...cie, ...fde]), new Uint8Array(0), 0, 8);
    assert.strictEqual(cfi.fdes.length, 1);
    assert.strictEqual(formatAddress(cfi.fdes[0].start, 64), '0xffffffff80100000');
    assert.strictEqual(cfi.fdes[0].end - cfi.fdes[0].start, 0x20);
    const first = cfi.rowAt(cfi.fdes[0].start)!;
    const second = cfi.rowAt(cfi.fdes[0].start + 1)!;
    assert.strictEqual(cfaText(first, X86_64_DWARF_REGISTERS), 'rsp+8');
    assert.strictEqual(cfaText(second, X86_64_DWARF_REGISTERS), 'rsp+16');
    assert.strictEqual(ruleText(second.registers.get(6), X86_64_DWARF_REGISTERS), 'c-16');
    assert.strictEqual(ruleText(second.registers.get(16), X86_64_DWARF_REGISTERS), 'c-8');
    assert.strictEqual(cfi.rowAt(cfi.fdes[0].end), undefined);
  });

  it('unwinds one frame of a function that keeps a frame pointer', async () => {
    const file = build('lines.c', { flags: ['-O0'] });
    const symbols = new DebugSymbols(readBytes(file));
    const fn = symbols.functionsNamed('sum_table')[0];
    const cfi = symbols.callFrameInfo as CallFrameInfo;
    // The body (after push ebp; mov ebp, esp) has CFA = ebp+8 and ebp saved at CFA-8.
    const body = fdeRows(cfi.fdeFor(fn.lowPc)!).find((r) => r.cfa.kind === 'registerOffset' && I386_DWARF_REGISTERS[r.cfa.register] === 'ebp');
    assert.ok(body, 'a row with CFA based on ebp');
    const ebp = 0x7000;
    const memory = new Map<number, number>([[ebp, 0x7100], [ebp + 4, 0x0804abcd]]);
    const frame = await unwindFrame(body, {
      readRegister: (r) => (r === 5 ? ebp : 0),
      readMemory: (address, size) => {
        const v = memory.get(address) ?? 0;
        return new Uint8Array([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24]).subarray(0, size);
      },
    });
    assert.strictEqual(frame.cfa, ebp + 8);
    assert.strictEqual(frame.returnAddress, 0x0804abcd);
    assert.strictEqual(frame.registers.get(5), 0x7100);
    assert.strictEqual(frame.registers.get(4), ebp + 8);
  });
});
