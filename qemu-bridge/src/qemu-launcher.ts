// QemuLauncher: starts qemu-system-i386 paused (-S) with the gdbstub and QMP on loopback ports,
// the serial console on a stream, and guest RAM in a shared file under /dev/shm, then waits until
// both endpoints answer. No QEMU outlives its owner: QEMU runs under `setpriv --pdeathsig KILL`
// (the kernel kills it when the owner dies) and a detached reaper process watches a pipe from the
// owner and kills QEMU and deletes the RAM file when that pipe closes (see qemu-reaper.ts).
// The machine itself (boot medium, drives, CPUs, display, the PC devices) is machine-args.ts;
// QEMU's own complaints about it become the one-sentence errors of launch-errors.ts.

import { spawn, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { PassThrough, Readable } from 'stream';
import { findFreePort, isPortFree } from './free-port';
import { connectTcp, HostPort } from './host-port';
import { QmpLineDecoder } from './qmp-framing';
import { BridgeError, KernelNotFoundError, PortInUseError, QemuNotFoundError, QemuStartupError, RequestTimeoutError } from './errors';
import { BootFileNotFoundError, diagnoseStartup, StartupContext } from './launch-errors';
import { BootMedium, DisplayMode, DriveSpec, machineArgs } from './machine-args';

export interface LaunchOptions {
  /** Multiboot kernel to boot (`-kernel`); shorthand for `boot: { kind: 'kernel', file }`. */
  kernel?: string;
  /** Kernel command line (`-append`), with `kernel`. */
  cmdline?: string;
  /** What QEMU starts: a multiboot kernel, an ISO or a disk image (instead of `kernel`). */
  boot?: BootMedium;
  /** Extra drives (`-drive`). */
  drives?: readonly DriveSpec[];
  /**
   * Our guest kernel's swap disk: a sparse raw file of this many MiB, made by the launcher in the
   * temp directory, attached as the primary IDE master (before `drives`) and deleted when QEMU
   * ends (by the reaper too, if the owner dies). Absent or 0: none. Callers set it for our guest
   * only (guestSwapDiskMiB in debug-adapter/src/session/guest-kernel.ts); other kernels get nothing new.
   */
  swapDiskMiB?: number;
  /** vCPUs (`-smp`). */
  smp?: number;
  /** CPU model (`-cpu`). */
  cpu?: string;
  /** `none` (default) or QEMU's own window. */
  display?: DisplayMode;
  /** Add the PC devices -nodefaults removes: a standard VGA adapter and a parallel port. Default true. */
  pcDevices?: boolean;
  /** Guest RAM in MiB. Default 128. */
  memoryMiB?: number;
  /** QEMU binary: a path or a name looked up on PATH. Default $MMSCOPE_QEMU or qemu-system-i386 (for an x86-64 kernel the adapter passes qemu-system-x86_64). */
  qemuBinary?: string;
  /** Fixed ports; when absent, free ports are chosen (and re-chosen if taken meanwhile). */
  gdbPort?: number;
  qmpPort?: number;
  /** Put guest RAM in a shared file (default true). */
  sharedRam?: boolean;
  /** Directory of the RAM file. Default /dev/shm. */
  ramDirectory?: string;
  /** Pass -no-reboot (a guest reset ends QEMU). Default true. */
  noReboot?: boolean;
  /** Arguments appended to QEMU's. */
  extraArgs?: readonly string[];
  /** Time allowed from spawn until both endpoints answer. Default 15000 ms. */
  startupTimeoutMs?: number;
  /** Start the reaper process (default true). */
  reaper?: boolean;
  /** Run QEMU under `setpriv --pdeathsig KILL` when setpriv exists (default true). */
  parentDeathSignal?: boolean;
}

/** How QEMU ended. With isa-debug-exit, `code` is (value << 1) | 1. */
export interface QemuExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const TAIL_LIMIT = 256 * 1024;

/** Finds an executable on PATH (or checks a path). Returns undefined when absent. */
export function resolveExecutable(name: string): string | undefined {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (fs.statSync(c).isFile()) return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** A running QEMU started by QemuLauncher. */
export class QemuInstance {
  /** The guest's serial console (COM1) as a byte stream. */
  readonly serial: Readable;
  /** Resolves when QEMU has exited and the RAM file is removed. */
  readonly exited: Promise<QemuExit>;
  private serialTail = '';
  private stderrTail = '';
  private readonly serialListeners = new Set<() => void>();
  private exitInfo: QemuExit | undefined;
  /** What the launch asked for, to name QEMU's startup complaints (set by the launcher). */
  startupContext: StartupContext | undefined;

  constructor(
    private readonly child: ChildProcess,
    readonly gdb: HostPort,
    readonly qmp: HostPort,
    readonly ramPath: string | undefined,
    readonly memoryBytes: number,
    private readonly reaper: ChildProcess | undefined,
    /** Our guest's swap disk file (LaunchOptions.swapDiskMiB), deleted when QEMU ends. */
    readonly swapDiskPath?: string,
  ) {
    const serial = new PassThrough();
    this.serial = serial;
    child.stdout?.on('data', (chunk: Buffer) => {
      this.serialTail = (this.serialTail + chunk.toString('latin1')).slice(-TAIL_LIMIT);
      serial.write(chunk);
      for (const l of [...this.serialListeners]) l();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-TAIL_LIMIT);
    });
    this.exited = new Promise<QemuExit>((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        this.exitInfo = { code, signal };
        if (this.ramPath) fs.rmSync(this.ramPath, { force: true });
        if (this.swapDiskPath) fs.rmSync(this.swapDiskPath, { force: true });
        this.releaseReaper();
        serial.end();
        for (const l of [...this.serialListeners]) l();
        resolve(this.exitInfo);
      };
      if (child.exitCode !== null || child.signalCode !== null) done(child.exitCode, child.signalCode as NodeJS.Signals | null);
      else child.once('exit', done);
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** True until QEMU has exited. */
  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  /** What QEMU printed on stderr (last 256 KiB). */
  get stderrText(): string {
    return this.stderrTail;
  }

  /** The serial console so far (last 256 KiB). */
  get serialText(): string {
    return this.serialTail;
  }

  /** Resolves with the serial text once `pattern` appears in it. Rejects on timeout or QEMU exit. */
  waitForSerial(pattern: RegExp | string, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const matches = (): boolean => (typeof pattern === 'string' ? this.serialTail.includes(pattern) : pattern.test(this.serialTail));
      if (matches()) return resolve(this.serialTail);
      const check = (): void => {
        if (matches()) {
          cleanup();
          resolve(this.serialTail);
        } else if (!this.alive) {
          cleanup();
          reject(new QemuStartupError(`QEMU exited before printing ${String(pattern)}`, this.stderrTail));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new RequestTimeoutError('guest console', String(pattern), timeoutMs));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.serialListeners.delete(check);
      };
      this.serialListeners.add(check);
    });
  }

  /**
   * Once QEMU has exited: the one-sentence error for what it complained about on stderr (no
   * window, an unknown CPU model...), if it is one the launcher knows. QEMU can fail that way
   * just after its endpoints answered, so whoever attaches next asks this when attaching fails.
   */
  startupFailure(): BridgeError | undefined {
    if (this.alive || !this.startupContext) return undefined;
    return diagnoseStartup(this.stderrTail, this.startupContext);
  }

  /** Sends a signal to QEMU (tests use SIGKILL to simulate a crash). */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.alive) this.child.kill(signal);
  }

  /** Stops QEMU: SIGTERM, then SIGKILL after `graceMs`; removes the RAM file. Safe to call twice. */
  async shutdown(graceMs = 2000): Promise<QemuExit> {
    if (this.alive) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exited;
  }

  private releaseReaper(): void {
    const stdin = this.reaper?.stdin;
    if (stdin && !stdin.destroyed) {
      stdin.on('error', () => undefined);
      stdin.end('release\n');
    }
  }
}

