// Memory and register access to the stopped guest for the runtime: registers read once per stop
// (`g`), guest-virtual memory through the one page walker and the session's physical memory (its
// per-stop cache), the unwound stack cached per stop, and whether paging is on. Every cache is dropped when the guest resumes; nothing here
// runs the guest. It does not check the run state: the stepping engine reads between its own
// steps, and the Target checks that a user's request comes while the guest is stopped.

import { BridgeError, QemuSession, RspClient } from '../../../qemu-bridge/src';
import { DebugSymbols } from '../symbols';
import { TargetAccess } from '../inspect/target-access';
import { CodeMap } from './code-map';
import { SessionError } from './errors';
import { classifyInstruction, ClassifiedInstruction } from './instruction-kind';
import { CodeSegmentBits, CpuMode, cpuModeOf, LOW_HALVES, modeNeedsDescriptor, parseCodeSegmentBits, RegisterSet, registerSetOf, symbolsAddressWidth } from './cpu-mode';
import { AddressWidth, addressToBigInt, formatAddress } from '../../../qemu-bridge/src/address';
import { PhysicalPiece, physicalPieces } from '../../../qemu-bridge/src/page-walker';
import { TableCache } from '../../../qemu-bridge/src/paging/page-table-walk';
import { PagingModel, pagingModel } from '../../../qemu-bridge/src/paging/paging-modes';
import { unwindStack, UnwoundStackFrame } from './stack-unwinder';

const CR0_PG = 0x80000000;
const LOW_32 = 0xffffffffn;

export class GuestAccess implements TargetAccess {
  /** True once a stop saw CR0.PG set (the pre-paging breakpoint twins are retired then). */
  pagingSeen = false;
  /** More than one vCPU: every read names its thread (`Hg`). Set once the thread list is known. */
  multipleThreads = false;
  /** The vCPU that reads and writes go to unless they name one: the user's selection, or the stepped thread. */
  private thread = 1;
  /** Per-stop caches, one set per vCPU (each has its own registers and address space). */
  private readonly caches = new Map<number, ThreadCaches>();


  constructor(
    private readonly symbols: DebugSymbols,
    private readonly codeMap: CodeMap,
    private readonly rsp: RspClient,
    private readonly bridge: QemuSession,
  ) {
    this.addressWidth = symbolsAddressWidth(symbols);
  }

  /** Width of the kernel's virtual addresses (its ELF class). */
  readonly addressWidth: AddressWidth;

  /** Drops everything valid for one stop only (before any resume). */
  dropStopCaches(): void {
    this.caches.clear();
  }

  /** The vCPU that reads go to when they name none. */
  get selectedThread(): number {
    return this.thread;
  }

  /** Directs later reads and writes to vCPU `thread` (its registers, its CR3 for virtual addresses). */
  selectThread(thread: number): void {
    this.thread = thread;
  }

  private cacheOf(thread: number): ThreadCaches {
    let c = this.caches.get(thread);
    if (!c) this.caches.set(thread, (c = {}));
    return c;
  }

  /** Runs one gdbstub exchange on vCPU `thread` (`Hg` first on a multi-vCPU guest). */
  private on<T>(thread: number, fn: () => Promise<T>): Promise<T> {
    return this.multipleThreads ? this.rsp.onThread(thread, fn) : fn();
  }

  /** Reads and writes bound to vCPU `thread` (what the unwinder walks another thread's stack with). */
  private viewOf(thread: number): TargetAccess {
    return {
      readMemory: (address, length) => this.readMemoryOf(thread, address, length),
      writeMemory: (address, data) => this.writeMemoryOf(thread, address, data),
      readRegisters: () => this.registersOf(thread),
      writeRegister: (name, value) => this.writeRegisterOf(thread, name, value),
    };
  }

  /** Forgets that paging was seen (after a reset). */
  resetPaging(): void {
    this.pagingSeen = false;

  }

  /** At every stop: returns true when this stop is the first with paging on. */
  async notePaging(): Promise<boolean> {
    if (this.pagingSeen) return false;
    const cr0 = (await this.registers()).get('cr0') ?? 0;
    if ((cr0 & CR0_PG) === 0) return false;
    this.pagingSeen = true;
    return true;
  }

