// The real guest kernel (guest/build/kernel.elf, built by `make -C guest`): functions, line
// lookups against addr2line and readelf, the higher-half load mapping against the kernel's
// own physical entry symbol, and CFI. Fails, saying how to build it, when the kernel is missing.

import * as assert from 'assert';
import * as path from 'path';
import { DebugSymbols } from '../src/symbols';
import { addr2line, readBytes } from './fixtures-c/compile';
import { readelfRows, rowOracle } from './fixtures-c/oracles';
import { GUEST_KERNEL, requireGuestKernel } from '../../qemu-bridge/test/fixtures/guest-kernel';

const kernelPath = GUEST_KERNEL;

describe('symbols: the guest kernel', function () {
  this.timeout(120_000);
  let symbols: DebugSymbols;
  before(function () {
    requireGuestKernel(kernelPath);
    symbols = new DebugSymbols(readBytes(kernelPath));
  });

  it('has debug info and finds kmain where the symbol table puts it', () => {
    assert.ok(symbols.hasDebugInfo);
    const kmain = symbols.functionsNamed('kmain')[0];
    assert.ok(kmain, 'kmain');
    const sym = symbols.elf.symbolByName('kmain');
    assert.ok(sym);
    assert.strictEqual(kmain.lowPc, sym.value);
    assert.strictEqual(symbols.functionAt(sym.value + 1)?.name, 'kmain');
    assert.ok(kmain.declFile?.endsWith('.c'));
    // Every C function symbol with a size has a DWARF function at the same address.
    const funcs = symbols.elf.symbols.filter((s) => s.type === 'func' && s.size > 0);
    const missing = funcs.filter((s) => symbols.functionAt(s.value)?.lowPc !== s.value);
    assert.ok(missing.length <= funcs.length / 10, `no DWARF function for ${missing.map((s) => s.name).join(', ')}`);
  });

  it('agrees with addr2line and readelf on the lines of 25 functions', () => {
    const funcs = symbols.elf.symbols.filter((s) => s.type === 'func' && s.size > 0).sort((a, b) => a.value - b.value);
    const step = Math.max(1, Math.floor(funcs.length / 25));
    const addresses: number[] = [];
    for (let i = 0; i < funcs.length; i += step) for (let a = funcs[i].value; a < funcs[i].value + funcs[i].size; a++) addresses.push(a);
    assert.ok(addresses.length > 500);
    const lines = addr2line(kernelPath, addresses);
    const rows = rowOracle(readelfRows(kernelPath), addresses);
    let compared = 0;
    addresses.forEach((address, i) => {
      const mine = symbols.addressToLine(address);
      const expectedRow = rows.get(address);
      if (!expectedRow) {
        assert.strictEqual(mine, undefined, `0x${address.toString(16)} has no line in readelf`);
        return;
      }
      assert.ok(mine, `no line for 0x${address.toString(16)}`);
      assert.strictEqual(`${path.basename(mine.file)}:${mine.line}`, expectedRow, `at 0x${address.toString(16)}`);
      // addr2line 2.40 can name the wrong file for DWARF 5, but its line numbers are right.
      if (lines[i].line) assert.strictEqual(mine.line, lines[i].line, `addr2line at 0x${address.toString(16)}`);
      compared++;
    });
    assert.ok(compared > 500);
  });

  it('maps a source line inside kmain back into kmain', () => {
    const kmain = symbols.functionsNamed('kmain')[0];
    const first = symbols.addressToLine(kmain.lowPc);
    assert.ok(first);
    const target = symbols.lineToAddresses(first.file, first.line + 1);
    assert.ok(target && target.addresses.length > 0);
    assert.ok(target.line > first.line);
    assert.ok(target.addresses.some((a) => a >= kmain.lowPc && a < kmain.highPc));
  });

  it('maps the higher-half entry to its physical alias', () => {
    const start = symbols.elf.symbolByName('_start');
    const phys = symbols.elf.symbolByName('_start_phys');
    if (!start || !phys) return; // the kernel does not export the pair
    assert.strictEqual(symbols.virtualToLoad(start.value), phys.value);
    assert.strictEqual(symbols.loadToVirtual(phys.value), start.value);
  });

  it('has unwind rules or frame pointers for kmain', () => {
    const kmain = symbols.functionsNamed('kmain')[0];
    const row = symbols.unwindRowAt(kmain.lowPc);
    if (!symbols.callFrameInfo) return; // built without CFI: the adapter uses frame pointers
    assert.ok(row, 'CFI covers kmain');
    assert.strictEqual(row.cfa.kind, 'registerOffset');
  });

  it('locates the globals and names their types', () => {
    const globals = symbols.globals;
    assert.ok(globals.length > 5);
    for (const g of globals) symbols.typeName(g.type);
    const descriptor = symbols.globalsNamed('mm_debug_info')[0];
    if (descriptor) assert.ok(['struct', 'typedef', 'const'].includes(descriptor.type.kind));
  });
});
