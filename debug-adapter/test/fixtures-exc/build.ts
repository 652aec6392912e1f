// Test helper: builds the exception test kernel with the system gcc and ld at a given
// optimisation level, for i386 (boot.S + kmain.c: a multiboot v1 ELF32) or x86-64 (boot64.S +
// kmain64.c: an ELF64 in the higher half at 0xffffffff80000000, loaded raw through the multiboot
// a.out kludge, with the same scenarios), and finds the lines marked FAULT-* in its source.

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const EXC_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'debug-adapter', 'test', 'fixtures-exc');
export const KMAIN_C = path.join(EXC_DIR, 'kmain.c');
export const KMAIN64_C = path.join(EXC_DIR, 'kmain64.c');

/** The two builds of the test kernel. */
export type ExceptionArch = 'i386' | 'x86-64';

const X64_CFLAGS = ['-m64', '-mcmodel=kernel', '-mno-red-zone', '-ffreestanding', '-nostdlib', '-fno-pie', '-fno-pic', '-fno-stack-protector', '-mgeneral-regs-only', '-fno-omit-frame-pointer', '-g', '-std=c11', '-Wall', '-Wextra', '-Werror'];

const built = new Map<string, string>();
let dir: string | undefined;

function run(program: string, args: string[]): string {
  return execFileSync(program, args, { encoding: 'utf8', timeout: 60_000 });
}

/** Where the i386 kernel runs: identity-mapped at 1 MiB, or linked at 0xC0100000 (loaded at 1 MiB); the x86-64 one is always in the higher half. */
export type KernelLayout = 'identity' | 'higher-half';

/** Builds the kernel at `opt` ("-O0", "-O2", ...) and `layout` once per run; returns the ELF's path. */
export function buildExceptionKernel(opt = '-O0', layout: KernelLayout = 'identity', arch: ExceptionArch = 'i386'): string {
  const key = `${opt}:${layout}:${arch}`;
  const hit = built.get(key);
  if (hit) return hit;
  if (!dir) {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-exc-'));
    dir = d;
    process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  }
  if (arch === 'x86-64') {
    const tag = opt.replace(/\W/g, '');
    const kmain = path.join(dir, `kmain64-${tag}.o`);
    const boot = path.join(dir, `boot64-${tag}.o`);
    const elf = path.join(dir, `exc-kernel64-${tag}.elf`);
    run('gcc', [...X64_CFLAGS, opt, '-c', KMAIN64_C, '-o', kmain]);
    run('gcc', ['-m64', '-g', '-c', path.join(EXC_DIR, 'boot64.S'), '-o', boot]);
    run('ld', ['-m', 'elf_x86_64', '-nostdlib', '-z', 'max-page-size=0x1000', '--build-id=none', '--no-warn-rwx-segments', '-T', path.join(EXC_DIR, 'kernel64.ld'), '-o', elf, boot, kmain]);
    built.set(key, elf);
    return elf;
  }
  const high = layout === 'higher-half';
  const tag = opt.replace(/\W/g, '') + (high ? '-hh' : '');
  const cflags = ['-m32', '-g', '-std=c11', '-ffreestanding', '-nostdlib', '-fno-pie', '-fno-stack-protector', '-fno-omit-frame-pointer', '-Wall', '-Wextra', '-Werror', opt, ...(high ? ['-DKERNEL_BASE=0xC0000000u'] : [])];
  const kmain = path.join(dir, `kmain-${tag}.o`);
  const boot = path.join(dir, `boot-${tag}.o`);
  const elf = path.join(dir, `exc-kernel${tag}.elf`);
  run('gcc', [...cflags, '-c', KMAIN_C, '-o', kmain]);
  run('gcc', ['-m32', '-g', ...(high ? ['-DHIGHER_HALF'] : []), '-c', path.join(EXC_DIR, 'boot.S'), '-o', boot]);
  run('ld', ['-m', 'elf_i386', '--no-warn-rwx-segments', '-T', path.join(EXC_DIR, high ? 'kernel-higher-half.ld' : 'kernel.ld'), '-o', elf, boot, kmain]);
  built.set(key, elf);
  return elf;
}

/** The 1-based line of kmain.c (kmain64.c for x86-64) that carries `/* MARKER *\/`. */
export function markerLine(marker: string, arch: ExceptionArch = 'i386'): number {
  const source = arch === 'x86-64' ? KMAIN64_C : KMAIN_C;
  const lines = fs.readFileSync(source, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(`/* ${marker} */`));
  if (i < 0) throw new Error(`no line marked ${marker} in ${source}`);
  return i + 1;
}

/** addr2line's file basename and line for `address` in `elf` (an address number or its exact unsigned value). */
export function lineOf(elf: string, address: number | bigint): { file: string; line: number } {
  const out = run('addr2line', ['-e', elf, BigInt.asUintN(64, BigInt(address)).toString(16)]).trim();
  const m = /^(.*):(\d+)/.exec(out);
  return m ? { file: path.basename(m[1]), line: Number(m[2]) } : { file: '??', line: 0 };
}