  /** True when the current stop (else the last one seen) has CR0.PG set. */
  pagingOn(thread = this.thread): boolean {
    const cr0 = this.caches.get(thread)?.read?.numbers.get('cr0');
    return cr0 === undefined ? this.pagingSeen : (cr0 & CR0_PG) !== 0;
  }

  async pc(): Promise<number> {
    return this.register((await this.registerSet()).pc);
  }

  async register(name: string): Promise<number> {
    const v = (await this.registers()).get(name);
    if (v === undefined) throw new SessionError('NO_REGISTER', `The gdbstub reports no register ${name}; attach to qemu-system-i386 or qemu-system-x86_64.`);
    return v;
  }

  /**
   * All registers of at most 64 bits, by lower-case name, read once per stop, as numbers: a
   * 64-bit register holds its signed 64-bit value (the address rule: exact for addresses, rounded
   * beyond ±2^53, so arbitrary data must be read with exactRegisters); registers of 32 bits or
   * fewer their unsigned value. On x86-64 the 32-bit names (eax..edi, esp, ebp, eip) are the low
   * halves, as gdb shows them.
   */
  registers(): Promise<Map<string, number>> {
    return this.registersOf(this.thread);
  }

  /** The registers of vCPU `thread`, read once per stop. */
  async registersOf(thread: number): Promise<Map<string, number>> {
    return (await this.readAll(thread)).numbers;
  }

  /** The registers of the current stop with their exact unsigned values (64-bit data does not fit a number). */
  async exactRegisters(thread = this.thread): Promise<ReadonlyMap<string, bigint>> {
    return (await this.readAll(thread)).exact;
  }

  /** The CPU mode at the current stop (real, 32-bit protected, 64-bit long mode). */
  async cpuMode(thread = this.thread): Promise<CpuMode> {
    return (await this.readAll(thread)).mode;
  }

  /** The register roles (pc, sp, fp, DWARF numbering) of the CPU mode at the current stop. */
  async registerSet(thread = this.thread): Promise<RegisterSet> {
    return registerSetOf(await this.cpuMode(thread));
  }

  /** The register set of the last stop read, without reading (32-bit protected mode before any read). */
  registerSetNow(thread = this.thread): RegisterSet {
    return registerSetOf(this.caches.get(thread)?.read?.mode ?? 'protected32');
  }

  /** `0x` and 8 or 16 hex digits: an address as the kernel's address width prints it. */
  formatAddress(address: number): string {
    return formatAddress(address, this.addressWidth);
  }

  private async readAll(thread: number): Promise<RegisterRead> {
    const cache = this.cacheOf(thread);
    if (cache.read) return cache.read;
    const values = await this.on(thread, () => this.rsp.readRegisters());
    const numbers = new Map<string, number>();
    const exact = new Map<string, bigint>();
    for (const name of values.names) {
      const bytes = values.bytes(name);
      if (!bytes || bytes.length > 8) continue;
      const v = values.big(name);
      const lower = name.toLowerCase();
      exact.set(lower, v);
      numbers.set(lower, bytes.length === 8 ? Number(BigInt.asIntN(64, v)) : Number(v));
    }
    if (exact.has('rip')) {
      for (const [low, full] of LOW_HALVES) {
        const v = exact.get(full);
        if (v === undefined || exact.has(low)) continue;
        exact.set(low, v & LOW_32);
        numbers.set(low, Number(v & LOW_32));
      }
    }
    const read: RegisterRead = { numbers, exact, mode: cpuModeOf(exact, await this.codeSegmentOf(thread, exact)) };
    cache.read = read;
    return read;
  }