/** Starts QEMU for a kernel. Throws QemuNotFoundError, KernelNotFoundError, PortInUseError or QemuStartupError. */
export async function launchQemu(options: LaunchOptions): Promise<QemuInstance> {
  const binaryName = options.qemuBinary ?? process.env.MMSCOPE_QEMU ?? 'qemu-system-i386';
  const binary = resolveExecutable(binaryName);
  if (!binary) throw new QemuNotFoundError(binaryName);
  const boot = resolveBoot(options);
  for (const d of options.drives ?? []) {
    if (!isFile(d.file)) throw new BootFileNotFoundError('drive image', path.resolve(d.file));
  }
  for (const p of [options.gdbPort, options.qmpPort]) {
    if (p !== undefined && !(await isPortFree(p))) throw new PortInUseError(p);
  }
  const attempts = options.gdbPort !== undefined && options.qmpPort !== undefined ? 1 : 5;
  let lastError: BridgeError | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const gdbPort = options.gdbPort ?? (await findFreePort());
    let qmpPort = options.qmpPort ?? (await findFreePort());
    while (qmpPort === gdbPort) qmpPort = await findFreePort();
    try {
      return await startOnce(binary, boot, options, gdbPort, qmpPort);
    } catch (e) {
      if (e instanceof PortInUseError && (e.port !== options.gdbPort || options.gdbPort === undefined) && (e.port !== options.qmpPort || options.qmpPort === undefined)) {
        lastError = e;
        continue; // a port we chose was taken meanwhile: choose again
      }
      throw e;
    }
  }
  throw lastError ?? new QemuStartupError('no free ports could be bound', '');
}

