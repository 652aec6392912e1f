// Stack unwinding for a stopped i386 or x86-64 guest: CFI rows from .debug_frame/.eh_frame where
// the code has them, the frame-pointer chain (push %ebp; mov %esp,%ebp, or the rbp chain on
// x86-64) where it does not, and interrupt frames laid down by the guest's i386 entry stub. The
// register set (cpu-mode.ts) names the pc, stack and frame pointers and the DWARF numbering of
// the CPU's mode. Reads memory and registers only through the interface it is given; knows
// nothing of DAP or QEMU.

import { DebugSymbols, unwindFrame } from '../symbols';
import { readAddress, wrapAddress } from '../../../qemu-bridge/src/address';
import { CodeMap } from './code-map';
import { I386_REGISTERS, RegisterSet } from './cpu-mode';

const CPU_WIDE = I386_REGISTERS.cpuWide;

export interface StackMemory {
  readMemory(address: number, length: number): Promise<Buffer>;
}

/**
 * An interrupt entry stub and the layout of the frame it builds. `trapFrameArgument` says the stub
 * passes a pointer to the frame as the only argument of the C handler it calls.
 */
export interface InterruptStubLayout {
  /** ELF symbol names of the stub's code (the common part every vector jumps to). */
  symbols: readonly string[];
  /** Word offsets inside the trap frame. */
  words: { readonly [name: string]: number };
  /** Words in the frame when the CPU did not change privilege (no user esp/ss). */
  kernelWords: number;
}

/**
 * The guest's boot/isr.S: the vector stub pushes an error code (or 0) and the vector, then
 * common_stub does pusha and pushes ds, es, fs, gs, then the frame's address, and calls
 * interrupt_dispatch(frame).
 */
export const GUEST_INTERRUPT_STUB: InterruptStubLayout = {
  symbols: ['common_stub', 'interrupt_return'],
  words: { gs: 0, fs: 1, es: 2, ds: 3, edi: 4, esi: 5, ebp: 6, ebx: 8, edx: 9, ecx: 10, eax: 11, vector: 12, error: 13, eip: 14, cs: 15, eflags: 16, useresp: 17, ss: 18 },
  kernelWords: 17,
};

export interface UnwoundStackFrame {
  index: number;
  /** The pc of the frame: eip for frame 0, the return address for callers. */
  pc: number;
  /** The virtual address the symbols know `pc` by (different from pc before paging is on). */
  symbolPc: number;
  /** Registers known in this frame, by lower-case name (the address rule: exact for addresses). */
  registers: Map<string, number>;
  /** The same registers with exact unsigned values (a callee-saved register may hold 64-bit data). */
  exactRegisters: Map<string, bigint>;
  /** The canonical frame address of this frame when known. */
  cfa?: number;
  /** How this frame's caller was found. */
  unwoundBy?: 'cfi' | 'frame-pointer' | 'interrupt-frame';
  /** Set on the frame of an interrupt entry stub: which vector interrupted its caller. */
  interrupt?: { vector: number; errorCode: number };
}

export interface UnwindOptions {
  maxFrames?: number;
  pagingOn: boolean;
  stubs?: readonly InterruptStubLayout[];
  /** The register roles of the CPU's mode (default i386). */
  registerSet?: RegisterSet;
  /** Frame 0's registers with exact values (else its numbers are taken as exact). */
  liveExact?: ReadonlyMap<string, bigint>;
}

/** The exact unsigned value of a register number (numbers of 64-bit registers are signed). */
const exactOf = (v: number): bigint => BigInt.asUintN(64, BigInt(v));

/** Exact values for `numbers`, taken from `exact` where it holds the same value. */
function exactFor(numbers: ReadonlyMap<string, number>, exact: ReadonlyMap<string, bigint> | undefined): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const [name, v] of numbers) {
    const e = exact?.get(name);
    // `e` is this register's value when the number is its (signed or unsigned) rounding.
    out.set(name, e !== undefined && (Number(BigInt.asIntN(64, e)) === v || Number(e) === v) ? BigInt.asUintN(64, e) : exactOf(v));
  }
  return out;
}

const word = (b: Buffer, i: number): number => b.readUInt32LE(i * 4);

