// `break FILE:LINE` as gdb 13 places it (the next line with code, every copy of the line, a
// function's opening line moved past its prologue) against CodeMap.lineBreakpointAddresses, for
// every line of work.c and round.c on several corpus kernels (i386), and of work64.c and main64.c
// and mm64.c on the x86-64 fixture kernel at -O0/-O2/-Os with DWARF 4 and 5.

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CodeMap } from '../src/session/code-map';
import { DebugSymbols } from '../src/symbols';
import { formatAddress } from '../../qemu-bridge/src/address';
import { buildKernel, CORPUS_DIR, CorpusVariant, KERNEL_SOURCE_DIR, variantId } from './corpus/build';
import { buildX64Kernel, X64_FIXTURE_DIR, X64_MATRIX, x64VariantId } from './fixtures-x64/build64';

const KERNELS: CorpusVariant[] = [
  { style: 'identity', opt: 'O0', framePointer: true },
  { style: 'higher-half-80', opt: 'O0', framePointer: false },
  { style: 'higher-half-c0', opt: 'O1', framePointer: false },
  { style: 'higher-half-c0', opt: 'O2', framePointer: true },
  { style: 'identity', opt: 'Os', framePointer: false },
];
const FILES = ['work.c', 'round.c'];
const X64_FILES = ['work64.c', 'main64.c', 'mm64.c'];

function gdbBreakpoints(kernel: string, sourceDir: string, files: string[]): [string, number, number[], number][] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-line-bps-'));
  const out = path.join(dir, 'bps.json');
  const spec = files.map((f) => `${f}:${fs.readFileSync(path.join(sourceDir, f), 'utf8').split('\n').length}`).join(',');
  const run = spawnSync('gdb', ['-batch', '-nx', '-x', path.join(CORPUS_DIR, 'gdb-line-breakpoints.py'), kernel], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, LC_ALL: 'C', MMSCOPE_OUT: out, MMSCOPE_FILES: spec },
  });
  assert.strictEqual(run.status, 0, `gdb failed: ${run.stderr}`);
  const result = JSON.parse(fs.readFileSync(out, 'utf8')) as [string, number, number[], number][];
  fs.rmSync(dir, { recursive: true, force: true });
  return result;
}

describe('line breakpoints where gdb 13 puts them', function () {
  this.timeout(120_000);
  const kernels = [
    ...KERNELS.map((v) => ({ id: variantId(v), build: () => buildKernel(v), sourceDir: KERNEL_SOURCE_DIR, files: FILES })),
    ...X64_MATRIX.map((v) => ({ id: x64VariantId(v), build: () => buildX64Kernel(v), sourceDir: X64_FIXTURE_DIR, files: X64_FILES })),
  ];
  for (const { id, build, sourceDir, files } of kernels) {
    it(`${id}: every line of ${files.join(' and ')}`, () => {
      const kernel = build();
      const symbols = new DebugSymbols(fs.readFileSync(kernel));
      const map = new CodeMap(symbols);
      const expected = gdbBreakpoints(kernel, sourceDir, files);
      assert.ok(expected.filter((e) => e[2].length > 0).length > 50, 'gdb placed breakpoints');
      const hex = (a: number): string => formatAddress(a, symbols.addressWidth);
      const wrong: string[] = [];
      for (const [file, line, addresses, shown] of expected) {
        const where = map.lineBreakpointAddresses(path.join(sourceDir, file), line);
        const ours = where?.addresses ?? [];
        if (JSON.stringify(ours) !== JSON.stringify(addresses)) wrong.push(`${file}:${line}: gdb ${addresses.map(hex)}, ours ${ours.map(hex)}`);
        // The line the breakpoint is reported at (the DAP breakpoint's line).
        else if (addresses.length && where?.line !== shown) wrong.push(`${file}:${line}: gdb reports line ${shown}, ours ${where?.line}`);
      }
      assert.deepStrictEqual(wrong.slice(0, 12), [], `${wrong.length} of ${expected.length} lines differ`);
      const placed = expected.filter((e) => e[2].length > 0);
      console.log(`      ${expected.length} lines compared (${placed.length} with code, ${placed.reduce((n, e) => n + e[2].length, 0)} addresses), ${wrong.length} differ`);
    });
  }
});
