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
  private registerCache: Map<string, number> | undefined;
  private stackCache: Promise<UnwoundStackFrame[]> | undefined;
  private readonly memoryCache = new Map<number, Buffer>();

  constructor(
    private readonly symbols: DebugSymbols,
    private readonly codeMap: CodeMap,
    private readonly rsp: RspClient,
    private readonly bridge: QemuSession,
  ) {}

  /** Drops everything valid for one stop only (before any resume). */
  dropStopCaches(): void {
    this.registerCache = undefined;
    this.stackCache = undefined;
    this.memoryCache.clear();
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
  pagingOn(): boolean {
    const cr0 = this.registerCache?.get('cr0');
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
  async registers(): Promise<Map<string, number>> {
    if (this.registerCache) return this.registerCache;
    const values = await this.rsp.readRegisters();
    const map = new Map<string, number>();
    for (const name of values.names) {
      const bytes = values.bytes(name);
      if (bytes && bytes.length <= 4) map.set(name.toLowerCase(), values.value(name));
    }
    this.registerCache = map;
    return map;
  }

  /** Frames of the stopped guest, innermost first (cached until the guest runs). */
  stackTrace(maxFrames = 64): Promise<UnwoundStackFrame[]> {
    if (!this.stackCache || maxFrames > 64) {
      const frames = (async () => unwindStack(this.symbols, this.codeMap, await this.registers(), this, { pagingOn: this.pagingOn(), maxFrames: Math.max(maxFrames, 64) }))();
      this.stackCache = frames;
      frames.catch(() => {
        if (this.stackCache === frames) this.stackCache = undefined;
      });
    }
    return this.stackCache.then((f) => f.slice(0, maxFrames));
  }

  /** The stack unwound from `registers` instead of the live ones (an exception's faulting frame). */
  unwindFrom(registers: ReadonlyMap<string, number>, maxFrames: number): Promise<UnwoundStackFrame[]> {
    return unwindStack(this.symbols, this.codeMap, registers, this, { pagingOn: this.pagingOn(), maxFrames });
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
  async readMemory(address: number, length: number): Promise<Buffer> {
    if (length <= 0) return Buffer.alloc(0);
    const physical = this.pagingOn() ? address : this.symbols.virtualToLoad(address) ?? address;
    const first = Math.floor(physical / BLOCK);
    const last = Math.floor((physical + length - 1) / BLOCK);
    if (last - first > 64) return this.rsp.withAddressMode(false, () => this.rsp.readMemory(physical, length, true));
    let block = first;
    while (block <= last) {
      if (this.memoryCache.has(block)) {
        block++;
        continue;
      }
      let end = block;
      while (end + 1 <= last && !this.memoryCache.has(end + 1) && end - block < 7) end++;
      try {
        const data = await this.rsp.withAddressMode(false, () => this.rsp.readMemory(block * BLOCK, (end - block + 1) * BLOCK));
        for (let b = block; b <= end; b++) this.memoryCache.set(b, data.subarray((b - block) * BLOCK, (b - block + 1) * BLOCK));
      } catch (e) {
        if (e instanceof BridgeError && e.code === 'RSP_COMMAND_FAILED') {
          // Part of the range may be mapped: read exactly what was asked instead.
          return this.rsp.withAddressMode(false, () => this.rsp.readMemory(physical, length)).catch(() => {
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
      const b = this.memoryCache.get(Math.floor(a / BLOCK)) as Buffer;
      const inBlock = a % BLOCK;
      const n = Math.min(BLOCK - inBlock, length - off);
      b.copy(out, off, inBlock, inBlock + n);
      off += n;
    }
    return out;
  }

  async writeMemory(address: number, data: Uint8Array): Promise<void> {
    const physical = this.pagingOn() ? address : this.symbols.virtualToLoad(address) ?? address;
    await this.rsp.withAddressMode(false, () => this.rsp.writeMemory(physical, data));
    this.memoryCache.clear();
    this.stackCache = undefined;
    this.bridge.memory.invalidate();
  }

  async readRegisters(): Promise<ReadonlyMap<string, number>> {
    return this.registers();
  }

  async writeRegister(name: string, value: number): Promise<void> {
    await this.rsp.writeRegister(name, value >>> 0);
    this.registerCache = undefined;
    this.stackCache = undefined;
  }
}