/** Unwinds from the live registers of frame 0. Never throws: an unreadable frame ends the stack. */
export async function unwindStack(
  symbols: DebugSymbols,
  codeMap: CodeMap,
  liveRegisters: ReadonlyMap<string, number>,
  memory: StackMemory,
  options: UnwindOptions,
): Promise<UnwoundStackFrame[]> {
  const maxFrames = options.maxFrames ?? 64;
  const stubs = options.stubs ?? [GUEST_INTERRUPT_STUB];
  const stubRanges = stubs.flatMap((layout) => stubRange(symbols, layout));
  const frames: UnwoundStackFrame[] = [];
  const set = options.registerSet ?? I386_REGISTERS;
  const width = set.addressWidth;
  let regs = new Map(liveRegisters);
  let exact = exactFor(regs, options.liveExact);
  for (let index = 0; index < maxFrames; index++) {
    const pc = regs.get(set.pc);
    if (pc === undefined) break;
    const symbolPc = codeMap.symbolAddress(pc, options.pagingOn);
    const frame: UnwoundStackFrame = { index, pc, symbolPc, registers: regs, exactRegisters: exact };
    frames.push(frame);
    if (index > 0 && pc === 0) break;
    const lookup = index === 0 ? symbolPc : wrapAddress(symbolPc - 1, width);
    let caller: Map<string, number> | undefined;
    // Exact values CFI recovered for the caller (by name); the other registers carry over or are addresses.
    let callerExact: Map<string, bigint> | undefined;
    try {
      const stub = stubRanges.find((r) => lookup >= r.start && lookup < r.end);
      if (stub && index > 0 && set.wordSize === 4) {
        const result = await unwindInterruptFrame(regs, memory, stub.layout);
        if (result) {
          frame.interrupt = result.interrupt;
          frame.unwoundBy = 'interrupt-frame';
          // Interrupted user code the ELF does not contain (a separately linked user program, a
          // V86 task): no symbol describes its frames, so the stack ends at the interrupt, as gdb's does.
          const userPc = result.caller.get(set.pc);
          const foreign = result.fromUser && (result.v86 || userPc === undefined || !symbols.elf.segmentForVirtual(userPc));
          caller = foreign ? undefined : result.caller;
        }
      } else {
        const row = symbols.unwindRowAt(lookup);
        if (row) {
          const current = regs;
          const unwound = await unwindFrame(row, {
            addressSize: set.wordSize,
            readRegister: (n) => {
              const v = current.get(set.dwarfNames[n] ?? '');
              if (v === undefined) throw new Error(`register ${n} is not known in frame ${index}`);
              return v;
            },
            readMemory: (address, size) => memory.readMemory(address, size),
          }, set.dwarfNames.indexOf(set.sp));
          frame.cfa = wrapAddress(unwound.cfa, width);
          frame.unwoundBy = 'cfi';
          if (unwound.returnAddress !== undefined) {
            caller = callerRegisters(regs, set);
            callerExact = new Map([...exact].filter(([name]) => caller?.has(name)));
            for (const [n, v] of unwound.registers) {
              const name = set.dwarfNames[n];
              if (name) caller.set(name, wrapAddress(v, width));
            }
            for (const [n, v] of unwound.values ?? []) {
              const name = set.dwarfNames[n];
              if (name) callerExact.set(name, BigInt.asUintN(width, v));
            }
            caller.set(set.sp, wrapAddress(unwound.cfa, width));
            caller.set(set.pc, wrapAddress(unwound.returnAddress, width));
          }
        } else {
          const result = await unwindByFramePointer(symbols, regs, memory, index, lookup, set);
          if (result) {
            frame.cfa = result.cfa;
            frame.unwoundBy = 'frame-pointer';
            caller = result.caller;
          }
        }
      }
    } catch {
      caller = undefined;
    }
    if (!caller) break;
    const callerSp = caller.get(set.sp) ?? 0;
    const sp = regs.get(set.sp) ?? 0;
    // The stack grows down: a caller's frame must be above ours, except across an interrupt
    // from another stack (user mode), which the interrupt frame itself vouches for.
    if (frame.unwoundBy !== 'interrupt-frame' && callerSp <= sp) break;
    if ((caller.get(set.pc) ?? 0) === 0) break;
    regs = caller;
    exact = exactFor(regs, callerExact ?? new Map([...exact].filter(([name]) => caller?.has(name))));
  }
  return frames;
}

