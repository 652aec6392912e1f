// Memory and register access to the stopped guest for the runtime: registers read once per stop
// (`g`), guest memory in 256-byte blocks cached until the guest runs, the unwound stack cached per
// stop, and whether paging is on. Every cache is dropped when the guest resumes; nothing here
// runs the guest. It does not check the run state: the stepping engine reads between its own
// steps, and the Target checks that a user's request comes while the guest is stopped.

import { BridgeError, QemuSession, RspClient } from '../../../qemu-bridge/src';
import { DebugSymbols } from '../symbols';
import { TargetAccess } from '../inspect/target-access';
import { CodeMap } from './code-map';
import { SessionError } from './errors';
import { classifyInstruction, ClassifiedInstruction } from './instruction-kind';
import { unwindStack, UnwoundStackFrame } from './stack-unwinder';

const CR0_PG = 0x80000000;
/** Memory blocks cached per stop. */
const BLOCK = 256;

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
  ) {}

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
    if (!c) this.caches.set(thread, (c = { memory: new Map() }));
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
    const cr0 = this.caches.get(thread)?.registers?.get('cr0');
    return cr0 === undefined ? this.pagingSeen : (cr0 & CR0_PG) !== 0;
  }

  async pc(): Promise<number> {
    return this.register('eip');
  }

  async register(name: string): Promise<number> {
    const v = (await this.registers()).get(name);
    if (v === undefined) throw new SessionError('NO_REGISTER', `The gdbstub reports no register ${name}; attach to qemu-system-i386, not qemu-system-x86_64.`);
    return v;
  }

  /** All registers of at most 32 bits, by lower-case name, read once per stop. */
  registers(): Promise<Map<string, number>> {
    return this.registersOf(this.thread);
  }

  /** The registers of vCPU `thread`, read once per stop. */
  async registersOf(thread: number): Promise<Map<string, number>> {
    const cache = this.cacheOf(thread);
    if (cache.registers) return cache.registers;
    const values = await this.on(thread, () => this.rsp.readRegisters());
    const map = new Map<string, number>();
    for (const name of values.names) {
      const bytes = values.bytes(name);
      if (bytes && bytes.length <= 4) map.set(name.toLowerCase(), values.value(name));
    }
    cache.registers = map;
    return map;
  }

  /** Frames of the stopped guest, innermost first (cached until the guest runs). */
  stackTrace(maxFrames = 64, thread = this.thread): Promise<UnwoundStackFrame[]> {
    const cache = this.cacheOf(thread);
    if (!cache.stack || maxFrames > 64) {
      const frames = (async () => {
        const registers = await this.registersOf(thread);
        return unwindStack(this.symbols, this.codeMap, registers, this.viewOf(thread), { pagingOn: this.pagingOn(thread), maxFrames: Math.max(maxFrames, 64) });
      })();
      cache.stack = frames;
      frames.catch(() => {
        if (cache.stack === frames) cache.stack = undefined;
      });
    }
    return cache.stack.then((f) => f.slice(0, maxFrames));
  }

  /** The stack unwound from `registers` instead of the live ones (an exception's faulting frame). */
  unwindFrom(registers: ReadonlyMap<string, number>, maxFrames: number, thread = this.thread): Promise<UnwoundStackFrame[]> {
    return unwindStack(this.symbols, this.codeMap, registers, this.viewOf(thread), { pagingOn: this.pagingOn(thread), maxFrames });
  }

  /** Frame 0 unwound by one step (its CFA and its caller's registers), without the whole stack. */
  async topFrame(): Promise<UnwoundStackFrame | undefined> {
    const frames = await unwindStack(this.symbols, this.codeMap, await this.registers(), this, { pagingOn: this.pagingOn(), maxFrames: 1 });
    return frames[0];
  }

  /** The instruction at `pc`, decoded from the ELF image when it holds that code, else from memory. */
  async instructionAt(pc: number): Promise<ClassifiedInstruction> {
    const sym = this.codeMap.symbolAddress(pc, this.pagingOn());
    let bytes: Uint8Array = this.codeMap.codeBytes(sym, 16) ?? Buffer.alloc(0);
    if (bytes.length === 0) bytes = await this.readMemory(pc, 16).catch(() => Buffer.alloc(0));
    if (bytes.length === 0) return { address: pc, length: 1, kind: 'invalid' };
    return classifyInstruction(bytes, pc);
  }

  // ---- TargetAccess: memory and registers of the stopped guest (virtual addresses) ----

  /**
   * Reads guest memory at a virtual address through the gdbstub, in 256-byte blocks cached until
   * the guest runs. While paging is off, addresses of the kernel image read its load addresses.
   */
  readMemory(address: number, length: number): Promise<Buffer> {
    return this.readMemoryOf(this.thread, address, length);
  }

  private async readMemoryOf(thread: number, address: number, length: number): Promise<Buffer> {
    if (length <= 0) return Buffer.alloc(0);
    const memoryCache = this.cacheOf(thread).memory;
    const physical = this.pagingOn(thread) ? address : this.symbols.virtualToLoad(address) ?? address;
    const first = Math.floor(physical / BLOCK);
    const last = Math.floor((physical + length - 1) / BLOCK);
    if (last - first > 64) return this.on(thread, () => this.rsp.withAddressMode(false, () => this.rsp.readMemory(physical, length, true)));
    let block = first;
    while (block <= last) {
      if (memoryCache.has(block)) {
        block++;
        continue;
      }
      let end = block;
      while (end + 1 <= last && !memoryCache.has(end + 1) && end - block < 7) end++;
      try {
        const from = block;
        const data = await this.on(thread, () => this.rsp.withAddressMode(false, () => this.rsp.readMemory(from * BLOCK, (end - from + 1) * BLOCK)));
        for (let b = block; b <= end; b++) memoryCache.set(b, data.subarray((b - block) * BLOCK, (b - block + 1) * BLOCK));
      } catch (e) {
        if (e instanceof BridgeError && e.code === 'RSP_COMMAND_FAILED') {
          // Part of the range may be mapped: read exactly what was asked instead.
          return this.on(thread, () => this.rsp.withAddressMode(false, () => this.rsp.readMemory(physical, length))).catch(() => {
            throw new SessionError('MEMORY_UNREADABLE', `Guest memory at 0x${(address >>> 0).toString(16)} (${length} bytes) cannot be read; it is not mapped in the current address space.`);
          });
        }
        throw e;
      }
      block = end + 1;
    }
    const out = Buffer.allocUnsafe(length);
    for (let off = 0; off < length;) {
      const a = physical + off;
      const b = memoryCache.get(Math.floor(a / BLOCK)) as Buffer;
      const inBlock = a % BLOCK;
      const n = Math.min(BLOCK - inBlock, length - off);
      b.copy(out, off, inBlock, inBlock + n);
      off += n;
    }
    return out;
  }

  writeMemory(address: number, data: Uint8Array): Promise<void> {
    return this.writeMemoryOf(this.thread, address, data);
  }

  private async writeMemoryOf(thread: number, address: number, data: Uint8Array): Promise<void> {
    const physical = this.pagingOn(thread) ? address : this.symbols.virtualToLoad(address) ?? address;
    await this.on(thread, () => this.rsp.withAddressMode(false, () => this.rsp.writeMemory(physical, data)));
    // Every vCPU may see the memory written: all cached memory and stacks go.
    for (const c of this.caches.values()) {
      c.memory.clear();
      c.stack = undefined;
    }
    this.bridge.memory.invalidate();
  }

  async readRegisters(): Promise<ReadonlyMap<string, number>> {
    return this.registers();
  }

  writeRegister(name: string, value: number): Promise<void> {
    return this.writeRegisterOf(this.thread, name, value);
  }

  private async writeRegisterOf(thread: number, name: string, value: number): Promise<void> {
    await this.on(thread, () => this.rsp.writeRegister(name, value >>> 0));
    const cache = this.cacheOf(thread);
    cache.registers = undefined;
    cache.stack = undefined;
  }
}

/** What one vCPU's stop caches hold. */
interface ThreadCaches {
  registers?: Map<string, number>;
  stack?: Promise<UnwoundStackFrame[]>;
  memory: Map<number, Buffer>;
}
