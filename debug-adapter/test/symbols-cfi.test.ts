// Call frame information against readelf --debug-dump=frames-interp (.eh_frame by default,
// .debug_frame with -fno-asynchronous-unwind-tables, and -O2), and one unwinding step.

import * as assert from 'assert';
import { CallFrameInfo, DebugSymbols, fdeRows, I386_DWARF_REGISTERS, RegisterRule, unwindFrame, UnwindRow } from '../src/symbols';
import { build, readBytes, run } from './fixtures-c/compile';

interface InterpFde { start: number; end: number; rows: { loc: number; cells: Map<string, string> }[] }

function readelfFrames(file: string): InterpFde[] {
  const fdes: InterpFde[] = [];
  let current: InterpFde | undefined;
  let columns: string[] = [];
  for (const line of run('readelf', ['--debug-dump=frames-interp', '-W', file]).split('\n')) {
    const f = /FDE cie=[0-9a-f]+ pc=([0-9a-f]+)\.\.([0-9a-f]+)/.exec(line);
    if (f) {
      current = { start: parseInt(f[1], 16), end: parseInt(f[2], 16), rows: [] };
      fdes.push(current);
      continue;
    }
    if (/CIE/.test(line)) { current = undefined; continue; }
    if (/^\s+LOC\s+CFA/.test(line)) { columns = line.trim().split(/\s+/); continue; }
    const r = /^([0-9a-f]{8})\s+(.*)$/.exec(line);
    if (r && current) {
      const cells = r[2].trim().split(/\s+/);
      const map = new Map<string, string>();
      cells.forEach((c, i) => map.set(columns[i + 1], c));
      current.rows.push({ loc: parseInt(r[1], 16), cells: map });
    }
  }
  return fdes;
}

function cfaText(row: UnwindRow): string {
  if (row.cfa.kind === 'expression') return 'exp';
  const o = row.cfa.offset;
  return `${I386_DWARF_REGISTERS[row.cfa.register]}${o >= 0 ? '+' : ''}${o}`;
}

function ruleText(rule: RegisterRule | undefined): string {
  if (!rule || rule.kind === 'undefined') return 'u';
  switch (rule.kind) {
    case 'offset': return `c${rule.offset >= 0 ? '+' : ''}${rule.offset}`;
    case 'valOffset': return `v${rule.offset >= 0 ? '+' : ''}${rule.offset}`;
    case 'sameValue': return 's';
    case 'register': return I386_DWARF_REGISTERS[rule.register];
    case 'expression': return 'exp';
    case 'valExpression': return 'vexp';
  }
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
