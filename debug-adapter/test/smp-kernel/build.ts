// Builds the SMP test kernel (boot.S + smp.c in this folder) with the system gcc/ld into a
// temporary directory, once per process.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fixtureDir, run } from '../fixtures-c/compile';

const SOURCE_DIR = path.join(path.dirname(fixtureDir), 'smp-kernel');
export const SMP_C = path.join(SOURCE_DIR, 'smp.c');
let built: string | undefined;

/** The ELF of the SMP kernel at -O1 with -g (path in a temporary directory removed at exit). */
export function buildSmpKernel(): string {
  if (built) return built;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-smp-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const flags = ['-m32', '-std=c11', '-ffreestanding', '-nostdlib', '-fno-pie', '-fno-stack-protector', '-g', '-O1', '-Wall', '-Wextra', '-Werror'];
  run('gcc', [...flags, '-c', SMP_C, '-o', path.join(dir, 'smp.o')]);
  run('gcc', ['-m32', '-g', '-c', path.join(SOURCE_DIR, 'boot.S'), '-o', path.join(dir, 'boot.o')]);
  const elf = path.join(dir, 'smp.elf');
  run('ld', ['-m', 'elf_i386', '--no-warn-rwx-segments', '-T', path.join(SOURCE_DIR, 'link.ld'), '-o', elf, path.join(dir, 'boot.o'), path.join(dir, 'smp.o')]);
  built = elf;
  return elf;
}
