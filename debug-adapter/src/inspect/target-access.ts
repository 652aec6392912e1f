// The seam between the inspector and run control: what the Inspector needs from a stopped
// target (memory, registers) and the plain data shapes it hands back, shaped like DAP's
// Scope, Variable, EvaluateResponse and DisassembledInstruction without depending on DAP.

import type { AddressWidth } from '../../../qemu-bridge/src/address';

/**
 * Implemented by the session's Target; all addresses are virtual, address numbers under the rule
 * of qemu-bridge/src/address.ts (unsigned on i386, the signed 64-bit value on x86-64).
 */
export interface TargetAccess {
  readMemory(address: number, length: number): Promise<Buffer>;
  writeMemory(address: number, data: Uint8Array): Promise<void>;
  /**
   * Names lower-case: eax..edi, eip, eflags, cs..gs, cr0, cr2, cr3, cr4 (others may be present);
   * on x86-64 also rax..r15, rip, fs_base, gs_base, k_gs_base, cr8, efer, 64-bit ones as signed
   * numbers (exact for addresses; readExactRegisters for arbitrary data).
   */
  readRegisters(): Promise<ReadonlyMap<string, number>>;
  /** A register of up to 32 bits takes a number; a 64-bit one a bigint (or a number within ±2^53). */
  writeRegister(name: string, value: number | bigint): Promise<void>;
  /** The live registers with exact unsigned values (absent: the numbers are exact, as on i386). */
  readExactRegisters?(): Promise<ReadonlyMap<string, bigint>>;
  /** Width of the target's virtual addresses (absent: 32). */
  readonly addressWidth?: AddressWidth;
  /** Instruction bitness of the code the CPU runs now: 16, 32 or 64 (absent: 32). */
  codeBitness?(): Promise<16 | 32 | 64>;
}

/**
 * One frame of the stopped target. Frame 0 carries the live registers; an unwound frame carries
 * the registers its unwinder recovered (at least eip, esp, ebp) and its `cfa` when CFI gave one.
 */
export interface FrameContext {
  pc: number;
  cfa?: number;
  registers: ReadonlyMap<string, number>;
  /** The same registers exactly, when the unwinder knows them (callee-saved 64-bit data in a caller frame). */
  exactRegisters?: ReadonlyMap<string, bigint>;
  frameIndex: number;
  /**
   * Which source frame of the machine frame: 0 the outermost (non-inlined) function, N the Nth
   * nested inlined call around the pc. Its variables are the ones listed and looked up. Undefined:
   * the innermost source frame at the pc.
   */
  inlineDepth?: number;
  /** The machine frame that called this one (its pc a return address): DW_OP_entry_value reads the caller's call site in it. */
  caller?: FrameContext;
}

/** Like DAP's Scope. */
export interface InspectScope {
  name: string;
  presentationHint?: 'arguments' | 'locals' | 'registers' | string;
  variablesReference: number;
  namedVariables?: number;
  indexedVariables?: number;
  expensive: boolean;
}

/** Like DAP's VariablePresentationHint. */
export interface InspectPresentationHint {
  kind?: string;
  attributes?: string[];
}

/** What DAP's variables, evaluate and setVariable answers share about a value. `variablesReference` is 0 for values that do not expand. */
export interface InspectValueShape {
  type?: string;
  variablesReference: number;
  namedVariables?: number;
  indexedVariables?: number;
  /** `0x...` address of the value's storage (or of the pointee, for pointers). */
  memoryReference?: string;
}

/** Like DAP's Variable. */
export interface InspectVariable extends InspectValueShape {
  name: string;
  value: string;
  evaluateName?: string;
  presentationHint?: InspectPresentationHint;
}

/** Like the body of DAP's EvaluateResponse. */
export interface InspectEvaluateResult extends InspectValueShape {
  result: string;
}

/** Like the body of DAP's SetVariableResponse. */
export interface InspectSetVariableResult extends InspectValueShape {
  value: string;
}

/** Like DAP's Source, reduced to what the inspector knows. */
export interface InspectSource {
  name?: string;
  path: string;
}

/** Like DAP's DisassembledInstruction. */
export interface InspectDisassembledInstruction {
  /** `0x...` hexadecimal address. */
  address: string;
  /** Bytes as hex pairs separated by spaces. */
  instructionBytes?: string;
  instruction: string;
  /** Function/ELF symbol and offset, e.g. `mm_map_pages+12`. */
  symbol?: string;
  location?: InspectSource;
  line?: number;
  column?: number;
  endLine?: number;
  endColumn?: number;
  presentationHint?: 'normal' | 'invalid';
}

/** Where an evaluation comes from: like DAP's EvaluateArguments.context. */
export type EvaluateContext = 'watch' | 'repl' | 'hover' | 'clipboard' | 'variables' | string;