function isFile(file: string): boolean {
  return fs.existsSync(file) && fs.statSync(file).isFile();
}

/** The boot medium with an absolute path, checked to exist. */
function resolveBoot(options: LaunchOptions): BootMedium {
  if (options.boot) {
    const file = path.resolve(options.boot.file);
    if (!isFile(file)) {
      if (options.boot.kind === 'kernel') throw new KernelNotFoundError(file);
      throw new BootFileNotFoundError(options.boot.kind === 'iso' ? 'ISO image' : 'disk image', file);
    }
    return { ...options.boot, file };
  }
  if (options.kernel === undefined) throw new KernelNotFoundError('(none given)');
  const kernel = path.resolve(options.kernel);
  if (!isFile(kernel)) throw new KernelNotFoundError(kernel);
  return { kind: 'kernel', file: kernel, cmdline: options.cmdline ?? '' };
}

let launchCounter = 0;

async function startOnce(binary: string, boot: BootMedium, options: LaunchOptions, gdbPort: number, qmpPort: number): Promise<QemuInstance> {
  const memoryMiB = options.memoryMiB ?? 128;
  const shared = options.sharedRam ?? true;
  const ramDir = options.ramDirectory ?? '/dev/shm';
  const ramPath = shared ? path.join(ramDir, `mmscope-ram-${process.pid}-${Date.now().toString(36)}-${launchCounter++}`) : undefined;
  const swapPath = options.swapDiskMiB ? createSwapDisk(options.swapDiskMiB) : undefined;
  const swapDrives: DriveSpec[] = swapPath ? [{ file: swapPath, format: 'raw', interface: 'ide', media: 'disk' }] : [];
  const args = [
    '-S',
    '-nodefaults',
    ...machineArgs({
      boot,
      drives: [...swapDrives, ...(options.drives ?? []).map((d) => ({ ...d, file: path.resolve(d.file) }))],
      ...(options.smp !== undefined ? { smp: options.smp } : {}),
      ...(options.cpu !== undefined ? { cpu: options.cpu } : {}),
      display: options.display ?? 'none',
      pcDevices: options.pcDevices ?? true,
      userArgs: options.extraArgs ?? [],
    }),
    ...(options.noReboot === false ? [] : ['-no-reboot']),
    '-m', `${memoryMiB}M`,
    '-gdb', `tcp:127.0.0.1:${gdbPort}`,
    '-qmp', `tcp:127.0.0.1:${qmpPort},server=on,wait=off,nodelay=on`,
    '-serial', 'stdio',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
  ];
  if (ramPath) args.push('-object', `memory-backend-file,id=ram,size=${memoryMiB}M,mem-path=${ramPath},share=on`, '-machine', 'pc,memory-backend=ram');
  else args.push('-machine', 'pc');
  args.push(...(options.extraArgs ?? []));

  const reaper = options.reaper === false ? undefined : startReaper(ramPath, swapPath);
  const setpriv = options.parentDeathSignal === false ? undefined : resolveExecutable('setpriv');
  const command = setpriv ?? binary;
  const argv = setpriv ? ['--pdeathsig', 'KILL', '--', binary, ...args] : args;
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (reaper?.stdin && child.pid !== undefined) reaper.stdin.write(`qemu ${child.pid}\n`);
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const instance = new QemuInstance(child, { host: '127.0.0.1', port: gdbPort }, { host: '127.0.0.1', port: qmpPort }, ramPath, memoryMiB << 20, reaper, swapPath);
  instance.startupContext = { binary, ...(options.display ? { display: options.display } : {}), ...(options.cpu ? { cpu: options.cpu } : {}) };
  try {
    await waitUntilReady(instance, spawnError, options.startupTimeoutMs ?? 15000);
    return instance;
  } catch (e) {
    await instance.shutdown(500);
    const known = instance.startupFailure();
    if (known) throw known;
    if (e instanceof BridgeError) throw e;
    throw new QemuStartupError(String(e), instance.stderrText);
  }
}

