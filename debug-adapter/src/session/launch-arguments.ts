// The launch and attach attributes of an `mmscope` debug configuration (the schema in
// package.json describes the same fields) and their validation into typed options.

import * as fs from 'fs';
import * as path from 'path';
import {
  BootMedium, DisplayMode, DRIVE_FORMATS, DRIVE_INTERFACES, DRIVE_MEDIA, DriveFormat, DriveInterface, DriveMedia, DriveSpec,
  HostPort, parseHostPort,
} from '../../../qemu-bridge/src';
import { ConfigurationError } from './errors';

/** The largest `smp` of QEMU's pc machine (QEMU 7.2: "The max CPUs supported by machine 'pc-i440fx-7.2' is 255"). */
export const MAX_SMP = 255;

/** `boot`: what QEMU starts when it is not `kernel` itself. Exactly one of the three. */
export interface BootArguments {
  /** A multiboot kernel for QEMU's `-kernel` loader (another file than the symbols' `kernel`). */
  kernel?: string;
  /** A bootable ISO (GRUB inside), as a CD-ROM. */
  iso?: string;
  /** A bootable disk image, as the first IDE hard disk. */
  disk?: string;
  /** The disk image's format (default raw). */
  format?: DriveFormat;
}

/** One entry of `drives`. */
export interface DriveArguments {
  file: string;
  format?: DriveFormat;
  interface?: DriveInterface;
  media?: DriveMedia;
  readOnly?: boolean;
}

/** `launch`: boot a kernel in a QEMU the adapter starts and owns. */
export interface LaunchArguments {
  /** The kernel ELF: its symbols, and what QEMU boots (-kernel) unless `boot` says otherwise. */
  kernel: string;
  /** What QEMU starts, when not `kernel` with -kernel. */
  boot?: BootArguments;
  /** Extra drives. */
  drives?: DriveArguments[];
  /** vCPUs (1 to 255). */
  smp?: number;
  /** QEMU CPU model and features, e.g. "max" or "qemu32,+nx". */
  cpu?: string;
  /** "none" (default) or "window" (QEMU's own window). */
  display?: DisplayMode;
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
  /** Trace the kernel's mov-to-CR3 instructions (mm/plugin/trace-extension.ts). */
  traceAddressSpaces?: boolean;
  /** Base directory for a relative `kernel` (VS Code passes absolute paths after ${workspaceFolder}). */
  cwd?: string;
  /** The kernel's memory-model description (docs/memory-model.md): an object, a JSON file relative to `cwd`, or builtin:<name>. */
  memoryModel?: unknown;
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
  /** Trace the kernel's mov-to-CR3 instructions (mm/plugin/trace-extension.ts). */
  traceAddressSpaces?: boolean;
  cwd?: string;
  /** As for launch. */
  memoryModel?: unknown;
}

export interface ValidatedLaunch {
  /** The ELF the symbols come from. */
  kernel: string;
  /** What QEMU starts. */
  boot: BootMedium;
  drives: DriveSpec[];
  smp?: number;
  cpu?: string;
  display: DisplayMode;
  memoryMiB: number;
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

function baseDirectory(a: Record<string, unknown>): string {
  return typeof a.cwd === 'string' ? a.cwd : process.cwd();
}

function existingFile(a: Record<string, unknown>, name: string, value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ConfigurationError(`"${name}" must name ${what}`);
  const file = path.resolve(baseDirectory(a), value);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new ConfigurationError(`"${name}" names ${file}, which does not exist (build it first or correct the path)`);
  return file;
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigurationError(`"${name}" is ${JSON.stringify(value)}, not one of ${allowed.map((x) => `"${x}"`).join(', ')}`);
  }
  return value as T;
}

function bootMedium(a: Record<string, unknown>, kernel: string, cmdline: string | undefined): BootMedium {
  const raw = a.boot;
  if (raw === undefined || raw === null) return { kind: 'kernel', file: kernel, cmdline: cmdline ?? '' };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigurationError('"boot" must be an object such as {"iso": "build/os.iso"}, {"disk": "build/disk.img"} or {"kernel": "build/boot.elf"}');
  }
  const b = raw as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => !['kernel', 'iso', 'disk', 'format'].includes(k));
  if (unknown.length) throw new ConfigurationError(`"boot" has ${unknown.map((k) => `"${k}"`).join(', ')}, which it does not know (it takes "iso", "disk" with an optional "format", or "kernel")`);
  const given = (['kernel', 'iso', 'disk'] as const).filter((k) => b[k] !== undefined && b[k] !== null);
  if (given.length === 0) throw new ConfigurationError('"boot" names no image; give one of "iso", "disk" or "kernel"');
  if (given.length > 1) throw new ConfigurationError(`"boot" names both ${given.map((k) => `"${k}"`).join(' and ')}; give only one image to boot`);
  const kind = given[0];
  if (b.format !== undefined && kind !== 'disk') throw new ConfigurationError('"boot.format" applies only to "boot.disk"');
  if (cmdline !== undefined && kind !== 'kernel') {
    throw new ConfigurationError(`"cmdline" applies only when QEMU loads the kernel itself; with "boot.${kind}" the bootloader passes the command line (put it in your grub.cfg)`);
  }
  const file = existingFile(a, `boot.${kind}`, b[kind], kind === 'iso' ? 'an ISO image' : kind === 'disk' ? 'a disk image' : 'a multiboot kernel');
  if (kind === 'kernel') return { kind, file, cmdline: cmdline ?? '' };
  if (kind === 'iso') return { kind, file };
  return { kind, file, format: oneOf('boot.format', b.format, DRIVE_FORMATS, 'raw') };
}

