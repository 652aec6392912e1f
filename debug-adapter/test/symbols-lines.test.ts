// Line tables (DWARF 5 and 4, -O0 and -O2) against addr2line: every byte of every function
// maps to the same file and line, and line -> addresses picks the nearest line with code.

import * as assert from 'assert';
import * as path from 'path';
import { DebugSymbols, normalizePath } from '../src/symbols';
import { addr2line, build, fixtureDir, readBytes } from './fixtures-c/compile';
import { DecodedRow, readelfRows, rowOracle } from './fixtures-c/oracles';

interface Variant { label: string; source: string; flags: string[]; addr2lineAgrees: boolean }

// addr2line from binutils 2.40 misreads DWARF 5 file numbers (it reports lines.c for code from
// lines.h), so it is the oracle for DWARF 4 only; readelf's decoded rows are the oracle for both.
const variants: Variant[] = [
  { label: 'lines.c DWARF 5 -O0', source: 'lines.c', flags: ['-O0'], addr2lineAgrees: false },
  { label: 'lines.c DWARF 4 -O0', source: 'lines.c', flags: ['-O0', '-gdwarf-4'], addr2lineAgrees: true },
  { label: 'lines.c DWARF 5 -O2', source: 'lines.c', flags: ['-O2'], addr2lineAgrees: false },
  { label: 'lines.c DWARF 4 -O2', source: 'lines.c', flags: ['-O2', '-gdwarf-4'], addr2lineAgrees: true },
  { label: 'optimized.c DWARF 5 -O2', source: 'optimized.c', flags: ['-O2'], addr2lineAgrees: false },
  { label: 'optimized.c DWARF 4 -O2', source: 'optimized.c', flags: ['-O2', '-gdwarf-4'], addr2lineAgrees: true },
];

function codeAddresses(symbols: DebugSymbols): number[] {
  const addresses: number[] = [];
  for (const f of symbols.elf.symbols) {
    if (f.type !== 'func' || f.size === 0) continue;
    for (let a = f.value; a < f.value + f.size; a++) addresses.push(a);
  }
  return addresses;
}

describe('symbols: line tables', function () {
  this.timeout(120_000);
  for (const v of variants) {
    describe(v.label, () => {
      let file: string;
      let symbols: DebugSymbols;
      let rows: DecodedRow[];
      let addresses: number[];
      before(() => {
        file = build(v.source, { flags: v.flags });
        symbols = new DebugSymbols(readBytes(file));
        rows = readelfRows(file);
        addresses = codeAddresses(symbols);
      });

      it('maps every code byte to the line readelf decodes', () => {
        const oracle = rowOracle(rows, addresses);
        assert.ok(oracle.size > 50, 'the fixture should have some code');
        for (const [address, expected] of oracle) {
          const mine = symbols.addressToLine(address);
          assert.ok(mine, `no line for 0x${address.toString(16)} (readelf: ${expected})`);
          assert.strictEqual(`${path.basename(mine.file)}:${mine.line}`, expected, `at 0x${address.toString(16)}`);
        }
      });

      if (v.addr2lineAgrees) {
        it('maps every code byte to the same file and line as addr2line', () => {
          const answers = addr2line(file, addresses);
          let compared = 0;
          addresses.forEach((address, i) => {
            const expected = answers[i];
            if (expected.line === 0) return;
            const mine = symbols.addressToLine(address);
            assert.ok(mine, `no line for 0x${address.toString(16)}`);
            assert.strictEqual(`${normalizePath(mine.file)}:${mine.line}`, `${normalizePath(expected.file)}:${expected.line}`, `at 0x${address.toString(16)}`);
            compared++;
          });
          assert.ok(compared > 50);
        });
      }

      it('lists the source files of the unit', () => {
        const files = symbols.sourceFiles.map((f) => path.basename(f));
        assert.ok(files.includes(v.source));
        if (v.source === 'lines.c') assert.ok(files.includes('lines.h'));
      });

      it('resolves line -> addresses to the nearest following line with code', () => {
        for (const source of v.source === 'lines.c' ? ['lines.c', 'lines.h'] : [v.source]) {
          const full = path.join(fixtureDir, source);
          // Statement rows per line: the lines where a breakpoint can go, and their addresses.
          const stmtAddresses = new Map<number, Set<number>>();
          for (const r of rows) {
            if (r.end || !r.isStmt || r.file !== source) continue;
            if (!stmtAddresses.has(r.line)) stmtAddresses.set(r.line, new Set());
            stmtAddresses.get(r.line)?.add(r.address);
          }
          const sortedLines = [...stmtAddresses.keys()].sort((a, b) => a - b);
          if (source === 'lines.h' && sortedLines.length === 0) {
            // Optimised away entirely (inlined without statement rows).
            assert.strictEqual(symbols.lineToAddresses(full, 1), undefined);
            continue;
          }
          assert.ok(sortedLines.length > (source === v.source ? 3 : 0), `${source} should have lines with code`);
          const last = sortedLines[sortedLines.length - 1];
          for (let line = 1; line <= last; line++) {
            const result = symbols.lineToAddresses(full, line);
            const expectedLine = sortedLines.find((l) => l >= line);
            assert.ok(result, `${source}:${line} has no addresses`);
            assert.strictEqual(result.line, expectedLine, `${source}:${line}`);
            const candidates = stmtAddresses.get(result.line) ?? new Set<number>();
            assert.strictEqual(result.addresses[0], Math.min(...candidates), `${source}:${line} first address`);
            for (const a of result.addresses) assert.ok(candidates.has(a), `${source}:${line}: 0x${a.toString(16)} is not a statement of line ${result.line}`);
          }
          assert.strictEqual(symbols.lineToAddresses(full, last + 1000), undefined);
        }
        // A relative name matches by suffix; an unknown file matches nothing.
        assert.ok(symbols.lineToAddresses(v.source, 1));
        assert.strictEqual(symbols.lineToAddresses('no_such_file.c', 1), undefined);
      });
    });
  }
});
