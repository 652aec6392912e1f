// Boots the guest kernel in qemu-system-i386 for the guest's own tests and the demo:
// one QEMU per call, serial console collected as lines, QEMU always killed at the end
// (time limit, early stop, spawn error, or this Node process exiting).

import { spawn, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** What a guest boot should do. */
export interface QemuRunOptions {
  /** The kernel command line, e.g. `selftest` or `selftest only=boot.`. */
  cmdline: string;
  /** Guest RAM in MiB (`-m`). */
  memoryMiB: number;
  /** Wall-clock limit; QEMU is killed when it is reached and the result says `timedOut`. */
  timeLimitMs: number;
  /** Stop QEMU as soon as this returns true for a new console line. */
  stopWhen?: (line: string, lines: readonly string[]) => boolean;
  /** Called for every console line as it arrives. */
  onLine?: (line: string) => void;
  /** Kernel image; default: $MMSCOPE_KERNEL or guest/build/kernel.elf. */
  kernelPath?: string;
  /** QEMU binary; default: $MMSCOPE_QEMU or qemu-system-i386 from PATH. */
  qemuBinary?: string;
  /** Extra QEMU arguments appended after the standard ones. */
  extraArgs?: readonly string[];
  /** Attach a fresh sparse swap disk (SWAP_DISK_MIB) as the primary IDE master, deleted when
   * QEMU ends (default true); false boots without any disk (swapping off in the guest). */
  swapDisk?: boolean;
}

/** Size of the sparse swap disk every guest boot gets (guest/mm/swap.c: 16 KiB slots). */
export const SWAP_DISK_MIB = 256;

/** QEMU arguments that attach `file` as the guest's swap disk (primary IDE master). */
export function swapDiskArgs(file: string): string[] {
  return ['-drive', `file=${file},format=raw,if=ide,index=0,media=disk`];
}

/** Creates a sparse, zero swap disk file of `mib` MiB in the temp directory; returns its path. */
export function createSwapDisk(mib = SWAP_DISK_MIB): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-swap-'));
  const file = path.join(dir, 'swap.img');
  fs.writeFileSync(file, '');
  fs.truncateSync(file, mib * 1024 * 1024);
  return file;
}

/** Deletes a disk made by createSwapDisk (and its directory); never throws. */
export function removeSwapDisk(file: string): void {
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
}

/** How a guest boot ended. */
export interface QemuRunResult {
  /** QEMU's exit status (33 = guest reported success through isa-debug-exit), or null if killed here. */
  exitCode: number | null;
  /** The signal that ended QEMU, or null if it exited by itself. */
  signal: NodeJS.Signals | null;
  /** Serial console lines, without line terminators. */
  lines: string[];
  /** True when the time limit was reached and QEMU was killed. */
  timedOut: boolean;
  /** True when `stopWhen` matched and QEMU was killed. */
  stoppedEarly: boolean;
  /** What QEMU itself printed on stderr (warnings, errors). */
  stderr: string;
  /** QEMU's process id (gone by the time the result is delivered). */
  pid: number;
}

/** qemu-system-i386 could not be started. */
export class QemuNotFoundError extends Error {
  constructor(readonly binary: string) {
    super(`${binary} was not found; install it with "sudo apt-get install -y --no-install-recommends qemu-system-x86" (or run "bash scripts/setup.sh").`);
    this.name = 'QemuNotFoundError';
  }
}

/** The guest kernel image does not exist. */
export class KernelNotFoundError extends Error {
  constructor(readonly kernelPath: string) {
    super(`The guest kernel ${kernelPath} does not exist; build it with "make -C guest" (or "npm run build").`);
    this.name = 'KernelNotFoundError';
  }
}

const liveQemus = new Set<ChildProcess>();
const liveDisks = new Set<string>();
let cleanupRegistered = false;

function killAllQemus(): void {
  for (const child of liveQemus) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  liveQemus.clear();
  for (const disk of liveDisks) removeSwapDisk(disk);
  liveDisks.clear();
}