function drives(a: Record<string, unknown>): DriveSpec[] {
  const raw = a.drives ?? [];
  if (!Array.isArray(raw)) throw new ConfigurationError('"drives" must be an array such as [{"file": "build/data.img"}]');
  return raw.map((entry: unknown, i) => {
    const name = `drives[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new ConfigurationError(`"${name}" must be an object with a "file"`);
    const d = entry as Record<string, unknown>;
    const unknown = Object.keys(d).filter((k) => !['file', 'format', 'interface', 'media', 'readOnly'].includes(k));
    if (unknown.length) throw new ConfigurationError(`"${name}" has ${unknown.map((k) => `"${k}"`).join(', ')}, which it does not know (it takes "file", "format", "interface", "media", "readOnly")`);
    if (d.readOnly !== undefined && typeof d.readOnly !== 'boolean') throw new ConfigurationError(`"${name}.readOnly" must be true or false`);
    const spec: DriveSpec = {
      file: existingFile(a, `${name}.file`, d.file, 'a drive image'),
      format: oneOf(`${name}.format`, d.format, DRIVE_FORMATS, 'raw'),
      interface: oneOf(`${name}.interface`, d.interface, DRIVE_INTERFACES, 'ide'),
      media: oneOf(`${name}.media`, d.media, DRIVE_MEDIA, 'disk'),
      ...(d.readOnly === true ? { readOnly: true } : {}),
    };
    if (spec.media === 'cdrom' && spec.interface === 'floppy') throw new ConfigurationError(`"${name}" puts a CD-ROM on the floppy interface; use "interface": "ide" for a CD-ROM`);
    return spec;
  });
}

/** Checks launch attributes (and that the files they name exist). Throws ConfigurationError. */
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
  checkTraceAddressSpaces(a);
  if (a.historyKeyframes !== undefined && a.historyKeyframes !== 'stops' && a.historyKeyframes !== 'first') {
    throw new ConfigurationError(`"historyKeyframes" is ${JSON.stringify(a.historyKeyframes)}, but it must be "stops" (a keyframe at every stop) or "first" (only at the first stop)`);
  }
  const qemuBinary = optionalString(a, 'qemuPath');
  const kernel = kernelPath(a);
  const smp = a.smp;
  if (smp !== undefined && (typeof smp !== 'number' || !Number.isInteger(smp) || smp < 1 || smp > MAX_SMP)) {
    throw new ConfigurationError(`"smp" is ${JSON.stringify(smp)}, but it must be a whole number of CPUs from 1 to ${MAX_SMP}`);
  }
  const cpu = optionalString(a, 'cpu');
  if (cpu !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.+=,-]*$/.test(cpu)) {
    throw new ConfigurationError(`"cpu" is ${JSON.stringify(cpu)}, which is not a QEMU CPU model (a name such as "max" or "qemu32", optionally followed by features: "qemu32,+nx")`);
  }
  return {
    kernel,
    boot: bootMedium(a, kernel, optionalString(a, 'cmdline')),
    drives: drives(a),
    ...(smp !== undefined ? { smp: smp as number } : {}),
    ...(cpu !== undefined ? { cpu } : {}),
    display: oneOf('display', a.display, ['none', 'window'] as const, 'none'),
    memoryMiB: memory,
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
  checkTraceAddressSpaces(a);
  return { gdb, ...(qmp ? { qmp } : {}), ...(ram ? { ramFile: ram } : {}), kernel: kernelPath(a) };
}

/** `traceAddressSpaces` (read by the tracing extension from the raw arguments) must be a boolean. */
function checkTraceAddressSpaces(a: Record<string, unknown>): void {
  if (a.traceAddressSpaces !== undefined && typeof a.traceAddressSpaces !== 'boolean') throw new ConfigurationError('"traceAddressSpaces" must be true or false');
}

/** A few words on what QEMU boots, for progress messages ("ISO build/os.iso"). */
export function describeBoot(boot: BootMedium): string {
  const name = path.basename(boot.file);
  return boot.kind === 'kernel' ? `kernel ${name}` : boot.kind === 'iso' ? `ISO ${name} (BIOS and bootloader first)` : `disk ${name} (BIOS and bootloader first)`;
}
