// Test helper: builds the x86-64 test kernel (boot.S + kernel.c, gcc -m64 -mcmodel=kernel) into a
// temporary directory and checks that its file is loadable raw (the multiboot a.out kludge):
// every loaded segment's file offset and physical address differ by the same amount.

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const fixtureDirX64 = path.join(__dirname, '..', '..', '..', '..', 'debug-adapter', 'test', 'fixtures-x64');

const C_FLAGS = ['-m64', '-mcmodel=kernel', '-mno-red-zone', '-ffreestanding', '-fno-pie', '-fno-pic', '-fno-stack-protector', '-mgeneral-regs-only', '-g', '-Wall', '-Wextra', '-Werror'];

const built = new Map<string, string>();

function run(program: string, args: string[]): string {
  return execFileSync(program, args, { encoding: 'utf8', timeout: 60_000 });
}

/**
 * Builds the x86-64 test kernel with extra C flags (default -O0) and returns the ELF64 path.
 * `withoutCfi`: no call frame information at all (C code built without .eh_frame, then
 * .debug_frame removed), so that unwinders must follow the rbp chain.
 */
export function buildX64Kernel(flags: string[] = ['-O0'], options: { withoutCfi?: boolean } = {}): string {
  const key = `${flags.join(' ')}${options.withoutCfi ? ' (no CFI)' : ''}`;
  const hit = built.get(key);
  if (hit) return hit;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-x64-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const bootObj = path.join(dir, 'boot.o');
  const kernelObj = path.join(dir, 'kernel.o');
  const out = path.join(dir, 'kernel-x64.elf');
  run('gcc', ['-m64', '-g', '-c', path.join(fixtureDirX64, 'boot.S'), '-o', bootObj]);
  run('gcc', [...C_FLAGS, ...flags, ...(options.withoutCfi ? ['-fno-asynchronous-unwind-tables', '-fno-unwind-tables'] : []), '-c', path.join(fixtureDirX64, 'kernel.c'), '-o', kernelObj]);
  run('ld', ['-m', 'elf_x86_64', '-nostdlib', '-z', 'max-page-size=0x1000', '--build-id=none', '--no-warn-rwx-segments', '-T', path.join(fixtureDirX64, 'kernel.ld'), bootObj, kernelObj, '-o', out]);
  if (options.withoutCfi) run('objcopy', ['--remove-section=.debug_frame', '--remove-section=.eh_frame', out]);
  checkRawLoadable(out);
  built.set(key, out);
  return out;
}

/** Throws when the file's loaded segments are not laid out as the a.out kludge loads them. */
function checkRawLoadable(file: string): void {
  const b = fs.readFileSync(file);
  if (b.readUInt8(4) !== 2 || b.readUInt16LE(18) !== 62) throw new Error(`${file} is not an ELF64 x86-64 file`);
  const phoff = Number(b.readBigUInt64LE(32));
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  let delta: bigint | undefined;
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (b.readUInt32LE(o) !== 1) continue;
    const offset = b.readBigUInt64LE(o + 8);
    const paddr = b.readBigUInt64LE(o + 24);
    const filesz = b.readBigUInt64LE(o + 32);
    if (filesz === 0n) continue;
    const d = paddr - offset;
    if (delta !== undefined && d !== delta) throw new Error(`${file}: segment ${i} is at file offset 0x${offset.toString(16)} for physical 0x${paddr.toString(16)}; the raw load would misplace it`);
    delta = d;
  }
}
