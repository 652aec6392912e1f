// The code map against gdb on the guest kernel (no QEMU): where `break FUNCTION` lands for every
// external function, and the line ranges and statement starts used by line stepping.

import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DebugSymbols } from '../src/symbols';
import { CodeMap } from '../src/session/code-map';
import { loadAddress, nmAddress, requireGuest, KERNEL, runGdb } from './dap-fixture';
import { DecodedRow, readelfRows } from './fixtures-c/oracles';

/**
 * The oracle for a pc's line range, from binutils' rows (readelf --debug-dump=decodedline), not
 * our line-program reader: the run of consecutive rows of the pc's row's file and line (rows
 * at the pc's own address included), from its first row's address to the next row's.
 */
function readelfRange(sequences: DecodedRow[][], pc: number): { start: number; end: number; line: number; file: string } | undefined {
  for (const rows of sequences) {
    if (pc < rows[0].address || pc >= rows[rows.length - 1].address) continue;
    let index = -1;
    for (let i = 0; i < rows.length - 1; i++) if (rows[i].address <= pc) index = i;
    if (index < 0 || rows[index].line === 0) return undefined;
    const row = rows[index];
    const same = (r: DecodedRow): boolean => r.line === row.line && r.file === row.file && !r.end;
    let first = index;
    while (first > 0 && same(rows[first - 1])) first--;
    let last = index + 1;
    while (last < rows.length - 1 && (same(rows[last]) || rows[last].address === row.address)) last++;
    return { start: rows[first].address, end: rows[last].address, line: row.line, file: row.file };
  }
  return undefined;
}

describe('session code map (guest kernel, gdb as oracle)', function () {
  this.timeout(60000);
  let symbols: DebugSymbols;
  let map: CodeMap;

  before(function () {
    requireGuest();
    symbols = new DebugSymbols(fs.readFileSync(KERNEL));
    map = new CodeMap(symbols);
  });

  it('puts function breakpoints where gdb puts them', async () => {
    const names = [...new Set(symbols.functions.filter((f) => f.external).map((f) => f.name))];
    assert.ok(names.length > 50);
    const args = ['-batch', '-nx', KERNEL];
    for (const n of names) args.push('-ex', `break ${n}`);
    const out = await runGdb(args);
    const gdb = new Map<string, number>();
    for (const m of out.matchAll(/Breakpoint (\d+) at 0x([0-9a-f]+)/g)) gdb.set(names[Number(m[1]) - 1], parseInt(m[2], 16));
    assert.ok(gdb.size > 50, `gdb placed only ${gdb.size} breakpoints`);
    const differing = [...gdb].filter(([name, address]) => map.afterPrologue(symbols.functionsNamed(name)[0]) !== address);
    assert.deepStrictEqual(differing.map(([n]) => n), []);
  });

  it('maps the boot code between its virtual and load addresses', () => {
    const start = symbols.elf.symbolByName('_start');
    assert.ok(start);
    assert.strictEqual(start.value, nmAddress('_start'));
    const load = map.loadAlias(start.value);
    // binutils' view: readelf's LOAD segments put _start at the ELF entry point.
    assert.strictEqual(load, loadAddress(start.value));
    assert.strictEqual(load, Number(/Entry point address:\s+(0x[0-9a-f]+)/.exec(execFileSync('readelf', ['-h', KERNEL], { encoding: 'latin1' }))?.[1]));
    assert.strictEqual(map.symbolAddress(load as number, false), start.value);
    assert.strictEqual(map.symbolAddress(start.value, true), start.value);
  });

  it("gives each pc the line range binutils' line table gives it, and knows its statement starts", () => {
    const rows = readelfRows(KERNEL);
    const sequences: DecodedRow[][] = [];
    let current: DecodedRow[] = [];
    for (const r of rows) {
      current.push(r);
      if (r.end) {
        sequences.push(current);
        current = [];
      }
    }
    const statements = new Set(rows.filter((r) => r.isStmt && !r.end && r.line !== 0).map((r) => r.address));
    const differ: string[] = [];
    let checked = 0;
    for (const fn of symbols.functions.slice(0, 40)) {
      for (let pc = fn.lowPc; pc < fn.highPc; pc += 3) {
        const range = map.lineRangeAt(pc);
        const expected = readelfRange(sequences, pc);
        const ours = range && { start: range.start, end: range.end, line: range.line, file: path.basename(range.file) };
        if (JSON.stringify(ours) !== JSON.stringify(expected)) differ.push(`${fn.name} 0x${pc.toString(16)}: ours ${JSON.stringify(ours)}, readelf ${JSON.stringify(expected)}`);
        if (map.isStatementStart(pc) !== statements.has(pc)) differ.push(`${fn.name} 0x${pc.toString(16)}: statement start ${map.isStatementStart(pc)}, readelf ${statements.has(pc)}`);
        if (range) assert.ok(range.start <= pc && pc < range.end, `${fn.name}: 0x${pc.toString(16)} outside its range`);
        checked++;
      }
    }
    assert.ok(checked > 100);
    assert.deepStrictEqual(differ.slice(0, 20), [], `${differ.length} of ${checked} pcs differ from readelf`);
  });
});
