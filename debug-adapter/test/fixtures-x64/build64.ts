// The x86-64 symbol fixtures: a small freestanding kernel (main64.c, work64.c, mm64.c) built with the
// system gcc/ld for x86-64 (-mcmodel=kernel, -mno-red-zone, linked at 0xffffffff80100000 and
// loaded at 1 MiB by kernel64.ld), at -O0/-O2/-Os, DWARF 4 or 5, with its CFI in .eh_frame or
// .debug_frame. Builds go to a temporary directory of this process, once per variant.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot, run } from '../fixtures-c/compile';

export const X64_FIXTURE_DIR = path.join(repoRoot, 'debug-adapter', 'test', 'fixtures-x64');
/** The C sources of the fixture kernel (basenames, in X64_FIXTURE_DIR). */
export const X64_SOURCES = ['main64.c', 'work64.c', 'mm64.c'];

export interface X64Variant {
  opt: 'O0' | 'O1' | 'O2' | 'Os';
  dwarf: 4 | 5;
  /** '.eh_frame' (gcc's default on x86-64) or '.debug_frame' (-fno-asynchronous-unwind-tables). */
  cfi: '.eh_frame' | '.debug_frame';
  /** -gdwarf64: the 64-bit DWARF format (unit lengths 0xffffffff + 8 bytes, 8-byte offsets). */
  dwarf64?: boolean;
  /** -gz=zlib and ld --compress-debug-sections=zlib: SHF_COMPRESSED debug sections. */
  compressed?: boolean;
}

/**
 * Every optimisation level with both DWARF versions, the CFI section alternating, the 64-bit
 * DWARF format twice and zlib-compressed debug sections once.
 */
export const X64_MATRIX: readonly X64Variant[] = [
  { opt: 'O0', dwarf: 4, cfi: '.debug_frame' },
  { opt: 'O0', dwarf: 5, cfi: '.eh_frame' },
  { opt: 'O2', dwarf: 4, cfi: '.eh_frame' },
  { opt: 'O2', dwarf: 5, cfi: '.debug_frame' },
  { opt: 'Os', dwarf: 4, cfi: '.debug_frame' },
  { opt: 'Os', dwarf: 5, cfi: '.eh_frame' },
  { opt: 'O0', dwarf: 4, cfi: '.eh_frame', dwarf64: true },
  { opt: 'O2', dwarf: 5, cfi: '.debug_frame', dwarf64: true },
  { opt: 'Os', dwarf: 4, cfi: '.debug_frame', compressed: true },
];

export function x64VariantId(v: X64Variant): string {
  return `x86-64-${v.opt}-dwarf${v.dwarf}${v.dwarf64 ? '-dwarf64' : ''}-${v.cfi.slice(1)}${v.compressed ? '-zlib' : ''}`;
}

export function x64Cflags(v: X64Variant): string[] {
  return [
    '-m64', '-std=c11', '-ffreestanding', '-nostdlib', '-fno-pie', '-fno-pic', '-fno-stack-protector', '-fno-builtin',
    '-mno-sse', '-mno-mmx', '-mno-80387', '-mcmodel=kernel', '-mno-red-zone', '-g', `-gdwarf-${v.dwarf}`, ...(v.dwarf64 ? ['-gdwarf64'] : []), ...(v.compressed ? ['-gz=zlib'] : []),
    '-Wall', '-Wextra', '-Werror', `-${v.opt}`,
    ...(v.cfi === '.debug_frame' ? ['-fno-asynchronous-unwind-tables', '-fno-unwind-tables'] : ['-fasynchronous-unwind-tables']),
  ];
}

let workDir: string | undefined;
function tmp(): string {
  if (!workDir) {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-x64-'));
    const dir = workDir;
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return workDir;
}

const built = new Map<string, string>();

/** Builds the fixture kernel for `v` (once per process); returns the ELF path, or the .o with `object`. */
export function buildX64Kernel(v: X64Variant, object = false): string {
  const id = x64VariantId(v) + (object ? '-object' : '');
  const hit = built.get(id);
  if (hit) return hit;
  const dir = path.join(tmp(), id);
  fs.mkdirSync(dir, { recursive: true });
  const objects = X64_SOURCES.map((source) => {
    const obj = path.join(dir, path.basename(source, '.c') + '.o');
    run('gcc', [...x64Cflags(v), '-c', path.join(X64_FIXTURE_DIR, source), '-o', obj]);
    return obj;
  });
  let out = objects[1]; // work64.o
  if (!object) {
    out = path.join(dir, 'kernel64.elf');
    const compress = v.compressed ? ['--compress-debug-sections=zlib'] : [];
    run('ld', ['-m', 'elf_x86_64', '-nostdlib', '--build-id=none', '--no-warn-rwx-segments', ...compress, '-T', path.join(X64_FIXTURE_DIR, 'kernel64.ld'), '-o', out, ...objects]);
  }
  built.set(id, out);
  return out;
}