  /**
   * The CS descriptor's L and D bits of vCPU `thread` at this stop (QMP `info registers`), on an
   * x86-64 target in protected or long mode; undefined on i386 targets (their kernels run 32-bit
   * code segments) and without QMP. Read at every such stop: the same selector means another
   * descriptor after an lgdt (QEMU's multiboot loader and many kernels both use 0x08).
   */
  private async codeSegmentOf(thread: number, exact: ReadonlyMap<string, bigint>): Promise<CodeSegmentBits | undefined> {
    const qmp = this.bridge.qmp;
    if (!qmp || !exact.has('rip') || !modeNeedsDescriptor(exact)) return undefined;
    try {
      const text = await qmp.execute('human-monitor-command', { 'command-line': 'info registers', 'cpu-index': thread - 1 });
      return typeof text === 'string' ? parseCodeSegmentBits(text) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Frames of the stopped guest, innermost first (cached until the guest runs). */
  stackTrace(maxFrames = 64, thread = this.thread): Promise<UnwoundStackFrame[]> {
    const cache = this.cacheOf(thread);
    if (!cache.stack || maxFrames > 64) {
      const frames = (async () => {
        const registers = await this.registersOf(thread);
        const registerSet = await this.registerSet(thread);
        return unwindStack(this.symbols, this.codeMap, registers, this.viewOf(thread), { pagingOn: this.pagingOn(thread), maxFrames: Math.max(maxFrames, 64), registerSet, liveExact: (await this.readAll(thread)).exact });
      })();
      cache.stack = frames;
      frames.catch(() => {
        if (cache.stack === frames) cache.stack = undefined;
      });
    }
    return cache.stack.then((f) => f.slice(0, maxFrames));
  }

  /** The stack unwound from `registers` instead of the live ones (an exception's faulting frame). */
  async unwindFrom(registers: ReadonlyMap<string, number>, maxFrames: number, thread = this.thread): Promise<UnwoundStackFrame[]> {
    return unwindStack(this.symbols, this.codeMap, registers, this.viewOf(thread), { pagingOn: this.pagingOn(thread), maxFrames, registerSet: await this.registerSet(thread) });
  }

  /** Frame 0 unwound by one step (its CFA and its caller's registers), without the whole stack. */
  async topFrame(): Promise<UnwoundStackFrame | undefined> {
    const frames = await unwindStack(this.symbols, this.codeMap, await this.registers(), this, { pagingOn: this.pagingOn(), maxFrames: 1, registerSet: await this.registerSet() });
    return frames[0];
  }

  /** The instruction at `pc`, decoded from the ELF image when it holds that code, else from memory. */
  async instructionAt(pc: number): Promise<ClassifiedInstruction> {
    const sym = this.codeMap.symbolAddress(pc, this.pagingOn());
    let bytes: Uint8Array = this.codeMap.codeBytes(sym, 16) ?? Buffer.alloc(0);
    if (bytes.length === 0) bytes = await this.readMemory(pc, 16).catch(() => Buffer.alloc(0));
    if (bytes.length === 0) return { address: pc, length: 1, kind: 'invalid' };
    return classifyInstruction(bytes, pc, (await this.registerSet()).bitness, this.addressWidth);
  }

  // ---- TargetAccess: memory and registers of the stopped guest (virtual addresses) ----

  /**
   * Reads guest memory at a virtual address through the gdbstub, in 256-byte blocks cached until
   * the guest runs. While paging is off, addresses of the kernel image read its load addresses.
   */
  readMemory(address: number, length: number): Promise<Buffer> {
    return this.readMemoryOf(this.thread, address, length);
  }

  /**
   * Reads guest-virtual memory of vCPU `thread`: translated by the one page walker through that
   * vCPU's CR3 in its paging mode (tables read whole, once per stop), then read physically through
   * the session's fastest tier with its per-stop page cache (qemu-bridge GuestMemory). Before paging
   * is on, a linked address is read at its load address.
   */
  private async readMemoryOf(thread: number, address: number, length: number): Promise<Buffer> {
    if (length <= 0) return Buffer.alloc(0);
    const memory = this.bridge.memory;
    if (!this.pagingOn(thread)) return this.readPhysical(this.symbols.virtualToLoad(address) ?? address, length, address);
    const paging = await this.pagingOf(thread);
    let pieces: PhysicalPiece[];
    try {
      pieces = await physicalPieces(paging.model, paging.cr3, addressToBigInt(address, this.addressWidth), length, paging.tables);
    } catch (e) {
      if (e instanceof BridgeError && (e.code === 'PAGE_NOT_PRESENT' || e.code === 'INVALID_RANGE')) {
        throw new SessionError('MEMORY_UNREADABLE', `Guest memory at ${this.formatAddress(address)} (${length} bytes) cannot be read; it is not mapped in the current address space.`);
      }
      throw e;
    }
    if (pieces.length === 1) return this.readPhysical(pieces[0].physical, length, address);
    const out = Buffer.allocUnsafe(length);
    for (const p of pieces) await memory.readPhysInto(p.physical, out, p.offset, p.length);
    return out;
  }

  /** Physical reads for a virtual read at `address` (named in the error when the memory is not there). */
  private async readPhysical(physical: number, length: number, address: number): Promise<Buffer> {
    try {
      return await this.bridge.memory.readPhys(physical, length);
    } catch (e) {
      if (e instanceof BridgeError && e.code !== 'GUEST_RUNNING') {
        throw new SessionError('MEMORY_UNREADABLE', `Guest memory at ${this.formatAddress(address)} (${length} bytes) cannot be read (${e.message})`);
      }
      throw e;
    }
  }

  /** The paging model, CR3 and page-table cache of vCPU `thread` at this stop. */
  private async pagingOf(thread: number): Promise<StopPaging> {
    const cache = this.cacheOf(thread);
    if (!cache.paging) {
      const r = (await this.readAll(thread)).exact;
      const reg = (name: string): bigint => BigInt.asUintN(64, r.get(name) ?? 0n);
      const memory = this.bridge.memory;
      cache.paging = {
        model: pagingModel({ cr0: reg('cr0'), cr4: reg('cr4'), efer: reg('efer') }),
        cr3: reg('cr3'),
        tables: new TableCache((a, n) => memory.readPhys(Number(a), n)),
      };
    }
    return cache.paging;
  }

  writeMemory(address: number, data: Uint8Array): Promise<void> {
    return this.writeMemoryOf(this.thread, address, data);
  }

  private async writeMemoryOf(thread: number, address: number, data: Uint8Array): Promise<void> {
    const physical = this.pagingOn(thread) ? address : this.symbols.virtualToLoad(address) ?? address;
    await this.on(thread, () => this.rsp.withAddressMode(false, () => this.rsp.writeMemory(physical, data)));
    // Every vCPU may see the memory written (page tables too): all cached memory, tables and stacks go.
    for (const c of this.caches.values()) {
      c.paging = undefined;
      c.stack = undefined;
    }
    this.bridge.memory.invalidate();
  }

  async readRegisters(): Promise<ReadonlyMap<string, number>> {
    return this.registers();
  }

  writeRegister(name: string, value: number | bigint): Promise<void> {
    return this.writeRegisterOf(this.thread, name, value);
  }

  private async writeRegisterOf(thread: number, name: string, value: number | bigint): Promise<void> {
    // On x86-64 a 32-bit name is the low half of its 64-bit register: the upper half stays.
    const full = LOW_HALVES.find(([low]) => low === name)?.[1];
    const exact = full ? (await this.readAll(thread)).exact : undefined;
    const old = full ? exact?.get(full) : undefined;
    const [register, v] = full && old !== undefined && exact?.has('rip') ? [full, (old & ~LOW_32) | (BigInt(value) & LOW_32)] : [name, BigInt(value)];
    await this.on(thread, () => this.rsp.writeRegister(register, v));
    const cache = this.cacheOf(thread);
    cache.read = undefined;
    cache.stack = undefined;
  }
}

/** What one vCPU's stop caches hold. */
interface ThreadCaches {
  read?: RegisterRead;
  stack?: Promise<UnwoundStackFrame[]>;
  paging?: StopPaging;
}

/** What virtual reads of one vCPU walk with at one stop. */
interface StopPaging {
  readonly model: PagingModel;
  readonly cr3: bigint;
  readonly tables: TableCache;
}

/** One `g` read: the registers as numbers and exactly, and the CPU mode they give. */
interface RegisterRead {
  numbers: Map<string, number>;
  exact: Map<string, bigint>;
  mode: CpuMode;
}
