// The mm test kernels (docs/testing-mm-kernels.md): kernels written for the tests that are not
// ours (no mm_debug_info, nothing of mmscope), each with a different frame allocator shape, in
// the corpus's boot styles (corpus/styles), built with the system gcc/ld. Each broken variant
// (-DBREAK_...) plants one fault that a finding must report. Builds are cached under
// out/fixtures-mm/, keyed by a hash of the sources and flags.

import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { CORPUS_DIR, STYLES, StyleName } from '../corpus/build';
import { repoRoot, run } from '../fixtures-c/compile';

export const MM_DIR = path.join(repoRoot, 'debug-adapter', 'test', 'fixtures-mm');
const LIB_DIR = path.join(MM_DIR, 'lib');
const STYLE_DIR = path.join(CORPUS_DIR, 'styles');
export const MM_CACHE_DIR = path.join(repoRoot, 'out', 'fixtures-mm');

export type MmKernelName = 'bitmap' | 'freelist' | 'stack' | 'buddy' | 'regions';

/** The faults a broken variant can plant, with the finding kind (snapshot-document.ts) that must report it. */
export type MmBreak =
  | 'use-after-free' | 'leak' | 'free-list-cycle' | 'free-list-outside-ram' | 'counter' | 'double-free' | 'free-never-allocated'
  | 'wx' | 'user-kernel-alias' | 'code-alias' | 'user-page-table' | 'outside-ram' | 'null-page' | 'reserved-bit';

export interface MmBreakInfo {
  /** The C define that selects it. */
  readonly define: string;
  /** The finding kind it must produce, as the kernel's dump names it (`mm planted <kind>`). */
  readonly finding: string;
  /** 0: page tables alone show it; 1: a description of the allocator is needed; 2: tracing alloc/free. */
  readonly level: 0 | 1 | 2;
}

export const MM_BREAKS: Readonly<Record<MmBreak, MmBreakInfo>> = {
  'use-after-free': { define: 'BREAK_USE_AFTER_FREE', finding: 'free-frame-mapped', level: 1 },
  leak: { define: 'BREAK_LEAK', finding: 'frame-leaked', level: 1 },
  'free-list-cycle': { define: 'BREAK_FREE_LIST_CYCLE', finding: 'free-list-cycle', level: 1 },
  'free-list-outside-ram': { define: 'BREAK_FREE_LIST_OUTSIDE_RAM', finding: 'pointer-outside-ram', level: 1 },
  counter: { define: 'BREAK_COUNTER', finding: 'counter-mismatch', level: 1 },
  'double-free': { define: 'BREAK_DOUBLE_FREE', finding: 'double-free', level: 2 },
  'free-never-allocated': { define: 'BREAK_FREE_NEVER_ALLOCATED', finding: 'free-never-allocated', level: 2 },
  wx: { define: 'BREAK_WX', finding: 'writable-executable', level: 0 },
  'user-kernel-alias': { define: 'BREAK_USER_KERNEL_ALIAS', finding: 'user-writable-kernel', level: 0 },
  'code-alias': { define: 'BREAK_CODE_ALIAS', finding: 'writable-code-alias', level: 0 },
  'user-page-table': { define: 'BREAK_USER_PAGE_TABLE', finding: 'user-maps-page-table', level: 0 },
  'outside-ram': { define: 'BREAK_OUTSIDE_RAM', finding: 'mapping-outside-ram', level: 0 },
  'null-page': { define: 'BREAK_NULL_PAGE', finding: 'null-page-mapped', level: 0 },
  'reserved-bit': { define: 'BREAK_RESERVED_BIT', finding: 'reserved-bits', level: 0 },
};

export type MmArch = 'i386' | 'x86-64';

export interface MmKernelInfo {
  /** The frame allocator's shape (docs/memory-model.md's names). */
  readonly shape: 'bitmap' | 'free-list' | 'free-stack' | 'buddy' | 'region-table';
  /** The corpus boot style it uses (corpus/styles/<style>.S and .ld). */
  readonly style: StyleName;
  readonly opt: 'O0' | 'O2';
  /** 32: 32-bit paging; 3: PAE; 4: 4-level. */
  readonly paging: 32 | 3 | 4;
  /** Where the kernel maps all of RAM; absent: only its image and a window (docs). */
  readonly directBase?: bigint;
  /** Kernel sources besides lib/serial.c, paging.c, dump.c, plant.c. */
  readonly sources: readonly string[];
  /** The variants it can be built with (besides clean). */
  readonly breaks: readonly MmBreak[];
  /** How many checkpoints a run reaches (level-1 and -2 faults are planted before the last one). */
  readonly checkpoints: number;
  /** The allocation and free functions (level 2 traces them), as the kernel's source header documents them. */
  readonly alloc: string;
  readonly free: string;
}

