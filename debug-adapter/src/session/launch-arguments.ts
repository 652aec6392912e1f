// The launch and attach attributes of an `mmscope` debug configuration (the schema in
// package.json describes the same fields) and their validation into typed options.

import * as path from 'path';
import { HostPort, parseHostPort } from '../../../qemu-bridge/src';
import { ConfigurationError } from './errors';

/** `launch`: boot a kernel in a QEMU the adapter starts and owns. */
export interface LaunchArguments {
  /** The kernel ELF (multiboot). */
  kernel: string;
  /** Guest RAM in MiB (default 128). */
  memory?: number;
  /** The kernel command line. */
  cmdline?: string;
  /** qemu-system-i386 path or name on PATH. */
  qemuPath?: string;
  /** Extra QEMU arguments. */
  qemuArgs?: string[];
  /** Stop at the kernel's first instruction. */
  stopOnEntry?: boolean;
  /** Base directory for a relative `kernel` (VS Code passes absolute paths after ${workspaceFolder}). */
  cwd?: string;
}

/** `attach`: debug a QEMU the user started with `-gdb`/`-s` (and optionally `-qmp` and a RAM file). */
export interface AttachArguments {
  /** gdbstub endpoint, "host:port" (loopback). */
  gdb: string;
  /** QMP endpoint, "host:port" (needed for restart). */
  qmp?: string;
  /** Guest RAM file (memory-backend-file,share=on). */
  ram?: string;
  /** The kernel ELF the guest runs (for symbols). */
  kernel: string;
  cwd?: string;
}

export interface ValidatedLaunch {
  kernel: string;
  memoryMiB: number;
  cmdline: string;
  qemuBinary?: string;
  qemuArgs: string[];
  stopOnEntry: boolean;
}

export interface ValidatedAttach {
  gdb: HostPort;
  qmp?: HostPort;
  ramFile?: string;
  kernel: string;
}

function record(args: unknown): Record<string, unknown> {
  if (typeof args !== 'object' || args === null) throw new ConfigurationError('the arguments are not an object');
  return args as Record<string, unknown>;
}

function kernelPath(a: Record<string, unknown>): string {
  const kernel = a.kernel ?? a.program;
  if (typeof kernel !== 'string' || kernel.trim() === '') throw new ConfigurationError('"kernel" must name the kernel ELF file');
  const cwd = typeof a.cwd === 'string' ? a.cwd : process.cwd();
  return path.resolve(cwd, kernel);
}

function optionalString(a: Record<string, unknown>, name: string): string | undefined {
  const v = a[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ConfigurationError(`"${name}" must be a string`);
  return v;
}

/** Checks launch attributes. Throws ConfigurationError. */
export function validateLaunch(args: unknown): ValidatedLaunch {
  const a = record(args);
  const memory = a.memory ?? 128;
  if (typeof memory !== 'number' || !Number.isInteger(memory) || memory < 4 || memory > 3072) {
    throw new ConfigurationError('"memory" must be a whole number of MiB between 4 and 3072');
  }
  const qemuArgs = a.qemuArgs ?? [];
  if (!Array.isArray(qemuArgs) || qemuArgs.some((x) => typeof x !== 'string')) throw new ConfigurationError('"qemuArgs" must be an array of strings');
  const stopOnEntry = a.stopOnEntry ?? false;
  if (typeof stopOnEntry !== 'boolean') throw new ConfigurationError('"stopOnEntry" must be true or false');
  const qemuBinary = optionalString(a, 'qemuPath');
  return {
    kernel: kernelPath(a),
    memoryMiB: memory,
    cmdline: optionalString(a, 'cmdline') ?? '',
    ...(qemuBinary ? { qemuBinary } : {}),
    qemuArgs: qemuArgs as string[],
    stopOnEntry,
  };
}

/** Checks attach attributes. Throws ConfigurationError. */
export function validateAttach(args: unknown): ValidatedAttach {
  const a = record(args);
  const endpoint = (name: string, required: boolean): HostPort | undefined => {
    const text = optionalString(a, name);
    if (text === undefined) {
      if (required) throw new ConfigurationError(`"${name}" must be "host:port" of QEMU's ${name === 'gdb' ? 'gdbstub (-gdb tcp::PORT)' : 'QMP server'}`);
      return undefined;
    }
    try {
      return parseHostPort(text);
    } catch {
      throw new ConfigurationError(`"${name}" is "${text}", not host:port (for example 127.0.0.1:1234)`);
    }
  };
  const gdb = endpoint('gdb', true) as HostPort;
  const qmp = endpoint('qmp', false);
  const ram = optionalString(a, 'ram');
  return { gdb, ...(qmp ? { qmp } : {}), ...(ram ? { ramFile: ram } : {}), kernel: kernelPath(a) };
}
