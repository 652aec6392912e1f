// The code map against gdb on the guest kernel (no QEMU): where `break FUNCTION` lands for every
// external function, and the line ranges and statement starts used by line stepping.

import * as assert from 'assert';
import * as fs from 'fs';
import { DebugSymbols } from '../src/symbols';
import { CodeMap } from '../src/session/code-map';
import { requireGuest, KERNEL, runGdb } from './dap-fixture';

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
    const load = map.loadAlias(start.value);
    assert.strictEqual(load, symbols.elf.header.entry);
    assert.strictEqual(map.symbolAddress(load as number, false), start.value);
    assert.strictEqual(map.symbolAddress(start.value, true), start.value);
  });

  it('gives each pc a line range that contains it and starts on a statement', () => {
    let checked = 0;
    for (const fn of symbols.functions.slice(0, 40)) {
      for (let pc = fn.lowPc; pc < fn.highPc; pc += 3) {
        const range = map.lineRangeAt(pc);
        if (!range) continue;
        assert.ok(range.start <= pc && pc < range.end, `${fn.name}: 0x${pc.toString(16)} outside its range`);
        assert.strictEqual(symbols.addressToLine(range.start)?.line !== undefined, true);
        checked++;
      }
    }
    assert.ok(checked > 100);
  });
});
