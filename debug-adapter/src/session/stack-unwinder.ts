// Stack unwinding for a stopped i386 guest: CFI rows from .debug_frame/.eh_frame where the code
// has them, the frame-pointer chain (push %ebp; mov %esp,%ebp) where it does not, and interrupt
// frames laid down by the guest's entry stub. Reads memory and registers only through the
// interface it is given; knows nothing of DAP or QEMU.

import { DebugSymbols, unwindFrame } from '../symbols';
import { CodeMap } from './code-map';

/** DWARF register numbers on i386 (System V psABI). */
const DWARF_NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip'] as const;

/** Registers a called function must preserve, so an unwound frame may show them. */
const CALLEE_SAVED = ['ebx', 'esi', 'edi', 'ebp'];
/** Registers that are the same in every frame of one CPU. */
const CPU_WIDE = ['cs', 'ss', 'ds', 'es', 'fs', 'gs', 'cr0', 'cr2', 'cr3', 'cr4', 'fs_base', 'gs_base', 'efer'];

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
  /** Registers known in this frame, by lower-case name. */
  registers: Map<string, number>;
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
  let regs = new Map(liveRegisters);
  for (let index = 0; index < maxFrames; index++) {
    const pc = regs.get('eip');
    if (pc === undefined) break;
    const symbolPc = codeMap.symbolAddress(pc, options.pagingOn);
    const frame: UnwoundStackFrame = { index, pc, symbolPc, registers: regs };
    frames.push(frame);
    if (index > 0 && pc === 0) break;
    const lookup = index === 0 ? symbolPc : (symbolPc - 1) >>> 0;
    let caller: Map<string, number> | undefined;
    try {
      const stub = stubRanges.find((r) => lookup >= r.start && lookup < r.end);
      if (stub && index > 0) {
        const result = await unwindInterruptFrame(regs, memory, stub.layout);
        if (result) {
          frame.interrupt = result.interrupt;
          frame.unwoundBy = 'interrupt-frame';
          caller = result.caller;
        }
      } else {
        const row = symbols.unwindRowAt(lookup);
        if (row) {
          const current = regs;
          const unwound = await unwindFrame(row, {
            addressSize: 4,
            readRegister: (n) => {
              const v = current.get(DWARF_NAMES[n] ?? '');
              if (v === undefined) throw new Error(`register ${n} is not known in frame ${index}`);
              return v;
            },
            readMemory: (address, size) => memory.readMemory(address, size),
          });
          frame.cfa = unwound.cfa;
          frame.unwoundBy = 'cfi';
          if (unwound.returnAddress !== undefined) {
            caller = callerRegisters(regs);
            for (const [n, v] of unwound.registers) {
              const name = DWARF_NAMES[n];
              if (name) caller.set(name, v >>> 0);
            }
            caller.set('esp', unwound.cfa >>> 0);
            caller.set('eip', unwound.returnAddress >>> 0);
          }
        } else {
          const result = await unwindByFramePointer(symbols, regs, memory, index, lookup);
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
    const callerSp = caller.get('esp') ?? 0;
    const sp = regs.get('esp') ?? 0;
    // The stack grows down: a caller's frame must be above ours, except across an interrupt
    // from another stack (user mode), which the interrupt frame itself vouches for.
    if (frame.unwoundBy !== 'interrupt-frame' && callerSp <= sp) break;
    if ((caller.get('eip') ?? 0) === 0) break;
    regs = caller;
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

function callerRegisters(regs: ReadonlyMap<string, number>): Map<string, number> {
  const caller = new Map<string, number>();
  for (const name of [...CALLEE_SAVED, ...CPU_WIDE]) {
    const v = regs.get(name);
    if (v !== undefined) caller.set(name, v);
  }
  return caller;
}

async function unwindInterruptFrame(
  regs: ReadonlyMap<string, number>,
  memory: StackMemory,
  layout: InterruptStubLayout,
): Promise<{ caller: Map<string, number>; interrupt: { vector: number; errorCode: number } } | undefined> {
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
  const fromUser = (cs & 3) !== 0;
  caller.set('esp', fromUser ? word(frame, words.useresp) : (framePointer + layout.kernelWords * 4) >>> 0);
  if (fromUser) caller.set('ss', word(frame, words.ss));
  return { caller, interrupt: { vector: word(frame, words.vector), errorCode: word(frame, words.error) } };
}

async function unwindByFramePointer(
  symbols: DebugSymbols,
  regs: ReadonlyMap<string, number>,
  memory: StackMemory,
  index: number,
  lookup: number,
): Promise<{ caller: Map<string, number>; cfa: number } | undefined> {
  const sp = regs.get('esp');
  const bp = regs.get('ebp');
  if (sp === undefined || bp === undefined) return undefined;
  const caller = callerRegisters(regs);
  const start = symbols.functionAt(lookup)?.lowPc ?? symbols.elf.nearestSymbolBelow(lookup)?.value;
  if (index === 0 && start !== undefined && lookup === start) {
    // At the entry: nothing pushed yet.
    caller.set('eip', word(await memory.readMemory(sp, 4), 0));
    caller.set('esp', sp + 4);
    return { caller, cfa: sp + 4 };
  }
  if (index === 0 && start !== undefined && lookup === start + 1) {
    // After push %ebp.
    const w = await memory.readMemory(sp, 8);
    caller.set('ebp', word(w, 0));
    caller.set('eip', word(w, 1));
    caller.set('esp', sp + 8);
    return { caller, cfa: sp + 8 };
  }
  if (bp === 0 || bp < sp) return undefined;
  const w = await memory.readMemory(bp, 8);
  caller.set('ebp', word(w, 0));
  caller.set('eip', word(w, 1));
  caller.set('esp', bp + 8);
  return { caller, cfa: bp + 8 };
}
