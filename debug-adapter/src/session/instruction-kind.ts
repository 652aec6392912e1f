// What one x86 instruction does to control flow, as run control needs it: calls (stepped over
// with a breakpoint at the return address), returns, software interrupts, hlt (which a single
// step cannot finish while interrupts are masked), and everything else. Decoded with iced-x86.

import { Code, Decoder, DecoderOptions, FlowControl } from 'iced-x86';
import { addressFromBigInt, addressToBigInt, AddressWidth } from '../../../qemu-bridge/src/address';

export type InstructionKind = 'call' | 'return' | 'interrupt' | 'halt' | 'jump' | 'conditional' | 'indirect' | 'other' | 'invalid';

export interface ClassifiedInstruction {
  address: number;
  length: number;
  kind: InstructionKind;
  /** Target of a direct jump, conditional branch or call. */
  target?: number;
}

/**
 * Classifies the instruction at the start of `bytes` (code at `address`, an address number of
 * `width` bits) decoded in `bitness`-bit mode (16, 32 or 64).
 */
export function classifyInstruction(bytes: Uint8Array, address: number, bitness: 16 | 32 | 64 = 32, width: AddressWidth = 32): ClassifiedInstruction {
  const decoder = new Decoder(bitness, bytes, DecoderOptions.None);
  decoder.ip = addressToBigInt(address, width);
  const instr = decoder.decode();
  try {
    if (instr.isInvalid) return { address, length: 1, kind: 'invalid' };
    const length = instr.length;
    let kind: InstructionKind;
    if (instr.code === Code.Hlt) kind = 'halt';
    else {
      switch (instr.flowControl) {
        case FlowControl.Call:
        case FlowControl.IndirectCall:
          kind = 'call';
          break;
        case FlowControl.Return:
          kind = 'return';
          break;
        case FlowControl.Interrupt:
          kind = 'interrupt';
          break;
        case FlowControl.UnconditionalBranch:
          kind = 'jump';
          break;
        case FlowControl.ConditionalBranch:
          kind = 'conditional';
          break;
        case FlowControl.IndirectBranch:
          kind = 'indirect';
          break;
        default:
          kind = 'other';
      }
    }
    const direct = kind === 'jump' || kind === 'conditional' || (kind === 'call' && instr.flowControl === FlowControl.Call);
    return { address, length, kind, ...(direct ? { target: addressFromBigInt(instr.nearBranchTarget, width) } : {}) };
  } finally {
    instr.free();
    decoder.free();
  }
}