/** A sparse raw file of `mib` MiB for our guest's swap disk; the caller deletes it. */
export function createSwapDisk(mib: number): string {
  const file = path.join(os.tmpdir(), `mmscope-swap-${process.pid}-${Date.now().toString(36)}-${launchCounter++}.img`);
  fs.writeFileSync(file, '');
  fs.truncateSync(file, mib * 1024 * 1024);
  return file;
}

function startReaper(ramPath: string | undefined, swapPath: string | undefined): ChildProcess {
  const script = path.join(__dirname, 'qemu-reaper.js');
  const reaper = spawn(process.execPath, [script], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  reaper.unref();
  const stdin = reaper.stdin as net.Socket | null;
  stdin?.on('error', () => undefined);
  stdin?.unref();
  if (ramPath) stdin?.write(`ram ${ramPath}\nmarker ${ramPath}\n`);
  if (swapPath) stdin?.write(`file ${swapPath}\n`);
  return reaper;
}

async function waitUntilReady(instance: QemuInstance, spawnError: Promise<Error>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let failure: Error | undefined;
  spawnError.then((e) => (failure = e));
  const exited = instance.exited.then(() => true);
  let exitedNow = false;
  exited.then(() => (exitedNow = true));
  const checkExit = (): void => {
    if (failure) {
      const code = (failure as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new QemuNotFoundError('qemu-system-i386');
      throw new QemuStartupError(failure.message, instance.stderrText);
    }
    if (exitedNow) {
      const busy = /Address already in use|Failed to bind socket/i.exec(instance.stderrText);
      if (busy) {
        const port = [instance.gdb.port, instance.qmp.port].find((p) => instance.stderrText.includes(`:${p}`));
        throw new PortInUseError(port ?? instance.gdb.port);
      }
      throw new QemuStartupError('QEMU exited during startup', instance.stderrText);
    }
  };
  // QMP: an answered command proves QEMU's main loop runs; the gdbstub port is bound before that.
  for (;;) {
    await new Promise((r) => setTimeout(r, 15));
    checkExit();
    if (Date.now() > deadline) throw new QemuStartupError(`the gdbstub and QMP did not answer within ${timeoutMs} ms`, instance.stderrText);
    if ((await probeQmpGreeting(instance.qmp, deadline)) && (await probeTcp(instance.gdb))) return;
  }
}

async function probeTcp(address: HostPort): Promise<boolean> {
  try {
    const s = await connectTcp(address, 'gdbstub', 1000);
    s.destroy();
    return true;
  } catch {
    return false;
  }
}

async function probeQmpGreeting(address: HostPort, deadline: number): Promise<boolean> {
  let socket: net.Socket;
  try {
    socket = await connectTcp(address, 'QMP server', 1000);
  } catch {
    return false;
  }
  return new Promise<boolean>((resolve) => {
    const decoder = new QmpLineDecoder();
    const timer = setTimeout(() => finish(false), Math.max(100, Math.min(2000, deadline - Date.now())));
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    // The greeting comes from QMP's own I/O thread, before QEMU's main loop runs (and before a
    // failing display init ends QEMU): only an answered command proves the main loop runs.
    let greeted = false;
    socket.on('data', (chunk) => {
      for (const f of decoder.push(chunk)) {
        if (f.kind !== 'json' || typeof f.value !== 'object' || f.value === null) continue;
        if (!greeted && 'QMP' in f.value) {
          greeted = true;
          socket.write('{"execute":"qmp_capabilities"}\r\n');
        } else if (greeted && 'return' in f.value) {
          finish(true);
        }
      }
    });
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
  });
}
