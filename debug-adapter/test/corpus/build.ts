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

export type StyleName = 'higher-half-c0' | 'higher-half-80' | 'identity' | 'higher-half-c0-pae' | 'higher-half-80-pae' | 'identity-pae' | 'x86-64-higher-half' | 'x86-64-direct-map';
export type Arch = 'i386' | 'x86-64';
export type OptLevel = 'O0' | 'O1' | 'O2' | 'Os';

export interface StyleInfo {
  arch: Arch;
  /** Virtual address of physical 0 once the kernel runs (KERNEL_VBASE). */
  vbase: bigint;
  /** The linker script in styles/ (default: `<style>.ld`). */
  linkerScript?: string;
  description: string;
  /** What the kernel's boot line "corpus: paging ..." must say (kernel/paging.c, from CR0/CR4/EFER). */
  paging: string;
  /** Extra compiler definitions of the style (e.g. -DCORPUS_PAE). */
  defines: readonly string[];
  /** QEMU CPU model the style needs (`-cpu`; absent: QEMU's default). */
  cpu?: string;
}

export const STYLES: Readonly<Record<StyleName, StyleInfo>> = {
  'higher-half-c0': { arch: 'i386', vbase: 0xc0000000n, paging: '32-bit, PSE', defines: [], description: 'higher half at 0xC0000000, 4 MiB PSE boot pages, identity entry dropped after the jump' },
  'higher-half-80': { arch: 'i386', vbase: 0x80000000n, paging: '32-bit', defines: [], description: 'higher half at 0x80000000, a low .boot section, 4 KiB boot page table' },
  identity: { arch: 'i386', vbase: 0n, paging: '32-bit', defines: [], description: 'identity-mapped 0-8 MiB with 4 KiB pages, linked at 1 MiB' },
  'higher-half-c0-pae': {
    arch: 'i386', vbase: 0xc0000000n, paging: 'PAE, NX', defines: ['-DCORPUS_PAE'], cpu: 'max',
    description: 'higher half at 0xC0000000 with PAE: a PDPT, 4 KiB pages with NX on data for 0-2 MiB, 2 MiB NX pages (the worker stacks) for 2-8 MiB, a 2 MiB identity page for the jump',
  },
  'higher-half-80-pae': {
    arch: 'i386', vbase: 0x80000000n, paging: 'PAE, NX', defines: ['-DCORPUS_PAE'], cpu: 'max',
    description: 'higher half at 0x80000000 with PAE: a low .boot section, the PDPT and tables of higher-half-c0-pae at PDPT[2]',
  },
  'identity-pae': {
    arch: 'i386', vbase: 0n, paging: 'PAE, NX', defines: ['-DCORPUS_PAE'], cpu: 'max',
    description: 'identity-mapped 0-8 MiB with PAE: 4 KiB pages with NX on data for 0-2 MiB, 2 MiB NX pages (the worker stacks) for 2-8 MiB',
  },
  'x86-64-higher-half': {
    arch: 'x86-64', vbase: 0xffffffff80000000n, linkerScript: 'x86-64.ld', paging: '4-level', defines: [],
    description: 'x86-64 at 0xFFFFFFFF80100000 (-mcmodel=kernel), multiboot a.out kludge, 4-level paging with 2 MiB pages for 0-8 MiB, identity PML4 entry dropped after the jump',
  },
  'x86-64-direct-map': {
    arch: 'x86-64', vbase: 0xffffffff80000000n, linkerScript: 'x86-64.ld', paging: '4-level, NX', defines: ['-DPHYS_MAP_BASE=0xffff800000000000'], cpu: 'max',
    description: 'x86-64 at 0xFFFFFFFF80100000, 4-level paging with 1 GiB pages only: a direct map of 0-4 GiB at 0xFFFF800000000000 (NX; the console uses it), the kernel page, an identity page for the jump',
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
  { style: 'higher-half-80-pae', opt: 'Os', framePointer: true },
  { style: 'identity-pae', opt: 'O0', framePointer: true },
];

/**
 * The x86-64 kernels. They boot in corpus-boot.test.ts; the gdb comparison runs them only with
 * and the gdb matrix compares them with the adapter like the i386 ones (MMSCOPE_CORPUS_X64=0 leaves them out), see corpusGdbMatrix().
 */
export const X64_MATRIX: readonly CorpusVariant[] = [
  { style: 'x86-64-higher-half', opt: 'O0', framePointer: true },
  { style: 'x86-64-higher-half', opt: 'O2', framePointer: false },
  { style: 'x86-64-direct-map', opt: 'O2', framePointer: true },
];

/** Every kernel that must boot: the gdb matrix and the x86-64 kernels. */
export const BOOT_MATRIX: readonly CorpusVariant[] = [...MATRIX, ...X64_MATRIX];

/** The kernels corpus-gdb.test.ts compares: MATRIX and X64_MATRIX (the x86-64 kernels left out when `env.MMSCOPE_CORPUS_X64` is 0). */
export function corpusGdbMatrix(env: NodeJS.ProcessEnv = process.env): readonly CorpusVariant[] {
  return env.MMSCOPE_CORPUS_X64 === '0' ? MATRIX : BOOT_MATRIX;
}

export function variantId(v: CorpusVariant): string {
  return `${v.style}-${v.opt}-${v.framePointer ? 'fp' : 'nofp'}`;
}

export function isStyle(s: string): s is StyleName {
  return Object.prototype.hasOwnProperty.call(STYLES, s);
}

export function isOptLevel(s: string): s is OptLevel {
  return s === 'O0' || s === 'O1' || s === 'O2' || s === 'Os';
}

/** The C and assembly sources of the corpus kernels (absolute paths): the assembly of kernel/ for i386, of kernel/x86-64/ for x86-64. */
export function kernelSources(arch: Arch = 'i386'): { c: string[]; asm: string[] } {
  const list = (dir: string, ext: string): string[] => fs.readdirSync(dir).filter((n) => n.endsWith(ext)).sort().map((n) => path.join(dir, n));
  return { c: list(KERNEL_SOURCE_DIR, '.c'), asm: list(arch === 'x86-64' ? path.join(KERNEL_SOURCE_DIR, 'x86-64') : KERNEL_SOURCE_DIR, '.S') };
}

export function cflags(v: CorpusVariant): string[] {
  const style = STYLES[v.style];
  return [
    ...(style.arch === 'x86-64' ? ['-m64', '-mcmodel=kernel', '-mno-red-zone'] : ['-m32']), '-std=c11', '-ffreestanding', '-nostdlib', '-fno-pie', '-fno-pic', '-fno-stack-protector', '-fno-builtin',
    '-mno-sse', '-mno-mmx', '-mno-80387', '-g', '-Wall', '-Wextra', '-Werror', `-${v.opt}`,
    ...(v.framePointer ? ['-fno-omit-frame-pointer'] : ['-fomit-frame-pointer', '-fasynchronous-unwind-tables']),
    `-DKERNEL_VBASE=0x${style.vbase.toString(16)}`, `-DSTYLE_NAME="${v.style}"`, ...style.defines,
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
  const style = STYLES[v.style];
  const { c, asm } = kernelSources(style.arch);
  const m = style.arch === 'x86-64' ? '-m64' : '-m32';
  const objects: string[] = [];
  for (const source of c) {
    const obj = path.join(dir, path.basename(source, '.c') + '.o');
    run('gcc', [...cflags(v), '-c', source, '-o', obj]);
    objects.push(obj);
  }
  for (const source of [...asm, path.join(STYLE_DIR, `${v.style}.S`)]) {
    const obj = path.join(dir, path.basename(source, '.S') + '.S.o');
    run('gcc', [m, '-g', '-c', source, '-o', obj]);
    objects.push(obj);
  }
  const elf = path.join(dir, 'kernel.elf');
  const script = path.join(STYLE_DIR, style.linkerScript ?? `${v.style}.ld`);
  const emulation = style.arch === 'x86-64' ? ['-m', 'elf_x86_64', '-z', 'max-page-size=0x1000', '--no-warn-rwx-segments'] : ['-m', 'elf_i386'];
  run('ld', [...emulation, '-nostdlib', '--build-id=none', '-T', script, '-o', elf, ...objects]);
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
  /** QEMU binary (the launcher's `qemuBinary`, the adapter's `qemuPath`); absent: qemu-system-i386. */
  qemuBinary?: string;
  /** What gdb-oracle.py sets with `set architecture` before connecting (absent: gdb's choice from the ELF). */
  gdbArchitecture?: string;
}

export function corpusMachine(v: CorpusVariant): CorpusMachine {
  const style = STYLES[v.style];
  return { ...(style.cpu ? { cpu: style.cpu } : {}), ...(style.arch === 'x86-64' ? { qemuBinary: 'qemu-system-x86_64', gdbArchitecture: 'i386:x86-64' } : {}) };
}
