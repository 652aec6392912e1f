// Test helper: builds the screen test kernel (screen_kernel.c) with the system gcc and ld into a
// temporary folder, in the variants the tests need: a multiboot v1 ELF32 (bootable with -kernel),
// multiboot2, no header, a bad checksum, and an ELF64 x86-64 build (multiboot2 header).

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export type ScreenKernelVariant = 'multiboot1' | 'multiboot2' | 'no-header' | 'bad-checksum' | 'elf64';

const SOURCE_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'debug-adapter', 'test', 'fixtures-screen');
const DEFINES: Record<ScreenKernelVariant, string[]> = {
  multiboot1: [],
  multiboot2: ['-DMB2'],
  'no-header': ['-DNO_HEADER'],
  'bad-checksum': ['-DBAD_CHECKSUM'],
  elf64: ['-DMB2'], // a 64-bit kernel with a multiboot2 header, as GRUB boots them
};

let workDir: string | undefined;
const built = new Map<string, string>();

/** Builds a variant (once per process) as `<dir>/<name>`; returns its path. */
export function buildScreenKernel(variant: ScreenKernelVariant, name = `${variant}.elf`, dir?: string): string {
  const key = `${variant}:${name}:${dir ?? ''}`;
  const hit = built.get(key);
  if (hit && fs.existsSync(hit)) return hit;
  if (!dir) {
    if (!workDir) {
      workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-screen-kernel-'));
      const w = workDir;
      process.on('exit', () => fs.rmSync(w, { recursive: true, force: true }));
    }
    dir = workDir;
  }
  fs.mkdirSync(dir, { recursive: true });
  const bits = variant === 'elf64' ? ['-m64', '-mno-red-zone'] : ['-m32'];
  const obj = path.join(dir, `${name}.o`);
  const out = path.join(dir, name);
  const opts = { stdio: 'pipe' as const, timeout: 60_000 };
  execFileSync('gcc', [...bits, '-std=c11', '-g', '-O1', '-ffreestanding', '-fno-pie', '-fno-stack-protector', '-nostdlib', '-Wall', '-Wextra', '-Werror',
    ...DEFINES[variant], '-c', path.join(SOURCE_DIR, 'screen_kernel.c'), '-o', obj], opts);
  execFileSync('ld', ['-m', variant === 'elf64' ? 'elf_x86_64' : 'elf_i386', '-z', 'max-page-size=0x1000', '--no-warn-rwx-segments', '-T', path.join(SOURCE_DIR, 'screen_kernel.ld'), obj, '-o', out], opts);
  fs.rmSync(obj, { force: true });
  built.set(key, out);
  return out;
}
