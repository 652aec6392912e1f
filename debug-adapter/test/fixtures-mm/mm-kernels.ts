// Boots an mm test kernel (build.ts) under QEMU with its gdbstub, QMP and a shared RAM file, runs
// it to its Nth mm_checkpoint with a breakpoint, and returns where everything is plus the kernel's
// own dump of that checkpoint, parsed (docs/testing-mm-kernels.md has the line format). Every
// QEMU started here is killed when the test process exits.

import * as fs from 'fs';
import { HostPort, QemuInstance, QmpClient, RspClient, launchQemu } from '../../../qemu-bridge/src';
import { killAtExit } from '../../../qemu-bridge/test/fixtures/qemu-fixture';
import type { PhysicalBytesReader } from '../../../qemu-bridge/src/paging/page-table-walk';
import type { PagingRegisters } from '../../src/mm/model/paging-registers';
import type { FrameAllocState, FrameRun } from '../../src/mm/model/snapshot-document';
import { ElfFile } from '../../src/symbols';
import { MmMachine, MmVariant, buildMmKernel, mmKernel, mmMachine, mmVariantId } from './build';

export interface MmDumpProcess {
  readonly pid: number;
  readonly name: string;
  /** The kernel's enumerator name (UNUSED, RUNNABLE, TASK_READY...). */
  readonly state: string;
  /** Physical address of its top-level page table (0 when it has none). */
  readonly directory: bigint;
  /** Kernel-virtual address of the kernel's struct for it. */
  readonly address: bigint;
}

export interface MmDumpAllocator {
  readonly name: string;
  readonly shape: string;
  readonly unitBytes: number;
  /** Frames covered: first .. first+count-1 (4 KiB frame numbers). */
  readonly first: number;
  readonly count: number;
  /** Every covered frame in runs, sorted, covering first .. first+count-1 exactly. */
  readonly frames: readonly FrameRun<FrameAllocState>[];
  /** The kernel's own counters (name -> value), e.g. its free count. */
  readonly counters: Readonly<Record<string, number>>;
  /** Buddy allocators: free blocks per order (index = order). */
  readonly freeByOrder?: readonly number[];
  /** Calls of the kernel's allocation and free functions since boot (function name -> calls). */
  readonly calls: Readonly<Record<string, number>>;
}

export interface MmDumpHeapBlock {
  /** Address of the block's header. */
  readonly address: bigint;
  /** Bytes after the header. */
  readonly size: number;
  readonly used: boolean;
}

export interface MmDumpPlanted {
  /** The finding kind it plants (snapshot-document.ts's names). */
  readonly kind: string;
  /** Its details, e.g. va, pa, frame, counter, actual. */
  readonly values: Readonly<Record<string, bigint>>;
}

/** What the kernel itself said at one checkpoint. */
export interface MmDump {
  readonly seq: number;
  readonly kernel: string;
  readonly variant: string;
  readonly paging: 'x86-32' | 'pae' | 'x86-64';
  /** CR3 when it dumped (the checkpoint's address space). */
  readonly cr3: bigint;
  readonly ramBytes: number;
  /** pid of the process running at the checkpoint (0: none). */
  readonly currentPid: number;
  readonly processes: readonly MmDumpProcess[];
  readonly allocators: readonly MmDumpAllocator[];
  readonly heaps: Readonly<Record<string, readonly MmDumpHeapBlock[]>>;
  readonly planted: readonly MmDumpPlanted[];
  /** The dump's lines (without the "mm " prefix). */
  readonly lines: readonly string[];
}

const hex = (s: string, line: string): bigint => {
  if (!/^0x[0-9a-f]+$/i.test(s)) throw new Error(`mm dump: "${s}" is not a hex number in "${line}"`);
  return BigInt(s);
};
const dec = (s: string, line: string): number => {
  if (!/^\d+$/.test(s)) throw new Error(`mm dump: "${s}" is not a decimal number in "${line}"`);
  return Number(s);
};
const keyed = (s: string, key: string, line: string): string => {
  if (!s || !s.startsWith(`${key}=`)) throw new Error(`mm dump: expected ${key}=... in "${line}"`);
  return s.slice(key.length + 1);
};

