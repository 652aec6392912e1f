// `break FILE:LINE` as gdb 13 places it (the next line with code, every copy of the line, a
// function's opening line moved past its prologue) against CodeMap.lineBreakpointAddresses, for
// every line of work.c and round.c on several corpus kernels.

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CodeMap } from '../src/session/code-map';
import { DebugSymbols } from '../src/symbols';
import { buildKernel, CORPUS_DIR, CorpusVariant, KERNEL_SOURCE_DIR, variantId } from './corpus/build';

const KERNELS: CorpusVariant[] = [
  { style: 'identity', opt: 'O0', framePointer: true },
  { style: 'higher-half-80', opt: 'O0', framePointer: false },
  { style: 'higher-half-c0', opt: 'O1', framePointer: false },
  { style: 'higher-half-c0', opt: 'O2', framePointer: true },
  { style: 'identity', opt: 'Os', framePointer: false },
];
const FILES = ['work.c', 'round.c'];

function gdbBreakpoints(kernel: string, files: string[]): [string, number, number[], number][] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-line-bps-'));
  const out = path.join(dir, 'bps.json');
  const spec = files.map((f) => `${f}:${fs.readFileSync(path.join(KERNEL_SOURCE_DIR, f), 'utf8').split('\n').length}`).join(',');
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
  for (const variant of KERNELS) {
    it(`${variantId(variant)}: every line of ${FILES.join(' and ')}`, () => {
      const kernel = buildKernel(variant);
      const map = new CodeMap(new DebugSymbols(fs.readFileSync(kernel)));
      const expected = gdbBreakpoints(kernel, FILES);
      assert.ok(expected.filter((e) => e[2].length > 0).length > 50, 'gdb placed breakpoints');
      const wrong: string[] = [];
      for (const [file, line, addresses, shown] of expected) {
        const where = map.lineBreakpointAddresses(path.join(KERNEL_SOURCE_DIR, file), line);
        const ours = where?.addresses ?? [];
        if (JSON.stringify(ours) !== JSON.stringify(addresses)) wrong.push(`${file}:${line}: gdb ${addresses.map((a) => a.toString(16))}, ours ${ours.map((a) => a.toString(16))}`);
        // The line the breakpoint is reported at (the DAP breakpoint's line).
        else if (addresses.length && where?.line !== shown) wrong.push(`${file}:${line}: gdb reports line ${shown}, ours ${where?.line}`);
      }
      assert.deepStrictEqual(wrong.slice(0, 12), [], `${wrong.length} of ${expected.length} lines differ`);
    });
  }
});
