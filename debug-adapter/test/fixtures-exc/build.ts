// Test helper: builds the exception test kernel (boot.S + kmain.c in this folder) with the
// system gcc and ld as a multiboot v1 ELF32 at a given optimisation level, and finds the lines
// marked FAULT-* in its source.

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const EXC_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'debug-adapter', 'test', 'fixtures-exc');
export const KMAIN_C = path.join(EXC_DIR, 'kmain.c');

const built = new Map<string, string>();
let dir: string | undefined;

function run(program: string, args: string[]): string {
  return execFileSync(program, args, { encoding: 'utf8', timeout: 60_000 });
}

/** Where the kernel runs: identity-mapped at 1 MiB, or linked at 0xC0100000 (loaded at 1 MiB). */
export type KernelLayout = 'identity' | 'higher-half';

/** Builds the kernel at `opt` ("-O0", "-O2", ...) and `layout` once per run; returns the ELF's path. */
export function buildExceptionKernel(opt = '-O0', layout: KernelLayout = 'identity'): string {
  const key = `${opt}:${layout}`;
  const hit = built.get(key);
  if (hit) return hit;
  if (!dir) {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-exc-'));
    dir = d;
    process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
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

/** The 1-based line of kmain.c that carries `/* MARKER *\/`. */
export function markerLine(marker: string): number {
  const lines = fs.readFileSync(KMAIN_C, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(`/* ${marker} */`));
  if (i < 0) throw new Error(`no line marked ${marker} in ${KMAIN_C}`);
  return i + 1;
}

/** addr2line's file basename and line for `address` in `elf`. */
export function lineOf(elf: string, address: number): { file: string; line: number } {
  const out = run('addr2line', ['-e', elf, address.toString(16)]).trim();
  const m = /^(.*):(\d+)/.exec(out);
  return m ? { file: path.basename(m[1]), line: Number(m[2]) } : { file: '??', line: 0 };
}
