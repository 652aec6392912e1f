// Frame scopes against gdb, offline: for corpus kernels at several optimisation levels (i386) and
// the x86-64 fixture kernel at -O0/-O2/-Os with DWARF 4 and 5, at every
// line-table address and at the first and last byte of every block and inlined call, the source
// frames (the innermost inlined call first) and, per frame, the names `info args` and
// `info locals` list, in order, must be gdb's own answer. gdb answers through its Python API on
// the ELF alone (corpus/gdb-scopes.py: gdb.block_for_pc, the superblocks out to the function, one
// frame per function or inlined-call block), so no QEMU is needed. The C evaluator (evaluate,
// hover, watch) must look a name up in that same frame.

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CEvaluator } from '../src/inspect/c-evaluator';
import { MemoryCache } from '../src/inspect/c-value';
import type { TargetAccess } from '../src/inspect/target-access';
import { DebugSymbols, lookupOrder, ScopeInfo, sourceFrameCount } from '../src/symbols';
import { formatAddress } from '../../qemu-bridge/src/address';
import { buildKernel, CORPUS_DIR, CorpusVariant, variantId } from './corpus/build';
import { buildX64Kernel, X64_MATRIX, x64VariantId } from './fixtures-x64/build64';

interface FrameNames {
  function: string;
  args: string[];
  locals: string[];
}

const KERNELS: CorpusVariant[] = [
  { style: 'higher-half-c0', opt: 'O0', framePointer: true },
  { style: 'higher-half-c0', opt: 'O1', framePointer: false },
  { style: 'higher-half-c0', opt: 'O2', framePointer: true },
  { style: 'higher-half-c0', opt: 'O2', framePointer: false },
  { style: 'identity', opt: 'Os', framePointer: false },
];

/** Line-table addresses, and the first and last byte of every scope with code. */
function probePcs(symbols: DebugSymbols): number[] {
  const pcs = new Set<number>();
  for (const cu of symbols.compileUnits) {
    for (const seq of cu.lineTable?.sequences ?? []) for (const row of seq.rows) if (row.address < seq.end) pcs.add(row.address);
  }
  const walk = (s: ScopeInfo): void => {
    for (const r of s.ranges) {
      pcs.add(r.start);
      pcs.add(r.end - 1);
    }
    for (const b of s.blocks) walk(b);
    for (const c of s.inlined) walk(c);
  };
  for (const f of symbols.functions) walk(f);
  return [...pcs].sort((a, b) => a - b);
}

/** Every address of .text (the x86-64 fixture is small enough to ask gdb about each byte). */
function textPcs(symbols: DebugSymbols): number[] {
  const text = symbols.elf.section('.text');
  if (!text) throw new Error('no .text');
  return Array.from({ length: text.size }, (_, i) => text.addr + i);
}