/** The level-0 faults every kernel can plant; with NX also a writable alias of code (without NX code cannot be told from read-only data), W+X and reserved bits. */
const LEVEL0_32: readonly MmBreak[] = ['user-kernel-alias', 'user-page-table', 'outside-ram', 'null-page'];
const LEVEL0_NX: readonly MmBreak[] = [...LEVEL0_32, 'code-alias', 'wx', 'reserved-bit'];

export const MM_KERNELS: Readonly<Partial<Record<MmKernelName, MmKernelInfo>>> = {
  bitmap: {
    shape: 'bitmap', style: 'identity', opt: 'O0', paging: 32, sources: ['bitmap.c'], checkpoints: 3,
    breaks: ['use-after-free', 'leak', 'counter', 'double-free', 'free-never-allocated', ...LEVEL0_32],
    alloc: 'alloc_frame', free: 'free_frame',
  },
  freelist: {
    shape: 'free-list', style: 'x86-64-direct-map', opt: 'O2', paging: 4, directBase: 0xffff800000000000n, sources: ['freelist.c'], checkpoints: 3,
    breaks: ['free-list-cycle', 'free-list-outside-ram', 'use-after-free', 'counter', ...LEVEL0_NX],
    alloc: 'kalloc', free: 'kfree',
  },
  stack: {
    shape: 'free-stack', style: 'higher-half-80', opt: 'O2', paging: 32, sources: ['stack.c'], checkpoints: 3,
    breaks: ['use-after-free', 'leak', 'counter', ...LEVEL0_32],
    alloc: 'pmm_alloc', free: 'pmm_free',
  },
  buddy: {
    shape: 'buddy', style: 'higher-half-c0-pae', opt: 'O0', paging: 3, directBase: 0xc0000000n, sources: ['buddy.c'], checkpoints: 3,
    breaks: ['use-after-free', 'counter', ...LEVEL0_NX],
    alloc: 'buddy_alloc', free: 'buddy_free',
  },
  regions: {
    shape: 'region-table', style: 'higher-half-c0', opt: 'O2', paging: 32, directBase: 0xc0000000n, sources: ['regions.c'], checkpoints: 3,
    breaks: ['use-after-free', 'counter', ...LEVEL0_32],
    alloc: 'region_alloc', free: 'region_free',
  },
};

/** The kernels defined so far. */
export function mmKernelNames(): MmKernelName[] {
  return (Object.keys(MM_KERNELS) as MmKernelName[]).filter((k) => MM_KERNELS[k] !== undefined);
}

export function mmKernel(name: MmKernelName): MmKernelInfo {
  const k = MM_KERNELS[name];
  if (!k) throw new Error(`there is no mm test kernel "${name}"`);
  return k;
}

export interface MmVariant {
  readonly kernel: MmKernelName;
  /** The planted fault; absent: the clean kernel. */
  readonly break?: MmBreak;
}

export function mmVariantId(v: MmVariant): string {
  return `${v.kernel}-${v.break ?? 'clean'}`;
}

/** The architecture, QEMU binary, CPU model and RAM a kernel boots with. */
export interface MmMachine {
  readonly arch: MmArch;
  readonly qemuBinary: string;
  readonly cpu?: string;
  /** Guest RAM; the kernels are built for this size (MMK_RAM_MIB). */
  readonly memoryMiB: number;
}

export const MM_MEMORY_MIB = 32;

export function mmMachine(name: MmKernelName): MmMachine {
  const style = STYLES[mmKernel(name).style];
  return {
    arch: style.arch,
    qemuBinary: style.arch === 'x86-64' ? 'qemu-system-x86_64' : 'qemu-system-i386',
    ...(style.cpu ? { cpu: style.cpu } : {}),
    memoryMiB: MM_MEMORY_MIB,
  };
}

const LIB_SOURCES = ['serial.c', 'paging.c', 'dump.c', 'plant.c', 'heap.c'];

