// The x86 CPU's current execution mode and the register names that go with it: which register is
// the pc (eip or rip), the stack and frame pointers, the DWARF register numbering the CFI uses,
// the callee-saved registers an unwound frame keeps, and the instruction bitness (16, 32, 64).
// Pure: register values in, a mode out.
//
// The mode comes from CR0.PE and EFER.LMA: real mode (16-bit) while PE is clear, long mode
// (64-bit) while LMA is set, 32-bit protected mode otherwise. QEMU's gdbstub reports no segment
// descriptors, so a 16-bit protected-mode segment or a compatibility-mode (32-bit) code segment
// under long mode is not told apart: kernels run neither outside their first instructions.

import { AddressWidth } from '../../../qemu-bridge/src/address';

export type CpuMode = 'real16' | 'protected32' | 'long64';

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

/** The mode the CPU runs in, from its registers (exact values, by lower-case name). */
export function cpuModeOf(registers: ReadonlyMap<string, bigint>): CpuMode {
  const cr0 = registers.get('cr0') ?? CR0_PE;
  if ((cr0 & CR0_PE) === 0n) return 'real16';
  const efer = registers.get('efer') ?? 0n;
  return (efer & EFER_LMA) !== 0n && registers.has('rip') ? 'long64' : 'protected32';
}

export function registerSetOf(mode: CpuMode): RegisterSet {
  return mode === 'long64' ? X86_64_REGISTERS : mode === 'real16' ? REAL_MODE_REGISTERS : I386_REGISTERS;
}

/** The 32-bit names gdb shows on x86-64 as the low halves of the 64-bit registers. */
export const LOW_HALVES: readonly (readonly [string, string])[] = [
  ['eax', 'rax'], ['ecx', 'rcx'], ['edx', 'rdx'], ['ebx', 'rbx'], ['esp', 'rsp'], ['ebp', 'rbp'], ['esi', 'rsi'], ['edi', 'rdi'], ['eip', 'rip'],
];

/** The address width of a kernel's symbols: 64 for an ELF64, else 32. */
export function symbolsAddressWidth(symbols: { readonly elf: { readonly addressWidth: AddressWidth } }): AddressWidth {
  return symbols.elf.addressWidth;
}