/** Parses the dump of checkpoint `seq` out of the serial text (the last one with that number). Throws when it is absent, incomplete or malformed. */
export function parseMmDump(serial: string, seq: number): MmDump {
  const all = serial.split(/\r?\n/);
  const start = all.map((l, i) => (l.startsWith(`mm begin ${seq} `) ? i : -1)).filter((i) => i >= 0).pop();
  if (start === undefined) throw new Error(`mm dump: no "mm begin ${seq}" on the serial console`);
  const endIndex = all.findIndex((l, i) => i > start && l.startsWith(`mm end ${seq} `));
  if (endIndex < 0) throw new Error(`mm dump ${seq}: no end line`);
  const lines = all.slice(start, endIndex + 1).map((l) => {
    if (!l.startsWith('mm ')) throw new Error(`mm dump ${seq}: a foreign line inside the dump: "${l}"`);
    return l.slice(3);
  });
  const count = Number(/lines=(\d+)/.exec(lines[lines.length - 1])?.[1]);
  if (count !== lines.length) throw new Error(`mm dump ${seq}: the end line says ${count} lines, there are ${lines.length}`);
  let kernel = '';
  let variant = '';
  let paging: MmDump['paging'] = 'x86-32';
  let cr3 = 0n;
  let ramBytes = 0;
  let currentPid = 0;
  const processes: MmDumpProcess[] = [];
  const allocators: { name: string; shape: string; unitBytes: number; first: number; count: number; frames: FrameRun<FrameAllocState>[]; counters: Record<string, number>; freeByOrder?: number[]; calls: Record<string, number> }[] = [];
  const heaps: Record<string, MmDumpHeapBlock[]> = {};
  const planted: MmDumpPlanted[] = [];
  const allocator = (name: string, line: string): (typeof allocators)[number] => {
    const a = allocators.find((x) => x.name === name);
    if (!a) throw new Error(`mm dump ${seq}: "${line}" names allocator ${name} before its allocator line`);
    return a;
  };
  for (const line of lines) {
    const w = line.split(' ');
    switch (w[0]) {
      case 'begin':
        kernel = keyed(w[2], 'kernel', line);
        variant = keyed(w[3], 'variant', line);
        break;
      case 'paging':
        if (w[1] !== 'x86-32' && w[1] !== 'pae' && w[1] !== 'x86-64') throw new Error(`mm dump ${seq}: unknown paging "${w[1]}"`);
        paging = w[1];
        cr3 = hex(keyed(w[2], 'cr3', line), line);
        ramBytes = Number(hex(keyed(w[3], 'ram', line), line));
        break;
      case 'current':
        currentPid = dec(w[1], line);
        break;
      case 'process':
        processes.push({ pid: dec(w[1], line), name: w[2], state: w[3], directory: hex(keyed(w[4], 'dir', line), line), address: hex(keyed(w[5], 'struct', line), line) });
        break;
      case 'allocator':
        allocators.push({ name: w[1], shape: w[2], unitBytes: dec(keyed(w[3], 'unit', line), line), first: dec(keyed(w[4], 'first', line), line), count: dec(keyed(w[5], 'count', line), line), frames: [], counters: {}, calls: {} });
        break;
      case 'frames': {
        const state = w[4];
        if (state !== 'free' && state !== 'used' && state !== 'reserved') throw new Error(`mm dump ${seq}: unknown frame state in "${line}"`);
        allocator(w[1], line).frames.push([dec(w[2], line), dec(w[3], line), state]);
        break;
      }
      case 'counter':
        allocator(w[1], line).counters[w[2]] = dec(w[3], line);
        break;
      case 'calls': {
        const a = allocator(w[1], line);
        for (const kv of w.slice(2)) {
          const [k, v] = kv.split('=');
          a.calls[k] = dec(v ?? '', line);
        }
        break;
      }
      case 'order': {
        const a = allocator(w[1], line);
        (a.freeByOrder ??= [])[dec(w[2], line)] = dec(w[3], line);
        break;
      }
      case 'heap':
        (heaps[w[1]] ??= []).push({ address: hex(w[2], line), size: dec(w[3], line), used: w[4] === 'used' });
        break;
      case 'planted': {
        const values: Record<string, bigint> = {};
        for (const kv of w.slice(2)) {
          const [k, v] = kv.split('=');
          values[k] = hex(v, line);
        }
        planted.push({ kind: w[1], values });
        break;
      }
      case 'end':
        break;
      default:
        throw new Error(`mm dump ${seq}: unknown line "${line}"`);
    }
  }
  for (const a of allocators) {
    let next = a.first;
    for (const [first, n] of a.frames) {
      if (first !== next) throw new Error(`mm dump ${seq}: allocator ${a.name}'s runs skip or overlap at frame ${first} (expected ${next})`);
      next = first + n;
    }
    if (next !== a.first + a.count) throw new Error(`mm dump ${seq}: allocator ${a.name}'s runs end at ${next}, it covers ${a.first + a.count}`);
  }
  return { seq, kernel, variant, paging, cr3, ramBytes, currentPid, processes, allocators, heaps, planted, lines };
}

