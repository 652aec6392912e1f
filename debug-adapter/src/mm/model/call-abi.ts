// What a function's first instruction and its return address show of a call, per calling
// convention: the return address (the call site), the stack pointer the caller gets back, the
// arguments, and the result. i386 cdecl passes every argument on the stack above the return
// address; x86-64 System V passes the first six in rdi, rsi, rdx, rcx, r8, r9. Pure: registers and
// the bytes at the stack pointer in, exact values (bigint) out.

export type CallAbi = 'i386-cdecl' | 'x86-64-sysv';

/** Arguments a traced call's reader makes available ($arg0 … $arg5). */
export const TRACED_ARGUMENTS = 6;

const SYSV_ARGUMENT_REGISTERS = ['rdi', 'rsi', 'rdx', 'rcx', 'r8', 'r9'] as const;

export function abiForBitness(bitness: 16 | 32 | 64): CallAbi {
  return bitness === 64 ? 'x86-64-sysv' : 'i386-cdecl';
}

/** Bytes of a stack word. */
export function stackWordBytes(abi: CallAbi): 4 | 8 {
  return abi === 'x86-64-sysv' ? 8 : 4;
}

/** How many bytes at the stack pointer the entry reader needs (the return address, and the stack arguments). */
export function entryStackBytes(abi: CallAbi): number {
  return abi === 'i386-cdecl' ? 4 * (1 + TRACED_ARGUMENTS) : 8;
}

/** The stack pointer register of the convention. */
export function stackPointerRegister(abi: CallAbi): 'esp' | 'rsp' {
  return abi === 'x86-64-sysv' ? 'rsp' : 'esp';
}

/** A call seen at the callee's first instruction. */
export interface CallEntry {
  /** Where the callee returns to: the instruction after the call (a site resolver looks up address - 1). */
  readonly returnAddress: bigint;
  /** The stack pointer at the entry (it points at the return address). */
  readonly stackPointer: bigint;
  /** The stack pointer right after the callee's `ret` (the return address popped). */
  readonly stackPointerAfterReturn: bigint;
  /** $arg0 … $arg5 as the convention passes them (stack words beyond the real arguments are whatever lies there). */
  readonly args: readonly bigint[];
}

function register(regs: ReadonlyMap<string, bigint>, name: string): bigint {
  const v = regs.get(name);
  if (v === undefined) throw new Error(`the registers have no ${name}, so a call cannot be read under ${name === 'esp' || name === 'eax' ? 'the i386 convention' : 'the x86-64 convention'}`);
  return v;
}

/**
 * Reads a call at the callee's first instruction: `regs` are the exact registers, `stack` the
 * bytes at the stack pointer (at least entryStackBytes(abi); fewer leave the missing arguments 0).
 */
export function decodeCallEntry(abi: CallAbi, regs: ReadonlyMap<string, bigint>, stack: Uint8Array): CallEntry {
  const word = stackWordBytes(abi);
  const view = new DataView(stack.buffer, stack.byteOffset, stack.byteLength);
  const at = (offset: number): bigint => {
    if (offset + word > stack.byteLength) return 0n;
    return word === 8 ? view.getBigUint64(offset, true) : BigInt(view.getUint32(offset, true));
  };
  if (stack.byteLength < word) throw new Error(`the stack could not be read at the call (${stack.byteLength} of ${word} bytes)`);
  const sp = BigInt.asUintN(word * 8, register(regs, stackPointerRegister(abi)));
  const returnAddress = at(0);
  const args = abi === 'i386-cdecl'
    ? Array.from({ length: TRACED_ARGUMENTS }, (_, i) => at(4 * (i + 1)))
    : SYSV_ARGUMENT_REGISTERS.map((r) => BigInt.asUintN(64, register(regs, r)));
  return { returnAddress, stackPointer: sp, stackPointerAfterReturn: BigInt.asUintN(word * 8, sp + BigInt(word)), args };
}

/** The function's result at its return address: eax (i386) or rax (x86-64). */
export function decodeReturnValue(abi: CallAbi, regs: ReadonlyMap<string, bigint>): bigint {
  return abi === 'x86-64-sysv' ? BigInt.asUintN(64, register(regs, 'rax')) : BigInt.asUintN(32, register(regs, 'eax'));
}

/** The stack pointer at a stop, as the convention's word. */
export function stackPointerOf(abi: CallAbi, regs: ReadonlyMap<string, bigint>): bigint {
  return BigInt.asUintN(stackWordBytes(abi) * 8, register(regs, stackPointerRegister(abi)));
}
