// Function breakpoints against gdb 13, whole matrix, without QEMU: for every function of several
// kernels (our guest's sources and the foreign runctl kernel) built at -O0, -O1, -O2 and -Os, with
// and without frame pointers, the addresses the breakpoint table arms for `NAME` must be the
// locations gdb's `break NAME` lists (after the prologue, and every inlined copy), and the line
// it reports must be gdb's line at the first location.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DebugSymbols } from '../src/symbols';
import { BreakpointTable } from '../src/session/breakpoint-table';
import { CodeMap } from '../src/session/code-map';
import { i386PrologueEnd } from '../src/session/i386-prologue';
import { build, gdbBatch, repoRoot, run } from './fixtures-c/compile';

const LEVELS = ['-O0', '-O1', '-O2', '-Os'];
const FRAMES = ['-fno-omit-frame-pointer', '-fomit-frame-pointer'];

/** gdb's locations and line for each `break NAME`, from one batch run. */
function gdbLocations(elf: string, names: readonly string[]): Map<string, { addresses: number[]; line: number }> {
  const commands: string[] = [];
  for (const n of names) commands.push(`echo @@${n}\\n`, `break ${n}`);
  commands.push('info breakpoints');
  const out = gdbBatch(elf, commands);
  const byNumber = new Map<number, string>();
  const result = new Map<string, { addresses: number[]; line: number }>();
  let marker: string | undefined;
  let current: string | undefined;
  for (const line of out.split('\n')) {
    const m = /^@@(\S+)$/.exec(line);
    if (m) {
      marker = m[1];
      continue;
    }
    const b = /^Breakpoint (\d+) at 0x[0-9a-f]+(?:: file .*, line (\d+)\.)?/.exec(line);
    if (b && marker) {
      byNumber.set(Number(b[1]), marker);
      result.set(marker, { addresses: [], line: b[2] ? Number(b[2]) : 0 });
      marker = undefined;
      continue;
    }
    const row = /^(\d+)\s+breakpoint\s+keep\s+y\s+(0x[0-9a-f]+|<MULTIPLE>)/.exec(line);
    if (row) {
      current = byNumber.get(Number(row[1]));
      if (current && row[2] !== '<MULTIPLE>') result.get(current)?.addresses.push(parseInt(row[2], 16));
      continue;
    }
    const loc = /^\d+\.\d+\s+y\s+(0x[0-9a-f]+)/.exec(line);
    if (loc && current) result.get(current)?.addresses.push(parseInt(loc[1], 16));
  }
  return result;
}

function guestBuild(flags: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-fbp-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const cflags = ['-m32', '-std=c11', '-ffreestanding', '-fno-pie', '-fno-pic', '-fno-stack-protector', '-fno-builtin', '-nostdlib',
    '-mno-sse', '-mno-mmx', '-mno-80387', '-g', '-w', '-Iinclude', ...flags];
  run('make', ['-s', '-C', path.join(repoRoot, 'guest'), `BUILD=${dir}`, `CFLAGS=${cflags.join(' ')}`]);
  return path.join(dir, 'kernel.elf');
}

function compare(elf: string): { functions: number; differing: string[] } {
  const symbols = new DebugSymbols(fs.readFileSync(elf));
  const map = new CodeMap(symbols);
  const table = new BreakpointTable(symbols, map);
  const names = [...new Set(symbols.functions.map((f) => f.name))];
  const gdb = gdbLocations(elf, names);
  const differing: string[] = [];
  for (const name of names) {
    const expected = gdb.get(name);
    if (!expected) continue; // gdb knows no code for it (every copy inlined away)
    const [resolved] = table.setFunctionBreakpoints([{ name }]);
    const ours = table.armSpecs().filter((s) => s.kind === 'software' && !s.prePaging).map((s) => s.address);
    const want = [...new Set(expected.addresses)].sort((a, b) => a - b);
    const got = [...new Set(ours)].sort((a, b) => a - b);
    if (got.join() !== want.join()) differing.push(`${name}: ours ${got.map((a) => a.toString(16))} gdb ${want.map((a) => a.toString(16))}`);
    else if (expected.line && resolved.line !== expected.line) differing.push(`${name}: line ${resolved.line}, gdb ${expected.line}`);
  }
  assert.ok(gdb.size >= Math.min(10, names.length), `gdb placed only ${gdb.size} breakpoints in ${elf}`);
  return { functions: gdb.size, differing };
}

describe('function breakpoints where gdb 13 puts them (every function, -O0..-Os, with and without frame pointers)', function () {
  this.timeout(600000);
  for (const level of LEVELS) {
    for (const frame of FRAMES) {
      it(`runctl kernel ${level} ${frame}`, () => {
        const elf = build('runctl_kernel.c', { flags: [level, frame], script: 'runctl_kernel.ld' });
        const { differing } = compare(elf);
        assert.deepStrictEqual(differing, []);
      });
    }
  }
  // The guest's sources are many real-kernel-style functions; two builds per level keep it bounded.
  for (const [level, frame] of [['-O0', FRAMES[1]], ['-O1', FRAMES[0]], ['-O2', FRAMES[0]], ['-O2', FRAMES[1]], ['-Os', FRAMES[1]]]) {
    it(`guest sources ${level} ${frame}`, () => {
      const { functions, differing } = compare(guestBuild([level, frame]));
      assert.ok(functions > 300, `only ${functions} functions compared`);
      assert.deepStrictEqual(differing, []);
    });
  }

  it('finds the end of gdb prologues in hand-written byte sequences', () => {
    const cases: [string, number[], number | undefined][] = [
      ['push/mov/sub/push', [0x55, 0x89, 0xe5, 0x83, 0xec, 0x10, 0x53, 0x90], 7],
      ['mov $imm,%eax scheduled into the frame setup', [0x55, 0xb8, 1, 0, 0, 0, 0x89, 0xe5, 0x83, 0xec, 0x0c, 0x8b], 11],
      ['a load scheduled before mov %esp,%ebp: no frame for gdb', [0x55, 0x8b, 0x15, 0x94, 0x3a, 0x13, 0xc0, 0x89, 0xe5], undefined],
      ['no push %ebp (frame pointer omitted)', [0x53, 0x8b, 0x44, 0x24, 0x08], undefined],
      ['enter', [0xc8, 0x10, 0x00, 0x00, 0x90], 4],
      ['endbr32 first', [0xf3, 0x0f, 0x1e, 0xfb, 0x55, 0x89, 0xe5, 0x90], 7],
    ];
    for (const [what, bytes, end] of cases) assert.strictEqual(i386PrologueEnd(Uint8Array.from(bytes)), end, what);
  });
});