export interface MmBootOptions {
  /** Run to this checkpoint (1-based). 0: leave the guest paused at reset with no gdb client. Default 1. */
  readonly checkpoint?: number;
  /** Time allowed to reach each checkpoint. Default 60 s. */
  readonly timeoutMs?: number;
  /** Arguments appended to QEMU's. */
  readonly extraArgs?: readonly string[];
}

/** A running test kernel, stopped at a checkpoint (or at reset with checkpoint 0). */
export interface MmKernelRun {
  readonly variant: MmVariant;
  readonly elf: string;
  readonly machine: MmMachine;
  readonly qemu: QemuInstance;
  readonly qmp: QmpClient;
  /** The gdbstub client holding the mm_checkpoint breakpoint (undefined with checkpoint 0 or after disconnectGdb). */
  readonly rsp: RspClient | undefined;
  readonly gdb: HostPort;
  readonly qmpAddress: HostPort;
  /** The guest RAM file (offset = physical address below 4 GiB). */
  readonly ramPath: string;
  /** Reads guest-physical memory from the RAM file. */
  readonly read: PhysicalBytesReader;
  /** Virtual address of mm_checkpoint (exact). */
  readonly checkpointAddress: bigint;
  /** The checkpoint it is stopped at (0: not started). */
  readonly checkpoint: number;
  /** The kernel's dump of that checkpoint. */
  readonly dump: MmDump | undefined;
  /** Exact paging registers from the gdbstub. */
  registers(): Promise<PagingRegisters>;
  /** Continues to checkpoint n (> the current one) and returns its dump. */
  runToCheckpoint(n: number): Promise<MmDump>;
  /** Removes the breakpoint and closes the gdbstub connection, leaving the guest stopped (another client may connect). */
  disconnectGdb(): Promise<void>;
  /** Kills QEMU (the RAM file goes with it). */
  close(): Promise<void>;
}

class Run implements MmKernelRun {
  checkpoint = 0;
  dump: MmDump | undefined;
  rsp: RspClient | undefined;
  private readonly fd: number;

  constructor(
    readonly variant: MmVariant,
    readonly elf: string,
    readonly machine: MmMachine,
    readonly qemu: QemuInstance,
    readonly qmp: QmpClient,
    readonly checkpointAddress: bigint,
    private readonly timeoutMs: number,
  ) {
    this.fd = fs.openSync(qemu.ramPath as string, 'r');
  }

  get gdb(): HostPort {
    return this.qemu.gdb;
  }
  get qmpAddress(): HostPort {
    return this.qemu.qmp;
  }
  get ramPath(): string {
    return this.qemu.ramPath as string;
  }

  read: PhysicalBytesReader = async (physical, length) => {
    const b = Buffer.alloc(length);
    if (physical + BigInt(length) <= BigInt(this.qemu.memoryBytes)) fs.readSync(this.fd, b, 0, length, Number(physical));
    return b;
  };

  async registers(): Promise<PagingRegisters> {
    const rsp = this.requireRsp();
    const r = await rsp.readRegisters();
    return { cr0: r.big('cr0'), cr3: r.big('cr3'), cr4: r.big('cr4'), efer: r.names.includes('efer') ? r.big('efer') : 0n };
  }

