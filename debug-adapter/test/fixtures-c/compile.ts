// Test helper: compiles the C fixtures in this folder with the system gcc (-m32, no hosted
// headers) into a temporary directory, links them, and runs binutils/gdb as oracles.

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

function findRepoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 10; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'debug-adapter'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the repository root from ' + __dirname);
}

export const repoRoot = findRepoRoot();
export const fixtureDir = path.join(repoRoot, 'debug-adapter', 'test', 'fixtures-c');

let workDir: string | undefined;
function tmp(): string {
  if (!workDir) {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-symbols-'));
    const dir = workDir;
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return workDir;
}

/** Runs a program (argument array, no shell) and returns its stdout; bounded by a timeout. */
export function run(program: string, args: string[], input?: string): string {
  return execFileSync(program, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024, input });
}

const cache = new Map<string, string>();

export interface BuildOptions {
  /** Extra gcc flags, e.g. ['-O2'] or ['-gdwarf-4']. */
  flags?: string[];
  /** Link into an executable (default) or stop at the .o. */
  link?: boolean;
  /** Linker script in the fixtures folder (e.g. 'higher_half.ld'), or an absolute path. */
  script?: string;
  /**
   * 'x86-64': gcc -m64 -mcmodel=kernel -mno-red-zone, linked by default like an x86-64 kernel at
   * 0xffffffff80100000 (fixtures-x64/kernel64.ld). Default 'i386' (-m32).
   */
  arch?: 'i386' | 'x86-64';
}

/** Compiles fixtures-c/<source> with gcc -m32 (or -m64) -g -fno-pie -ffreestanding and returns the output path. */
export function build(source: string, options: BuildOptions = {}): string {
  const flags = options.flags ?? ['-O0'];
  const link = options.link ?? true;
  const x64 = options.arch === 'x86-64';
  const key = JSON.stringify([source, flags, link, options.script, options.arch ?? 'i386']);
  const hit = cache.get(key);
  if (hit) return hit;
  const base = `${path.basename(source, '.c')}-${cache.size}`;
  const obj = path.join(tmp(), `${base}.o`);
  const machine = x64 ? ['-m64', '-mcmodel=kernel', '-mno-red-zone'] : ['-m32'];
  run('gcc', [...machine, '-g', '-fno-pie', '-ffreestanding', '-fno-stack-protector', ...flags, '-c', path.join(fixtureDir, source), '-o', obj]);
  let out = obj;
  if (link) {
    out = path.join(tmp(), `${base}.elf`);
    const scriptFile = options.script ?? (x64 ? path.join(fixtureDir, '..', 'fixtures-x64', 'kernel64.ld') : undefined);
    const script = scriptFile ? ['-Wl,-T,' + path.resolve(fixtureDir, scriptFile)] : [];
    const extra = x64 ? ['-Wl,--no-warn-rwx-segments'] : [];
    run('gcc', [x64 ? '-m64' : '-m32', '-nostdlib', '-static', '-no-pie', '-Wl,-e,_start', '-Wl,--build-id=none', ...extra, ...script, obj, '-o', out]);
  }
  cache.set(key, out);
  return out;
}

export function readBytes(file: string): Uint8Array {
  return new Uint8Array(fs.readFileSync(file));
}

/** addr2line for many addresses at once: "file:line" per address (discriminators dropped). */
export function addr2line(elf: string, addresses: number[]): { file: string; line: number }[] {
  const out = run('addr2line', ['-e', elf], addresses.map((a) => a.toString(16)).join('\n') + '\n').trim().split('\n');
  return out.map((l) => {
    const m = /^(.*):(\d+|\?)(?: \(discriminator \d+\))?$/.exec(l.trim());
    return m ? { file: m[1], line: m[2] === '?' ? 0 : Number(m[2]) } : { file: '??', line: 0 };
  });
}

/** Runs gdb in batch mode on `file` with the given commands; returns stdout. */
export function gdbBatch(file: string, commands: string[]): string {
  const args = ['-batch', '-nx'];
  for (const c of commands) args.push('-ex', c);
  args.push(file);
  return run('gdb', args);
}

export function haveTool(name: string): boolean {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}