function gdbFrames(kernel: string, pcs: number[], hex: (a: number) => string): Map<number, FrameNames[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-scopes-'));
  try {
    const file = path.join(dir, 'pcs.txt');
    fs.writeFileSync(file, pcs.map(hex).join('\n') + '\n');
    const run = spawnSync('gdb', ['-batch', '-nx', '-x', path.join(CORPUS_DIR, 'gdb-scopes.py'), kernel], {
      encoding: 'utf8', timeout: 60_000, env: { ...process.env, LC_ALL: 'C', MMSCOPE_SCOPE_PCS: file }, maxBuffer: 64 << 20,
    });
    if (run.error) throw new Error(`gdb could not run (${run.error.message}); install gdb`);
    const out = new Map<number, FrameNames[]>();
    for (const line of run.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const r = JSON.parse(line) as { pc: number; frames: FrameNames[] };
      out.set(r.pc, r.frames);
    }
    if (out.size !== pcs.length) throw new Error(`gdb answered for ${out.size} of ${pcs.length} pcs: ${run.stderr.slice(0, 2000)}`);
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function ourFrames(symbols: DebugSymbols, pc: number): FrameNames[] {
  const chain = symbols.scopeChainAt(pc);
  if (!chain) return [];
  const frames: FrameNames[] = [];
  for (let depth = sourceFrameCount(chain) - 1; depth >= 0; depth--) {
    const f = symbols.frameVariablesAt(pc, depth);
    if (!f) throw new Error('no frame');
    frames.push({ function: f.scope.name, args: f.parameters.map((v) => v.name), locals: f.locals.map((v) => v.name) });
  }
  return frames;
}

function show(frames: FrameNames[]): string {
  return frames.map((f) => `${f.function}(${f.args.join(', ')}) [${f.locals.join(', ')}]`).join(' | ') || '(none)';
}

describe('symbols: frame arguments and locals as gdb lists them', function () {
  this.timeout(120_000);
  const kernels = [
    ...KERNELS.map((v) => ({ id: variantId(v), build: () => buildKernel(v), minimum: 300, probe: probePcs })),
    ...X64_MATRIX.map((v) => ({ id: x64VariantId(v), build: () => buildX64Kernel(v), minimum: 1000, probe: textPcs })),
  ];
  for (const { id, build, minimum, probe } of kernels) {
    it(`${id}: every source frame at every ${probe === textPcs ? '.text address' : 'probed pc'}`, () => {
      const kernel = build();
      const symbols = new DebugSymbols(fs.readFileSync(kernel));
      const pcs = probe(symbols);
      assert.ok(pcs.length > minimum, `only ${pcs.length} pcs`);
      const hex = (a: number): string => formatAddress(a, symbols.addressWidth);
      const gdb = gdbFrames(kernel, pcs, hex);
      const wrong: string[] = [];
      for (const pc of pcs) {
        const theirs = show(gdb.get(pc) ?? []);
        const ours = show(ourFrames(symbols, pc));
        if (theirs !== ours) wrong.push(`${hex(pc)}\n      gdb:     ${theirs}\n      mmscope: ${ours}`);
      }
      assert.strictEqual(wrong.length, 0, `${wrong.length} of ${pcs.length} pcs differ:\n    ${wrong.slice(0, 12).join('\n    ')}`);
      console.log(`      ${pcs.length} addresses compared, ${wrong.length} differ`);
    });
  }

  it('the evaluator finds a name in the selected source frame only (evaluate and hover use the Locals scope)', () => {
    const kernel = buildKernel({ style: 'higher-half-c0', opt: 'O2', framePointer: true });
    const symbols = new DebugSymbols(fs.readFileSync(kernel));
    const noTarget: TargetAccess = {
      readMemory: () => Promise.reject(new Error('no target')),
      writeMemory: () => Promise.reject(new Error('no target')),
      readRegisters: () => Promise.resolve(new Map()),
      writeRegister: () => Promise.reject(new Error('no target')),
    };
    let inlinedFrames = 0;
    let hiddenElsewhere = 0;
    for (const pc of probePcs(symbols)) {
      const chain = symbols.scopeChainAt(pc);
      if (!chain || sourceFrameCount(chain) < 2) continue;
      const all = new Set<string>();
      for (let depth = 0; depth < sourceFrameCount(chain); depth++) for (const v of lookupOrder(symbols.frameVariablesAt(pc, depth)!)) all.add(v.name);
      for (let depth = 0; depth < sourceFrameCount(chain); depth++) {
        inlinedFrames++;
        const own = lookupOrder(symbols.frameVariablesAt(pc, depth)!);
        const ev = new CEvaluator({ symbols, memory: new MemoryCache(noTarget), access: noTarget, frame: { pc, registers: new Map(), frameIndex: 0, inlineDepth: depth } });
        for (const name of all) {
          const found = ev.findVariable(name);
          const expected = own.find((v) => v.name === name);
          if (expected) assert.strictEqual(found, expected, `${name} at 0x${pc.toString(16)} depth ${depth}`);
          else {
            // A name of another source frame is not visible here (at most a global of that name).
            assert.ok(found === undefined || found.owner === undefined, `${name} at 0x${pc.toString(16)} depth ${depth} found in another frame`);
            hiddenElsewhere++;
          }
        }
      }
    }
    assert.ok(inlinedFrames > 50 && hiddenElsewhere > 20, `${inlinedFrames} inlined source frames, ${hiddenElsewhere} names of other frames`);
  });
});
