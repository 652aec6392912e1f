// The test corpus: kernels written for the tests (kernel/*.c, kernel/*.S) in three boot styles
// (styles/<style>.S + styles/<style>.ld), built with the system gcc/ld at several optimisation
// levels, with and without frame pointers. Builds go to a temporary directory of this process,
// once per variant.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot, run } from '../fixtures-c/compile';

export const CORPUS_DIR = path.join(repoRoot, 'debug-adapter', 'test', 'corpus');
export const KERNEL_SOURCE_DIR = path.join(CORPUS_DIR, 'kernel');
const STYLE_DIR = path.join(CORPUS_DIR, 'styles');

export type StyleName = 'higher-half-c0' | 'higher-half-80' | 'identity' | 'higher-half-c0-pae' | 'identity-pae';
export type OptLevel = 'O0' | 'O1' | 'O2' | 'Os';

export interface StyleInfo {
  /** Virtual address of physical 0 once the kernel runs (KERNEL_VBASE). */
  vbase: number;
  description: string;
  /** What the kernel's boot line "corpus: paging ..." must say (kernel/paging.c, from CR0/CR4/EFER). */
  paging: string;
  /** Extra compiler definitions of the style (e.g. -DCORPUS_PAE). */
  defines: readonly string[];
  /** QEMU CPU model the style needs (`-cpu`; absent: QEMU's default). */
  cpu?: string;
}

export const STYLES: Readonly<Record<StyleName, StyleInfo>> = {
  'higher-half-c0': { vbase: 0xc0000000, paging: '32-bit, PSE', defines: [], description: 'higher half at 0xC0000000, 4 MiB PSE boot pages, identity entry dropped after the jump' },
  'higher-half-80': { vbase: 0x80000000, paging: '32-bit', defines: [], description: 'higher half at 0x80000000, a low .boot section, 4 KiB boot page table' },
  identity: { vbase: 0, paging: '32-bit', defines: [], description: 'identity-mapped 0-8 MiB with 4 KiB pages, linked at 1 MiB' },
  'higher-half-c0-pae': {
    vbase: 0xc0000000, paging: 'PAE, NX', defines: ['-DCORPUS_PAE'], cpu: 'max',
    description: 'higher half at 0xC0000000 with PAE: a PDPT, 4 KiB pages with NX on data for 0-2 MiB, 2 MiB NX pages (the worker stacks) for 2-8 MiB, a 2 MiB identity page for the jump',
  },
  'identity-pae': {
    vbase: 0, paging: 'PAE, NX', defines: ['-DCORPUS_PAE'], cpu: 'max',
    description: 'identity-mapped 0-8 MiB with PAE: 4 KiB pages with NX on data for 0-2 MiB, 2 MiB NX pages (the worker stacks) for 2-8 MiB',
  },
};

export interface CorpusVariant {
  style: StyleName;
  opt: OptLevel;
  /** true: -fno-omit-frame-pointer; false: -fomit-frame-pointer -fasynchronous-unwind-tables (CFI only). */
  framePointer: boolean;
}

/**
 * The matrix the gdb comparison runs: every 32-bit style at -O0, -O2 and -Os, plus -O1, and both
 * frame pointer settings spread over the styles; the PAE styles at one level each
 * (docs/testing-corpus.md).
 */
export const MATRIX: readonly CorpusVariant[] = [
  { style: 'higher-half-c0', opt: 'O0', framePointer: true },
  { style: 'higher-half-c0', opt: 'O1', framePointer: false },
  { style: 'higher-half-c0', opt: 'O2', framePointer: true },
  { style: 'higher-half-c0', opt: 'O2', framePointer: false },
  { style: 'higher-half-c0', opt: 'Os', framePointer: false },
  { style: 'higher-half-80', opt: 'O0', framePointer: false },
  { style: 'higher-half-80', opt: 'O1', framePointer: true },
  { style: 'higher-half-80', opt: 'O2', framePointer: true },
  { style: 'higher-half-80', opt: 'Os', framePointer: true },
  { style: 'identity', opt: 'O0', framePointer: true },
  { style: 'identity', opt: 'O2', framePointer: false },
  { style: 'identity', opt: 'Os', framePointer: false },
  { style: 'higher-half-c0-pae', opt: 'O2', framePointer: false },
  { style: 'identity-pae', opt: 'O0', framePointer: true },
];