function stubRange(symbols: DebugSymbols, layout: InterruptStubLayout): { start: number; end: number; layout: InterruptStubLayout }[] {
  const addresses = layout.symbols.map((n) => symbols.elf.symbolByName(n)?.value).filter((v): v is number => v !== undefined);
  if (addresses.length === 0) return [];
  const start = Math.min(...addresses);
  // The stub's code runs from its first symbol to a little past its last (an iret or two).
  const end = Math.max(...addresses) + 16;
  return [{ start, end, layout }];
}

function callerRegisters(regs: ReadonlyMap<string, number>, set: RegisterSet): Map<string, number> {
  const caller = new Map<string, number>();
  for (const name of [...set.calleeSaved, ...set.cpuWide]) {
    const v = regs.get(name);
    if (v !== undefined) caller.set(name, v);
  }
  return caller;
}

/** EFLAGS.VM: the interrupt came from virtual-8086 mode. */
const EFLAGS_VM = 0x20000;

async function unwindInterruptFrame(
  regs: ReadonlyMap<string, number>,
  memory: StackMemory,
  layout: InterruptStubLayout,
): Promise<{ caller: Map<string, number>; interrupt: { vector: number; errorCode: number }; fromUser: boolean; v86: boolean } | undefined> {
  const sp = regs.get('esp');
  if (sp === undefined) return undefined;
  // After the call to the C handler returns, esp points at the handler's argument: the frame's address.
  const framePointer = word(await memory.readMemory(sp, 4), 0);
  if (framePointer !== sp + 4) return undefined;
  const words = layout.words;
  const count = Math.max(...Object.values(words)) + 1;
  const frame = await memory.readMemory(framePointer, count * 4);
  const caller = new Map<string, number>();
  for (const name of CPU_WIDE) {
    const v = regs.get(name);
    if (v !== undefined) caller.set(name, v);
  }
  for (const [name, i] of Object.entries(words)) {
    if (name === 'vector' || name === 'error' || name === 'useresp') continue;
    if (name === 'ss') continue;
    caller.set(name, word(frame, i));
  }
  const cs = word(frame, words.cs);
  const v86 = words.eflags !== undefined && (word(frame, words.eflags) & EFLAGS_VM) !== 0;
  const fromUser = (cs & 3) !== 0 || v86;
  caller.set('esp', fromUser ? word(frame, words.useresp) : (framePointer + layout.kernelWords * 4) >>> 0);
  if (fromUser) caller.set('ss', word(frame, words.ss));
  return { caller, interrupt: { vector: word(frame, words.vector), errorCode: word(frame, words.error) }, fromUser, v86 };
}

async function unwindByFramePointer(
  symbols: DebugSymbols,
  regs: ReadonlyMap<string, number>,
  memory: StackMemory,
  index: number,
  lookup: number,
  set: RegisterSet,
): Promise<{ caller: Map<string, number>; cfa: number } | undefined> {
  const sp = regs.get(set.sp);
  const bp = regs.get(set.fp);
  if (sp === undefined || bp === undefined) return undefined;
  const caller = callerRegisters(regs, set);
  const n = set.wordSize;
  const width = set.addressWidth;
  const at = (b: Buffer, i: number): number => readAddress(b, i * n, width);
  const start = symbols.functionAt(lookup)?.lowPc ?? symbols.elf.nearestSymbolBelow(lookup)?.value;
  if (index === 0 && start !== undefined && lookup === start) {
    // At the entry: nothing pushed yet.
    caller.set(set.pc, at(await memory.readMemory(sp, n), 0));
    caller.set(set.sp, wrapAddress(sp + n, width));
    return { caller, cfa: wrapAddress(sp + n, width) };
  }
  if (index === 0 && start !== undefined && lookup === start + 1) {
    // After push %ebp.
    const w = await memory.readMemory(sp, 2 * n);
    caller.set(set.fp, at(w, 0));
    caller.set(set.pc, at(w, 1));
    caller.set(set.sp, wrapAddress(sp + 2 * n, width));
    return { caller, cfa: wrapAddress(sp + 2 * n, width) };
  }
  if (bp === 0 || bp < sp) return undefined;
  const w = await memory.readMemory(bp, 2 * n);
  caller.set(set.fp, at(w, 0));
  caller.set(set.pc, at(w, 1));
  caller.set(set.sp, wrapAddress(bp + 2 * n, width));
  return { caller, cfa: wrapAddress(bp + 2 * n, width) };
}