  private requireRsp(): RspClient {
    if (!this.rsp) throw new Error(`${mmVariantId(this.variant)}: no gdbstub client (checkpoint 0, or disconnected)`);
    return this.rsp;
  }

  async runToCheckpoint(n: number): Promise<MmDump> {
    const total = mmKernel(this.variant.kernel).checkpoints;
    if (!Number.isInteger(n) || n <= this.checkpoint || n > total) throw new Error(`${mmVariantId(this.variant)}: checkpoint ${n} is not after ${this.checkpoint} and within 1..${total}`);
    if (!this.rsp) {
      this.rsp = await RspClient.connect(this.qemu.gdb, { timeoutMs: 10_000 });
      await this.rsp.insertBreakpoint('software', Number(BigInt.asIntN(64, this.checkpointAddress)));
    }
    const rsp = this.rsp;
    const address = Number(BigInt.asIntN(64, this.checkpointAddress));
    while (this.checkpoint < n) {
      if (this.checkpoint > 0) {
        // Resuming on the breakpoint would stop there again: step over it first.
        await rsp.removeBreakpoint('software', address);
        await rsp.step(this.timeoutMs);
        await rsp.insertBreakpoint('software', address);
      }
      await rsp.continue();
      await rsp.waitForStop(this.timeoutMs);
      const regs = await rsp.readRegisters();
      const pc = this.machine.arch === 'x86-64' ? regs.big('rip') : regs.big('eip');
      if (BigInt.asUintN(64, pc) !== BigInt.asUintN(64, this.checkpointAddress)) throw new Error(`${mmVariantId(this.variant)} stopped at 0x${pc.toString(16)}, not at mm_checkpoint`);
      const seq = this.machine.arch === 'x86-64' ? Number(regs.big('rdi') & 0xffffffffn) : (await rsp.readMemory(regs.value('esp') + 4, 4)).readUInt32LE(0);
      if (seq !== this.checkpoint + 1) throw new Error(`${mmVariantId(this.variant)} reached checkpoint ${seq}, expected ${this.checkpoint + 1}`);
      this.checkpoint = seq;
    }
    const text = await this.qemu.waitForSerial(new RegExp(`^mm end ${n} `, 'm'), 10_000);
    this.dump = parseMmDump(text, n);
    return this.dump;
  }

  async disconnectGdb(): Promise<void> {
    const rsp = this.rsp;
    this.rsp = undefined;
    if (rsp) await rsp.disconnect();
  }

  async close(): Promise<void> {
    this.rsp?.close();
    this.qmp.close();
    this.qemu.kill('SIGKILL');
    await this.qemu.exited;
    fs.closeSync(this.fd);
  }
}

/** Builds (cached) and boots a variant, runs it to `options.checkpoint` (default 1). */
export async function bootMmKernel(variant: MmVariant, options: MmBootOptions = {}): Promise<MmKernelRun> {
  const elf = buildMmKernel(variant);
  const machine = mmMachine(variant.kernel);
  const symbol = new ElfFile(fs.readFileSync(elf)).symbolByName('mm_checkpoint');
  if (!symbol) throw new Error(`${elf} has no mm_checkpoint`);
  const qemu = killAtExit(await launchQemu({
    kernel: elf, memoryMiB: machine.memoryMiB, qemuBinary: machine.qemuBinary, ...(machine.cpu ? { cpu: machine.cpu } : {}),
    sharedRam: true, extraArgs: ['-accel', 'tcg,thread=single', ...(options.extraArgs ?? [])],
  }));
  let run: Run | undefined;
  try {
    const qmp = await QmpClient.connect(qemu.qmp);
    run = new Run(variant, elf, machine, qemu, qmp, BigInt.asUintN(64, BigInt(symbol.value)), options.timeoutMs ?? 60_000);
    const n = options.checkpoint ?? 1;
    if (n > 0) await run.runToCheckpoint(n);
    return run;
  } catch (e) {
    if (run) await run.close();
    else {
      qemu.kill('SIGKILL');
      await qemu.exited;
    }
    throw e;
  }
}