export function variantId(v: CorpusVariant): string {
  return `${v.style}-${v.opt}-${v.framePointer ? 'fp' : 'nofp'}`;
}

export function isStyle(s: string): s is StyleName {
  return Object.prototype.hasOwnProperty.call(STYLES, s);
}

export function isOptLevel(s: string): s is OptLevel {
  return s === 'O0' || s === 'O1' || s === 'O2' || s === 'Os';
}

/** The C and assembly sources of the corpus kernels (absolute paths). */
export function kernelSources(): { c: string[]; asm: string[] } {
  const names = fs.readdirSync(KERNEL_SOURCE_DIR).sort();
  return {
    c: names.filter((n) => n.endsWith('.c')).map((n) => path.join(KERNEL_SOURCE_DIR, n)),
    asm: names.filter((n) => n.endsWith('.S')).map((n) => path.join(KERNEL_SOURCE_DIR, n)),
  };
}

export function cflags(v: CorpusVariant): string[] {
  return [
    '-m32', '-std=c11', '-ffreestanding', '-nostdlib', '-fno-pie', '-fno-pic', '-fno-stack-protector', '-fno-builtin',
    '-mno-sse', '-mno-mmx', '-mno-80387', '-g', '-Wall', '-Wextra', '-Werror', `-${v.opt}`,
    ...(v.framePointer ? ['-fno-omit-frame-pointer'] : ['-fomit-frame-pointer', '-fasynchronous-unwind-tables']),
    `-DKERNEL_VBASE=0x${STYLES[v.style].vbase.toString(16)}`, `-DSTYLE_NAME="${v.style}"`, ...STYLES[v.style].defines,
  ];
}

let workDir: string | undefined;
function tmp(): string {
  if (!workDir) {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-corpus-'));
    const dir = workDir;
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return workDir;
}

const built = new Map<string, string>();

/** Builds one corpus kernel (once per process) and returns the path of its ELF. */
export function buildKernel(v: CorpusVariant): string {
  const id = variantId(v);
  const hit = built.get(id);
  if (hit) return hit;
  const dir = path.join(tmp(), id);
  fs.mkdirSync(dir, { recursive: true });
  const { c, asm } = kernelSources();
  const objects: string[] = [];
  for (const source of c) {
    const obj = path.join(dir, path.basename(source, '.c') + '.o');
    run('gcc', [...cflags(v), '-c', source, '-o', obj]);
    objects.push(obj);
  }
  for (const source of [...asm, path.join(STYLE_DIR, `${v.style}.S`)]) {
    const obj = path.join(dir, path.basename(source, '.S') + '.S.o');
    run('gcc', ['-m32', '-g', '-c', source, '-o', obj]);
    objects.push(obj);
  }
  const elf = path.join(dir, 'kernel.elf');
  run('ld', ['-m', 'elf_i386', '-nostdlib', '--build-id=none', '-T', path.join(STYLE_DIR, `${v.style}.ld`), '-o', elf, ...objects]);
  built.set(id, elf);
  return elf;
}

/**
 * QEMU arguments every corpus run adds to the launcher's, on both sides of the comparison: a VGA
 * adapter for the console, and single-threaded TCG. With QEMU 7.2's default multi-threaded TCG,
 * about 1-3 % of single steps (`vCont;s`) answer T05 without executing the instruction (measured
 * here: 25-106 of 3000 stepi in gdb alone, 0 with thread=single), which would make gdb's own
 * runs differ from one another.
 */
export const CORPUS_QEMU_ARGS: readonly string[] = ['-vga', 'std', '-accel', 'tcg,thread=single'];
export const CORPUS_MEMORY_MIB = 64;

/** What a variant needs of QEMU beyond CORPUS_QEMU_ARGS, on both sides of a comparison. */
export interface CorpusMachine {
  /** CPU model (`cpu` of the launcher and of the adapter's launch); absent: QEMU's default. */
  cpu?: string;
}

export function corpusMachine(v: CorpusVariant): CorpusMachine {
  const cpu = STYLES[v.style].cpu;
  return cpu ? { cpu } : {};
}
