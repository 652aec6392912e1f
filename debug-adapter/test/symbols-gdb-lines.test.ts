// The line gdb 13 shows at each pc (find_pc_line: file, line and the step range) against
// CodeMap.gdbLineAt (GdbLineTable), for every address of .text of several corpus kernels (i386)
// and of the x86-64 fixture kernel at -O0/-O2/-Os with DWARF 4 and 5.

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CodeMap } from '../src/session/code-map';
import { DebugSymbols } from '../src/symbols';
import { formatAddress } from '../../qemu-bridge/src/address';
import { buildKernel, CORPUS_DIR, CorpusVariant, variantId } from './corpus/build';
import { buildX64Kernel, X64_MATRIX, x64VariantId } from './fixtures-x64/build64';

const KERNELS: CorpusVariant[] = [
  { style: 'higher-half-c0', opt: 'O2', framePointer: true },
  { style: 'higher-half-80', opt: 'Os', framePointer: true },
  { style: 'identity', opt: 'O0', framePointer: true },
  { style: 'higher-half-c0', opt: 'O1', framePointer: false },
];

type GdbPcLine = [number] | [number, string, number, number, number];

function gdbLines(kernel: string): GdbPcLine[] {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-pc-lines-')), 'lines.json');
  const run = spawnSync('gdb', ['-batch', '-nx', '-x', path.join(CORPUS_DIR, 'gdb-pc-lines.py'), kernel], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, LC_ALL: 'C', MMSCOPE_OUT: out },
  });
  assert.strictEqual(run.status, 0, `gdb failed: ${run.stderr}`);
  const lines = JSON.parse(fs.readFileSync(out, 'utf8')) as GdbPcLine[];
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
  return lines;
}

describe('symbols: pc -> line as gdb 13 finds it', function () {
  this.timeout(120_000);
  const kernels = [
    ...KERNELS.map((v) => ({ id: variantId(v), build: () => buildKernel(v) })),
    ...X64_MATRIX.map((v) => ({ id: x64VariantId(v), build: () => buildX64Kernel(v) })),
  ];
  for (const { id, build } of kernels) {
    it(`${id}: every .text address has gdb's file, line and range`, () => {
      const kernel = build();
      const symbols = new DebugSymbols(fs.readFileSync(kernel));
      const map = new CodeMap(symbols);
      const expected = gdbLines(kernel);
      assert.ok(expected.length > 1000, 'gdb listed .text');
      const hex = (a: number): string => formatAddress(a, symbols.addressWidth);
      const wrong: string[] = [];
      for (const entry of expected) {
        const pc = entry[0];
        const ours = map.gdbLineAt(pc);
        const mine = ours ? [pc, path.basename(ours.file), ours.line, ours.start, ours.end] : [pc];
        if (JSON.stringify(mine) !== JSON.stringify(entry)) wrong.push(`${hex(pc)}: gdb ${JSON.stringify(entry.slice(1))}, ours ${JSON.stringify(mine.slice(1))}`);
      }
      assert.deepStrictEqual(wrong.slice(0, 10), [], `${wrong.length} of ${expected.length} addresses differ`);
      console.log(`      ${expected.length} addresses compared, ${wrong.length} differ`);
    });
  }
});