function cflags(v: MmVariant): string[] {
  const k = mmKernel(v.kernel);
  const style = STYLES[k.style];
  if (v.break && !k.breaks.includes(v.break)) throw new Error(`the ${v.kernel} kernel has no "${v.break}" variant`);
  return [
    ...(style.arch === 'x86-64' ? ['-m64', '-mcmodel=kernel', '-mno-red-zone'] : ['-m32']),
    '-std=c11', '-ffreestanding', '-nostdlib', '-fno-pie', '-fno-pic', '-fno-stack-protector', '-fno-builtin', '-mgeneral-regs-only',
    '-g', '-Wall', '-Wextra', '-Werror', `-${k.opt}`, '-I', LIB_DIR,
    `-DKERNEL_VBASE=0x${style.vbase.toString(16)}`, `-DMMK_PAGING=${k.paging}`, `-DMMK_RAM_MIB=${MM_MEMORY_MIB}`,
    ...(k.directBase !== undefined ? [`-DMMK_DIRECT_BASE=0x${k.directBase.toString(16)}`] : []),
    `-DMMK_KERNEL="${v.kernel}"`, `-DMMK_VARIANT="${v.break ?? 'clean'}"`,
    ...(v.break ? [`-D${MM_BREAKS[v.break].define}`] : []),
  ];
}

function sourcesOf(v: MmVariant): { c: string[]; asm: string; script: string } {
  const k = mmKernel(v.kernel);
  const style = STYLES[k.style];
  return {
    c: [...LIB_SOURCES.map((s) => path.join(LIB_DIR, s)), ...k.sources.map((s) => path.join(MM_DIR, s))],
    asm: path.join(STYLE_DIR, `${k.style}.S`),
    script: path.join(STYLE_DIR, style.linkerScript ?? `${k.style}.ld`),
  };
}

const built = new Map<string, string>();

/** Builds a variant (once; cached under out/fixtures-mm/ across runs) and returns its ELF's path. */
export function buildMmKernel(v: MmVariant): string {
  const id = mmVariantId(v);
  const hit = built.get(id);
  if (hit) return hit;
  const flags = cflags(v);
  const src = sourcesOf(v);
  const hash = createHash('sha256');
  hash.update(JSON.stringify(flags));
  const includes = [path.join(LIB_DIR, 'mmk.h'), ...fs.readdirSync(STYLE_DIR).filter((n) => n.endsWith('.inc')).map((n) => path.join(STYLE_DIR, n))];
  for (const f of [...src.c, src.asm, src.script, ...includes]) hash.update(f).update(fs.readFileSync(f));
  const dir = path.join(MM_CACHE_DIR, `${id}-${hash.digest('hex').slice(0, 12)}`);
  const elf = path.join(dir, 'kernel.elf');
  if (!fs.existsSync(elf)) {
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    const style = STYLES[mmKernel(v.kernel).style];
    const objects: string[] = [];
    for (const c of src.c) {
      const obj = path.join(tmp, path.basename(c, '.c') + '.o');
      run('gcc', [...flags, '-c', c, '-o', obj]);
      objects.push(obj);
    }
    const bootObj = path.join(tmp, 'boot.S.o');
    run('gcc', [style.arch === 'x86-64' ? '-m64' : '-m32', '-g', '-c', src.asm, '-o', bootObj]);
    const emulation = style.arch === 'x86-64' ? ['-m', 'elf_x86_64', '-z', 'max-page-size=0x1000', '--no-warn-rwx-segments'] : ['-m', 'elf_i386', '--no-warn-rwx-segments'];
    run('ld', [...emulation, '-nostdlib', '--build-id=none', '-T', src.script, '-o', path.join(tmp, 'kernel.elf'), bootObj, ...objects]);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    // Builds of older sources of this variant are not needed again.
    const stale = new RegExp(`^${id.replace(/[-]/g, '\\-')}-[0-9a-f]{12}$`);
    for (const n of fs.readdirSync(MM_CACHE_DIR)) if (stale.test(n) && path.join(MM_CACHE_DIR, n) !== dir) fs.rmSync(path.join(MM_CACHE_DIR, n), { recursive: true, force: true });
  }
  built.set(id, elf);
  return elf;
}

/** Every variant of every kernel: the clean one first, then its broken ones. */
export function mmVariants(): MmVariant[] {
  return mmKernelNames().flatMap((kernel) => [{ kernel }, ...mmKernel(kernel).breaks.map((b) => ({ kernel, break: b }))]);
}
