// The x86 CPU's current execution mode and the register names that go with it: which register is
// the pc (eip or rip), the stack and frame pointers, the DWARF register numbering the CFI uses,
// the callee-saved registers an unwound frame keeps, and the instruction bitness (16, 32, 64).
// Pure: register values in, a mode out.
//
// The mode comes from CR0.PE, EFER.LMA and the CS descriptor's L and D bits: real mode (16-bit)
// while PE is clear; under LMA, 64-bit long mode with CS.L set, else compatibility mode (32-bit,
// or 16-bit with CS.D clear); without LMA, 32-bit protected mode, or 16-bit with CS.D clear.
// QEMU's gdbstub reports no segment descriptors: they come from QMP's `info registers` (its CS
// line), and without them (no QMP) the mode is decided from CR0.PE and EFER.LMA alone.

import { AddressWidth } from '../../../qemu-bridge/src/address';

export type CpuMode = 'real16' | 'protected16' | 'protected32' | 'compat16' | 'compat32' | 'long64';

/** The registers that play each role in one mode. */
export interface RegisterSet {
  readonly mode: CpuMode;
  /** Instruction bitness for the decoder. */
  readonly bitness: 16 | 32 | 64;
  readonly pc: string;
  readonly sp: string;
  readonly fp: string;
  /** Bytes of a return address and of a pushed register. */
  readonly wordSize: 4 | 8;
  /** Width of the addresses the registers hold. */
  readonly addressWidth: AddressWidth;
  /** Register names by DWARF register number (System V psABI). */
  readonly dwarfNames: readonly string[];
  /** Registers a called function preserves (an unwound frame shows them). */
  readonly calleeSaved: readonly string[];
  /** Registers that are the same in every frame of one CPU. */
  readonly cpuWide: readonly string[];
}

const CPU_WIDE_32 = ['cs', 'ss', 'ds', 'es', 'fs', 'gs', 'cr0', 'cr2', 'cr3', 'cr4', 'fs_base', 'gs_base', 'efer'];

export const I386_REGISTERS: RegisterSet = {
  mode: 'protected32',
  bitness: 32,
  pc: 'eip',
  sp: 'esp',
  fp: 'ebp',
  wordSize: 4,
  addressWidth: 32,
  dwarfNames: ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip'],
  calleeSaved: ['ebx', 'esi', 'edi', 'ebp'],
  cpuWide: CPU_WIDE_32,
};

export const REAL_MODE_REGISTERS: RegisterSet = { ...I386_REGISTERS, mode: 'real16', bitness: 16 };

export const X86_64_REGISTERS: RegisterSet = {
  mode: 'long64',
  bitness: 64,
  pc: 'rip',
  sp: 'rsp',
  fp: 'rbp',
  wordSize: 8,
  addressWidth: 64,
  // DWARF 0-16: rax, rdx, rcx, rbx, rsi, rdi, rbp, rsp, r8-r15, and 16 the return address (rip).
  dwarfNames: ['rax', 'rdx', 'rcx', 'rbx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip'],
  calleeSaved: ['rbx', 'rbp', 'r12', 'r13', 'r14', 'r15'],
  cpuWide: [...CPU_WIDE_32, 'k_gs_base', 'cr8'],
};

const CR0_PE = 1n;
const EFER_LMA = 1n << 10n;

/** The L (64-bit code) and D (32-bit default) bits of a code segment descriptor. */
export interface CodeSegmentBits {
  readonly long: boolean;
  readonly big: boolean;
}

/**
 * The mode the CPU runs in, from its registers (exact values, by lower-case name) and, when
 * known, the CS descriptor's L and D bits.
 */
export function cpuModeOf(registers: ReadonlyMap<string, bigint>, cs?: CodeSegmentBits): CpuMode {
  const cr0 = registers.get('cr0') ?? CR0_PE;
  if ((cr0 & CR0_PE) === 0n) return 'real16';
  const efer = registers.get('efer') ?? 0n;
  if ((efer & EFER_LMA) !== 0n && registers.has('rip')) return !cs || cs.long ? 'long64' : cs.big ? 'compat32' : 'compat16';
  return !cs || cs.big ? 'protected32' : 'protected16';
}

/** True when the mode's CS descriptor bits could change it (protected or long mode). */
export function modeNeedsDescriptor(registers: ReadonlyMap<string, bigint>): boolean {
  return ((registers.get('cr0') ?? CR0_PE) & CR0_PE) !== 0n;
}

/** CS's L and D bits from QEMU's `info registers` (`CS =0008 <base> <limit> <flags> ...`), or undefined. */
export function parseCodeSegmentBits(infoRegisters: string): CodeSegmentBits | undefined {
  const m = /^CS =[0-9a-f]{4} [0-9a-f]+ [0-9a-f]{8} ([0-9a-f]{8})/m.exec(infoRegisters);
  if (!m || m[1] === undefined) return undefined;
  const flags = parseInt(m[1], 16);
  return { long: (flags & (1 << 21)) !== 0, big: (flags & (1 << 22)) !== 0 };
}

export function registerSetOf(mode: CpuMode): RegisterSet {
  switch (mode) {
    case 'long64': return X86_64_REGISTERS;
    case 'real16': return REAL_MODE_REGISTERS;
    case 'protected16':
    case 'compat16': return { ...I386_REGISTERS, mode, bitness: 16 };
    case 'compat32': return { ...I386_REGISTERS, mode };
    case 'protected32': return I386_REGISTERS;
  }
}

/** The 32-bit names gdb shows on x86-64 as the low halves of the 64-bit registers. */
export const LOW_HALVES: readonly (readonly [string, string])[] = [
  ['eax', 'rax'], ['ecx', 'rcx'], ['edx', 'rdx'], ['ebx', 'rbx'], ['esp', 'rsp'], ['ebp', 'rbp'], ['esi', 'rsi'], ['edi', 'rdi'], ['eip', 'rip'],
];

/** The address width of a kernel's symbols: 64 for an ELF64, else 32. */
export function symbolsAddressWidth(symbols: { readonly elf: { readonly addressWidth: AddressWidth } }): AddressWidth {
  return symbols.elf.addressWidth;
}