function onFatalSignal(signal: NodeJS.Signals): void {
  killAllQemus();
  // If nobody else handles the signal, restore the default action and re-raise it.
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onFatalSignal);
    process.kill(process.pid, signal);
  }
}

/** Makes sure no QEMU outlives this process, whichever way it ends. */
function registerCleanup(): void {
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  process.on('exit', killAllQemus);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, onFatalSignal);
  }
}

/** The repository root: the nearest ancestor of this file holding package.json and guest/. */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'guest'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`Cannot find the mmscope repository root above ${__dirname}.`);
    dir = parent;
  }
}

/** The kernel image the tests boot: $MMSCOPE_KERNEL or guest/build/kernel.elf. */
export function defaultKernelPath(): string {
  return process.env.MMSCOPE_KERNEL ?? path.join(repoRoot(), 'guest', 'build', 'kernel.elf');
}

/** The QEMU arguments for one boot (exported so tests and tools agree on them). */
export function qemuArgs(kernelPath: string, cmdline: string, memoryMiB: number): string[] {
  return [
    '-kernel', kernelPath,
    '-append', cmdline,
    '-m', String(memoryMiB),
    '-nodefaults',
    '-display', 'none',
    '-serial', 'stdio',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-no-reboot',
  ];
}

/**
 * Boots the guest and resolves when QEMU has ended. Rejects only when QEMU could not be
 * started (QemuNotFoundError, KernelNotFoundError, or the spawn error); a guest that
 * fails, hangs or crashes resolves with what it printed.
 */
export function runGuest(options: QemuRunOptions): Promise<QemuRunResult> {
  const kernelPath = options.kernelPath ?? defaultKernelPath();
  const binary = options.qemuBinary ?? process.env.MMSCOPE_QEMU ?? 'qemu-system-i386';
  if (!fs.existsSync(kernelPath)) return Promise.reject(new KernelNotFoundError(kernelPath));

  registerCleanup();
  const disk = options.swapDisk === false ? undefined : createSwapDisk();
  if (disk) liveDisks.add(disk);
  const args = [...qemuArgs(kernelPath, options.cmdline, options.memoryMiB), ...(disk ? swapDiskArgs(disk) : []), ...(options.extraArgs ?? [])];

  return new Promise<QemuRunResult>((resolve, reject) => {
    // stdin stays a pipe: an inherited terminal would be put in raw mode by -serial stdio.
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    liveQemus.add(child);

    const lines: string[] = [];
    let partial = '';
    let stderr = '';
    let timedOut = false;
    let stoppedEarly = false;
    let stopping = false;
    let spawnError: Error | undefined;

    // SIGKILL, not SIGTERM: QEMU turns SIGTERM into a clean exit with status 0, which
    // would look like a guest result. The guest has nothing to save.
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      child.kill('SIGKILL');
    };

    const limitTimer = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeLimitMs);

    const takeLine = (raw: string): void => {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      lines.push(line);
      options.onLine?.(line);
      if (!stopping && options.stopWhen?.(line, lines)) {
        stoppedEarly = true;
        stop();
      }
    };

    child.stdout!.setEncoding('latin1');
    child.stdout!.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts) takeLine(part);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.stdin!.on('error', () => {
      // QEMU gone; nothing to write anyway.
    });

    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnError = err.code === 'ENOENT' ? new QemuNotFoundError(binary) : err;
      stop();
    });

    child.on('close', (code, signal) => {
      clearTimeout(limitTimer);
      liveQemus.delete(child);
      if (disk) {
        removeSwapDisk(disk);
        liveDisks.delete(disk);
      }
      if (partial.length > 0) takeLine(partial);
      if (spawnError) {
        reject(spawnError);
        return;
      }
      resolve({ exitCode: code, signal, lines, timedOut, stoppedEarly, stderr, pid: child.pid ?? -1 });
    });
  });
}
